"""Line-audio helpers: resampling, WAV in and out, levels, framing."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from appliance.errors import AudioError
from appliance.events import FRAME_BYTES, LINE_RATE
from appliance.speech.audio import frames, read_wav, read_wav_line, rms_dbfs, to_line_rate, write_wav


def test_to_line_rate_resamples_22050_to_8000_keeping_duration_and_pitch() -> None:
    rate = 22050
    t = np.arange(rate) / rate  # one second
    tone = 0.5 * np.sin(2 * np.pi * 1000 * t)
    pcm = to_line_rate(tone, rate)
    samples = np.frombuffer(pcm, dtype="<i2")
    assert abs(samples.size - LINE_RATE) <= 2
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    peak_hz = np.argmax(spectrum) * LINE_RATE / samples.size
    assert abs(peak_hz - 1000) < 5
    assert 0.45 * 32767 < np.max(np.abs(samples)) < 0.55 * 32767


def test_to_line_rate_clips_floats_out_of_range_instead_of_wrapping() -> None:
    loud = np.full(800, 1.7, dtype=np.float32)
    samples = np.frombuffer(to_line_rate(loud, LINE_RATE), dtype="<i2")
    assert samples.min() == 32767


def test_read_wav_mixes_stereo_to_mono_and_round_trips(tmp_path: Path) -> None:
    left = np.full(100, 1000, dtype="<i2")
    right = np.full(100, 3000, dtype="<i2")
    interleaved = np.column_stack([left, right]).ravel().tobytes()
    path = tmp_path / "stereo.wav"
    write_wav(path, interleaved, rate=16000, channels=2)
    samples, rate = read_wav(path)
    assert rate == 16000
    assert samples.dtype == np.int16
    assert samples.tolist() == [2000] * 100
    line = read_wav_line(path)
    assert abs(len(line) // 2 - 50) <= 1


def test_read_wav_rejects_8_bit_and_garbage(tmp_path: Path) -> None:
    path = tmp_path / "u8.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(8000)
        wav.writeframes(b"\x80" * 100)
    with pytest.raises(AudioError, match="16-bit"):
        read_wav(path)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not a wav at all")
    with pytest.raises(AudioError):
        read_wav(junk)


def test_rms_dbfs_levels() -> None:
    assert rms_dbfs(b"\x00" * FRAME_BYTES) == -120.0
    full_square = np.tile(np.array([32767, -32767], dtype="<i2"), FRAME_BYTES // 4).tobytes()
    assert rms_dbfs(full_square) == pytest.approx(0.0, abs=0.01)
    half = np.tile(np.array([16384, -16384], dtype="<i2"), FRAME_BYTES // 4).tobytes()
    assert rms_dbfs(half) == pytest.approx(-6.02, abs=0.05)


def test_frames_pads_the_last_frame_with_silence() -> None:
    pcm = b"\x01\x02" * 170  # 340 bytes: one full frame and 20 bytes over
    out = list(frames(pcm))
    assert [len(f) for f in out] == [FRAME_BYTES, FRAME_BYTES]
    assert out[1][:20] == pcm[320:]
    assert out[1][20:] == b"\x00" * 300
    assert list(frames(b"")) == []
    with pytest.raises(AudioError):
        list(frames(pcm, frame_bytes=3))
