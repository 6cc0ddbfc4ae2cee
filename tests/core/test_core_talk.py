"""The talk tally on a synthetic stereo call with known speech: each side's talk time, silences, the longest, an
interruption, with the line's echo of the bot on the customer's channel, a pause between words and a click. The
recorder's meter (fed frame by frame as a call is recorded) and a re-read of the WAV it wrote agree with the
truth within a frame."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from appliance.records.recordings import StereoRecorder
from appliance.records.talk import TalkSettings, TalkTally, tally_levels, tally_wav

RATE = 8000
FRAME = 160
SECONDS = 9.0


def synthetic_call() -> tuple[np.ndarray, np.ndarray]:
    """(customer, bot) as int16 at 8 kHz; the truth is in the test below."""
    n = int(SECONDS * RATE)
    rng = np.random.default_rng(7)
    customer = rng.normal(0, 15, n)  # line noise, about -67 dBFS
    bot = rng.normal(0, 15, n)

    def speech(channel: np.ndarray, start: float, end: float, level: float) -> None:
        a, b = int(start * RATE), int(end * RATE)
        t = np.arange(b - a) / RATE
        voice = np.sin(2 * np.pi * 180 * t) + 0.5 * np.sin(2 * np.pi * 420 * t)  # a voiced buzz
        channel[a:b] += level * voice * (0.8 + 0.2 * np.sin(2 * np.pi * 4 * t))  # syllable-rate wobble

    speech(bot, 0.0, 1.5, 6000)
    speech(bot, 5.2, 6.0, 6000)
    speech(customer, 1.0, 1.4, 5000)  # talks over the bot's first prompt ...
    speech(customer, 1.52, 2.0, 5000)  # ... after a 120 ms pause between words
    speech(customer, 3.0, 3.04, 9000)  # a 40 ms click: not speech
    speech(customer, 4.5, 5.0, 5000)
    delay = int(0.06 * RATE)  # the line's echo of the bot, 12 dB down, 60 ms late
    customer[delay:] += bot[:-delay] * 10 ** (-12 / 20)
    return np.clip(customer, -32768, 32767).astype("<i2"), np.clip(bot, -32768, 32767).astype("<i2")


TRUTH = TalkTally(
    customer_talk_ms=1000 + 500,  # 1.0-2.0 (the pause bridged), 4.5-5.0; not the click, not the echo
    bot_talk_ms=1500 + 800,
    silences=2,  # 2.0-4.5 (the click is no speech) and 6.0-9.0; 5.0-5.2 is too short
    longest_silence_ms=3000,
    interruptions=1,  # the customer at 1.0 while the bot spoke
    recorded_ms=9000,
)


def within_a_frame(found: TalkTally, truth: TalkTally) -> None:
    for name, want in truth.as_dict().items():
        got = found.as_dict()[name]
        if name in ("silences", "interruptions"):
            assert got == want, (name, got, want)
        else:
            assert abs(got - want) <= 20, (name, got, want)


def test_the_recorder_and_its_wav_tell_the_truth(tmp_path: Path) -> None:
    customer, bot = synthetic_call()
    recorder = StereoRecorder(tmp_path / "call.wav")
    assert recorder.tally == TalkTally()  # nothing recorded yet
    for i in range(0, len(customer), FRAME):
        recorder.write(customer[i:i + FRAME].tobytes(), bot[i:i + FRAME].tobytes())
    recorder.close()
    live = recorder.tally
    within_a_frame(live, TRUTH)
    assert tally_wav(tmp_path / "call.wav") == live  # the stored recording says the same


def test_a_wav_at_another_rate_is_read_in_20_ms_frames(tmp_path: Path) -> None:
    customer, bot = synthetic_call()
    stereo = np.repeat(np.stack([customer, bot], axis=1), 2, axis=0)  # 16 kHz, each sample twice
    path = tmp_path / "wide.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(2 * RATE)
        wav.writeframes(stereo.tobytes())
    within_a_frame(tally_wav(path), TRUTH)


def test_without_the_echo_guard_the_echo_would_be_the_customer_talking() -> None:
    customer, bot = synthetic_call()

    def levels(x: np.ndarray) -> np.ndarray:
        frames = x.astype(np.float64).reshape(-1, FRAME)
        return np.sqrt(np.mean(frames * frames, axis=1))

    guarded = tally_levels(levels(customer), levels(bot))
    unguarded = tally_levels(levels(customer), levels(bot), TalkSettings(echo_loss_db=60.0))
    within_a_frame(guarded, TRUTH)
    assert unguarded.customer_talk_ms > guarded.customer_talk_ms + 1500  # the bot's 2.3 s came back as "talk"


def test_a_mono_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mono.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(bytes(320))
    with pytest.raises(ValueError, match="stereo"):
        tally_wav(path)
