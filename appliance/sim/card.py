"""The simulated modem's side of non-8 kHz and non-serial voice paths.

The simulated modems' voice loop speaks in 8 kHz frames to an object with
``read(timeout) -> bytes``, ``write(data) -> int``, ``closed``, ``close()`` and
``reopen()`` (a :class:`appliance.sim.pty.PtyPair`). These stand in for it:

* :class:`FifoCard`: a file-backed sound card (two named pipes in a folder) for
  the ALSA families (Quectel EC25 in USB-audio mode, SIM800 with a USB sound
  card). The box opens it as ``fifo:<folder>`` through the same audio-port
  interface as ``alsa:<card>``.
* :class:`WideVoice`: wraps either and runs the device side at 16 kHz (SIM7600
  with ``AT+CPCMFRM=1``), so the box sees 640-byte frames.
"""

from __future__ import annotations

import errno
import os
import select
import shutil
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Protocol

from appliance.telephony.alsa import CAPTURE, PLAYBACK
from appliance.telephony.audio import downsample, upsample


class VoicePath(Protocol):
    @property
    def path(self) -> str: ...

    @property
    def closed(self) -> bool: ...

    def read(self, timeout: float, size: int = 4096) -> bytes: ...

    def write(self, data: bytes) -> int: ...

    def close(self) -> None: ...

    def reopen(self) -> str: ...


class FifoCard:
    """A sound card made of two FIFOs: ``capture`` (modem -> box) and ``playback`` (box -> modem)."""

    def __init__(self, prefix: str = "callbox-card-") -> None:
        self._prefix = prefix
        self._lock = threading.Lock()
        self.closed = True
        self._open()

    def _open(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix=self._prefix))
        weakref.finalize(self, shutil.rmtree, self.folder, True)  # gone at exit even if never closed
        os.mkfifo(self.folder / CAPTURE)
        os.mkfifo(self.folder / PLAYBACK)
        # read-write opens never block and never fail for want of a peer
        self._out = os.open(self.folder / CAPTURE, os.O_RDWR | os.O_NONBLOCK)
        self._in = os.open(self.folder / PLAYBACK, os.O_RDWR | os.O_NONBLOCK)
        self.path = f"fifo:{self.folder}"
        self.closed = False

    def read(self, timeout: float, size: int = 4096) -> bytes:
        if self.closed:
            return b""
        try:
            ready, _, _ = select.select([self._in], [], [], timeout)
            return os.read(self._in, size) if ready else b""
        except (BlockingIOError, InterruptedError):
            return b""
        except (OSError, ValueError):
            return b""

    def write(self, data: bytes) -> int:
        with self._lock:
            if self.closed:
                return 0
            try:
                return os.write(self._out, data)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EPIPE, errno.EBADF):
                    return 0
                raise

    def drain(self) -> None:
        """Drop audio the box never read (left over from an earlier call)."""
        with self._lock:
            if self.closed:
                return
            try:
                while os.read(self._out, 65536):
                    pass
            except OSError:
                pass

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            for fd in (self._out, self._in):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self.folder, ignore_errors=True)

    def reopen(self) -> str:
        with self._lock:
            if not self.closed:
                return self.path
            self._open()
        return self.path


class WideVoice:
    """Runs the device side of a voice path at ``factor`` x 8 kHz; the sim still deals in 8 kHz frames."""

    def __init__(self, inner: VoicePath, factor: int = 2) -> None:
        self.inner = inner
        self.factor = factor
        self._in = bytearray()
        self._last = 0

    @property
    def path(self) -> str:
        return self.inner.path

    @property
    def closed(self) -> bool:
        return self.inner.closed

    def read(self, timeout: float, size: int = 4096) -> bytes:
        self._in += self.inner.read(timeout, size)
        unit = 2 * self.factor
        whole = len(self._in) - len(self._in) % unit
        if not whole:
            return b""
        out = downsample(bytes(self._in[:whole]), self.factor)
        del self._in[:whole]
        return out

    def write(self, data: bytes) -> int:
        data = data[: len(data) - len(data) % 2]
        wide, last = upsample(data, self.factor, self._last)
        written = self.inner.write(wide)
        if written >= len(wide):
            self._last = last
            return len(data)
        return written // (2 * self.factor) * 2

    def close(self) -> None:
        self.inner.close()

    def reopen(self) -> str:
        self._in.clear()
        return self.inner.reopen()
