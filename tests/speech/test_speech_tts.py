"""piper TTS: line-rate audio, prompt cache, settings, streaming, threads."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from appliance.errors import SpeechError
from appliance.events import FRAME_BYTES, LINE_RATE
from appliance.speech.audio import frames, rms_dbfs
from appliance.speech.tts.piper import PiperTts, default_voice, trim_silence


def _seconds(pcm: bytes) -> float:
    return len(pcm) / (2 * LINE_RATE)


def test_render_gives_audible_8khz_audio_of_plausible_length(piper_tts: PiperTts) -> None:
    pcm = piper_tts.render("Hello, this is the repair shop calling about your order.")
    assert len(pcm) % 2 == 0
    assert 2.0 < _seconds(pcm) < 6.0  # ten words at a normal speaking rate
    assert rms_dbfs(pcm) > -30.0
    assert piper_tts.voice_id == "en_US-joe-medium"
    assert piper_tts.line_rate == LINE_RATE


def test_rendered_prompt_starts_and_ends_promptly(piper_tts: PiperTts) -> None:
    pcm = piper_tts.render("Yes.")
    levels = [rms_dbfs(f) for f in frames(pcm)]
    first_loud = next(i for i, level in enumerate(levels) if level > -40.0)
    assert first_loud * 20 <= 80, f"speech starts only after {first_loud * 20} ms"
    assert levels[-1] < -55.0  # ends in near-silence, not cut mid-sound
    assert _seconds(pcm) < 0.58  # piper alone gives 0.62 s for "Yes."; trimmed it is ~0.52 s


def test_cache_hit_returns_identical_bytes_fast_and_survives_a_new_instance(
    piper_tts: PiperTts, tmp_path: Path
) -> None:
    text = "Your parcel is ready for collection."
    first = piper_tts.render(text)
    assert piper_tts.cache_dir is not None
    cached = piper_tts.cache_dir / f"{piper_tts.cache_key(text)}.pcm"
    assert cached.read_bytes() == first
    started = time.perf_counter()
    again = piper_tts.render(text)
    elapsed = time.perf_counter() - started
    assert again == first
    assert elapsed < 0.02, f"cache hit took {elapsed:.3f} s"
    assert not [p for p in piper_tts.cache_dir.iterdir() if p.name.startswith(".tmp")]


def test_different_settings_give_a_different_key_and_different_audio(
    piper_tts: PiperTts, tmp_path_factory: pytest.TempPathFactory
) -> None:
    slow_quiet = piper_tts.with_settings(length_scale=1.5, volume=0.3, cache_dir=tmp_path_factory.mktemp("slow-cache"))
    assert slow_quiet.loaded is piper_tts.loaded  # the model is loaded once
    text = "Will someone be at home tomorrow?"
    assert slow_quiet.cache_key(text) != piper_tts.cache_key(text)
    assert piper_tts.cache_key(text) != piper_tts.cache_key(text + " ")
    normal = piper_tts.render(text)
    slow = slow_quiet.render(text)
    assert _seconds(slow) > 1.15 * _seconds(normal)  # 1.5x nominal; piper varies durations per render
    peak_normal = np.abs(np.frombuffer(normal, dtype="<i2")).max()
    peak_slow = np.abs(np.frombuffer(slow, dtype="<i2")).max()
    assert peak_slow < 0.6 * peak_normal  # 0.3x nominal; peaks vary per render


def test_stream_yields_one_chunk_per_sentence(piper_tts: PiperTts) -> None:
    chunks = list(piper_tts.stream("Thank you. We will call you again tomorrow."))
    assert len(chunks) == 2
    assert all(len(c) > FRAME_BYTES * 10 and rms_dbfs(c) > -30.0 for c in chunks)


def test_render_is_safe_from_several_threads(piper_tts: PiperTts) -> None:
    texts = [f"Order number {n} is on its way." for n in (11, 12, 13)]
    results: dict[str, bytes] = {}
    errors: list[BaseException] = []

    def work(text: str) -> None:
        try:
            results[text] = piper_tts.render(text)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,), name=f"tts-test-{i}") for i, t in enumerate(texts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert sorted(results) == sorted(texts)
    assert all(_seconds(pcm) > 1.0 for pcm in results.values())


def test_trim_silence_keeps_a_short_margin() -> None:
    rate = 8000
    audio = np.concatenate([np.zeros(4000), 0.5 * np.ones(800), np.zeros(4000)]).astype(np.float32)
    trimmed = trim_silence(audio, rate)
    assert trimmed.size == 800 + int(0.04 * rate) + int(0.08 * rate)
    assert trim_silence(np.zeros(100, dtype=np.float32), rate).size == 0


def test_bad_voice_or_settings_raise_speech_error(tmp_path: Path) -> None:
    model, config = default_voice()
    with pytest.raises(SpeechError):
        PiperTts(tmp_path / "missing.onnx")
    with pytest.raises(SpeechError):
        PiperTts(model, config, volume=-1.0)
    with pytest.raises(SpeechError):
        PiperTts(model, config, speaker=3)  # joe has one speaker
