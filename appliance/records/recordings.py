"""Call recordings on disk: stereo WAV, customer on the left channel, bot on the right."""

from __future__ import annotations

import re
import threading
import wave
from datetime import datetime
from pathlib import Path

import numpy as np

from appliance.records.talk import TalkMeter, TalkTally

_UNSAFE = re.compile(r"[^0-9A-Za-z+_-]")


def recording_path(root: Path, phone: str, call_id: int, when: datetime) -> Path:
    """recordings/<phone>/<YYYY-MM-DD>/<call-id>.wav"""
    return root / _UNSAFE.sub("_", phone) / f"{when:%Y-%m-%d}" / f"{call_id}.wav"


class StereoRecorder:
    """Takes aligned (customer, bot) frame pairs from the audio pump and writes them to a WAV file; a
    :class:`~appliance.records.talk.TalkMeter` measures the two channels as they are written (:attr:`tally`)."""

    def __init__(self, path: Path, *, rate: int = 8000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._wav: wave.Wave_write | None = wave.open(str(path), "wb")
        self._wav.setnchannels(2)
        self._wav.setsampwidth(2)
        self._wav.setframerate(rate)
        self.frames = 0
        self.meter = TalkMeter()

    @property
    def tally(self) -> TalkTally:
        """Who talked and for how long in what was recorded so far (all zeros before the answer)."""
        return self.meter.tally

    def write(self, customer: bytes, bot: bytes) -> None:
        left = np.frombuffer(customer, dtype="<i2")
        right = np.frombuffer(bot, dtype="<i2")
        n = max(len(left), len(right))
        stereo = np.zeros((n, 2), dtype="<i2")
        stereo[: len(left), 0] = left
        stereo[: len(right), 1] = right
        with self._lock:
            if self._wav is not None:
                self._wav.writeframes(stereo.tobytes())
                self.frames += 1
                self.meter.feed(customer, bot)

    def close(self) -> None:
        with self._lock:
            if self._wav is not None:
                self._wav.close()
                self._wav = None
