"""Audio transports other than a serial voice port: ALSA cards and their file-backed stand-in.

* :class:`AlsaTransport` opens an ALSA card with pyalsaaudio (the Quectel EC25
  in ``AT+QPCMV=1,2`` mode shows up as a USB audio card named ``Android``; a
  SIM800 is wired to a USB sound card). Capture blocks for one period, so the
  card is the clock, as the voice tty is for serial modems.
* :class:`FifoTransport` is what the simulator offers instead of a sound card:
  a folder with two named pipes, ``capture`` (the modem's audio towards the box,
  written by the simulator every 20 ms) and ``playback`` (the box's audio).

Both read and write raw S16LE mono and are driven by
:class:`appliance.telephony.audio.AudioPump`.
"""

from __future__ import annotations

import errno
import logging
import os
import select
from pathlib import Path
from typing import Any

from appliance.errors import PortError

log = logging.getLogger(__name__)

CAPTURE = "capture"
PLAYBACK = "playback"


class AlsaTransport:
    def __init__(self, device: str, *, rate: int = 8000, period_ms: int = 20, prefill_periods: int = 2) -> None:
        self.prefill_periods = prefill_periods
        self.device = device if ":" in device or device == "default" else f"plughw:CARD={device},DEV=0"
        self.rate = rate
        self.period = rate * period_ms // 1000
        self.name = device
        self._capture: Any = None
        self._playback: Any = None
        self._pending = b""

    def open(self) -> None:
        try:
            import alsaaudio
        except ImportError as exc:  # pragma: no cover - installed with the package
            raise PortError("pyalsaaudio is not installed (pip install pyalsaaudio; needs libasound2-dev)") from exc
        common = {
            "channels": 1,
            "rate": self.rate,
            "format": alsaaudio.PCM_FORMAT_S16_LE,
            "periodsize": self.period,
            "device": self.device,
        }
        try:
            self._capture = alsaaudio.PCM(alsaaudio.PCM_CAPTURE, alsaaudio.PCM_NORMAL, **common)
            self._playback = alsaaudio.PCM(alsaaudio.PCM_PLAYBACK, alsaaudio.PCM_NORMAL, **common)
            # Two periods of silence ahead: the pump writes one period per period captured, so the
            # playback buffer stays this full and a late wake-up of the pump does not underrun it.
            self._playback.write(bytes(self.period * 2 * self.prefill_periods))
        except alsaaudio.ALSAAudioError as exc:
            self.close()
            raise PortError(f"cannot open ALSA device {self.device}: {exc}") from exc

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes of captured audio (blocks for about one period)."""
        if not self._pending:
            length, data = self._capture.read()
            if length < 0:  # overrun: ALSA restarts the stream; nothing lost but time
                log.debug("ALSA capture overrun on %s", self.device)
                return b""
            self._pending = bytes(data)
        out, self._pending = self._pending[:size], self._pending[size:]
        return out

    def write(self, data: bytes) -> None:
        self._playback.write(data)

    def close(self) -> None:
        for pcm in (self._capture, self._playback):
            if pcm is not None:
                try:
                    pcm.close()
                except Exception:  # closing a vanished card may fail any way
                    log.debug("closing ALSA %s failed", self.device, exc_info=True)
        self._capture = self._playback = None


class FifoTransport:
    """The box's end of a simulator's file-backed sound card (a folder with two FIFOs)."""

    def __init__(self, folder: str | Path, *, timeout: float = 0.1) -> None:
        self.folder = Path(folder)
        self.name = self.folder.name
        self.timeout = timeout
        self._rfd: int | None = None
        self._wfd: int | None = None

    def open(self) -> None:
        try:
            self._rfd = os.open(self.folder / CAPTURE, os.O_RDONLY | os.O_NONBLOCK)
            self._wfd = os.open(self.folder / PLAYBACK, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            self.close()
            raise PortError(f"cannot open sound card stand-in {self.folder}: {exc}") from exc
        os.set_blocking(self._wfd, True)

    def read(self, size: int) -> bytes:
        fd = self._rfd
        if fd is None:
            raise PortError(f"sound card stand-in {self.folder} is closed")
        ready, _, _ = select.select([fd], [], [], self.timeout)
        if not ready:
            return b""
        try:
            data = os.read(fd, size)
        except BlockingIOError:
            return b""
        if not data:
            raise PortError(f"sound card stand-in {self.folder} went away")
        return data

    def write(self, data: bytes) -> None:
        fd = self._wfd
        if fd is None:
            raise PortError(f"sound card stand-in {self.folder} is closed")
        try:
            os.write(fd, data)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise PortError(f"sound card stand-in {self.folder} went away") from exc
            raise

    def close(self) -> None:
        for fd in (self._rfd, self._wfd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._rfd = self._wfd = None
