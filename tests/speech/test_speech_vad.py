"""Endpointing: webrtcvad + energy floor, on synthetic frames and on real customer audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from appliance.errors import AudioError
from appliance.events import FRAME_BYTES, LINE_RATE
from appliance.speech.audio import frames, read_wav_line
from appliance.speech.vad import Endpointer, EndpointEvent, EndpointState

SILENCE = b"\x00" * FRAME_BYTES


def voiced(ms: int, *, level: float = 0.3, start: int = 0) -> list[bytes]:
    """A buzzy vowel-like sound: harmonics of 150 Hz, 20 ms frames."""
    n = np.arange(start, start + LINE_RATE * ms // 1000)
    signal = sum(level / k * np.sin(2 * np.pi * 150 * k * n / LINE_RATE) for k in range(1, 15))
    return list(frames((np.asarray(signal) * 32767).astype("<i2").tobytes()))


def noise(ms: int, dbfs: float, seed: int = 7) -> list[bytes]:
    rng = np.random.default_rng(seed)
    amplitude = 32768 * 10 ** (dbfs / 20)
    samples = rng.normal(0, amplitude, LINE_RATE * ms // 1000)
    return list(frames(np.clip(samples, -32768, 32767).astype("<i2").tobytes()))


def run(endpointer: Endpointer, chunks: list[bytes]) -> list[tuple[int, EndpointEvent]]:
    """Feed frames; return (time in ms at the end of the frame, event) for every event."""
    events = []
    for index, frame in enumerate(chunks):
        event = endpointer.feed(frame)
        if event is not None:
            events.append(((index + 1) * 20, event))
    return events


def test_silence_gives_no_input_exactly_at_the_timeout() -> None:
    ep = Endpointer(silence_timeout_ms=1000)
    assert run(ep, [SILENCE] * 100) == [(1000, EndpointEvent.NO_INPUT)]
    assert ep.state is EndpointState.DONE
    assert ep.speech_ms == 0


def test_low_noise_never_counts_as_speech_but_loud_noise_may() -> None:
    ep = Endpointer(silence_timeout_ms=2000)
    assert run(ep, noise(2000, -55.0)) == [(2000, EndpointEvent.NO_INPUT)]
    assert not any(ep.is_speech(f) for f in noise(400, -55.0))
    whisper = voiced(200, level=0.003)  # about -52 dBFS
    floorless = Endpointer(energy_floor_dbfs=-200.0, aggressiveness=0)
    assert any(floorless.is_speech(f) for f in whisper)  # webrtcvad alone calls some of it speech
    assert not any(Endpointer(aggressiveness=0).is_speech(f) for f in whisper)  # the -45 dBFS floor does not


def test_speech_then_silence_gives_start_then_end_after_end_silence() -> None:
    ep = Endpointer(end_silence_ms=700, min_speech_ms=120)
    chunks = [SILENCE] * 10 + voiced(600) + [SILENCE] * 50
    events = run(ep, chunks)
    assert events == [(200 + 120, EndpointEvent.SPEECH_START), (200 + 600 + 700, EndpointEvent.SPEECH_END)]
    assert ep.speech_start_ms == 200
    assert ep.speech_end_ms == 800
    assert ep.speech_ms == 600


def test_a_blip_shorter_than_min_speech_is_ignored_and_pauses_do_not_end_the_turn() -> None:
    ep = Endpointer(end_silence_ms=400, min_speech_ms=120, silence_timeout_ms=3000)
    blip = [SILENCE] * 5 + voiced(60) + [SILENCE] * 20
    assert run(ep, blip) == []
    ep.reset()
    # two words with a 300 ms pause, shorter than end_silence
    words = voiced(300) + [SILENCE] * 15 + voiced(300) + [SILENCE] * 30
    events = run(ep, words)
    assert [e for _, e in events] == [EndpointEvent.SPEECH_START, EndpointEvent.SPEECH_END]
    assert events[1][0] == 300 + 300 + 300 + 400


def test_max_length_cuts_a_customer_who_never_stops() -> None:
    ep = Endpointer(max_utterance_ms=1000, min_speech_ms=100)
    events = run(ep, voiced(3000))
    assert events == [(100, EndpointEvent.SPEECH_START), (1000, EndpointEvent.MAX_LENGTH)]
    assert ep.feed(voiced(20)[0]) is None  # DONE ignores further frames


def test_reset_starts_a_new_turn_and_can_lengthen_the_end_silence() -> None:
    ep = Endpointer(end_silence_ms=200, silence_timeout_ms=400)
    assert run(ep, [SILENCE] * 20) == [(400, EndpointEvent.NO_INPUT)]
    ep.reset(end_silence_ms=1000)
    assert ep.state is EndpointState.WAITING and ep.elapsed_ms == 0
    events = run(ep, voiced(200) + [SILENCE] * 60)
    assert events[-1] == (200 + 1000, EndpointEvent.SPEECH_END)
    ep.reset()
    ep.feed(voiced(20)[0])
    ep.set_end_silence(100)
    assert ep.end_silence_ms == 100


def test_bad_frames_and_settings_are_refused() -> None:
    ep = Endpointer()
    with pytest.raises(AudioError):
        ep.feed(b"\x00" * 100)
    with pytest.raises(AudioError):
        Endpointer(aggressiveness=5)
    with pytest.raises(AudioError):
        Endpointer(end_silence_ms=0)


@pytest.mark.parametrize("wav", ["en_confirm.wav", "en_hello.wav", "en_reschedule_2.wav"])
def test_real_customer_audio_is_one_turn(voices_dir: Path, wav: str) -> None:
    pcm = read_wav_line(voices_dir / wav)
    ep = Endpointer(end_silence_ms=700)
    chunks = [SILENCE] * 25 + list(frames(pcm)) + [SILENCE] * 60
    events = run(ep, chunks)
    assert [e for _, e in events] == [EndpointEvent.SPEECH_START, EndpointEvent.SPEECH_END]
    assert ep.speech_start_ms is not None and 500 + 100 <= ep.speech_start_ms <= 500 + 400  # 150 ms padding
    spoken_ms = len(pcm) // 16 - 300  # the fixtures carry 150 ms of silence each side
    assert 0.5 * spoken_ms <= ep.speech_ms <= spoken_ms
    assert events[1][0] == ep.speech_end_ms + 700 if ep.speech_end_ms is not None else False


def test_real_korean_audio_is_one_turn(fixtures_dir: Path) -> None:
    pcm = read_wav_line(fixtures_dir / "audio" / "ko_tomorrow.wav")
    ep = Endpointer()
    events = run(ep, list(frames(pcm)) + [SILENCE] * 40)
    assert [e for _, e in events] == [EndpointEvent.SPEECH_START, EndpointEvent.SPEECH_END]
