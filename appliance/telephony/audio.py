"""Audio pump for a serial PCM voice port (8 kHz S16LE mono, 20 ms frames).

The modem is the clock: the pump thread blocks until one inbound frame has
arrived, then writes exactly one outbound frame (queued bot audio or silence).
So the two directions stay in step without any timer of ours, and a recorder
``tap(inbound, outbound)`` sees both voices aligned frame by frame.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable

import serial

from appliance.errors import PortError
from appliance.events import FRAME_BYTES

log = logging.getLogger(__name__)

Tap = Callable[[bytes, bytes], None]


class AudioPump:
    def __init__(
        self,
        port_path: str,
        *,
        frame_bytes: int = FRAME_BYTES,
        tap: Tap | None = None,
        inbound_capacity: int = 250,
        baudrate: int = 115200,
        name: str | None = None,
    ) -> None:
        self.port_path = port_path
        self.frame_bytes = frame_bytes
        self.tap = tap
        self.baudrate = baudrate
        self.name = name or port_path.rsplit("/", 1)[-1]
        self.frames_in = 0
        self.frames_out = 0
        self.underruns = 0
        self.dropped_in = 0
        self.closed = threading.Event()
        self.error: Exception | None = None
        self._silence = bytes(frame_bytes)
        self._serial: serial.Serial | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._inbound: collections.deque[bytes] = collections.deque()
        self._capacity = inbound_capacity
        self._outbound: collections.deque[bytes] = collections.deque()
        self._tail = b""  # part of a frame held back while a stream is open
        self._streaming = False

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        try:
            self._serial = serial.Serial(self.port_path, self.baudrate, timeout=0.1, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortError(f"cannot open voice port {self.port_path}: {exc}") from exc
        self._thread = threading.Thread(target=self._run, name=f"audio-pump-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("audio pump %s did not stop within %.1fs", self.name, timeout)
        if self._serial is not None:
            try:
                self._serial.close()
            except (serial.SerialException, OSError):
                pass
            self._serial = None
        self._finish()

    def _finish(self) -> None:
        self.closed.set()
        with self._cond:
            self._cond.notify_all()

    # -- customer audio ------------------------------------------------------

    def read_frame(self, timeout: float) -> bytes | None:
        """The next inbound frame, or None after ``timeout`` or once the pump is closed and drained."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._inbound or self.closed.is_set(), timeout):
                return None
            return self._inbound.popleft() if self._inbound else None

    # -- bot audio -----------------------------------------------------------

    def play(self, pcm: bytes, *, more: bool = False) -> None:
        """Queue bot audio. ``more=True`` says another chunk follows (streamed
        synthesis): the incomplete last frame is held back instead of padded, and
        a tick with nothing ready meanwhile counts as an underrun."""
        n = self.frame_bytes
        with self._cond:
            data = self._tail + pcm
            whole = len(data) - len(data) % n
            for i in range(0, whole, n):
                self._outbound.append(data[i : i + n])
            rest = data[whole:]
            if more:
                self._tail = rest
            else:
                self._tail = b""
                if rest:
                    self._outbound.append(rest + bytes(n - len(rest)))
            self._streaming = more
            self._cond.notify_all()

    def flush_playback(self) -> int:
        """Barge-in: drop all queued bot audio; returns how many frames were dropped."""
        with self._cond:
            dropped = len(self._outbound)
            self._outbound.clear()
            self._tail = b""
            self._streaming = False
            self._cond.notify_all()
        return dropped

    def playing(self) -> bool:
        with self._cond:
            return bool(self._outbound) or self._streaming

    def wait_played(self, timeout: float) -> bool:
        """Block until all queued bot audio has been written to the port (True) or timeout/closed (False)."""
        with self._cond:
            self._cond.wait_for(
                lambda: (not self._outbound and not self._streaming) or self.closed.is_set(), timeout
            )
            return not self._outbound and not self._streaming

    # -- pump thread ---------------------------------------------------------

    def _run(self) -> None:
        ser = self._serial
        assert ser is not None
        n = self.frame_bytes
        buf = bytearray()
        try:
            while not self._stop.is_set():
                chunk = ser.read(n - len(buf))
                if not chunk:
                    continue
                buf += chunk
                if len(buf) < n:
                    continue
                inbound = bytes(buf)
                buf.clear()
                with self._cond:
                    if self._outbound:
                        outbound = self._outbound.popleft()
                    else:
                        outbound = self._silence
                        if self._streaming:
                            self.underruns += 1
                ser.write(outbound)
                with self._cond:
                    self.frames_in += 1
                    self.frames_out += 1
                    if len(self._inbound) >= self._capacity:
                        self._inbound.popleft()
                        self.dropped_in += 1
                    self._inbound.append(inbound)
                    self._cond.notify_all()
                if self.tap is not None:
                    try:
                        self.tap(inbound, outbound)
                    except Exception:
                        log.exception("audio tap failed on %s", self.name)
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            if not self._stop.is_set():
                self.error = PortError(f"voice port {self.port_path} failed: {exc}")
                log.error("%s", self.error)
        finally:
            self._finish()
