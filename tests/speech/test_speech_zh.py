"""Chinese, experimentally: Whisper base joined from its two packages (pinned, all or nothing), the
``[speech] zh_whisper`` setting, Mandarin fixtures heard through ``load_engine(language="zh")`` with the real
model and decided by the real NLU, and the reason given when Chinese is not understood."""

from __future__ import annotations

import json
import os
import shutil
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from appliance.cli import main
from appliance.config import StatePaths, parse_config
from appliance.dialog.flow.load import load_flow
from appliance.dialog.nlu.intents import match_intent
from appliance.errors import ConfigError, SpeechError
from appliance.speech.asr.chinese import ChineseWhisperEngine, chinese_prompt
from appliance.speech.asr.factory import load_engine
from appliance.speech.build import recogniser_plan
from appliance.speech.models.installed import MANIFEST, list_models
from appliance.speech.models.packaged import sha256_of
from appliance.speech.models.whisper_base import (
    PARTS,
    SIDE_FILES,
    WHISPER_BASE,
    WHISPER_BASE_SHA256,
    find_parts,
    install_whisper_base,
    joined_models,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FLOW = FIXTURES / "asr" / "flow.zh.json"


@pytest.fixture(scope="session")
def zh_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state directory with whisper-base joined from the installed packages, once per run."""
    state = tmp_path_factory.mktemp("zh-state")
    install_whisper_base(state)
    return state


@pytest.fixture(scope="session")
def zh_engine(zh_state: Path) -> Any:
    engine = load_engine(vosk_model_dir=None, language="zh", zh_whisper=True,
                         zh_model_dir=StatePaths(zh_state).models / WHISPER_BASE)
    yield engine
    engine.close()


def question() -> tuple[list[str], list[Any]]:
    flow = load_flow(FLOW)
    node = flow.nodes[flow.start]
    return list(flow.expected_phrases(node)), [flow.intents[b.intent] for b in node.branches]


def pcm_of(path: Path) -> bytes:
    with wave.open(str(path)) as w:
        assert w.getframerate() == 8000 and w.getsampwidth() == 2 and w.getnchannels() == 1
        return w.readframes(w.getnframes())


def test_the_joined_model_is_the_pinned_file_installed_with_a_manifest(zh_state: Path) -> None:
    model = StatePaths(zh_state).models / WHISPER_BASE
    assert sha256_of(model / "model.bin") == WHISPER_BASE_SHA256
    parts = find_parts()
    assert (model / "model.bin").stat().st_size == sum(p.stat().st_size for p in parts.parts)
    assert sorted(p.name for p in model.iterdir()) == sorted([MANIFEST, "model.bin", *SIDE_FILES])
    manifest = json.loads((model / MANIFEST).read_text())
    assert (manifest["kind"], manifest["language"], manifest["sha256"]) == ("whisper", "multi", WHISPER_BASE_SHA256)
    [listed] = [m for m in list_models(zh_state) if m.name == WHISPER_BASE]
    assert (listed.kind, listed.language) == ("whisper", "multi")
    [joined] = joined_models(zh_state)
    assert joined.check() is None
    assert not [p for p in StatePaths(zh_state).models.iterdir() if p.name.startswith(".incoming-")]


def _source_with(tmp_path: Path, part2: bytes | None) -> Path:
    """A parts directory: the real part 1 and side files (linked), and ``part2`` as given (None: missing)."""
    real = find_parts()
    source = tmp_path / "parts"
    source.mkdir()
    os.symlink(real.parts[0], source / PARTS[0][2])
    for name in SIDE_FILES:
        os.symlink(real.side_dir / name, source / name)
    if part2 is not None:
        (source / PARTS[1][2]).write_bytes(part2)
    return source


def test_a_corrupted_or_missing_part_is_refused_and_nothing_is_installed(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with pytest.raises(SpeechError) as caught:
        install_whisper_base(state, source=_source_with(tmp_path, b"\0" * 4096))
    assert f"{PARTS[1][2]} (from {PARTS[1][0]}) has sha256" in str(caught.value)
    assert f"expected {PARTS[1][3]}" in str(caught.value)
    assert list(StatePaths(state).models.iterdir()) == []  # neither the model nor a temp directory
    (tmp_path / "parts" / PARTS[1][2]).unlink()
    with pytest.raises(SpeechError, match=f"{PARTS[1][2]} is missing"):
        install_whisper_base(state, source=tmp_path / "parts")
    assert list(StatePaths(state).models.iterdir()) == []
    assert list_models(state) == []


def test_models_install_check_and_list_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "callbox.toml"
    cfg.write_text('[speech]\nlanguage = "zh"\nzh_whisper = true\n')
    base = ["--config", str(cfg), "--state-dir", str(tmp_path / "state")]
    assert main([*base, "models", "install", "whisper-base"]) == 0
    model = tmp_path / "state" / "models" / WHISPER_BASE
    said = capsys.readouterr().out
    assert said.startswith(f"installed {WHISPER_BASE} (150.") and said.endswith(f" MB, sha256 verified) in {model}\n")
    assert main([*base, "models", "install", "whisper-base"]) == 2  # installed already, untouched
    assert "installed already" in capsys.readouterr().err
    assert main([*base, "models", "check", WHISPER_BASE]) == 0
    assert capsys.readouterr().out == f"{WHISPER_BASE}: sha256 {WHISPER_BASE_SHA256} ok\n"
    assert main([*base, "models", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["models"]
    assert [(m["name"], m["kind"], m["used_by"]) for m in listed] == [
        (WHISPER_BASE, "whisper", "speech.zh_whisper = true")]
    with (model / "model.bin").open("r+b") as f:  # one byte flipped: check says so and fails
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    assert main([*base, "models", "check", WHISPER_BASE]) == 1
    assert f"{WHISPER_BASE}: BAD: " in capsys.readouterr().out


def test_the_setting_is_validated() -> None:
    assert parse_config({}).speech.zh_whisper is False
    assert parse_config({"speech": {"language": "zh", "zh_whisper": True}}).speech.zh_whisper is True
    assert parse_config({"speech": {"language": "zh-CN", "zh_whisper": True}}).speech.zh_whisper is True
    for bad, says in (({"language": "zh", "zh_whisper": "yes"}, "must be bool"),
                      ({"language": "en", "zh_whisper": True}, "only applies to Chinese"),
                      ({"language": "zh", "zh_whisper_model": "x"}, "unknown key")):
        with pytest.raises(ConfigError) as caught:
            parse_config({"speech": bad})
        assert "speech.zh_whisper" in str(caught.value) and says in str(caught.value), caught.value


def test_the_prompt_is_the_nodes_answers_in_simplified_chinese() -> None:
    phrases, _ = question()
    prompt = chinese_prompt(phrases)
    assert prompt is not None and "是的。" in prompt and "没有解决。" in prompt
    assert " " not in prompt and prompt.endswith("。") and len(prompt) <= 150
    assert chinese_prompt(["晚点 再打！", "晚点再打"]) == "晚点再打。"
    assert chinese_prompt([]) is None


@pytest.mark.parametrize(("fixture", "intent"), [  # answers bench/asr_zh.py decides right clean, 20 and 10 dB
    ("zh_confirm_02", "confirm"),  # 对，解决了
    ("zh_deny_01", "deny"),  # 没有
    ("zh_call_later_01", "call_later"),  # 我现在很忙，晚点再打
    ("zh_person_02", "person"),  # 转人工客服
    ("zh_stop_03", "stop"),  # 不要再给我打电话了
])
def test_a_mandarin_answer_is_heard_and_decided(zh_engine: Any, fixture: str, intent: str) -> None:
    assert isinstance(zh_engine, ChineseWhisperEngine)
    assert zh_engine.language == "zh" and zh_engine.fallback_reason is None
    phrases, intents = question()
    session = zh_engine.open_session(phrases)
    assert session.prompt == chinese_prompt(phrases)
    pcm = pcm_of(FIXTURES / "zh" / f"{fixture}.wav")
    for i in range(0, len(pcm) - len(pcm) % 320, 320):
        session.accept(pcm[i : i + 320])
    heard = session.finish()
    assert heard.text and heard.confidence > 0, heard
    assert match_intent(heard.text, intents, asr_confidence=heard.confidence).intent == intent, heard.text


def test_silence_is_heard_as_nothing(zh_engine: Any) -> None:
    session = zh_engine.open_session(question()[0])
    for _ in range(100):  # 2 s of line silence: with the prompt, Whisper base would say 我现在很忙
        session.accept(b"\0" * 320)
    assert session.finish().text == ""
    hiss = np.random.default_rng(7).normal(0, 30, 16000).astype("<i2").tobytes()  # -60 dBFS line hiss
    session = zh_engine.open_session(question()[0])
    for i in range(0, len(hiss), 320):
        session.accept(hiss[i : i + 320])
    assert session.finish().text == ""


def test_without_the_setting_or_the_model_chinese_falls_back_and_says_why(tmp_path: Path) -> None:
    off = load_engine(vosk_model_dir=None, language="zh", recogniser="hybrid")
    try:
        assert off.name == "pocketsphinx"
        assert off.fallback_reason is not None
        assert off.fallback_reason.startswith("Chinese is recognised only by Whisper base, which is off")
        assert "PocketSphinx only knows English" in off.fallback_reason
    finally:
        off.close()
    missing = load_engine(vosk_model_dir=None, language="zh-CN", zh_whisper=True, zh_model_dir=tmp_path / "none")
    try:
        assert missing.fallback_reason is not None
        assert "Whisper base is not installed" in missing.fallback_reason
        assert "callbox models install whisper-base" in missing.fallback_reason
    finally:
        missing.close()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.bin").write_bytes(b"not a model")
    bad = load_engine(vosk_model_dir=None, language="zh", zh_whisper=True, zh_model_dir=broken)
    try:
        assert bad.fallback_reason is not None and "Whisper base did not load for Chinese" in bad.fallback_reason
    finally:
        bad.close()


def test_doctor_plan_for_chinese(tmp_path: Path, zh_state: Path) -> None:
    on = parse_config({"speech": {"language": "zh", "zh_whisper": True}}).speech
    off = parse_config({"speech": {"language": "zh"}}).speech
    assert recogniser_plan(off, StatePaths(zh_state), "zh").startswith("none ([speech] zh_whisper is off")
    assert recogniser_plan(on, StatePaths(zh_state), "zh").startswith("Whisper base, zh (")
    empty = tmp_path / "empty"
    assert "not installed: callbox models install whisper-base" in recogniser_plan(on, StatePaths(empty), "zh")
    shutil.rmtree(empty, ignore_errors=True)
