"""Tones on the voice path: DTMF generation and in-band detection, tone-versus-speech.

In-band DTMF detection is for modems that do not report received digits over
AT (the Huawei sticks): a Goertzel filter bank on the customer's audio. The
speech check is for networks that report a call active while it still rings:
the ringback is one or two steady sine tones, a voice is not.
"""

from __future__ import annotations

import numpy as np

from appliance.events import LINE_RATE

ROWS = (697.0, 770.0, 852.0, 941.0)
COLS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYS = ("123A", "456B", "789C", "*0#D")
DIGITS = "".join(KEYS)


def dtmf_pcm(digits: str, *, rate: int = LINE_RATE, tone_ms: int = 100, gap_ms: int = 80,
             amplitude: float = 0.3) -> bytes:
    """S16LE mono audio of ``digits`` as DTMF tones, each followed by a gap of silence."""
    out = []
    n = rate * tone_ms // 1000
    t = np.arange(n) / rate
    gap = np.zeros(rate * gap_ms // 1000)
    for digit in digits.upper():
        if digit not in DIGITS:
            raise ValueError(f"not a DTMF digit: {digit!r}")
        pos = DIGITS.index(digit)
        row, col = ROWS[pos // 4], COLS[pos % 4]
        out.append(amplitude * (np.sin(2 * np.pi * row * t) + np.sin(2 * np.pi * col * t)) / 2)
        out.append(gap)
    samples = np.concatenate(out) if out else np.zeros(0)
    return (samples * 32767).astype("<i2").tobytes()


def _goertzel_power(block: np.ndarray, freqs: tuple[float, ...], rate: int) -> np.ndarray:
    n = block.size
    t = np.arange(n)
    # the same as the Goertzel recurrence at these few frequencies, vectorised
    basis = np.exp(-2j * np.pi * np.outer(freqs, t) / rate)
    return np.abs(basis @ block) ** 2 * 2 / n


class DtmfDetector:
    """Feed S16LE audio in any chunk size; returns each digit once per key press."""

    def __init__(self, rate: int = LINE_RATE, *, min_rms: float = 400.0) -> None:
        self.rate = rate
        self.block = rate * 205 // 8000  # the classic 205-sample block at 8 kHz (~25.6 ms)
        self.min_energy = min_rms * min_rms
        self._pending = np.zeros(0, dtype=np.float64)
        self._last: str | None = None  # what the previous block held
        self._reported: str | None = None  # the digit of the tone now sounding, once reported

    def feed(self, pcm: bytes) -> list[str]:
        samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.float64)
        self._pending = np.concatenate([self._pending, samples])
        found = []
        while self._pending.size >= self.block:
            block, self._pending = self._pending[: self.block], self._pending[self.block :]
            digit = self._classify(block)
            if digit is not None and digit == self._last and digit != self._reported:
                found.append(digit)
                self._reported = digit
            if digit is None:
                self._reported = None
            self._last = digit
        return found

    def _classify(self, block: np.ndarray) -> str | None:
        energy = float(np.mean(block * block))
        if energy < self.min_energy:
            return None
        rows = _goertzel_power(block, ROWS, self.rate) / block.size
        cols = _goertzel_power(block, COLS, self.rate) / block.size
        r, c = int(np.argmax(rows)), int(np.argmax(cols))
        if rows[r] + cols[c] < 0.6 * energy:  # most of the energy must be in the two tones
            return None
        if rows[r] < 0.15 * cols[c] or cols[c] < 0.15 * rows[r]:  # twist
            return None
        others = np.delete(rows, r).max(initial=0.0), np.delete(cols, c).max(initial=0.0)
        if others[0] > 0.25 * rows[r] or others[1] > 0.25 * cols[c]:
            return None
        return KEYS[r][c]


def tonality(frame: bytes) -> float:
    """Share of a frame's energy in its two strongest spectral peaks: near 1 for ringback, lower for a voice."""
    samples = np.frombuffer(frame[: len(frame) - len(frame) % 2], dtype="<i2").astype(np.float64)
    if samples.size < 32:
        return 1.0
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size))) ** 2
    total = float(spectrum.sum())
    if total <= 0:
        return 1.0
    peaks = 0.0
    spec = spectrum.copy()
    for _ in range(2):
        k = int(np.argmax(spec))
        lo, hi = max(0, k - 2), k + 3
        peaks += float(spec[lo:hi].sum())
        spec[lo:hi] = 0
    return peaks / total


class SpeechDetector:
    """Says when ``min_ms`` of voiced, non-tonal audio has been heard (ringback and silence do not count)."""

    def __init__(self, *, min_ms: int = 200, frame_ms: int = 20, min_rms: float = 300.0,
                 max_tonality: float = 0.75) -> None:
        self.needed = max(1, min_ms // frame_ms)
        self.min_rms = min_rms
        self.max_tonality = max_tonality
        self.voiced = 0

    def feed(self, frame: bytes) -> bool:
        samples = np.frombuffer(frame[: len(frame) - len(frame) % 2], dtype="<i2").astype(np.float64)
        rms = float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0
        if rms >= self.min_rms and tonality(frame) <= self.max_tonality:
            self.voiced += 1
        return self.voiced >= self.needed
