"""Who answered: the acoustic half of answering-machine and network-announcement detection.

Fed the callee's side of the line frame by frame (20 ms, 8 kHz) from the moment the call is answered,
:class:`AnswerScreen` says when it hears

* **special-information tones** (SIT, ITU-T E.180 / Telcordia: three rising segments of 913.8 or 985.2 Hz,
  1370.6 or 1428.5 Hz and 1776.7 Hz, 274-380 ms each, before a network announcement): ``Cue.SIT``;
* **a beep** after some speech: one pure tone of 700-2600 Hz held 200 ms or longer that is not part of a SIT
  sequence (a voicemail's "leave a message after the tone"): ``Cue.BEEP``;
* **long speech**: speech (with the short pauses inside sentences) running longer than
  ``machine_speech_ms`` without the pause a person leaves after "Hello?": ``Cue.LONG_SPEECH``, once.

Tones are found with a bank of Goertzel filters per 20 ms frame: the SIT frequencies and a 20 Hz grid from
300 to 2600 Hz. The filters' outputs are computed together as one matrix product with the frame (the same
numbers as running each filter's recurrence, at numpy speed: 30-50 µs a frame on this machine). A frame is a
tone when one filter holds most of its energy (``tone_purity``: 1.0 for a pure tone on a filter's frequency,
~0.8 half-way between two filters, well below for speech); two filters holding it together (DTMF, the US
ringback) make a frame tonal but no tone. Consecutive tone frames on one frequency (±30 Hz) make a segment.
The filters reach down to 300 Hz so that a ringback or dial tone (400-480 Hz) counts as a tone, not as
speech; it is below the beep band, so a network that reports the call answered while it still rings is not
taken for a machine either.

Speech is a frame above both -40.8 dBFS and 10 dB over the line's noise floor (the floor follows the quietest
frame of the last 3 s), so steady line noise is not one long greeting: with noise at
20 dB below the voice and a fixed threshold, 8 of 9 people's greetings were called machines.

Whether long speech is a voicemail greeting or an operator announcement is for the words to say
(:mod:`appliance.dialog.runtime.greeting`); this module only hears sounds. Measured on the committed fixtures
(``tests/fixtures/amd``, ``bench/amd.py``): espeak-ng greetings of people run 0.5-2.5 s with pauses inside up
to 440 ms; voicemail greetings and announcements 4.6-10 s.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from appliance.events import FRAME_MS, LINE_RATE

__all__ = ["SIT_SEGMENTS", "AmdSettings", "AnswerScreen", "Cue", "ToneFrames"]

# The three SIT segments, each with its "low" and "high" frequency (Hz).
SIT_SEGMENTS: tuple[tuple[float, ...], ...] = ((913.8, 985.2), (1370.6, 1428.5), (1776.7,))
SIT_TOLERANCE_HZ = 20.0
BEEP_BAND_HZ = (700.0, 2600.0)
TONE_BAND_HZ = (300.0, 2600.0)  # tones found (ringback and dial tone too: not speech, not a beep)
GRID_STEP_HZ = 20.0
VOICED_RMS = 300.0  # -40.8 dBFS: above a quiet line, below any voice
NOISE_MARGIN = 3.2  # speech is 10 dB above the line's noise floor (and above VOICED_RMS)
FLOOR_FRAMES = 150  # the noise floor: the quietest frame of the last 3 s
FLOOR_MAX = 1000.0  # ... at most -30 dBFS: one who talks from the first frame on still has speech heard


class Cue(StrEnum):
    SIT = "sit"
    BEEP = "beep"
    LONG_SPEECH = "long_speech"


@dataclass(frozen=True)
class AmdSettings:
    machine_speech_ms: int = 2800  # speech running longer than this is not a person's greeting
    beep_min_ms: int = 200
    sit_min_ms: int = 200  # a SIT segment lasts 274-380 ms; frames at its edges are lost to the transitions
    sit_max_ms: int = 440
    sit_gap_ms: int = 60  # at most this between two segments of one SIT
    speech_before_beep_ms: int = 300  # a beep counts after this much speech (not ringback or a lone tone)
    tone_purity: float = 0.6
    reset_pause_ms: int = 1000  # a pause longer than this ends a span of speech


def _bank() -> tuple[np.ndarray, np.ndarray]:
    sit = [f for seg in SIT_SEGMENTS for f in seg]
    grid = np.arange(TONE_BAND_HZ[0], TONE_BAND_HZ[1] + 1, GRID_STEP_HZ)
    freqs = np.concatenate([np.array(sit), grid])
    n = np.arange(LINE_RATE * FRAME_MS // 1000)
    basis = np.exp(-2j * np.pi * np.outer(freqs, n) / LINE_RATE)
    return freqs, basis


class ToneFrames:
    """Per frame: the frequency of the pure tone it holds, or None (speech, noise, silence, two tones)."""

    freqs, basis = _bank()

    def __init__(self, purity: float = 0.6) -> None:
        self.purity = purity

    def measure(self, samples: np.ndarray) -> tuple[float | None, float]:
        """(tone frequency or None, the frame's RMS) of one frame of int16 samples."""
        freq, rms, _ = self.analyse(samples)
        return freq, rms

    def analyse(self, samples: np.ndarray) -> tuple[float | None, float, bool]:
        """(single tone frequency or None, RMS, tonal): ``tonal`` also for two tones at once (DTMF, the US
        ringback's 440 + 480 Hz), which are no speech but no beep either."""
        x = samples.astype(np.float64)
        n = x.size
        energy = float(np.dot(x, x))
        rms = (energy / n) ** 0.5 if n else 0.0
        if n != self.basis.shape[1] or rms < VOICED_RMS:
            return None, rms, False
        power = np.abs(self.basis @ x) ** 2 * (2.0 / (n * energy))  # each Goertzel filter's share of the frame
        best = int(np.argmax(power))
        if power[best] >= self.purity:
            return float(self.freqs[best]), rms, True
        far = np.abs(self.freqs - self.freqs[best]) >= 100.0
        second = float(power[far].max()) if far.any() else 0.0
        return None, rms, float(power[best]) + second >= self.purity


def _sit_slot(freq: float) -> int | None:
    for i, seg in enumerate(SIT_SEGMENTS):
        if any(abs(freq - f) <= SIT_TOLERANCE_HZ for f in seg):
            return i
    return None


@dataclass
class _Segment:
    freq: float
    start: int  # frame index
    frames: int = 1

    @property
    def end(self) -> int:
        return self.start + self.frames


class AnswerScreen:
    """Feed each frame of the callee's audio from the answer on; :meth:`feed` returns a :class:`Cue` when
    one is heard. Pure: no clock, no I/O (frame counts are the time)."""

    def __init__(self, settings: AmdSettings | None = None) -> None:
        self.settings = settings or AmdSettings()
        self.tones = ToneFrames(self.settings.tone_purity)
        self.frame = 0  # frames fed
        self.speech_ms = 0  # voiced frames that were not tones
        self.first_speech: int | None = None  # frame index of the first voiced non-tone frame
        self.last_speech: int | None = None
        self.tone: _Segment | None = None  # the tone segment going on (or just ended)
        self._sit: list[tuple[int, int]] = []  # (slot, end frame) of the SIT segments heard in a row
        self._long = False
        self.is_tone = False  # the last frame fed was a tone
        self.voiced = False  # the last frame fed was speech (not a tone, above the noise floor)
        self._recent: collections.deque[float] = collections.deque(maxlen=FLOOR_FRAMES)  # frames' RMS

    @property
    def elapsed_ms(self) -> int:
        return self.frame * FRAME_MS

    @property
    def speech_span_ms(self) -> int:
        """From the first speech frame to the last one, pauses inside included."""
        if self.first_speech is None or self.last_speech is None:
            return 0
        return (self.last_speech - self.first_speech + 1) * FRAME_MS

    def feed(self, frame: bytes) -> Cue | None:
        samples = np.frombuffer(frame[: len(frame) - len(frame) % 2], dtype="<i2")
        freq, rms, tonal = self.tones.analyse(samples)
        index = self.frame
        self.frame += 1
        self.is_tone = tonal
        cue = self._tone(freq, index)
        if cue is not None:
            return cue
        s = self.settings
        self.voiced = not tonal and self._above_floor(rms)
        if self.voiced:
            self.speech_ms += FRAME_MS
            if self.first_speech is None or (
                    self.last_speech is not None and (index - self.last_speech) * FRAME_MS > s.reset_pause_ms):
                self.first_speech = index  # speech after a long pause starts a new span
            self.last_speech = index
            if not self._long and self.speech_span_ms >= self.settings.machine_speech_ms:
                self._long = True
                return Cue.LONG_SPEECH
        return None

    @property
    def floor(self) -> float:
        """The line's noise floor: the RMS of the quietest frame of the last 3 s."""
        return min(min(self._recent), FLOOR_MAX) if self._recent else 0.0

    def _above_floor(self, rms: float) -> bool:
        self._recent.append(rms)
        return rms >= max(VOICED_RMS, self.floor * NOISE_MARGIN)

    def _tone(self, freq: float | None, index: int) -> Cue | None:
        s = self.settings
        seg = self.tone
        if freq is not None and seg is not None and seg.end == index and abs(freq - seg.freq) <= 30.0:
            seg.frames += 1
            if seg.frames * FRAME_MS > s.sit_max_ms:  # longer than any SIT segment: a beep, if after speech
                return self._beep(seg)
            return None
        cue = None
        if seg is not None and seg.end == index:  # the segment just ended
            cue = self._segment_ended(seg)
            if cue is not None:
                return cue
        if seg is not None and seg.end < index and index - seg.end > s.sit_gap_ms // FRAME_MS:
            # a SIT-length tone ended a while ago and no next segment came: it was a lone tone
            if self._sit and self._sit[-1][1] == seg.end:
                self._sit.clear()
                cue = self._beep(seg)
            self.tone = None
        if freq is not None:
            self.tone = _Segment(freq, index)
        return cue

    def _segment_ended(self, seg: _Segment) -> Cue | None:
        s = self.settings
        ms = seg.frames * FRAME_MS
        slot = _sit_slot(seg.freq)
        if slot is not None and s.sit_min_ms <= ms <= s.sit_max_ms:
            prev = self._sit[-1] if self._sit else None
            gap_ok = prev is not None and (seg.start - prev[1]) * FRAME_MS <= s.sit_gap_ms
            if prev is not None and gap_ok and slot == prev[0] + 1:
                self._sit.clear()
                self.tone = None
                return Cue.SIT  # two segments in rising order: SIT
            self._sit = [(slot, seg.end)]
            return None  # wait: the next segment may follow
        self._sit.clear()
        cue = self._beep(seg)
        self.tone = None
        return cue

    def _beep(self, seg: _Segment) -> Cue | None:
        s = self.settings
        lo, hi = BEEP_BAND_HZ
        if seg.frames * FRAME_MS < s.beep_min_ms or not lo <= seg.freq <= hi:
            return None
        if self.speech_ms < s.speech_before_beep_ms:
            return None
        self.tone = None
        return Cue.BEEP
