"""Pseudo-terminal pairs that stand in for a USB modem's serial interfaces.

The driver opens ``path`` (the slave side, e.g. /dev/pts/7) with pyserial like
it would open /dev/ttyUSB2; the simulator reads and writes the master side.
"""

from __future__ import annotations

import errno
import os
import select
import threading
import tty


class PtyPair:
    def __init__(self) -> None:
        self._open()
        self._write_lock = threading.Lock()

    def _open(self) -> None:
        self.master, self.slave = os.openpty()
        # Raw on both ends before anyone opens the slave: no echo, no CR/LF
        # translation, bytes pass untouched (pyserial makes the slave raw again).
        tty.setraw(self.slave)
        tty.setraw(self.master)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self.closed = False

    def reopen(self) -> str:
        """Plug back in after :meth:`close`: a new pty pair (a new path), same object."""
        with self._write_lock:
            if not self.closed:
                return self.path
            self._open()
        return self.path

    def read(self, timeout: float, size: int = 4096) -> bytes:
        """Whatever bytes the driver wrote, waiting up to ``timeout``; b"" if none."""
        if self.closed:
            return b""
        try:
            ready, _, _ = select.select([self.master], [], [], timeout)
            if not ready:
                return b""
            return os.read(self.master, size)
        except (BlockingIOError, InterruptedError):
            return b""
        except (OSError, ValueError):
            return b""

    def write(self, data: bytes) -> int:
        """Write without blocking; returns bytes written (a full buffer drops the rest)."""
        with self._write_lock:
            if self.closed:
                return 0
            try:
                return os.write(self.master, data)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EIO):
                    return 0
                raise

    def close(self) -> None:
        """Close both ends: to a driver holding the slave, the device is gone."""
        with self._write_lock:
            if self.closed:
                return
            self.closed = True
            for fd in (self.master, self.slave):
                try:
                    os.close(fd)
                except OSError:
                    pass
