"""Audio helpers for the line: 8 kHz, signed 16-bit little-endian, mono, 20 ms frames.

Everything the speech layer hands to telephony, or takes from it, is PCM bytes
in that format. These helpers convert to and from it (soxr for resampling, the
stdlib ``wave`` module for files) and measure frames.
"""

from __future__ import annotations

import math
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soxr

from appliance.errors import AudioError
from appliance.events import FRAME_BYTES, LINE_RATE

__all__ = [
    "frames",
    "read_wav",
    "read_wav_line",
    "rms_dbfs",
    "to_int16",
    "to_line_rate",
    "write_wav",
]

SILENCE_DBFS = -120.0


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Samples as int16; floats are taken to be in [-1, 1] and clipped."""
    if samples.dtype == np.int16:
        return samples
    if np.issubdtype(samples.dtype, np.floating):
        scaled = np.clip(samples.astype(np.float64) * 32767.0, -32768.0, 32767.0)
        return np.round(scaled).astype(np.int16)
    if np.issubdtype(samples.dtype, np.integer):
        return np.clip(samples, -32768, 32767).astype(np.int16)
    raise AudioError(f"unsupported sample type {samples.dtype}")


def to_line_rate(samples: np.ndarray, rate: int, line_rate: int = LINE_RATE) -> bytes:
    """Resample mono ``samples`` (int16 or float in [-1, 1]) to ``line_rate``; S16LE bytes."""
    if samples.ndim != 1:
        raise AudioError(f"expected mono samples, got shape {samples.shape}")
    if rate <= 0 or line_rate <= 0:
        raise AudioError(f"bad sample rate {rate} -> {line_rate}")
    if rate != line_rate and samples.size:
        if np.issubdtype(samples.dtype, np.floating):
            samples = soxr.resample(samples.astype(np.float32), rate, line_rate, quality="HQ")
        else:
            samples = soxr.resample(to_int16(samples), rate, line_rate, quality="HQ")
    return to_int16(samples).astype("<i2").tobytes()


def read_wav(path: Path | str) -> tuple[np.ndarray, int]:
    """Read a 16-bit PCM WAV; returns (int16 mono samples, rate). Stereo is averaged."""
    try:
        with wave.open(str(path), "rb") as wav:
            channels = wav.getnchannels()
            width = wav.getsampwidth()
            rate = wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise AudioError(f"cannot read WAV {path}: {exc}") from exc
    if width != 2:
        raise AudioError(f"{path}: only 16-bit PCM is supported, got {width * 8}-bit")
    samples = np.frombuffer(raw, dtype="<i2")
    if channels > 1:
        usable = samples[: samples.size - samples.size % channels]
        mixed = usable.reshape(-1, channels).astype(np.int32).mean(axis=1)
        samples = np.round(mixed).astype(np.int16)
    return samples.astype(np.int16), rate


def read_wav_line(path: Path | str, line_rate: int = LINE_RATE) -> bytes:
    """Read a WAV file and return it as line audio (S16LE mono at ``line_rate``)."""
    samples, rate = read_wav(path)
    return to_line_rate(samples, rate, line_rate)


def write_wav(path: Path | str, pcm: bytes, rate: int = LINE_RATE, channels: int = 1) -> None:
    """Write S16LE ``pcm`` (interleaved when ``channels`` > 1) as a WAV file."""
    if len(pcm) % (2 * channels):
        raise AudioError(f"PCM length {len(pcm)} is not a whole number of {channels}-channel samples")
    try:
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(channels)
            wav.setsampwidth(2)
            wav.setframerate(rate)
            wav.writeframes(pcm)
    except OSError as exc:
        raise AudioError(f"cannot write WAV {path}: {exc}") from exc


def rms_dbfs(frame: bytes) -> float:
    """RMS level of S16LE ``frame`` in dB relative to full scale; -120 for digital silence."""
    usable = len(frame) - len(frame) % 2
    if usable == 0:
        return SILENCE_DBFS
    samples = np.frombuffer(frame[:usable], dtype="<i2").astype(np.float64)
    rms = math.sqrt(float(np.mean(samples * samples)))
    if rms <= 0.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20.0 * math.log10(rms / 32768.0))


def frames(pcm: bytes, frame_bytes: int = FRAME_BYTES) -> Iterator[bytes]:
    """Split ``pcm`` into frames of ``frame_bytes``, padding the last one with silence."""
    if frame_bytes <= 0 or frame_bytes % 2:
        raise AudioError(f"frame size must be a positive even number of bytes, got {frame_bytes}")
    for start in range(0, len(pcm), frame_bytes):
        chunk = pcm[start : start + frame_bytes]
        if len(chunk) < frame_bytes:
            chunk = chunk + b"\x00" * (frame_bytes - len(chunk))
        yield chunk
