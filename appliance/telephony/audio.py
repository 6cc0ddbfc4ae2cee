"""Audio pump for a modem's voice path (S16LE mono, 20 ms frames).

The path is a transport: a serial voice tty (``serial:/dev/ttyUSB4`` or a bare
path), an ALSA card (``alsa:Android``) or the simulator's file-backed card
(``fifo:/tmp/...``); see :func:`open_audio_transport`. The device may run at
16 kHz; the call side always sees 8 kHz frames of :data:`FRAME_BYTES`.

The modem is the clock: the pump thread blocks until one inbound frame has
arrived, then writes exactly one outbound frame (queued bot audio or silence).
So the two directions stay in step without any timer of ours, and a recorder
``tap(inbound, outbound)`` sees both voices aligned frame by frame.
"""

from __future__ import annotations

import collections
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import serial

from appliance.errors import PortError
from appliance.events import FRAME_BYTES, LINE_RATE
from appliance.telephony.rtprio import raise_thread_priority

log = logging.getLogger(__name__)

Tap = Callable[[bytes, bytes], None]
Observer = Callable[[bytes], None]


class AudioTransport(Protocol):
    name: str

    def open(self) -> None: ...

    def read(self, size: int) -> bytes: ...  # up to size bytes; b"" after a short wait with nothing

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class SerialTransport:
    """A modem's voice tty (Huawei ttyUSB1, SIMCom interface 4, Quectel NMEA port in QPCMV=1,0 mode)."""

    def __init__(self, path: str, *, baudrate: int = 115200) -> None:
        self.path = path
        self.baudrate = baudrate
        self.name = path.rsplit("/", 1)[-1]
        self._serial: serial.Serial | None = None

    def open(self) -> None:
        try:
            self._serial = serial.Serial(self.path, self.baudrate, timeout=0.1, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortError(f"cannot open voice port {self.path}: {exc}") from exc

    def read(self, size: int) -> bytes:
        ser = self._serial
        if ser is None:
            raise PortError(f"voice port {self.path} is closed")
        return bytes(ser.read(size))

    def write(self, data: bytes) -> None:
        ser = self._serial
        if ser is None:
            raise PortError(f"voice port {self.path} is closed")
        ser.write(data)

    def close(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except (serial.SerialException, OSError):
                pass
            self._serial = None


def open_audio_transport(spec: str, *, rate: int = LINE_RATE, period_ms: int = 20,
                         baudrate: int = 115200) -> AudioTransport:
    """``serial:PATH`` (or a bare path), ``alsa:DEVICE`` or ``fifo:FOLDER`` -> an unopened transport."""
    kind, sep, rest = spec.partition(":")
    if sep and kind == "alsa":
        from appliance.telephony.alsa import AlsaTransport

        return AlsaTransport(rest, rate=rate, period_ms=period_ms)
    if sep and kind == "fifo":
        from appliance.telephony.alsa import FifoTransport

        return FifoTransport(rest)
    if sep and kind == "serial":
        return SerialTransport(rest, baudrate=baudrate)
    return SerialTransport(spec, baudrate=baudrate)


def downsample(frame: bytes, factor: int) -> bytes:
    """Device-rate frame -> line-rate frame (mean of each group of ``factor`` samples)."""
    samples = np.frombuffer(frame, dtype="<i2").astype(np.int32)
    return (samples.reshape(-1, factor).mean(axis=1)).astype("<i2").tobytes()


def upsample(frame: bytes, factor: int, previous: int = 0) -> tuple[bytes, int]:
    """Line-rate frame -> device-rate frame by linear interpolation; returns it and its last sample."""
    samples = np.frombuffer(frame, dtype="<i2").astype(np.float64)
    if not samples.size:
        return b"", previous
    points = np.concatenate([[previous], samples])
    x = np.arange(samples.size * factor) / factor
    out = np.interp(x + 1.0 / factor, np.arange(points.size), points)
    return out.astype("<i2").tobytes(), int(samples[-1])


class AudioPump:
    def __init__(
        self,
        port_path: str | AudioTransport,
        *,
        frame_bytes: int = FRAME_BYTES,
        tap: Tap | None = None,
        inbound_capacity: int = 250,
        baudrate: int = 115200,
        name: str | None = None,
        device_rate: int = LINE_RATE,
        observers: Sequence[Observer] | None = None,
    ) -> None:
        if device_rate % LINE_RATE:
            raise ValueError(f"device rate {device_rate} is not a multiple of {LINE_RATE}")
        self.factor = device_rate // LINE_RATE
        if isinstance(port_path, str):
            self.transport: AudioTransport = open_audio_transport(
                port_path, rate=device_rate, baudrate=baudrate)
            self.port_path = port_path
        else:
            self.transport = port_path
            self.port_path = port_path.name
        self.frame_bytes = frame_bytes  # line-rate frame (what read_frame returns and play() is cut into)
        self.device_frame_bytes = frame_bytes * self.factor
        self.device_rate = device_rate
        self.tap = tap
        self.observers: list[Observer] = list(observers or [])  # see every inbound frame (DTMF, answer check)
        self.baudrate = baudrate
        self.name = name or self.port_path.rsplit("/", 1)[-1]
        self.max_gap = 0.0  # longest interval between two written frames, seconds
        self.frames_in = 0
        self.frames_out = 0
        self.underruns = 0
        self.priority = "normal"  # what the pump thread got from raise_thread_priority: rr, nice or normal
        self.dropped_in = 0
        self.closed = threading.Event()
        self.error: Exception | None = None
        self._silence = bytes(frame_bytes)
        self._last_out = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._inbound: collections.deque[bytes] = collections.deque()
        # what was written in the tick each inbound frame arrived (the echo guard's far end), kept in step
        self._played_in: collections.deque[bytes] = collections.deque()
        self._capacity = inbound_capacity
        self._outbound: collections.deque[bytes] = collections.deque()
        self._tail = b""  # part of a frame held back while a stream is open
        self._streaming = False

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        self.transport.open()
        # in the starter's context: its log records carry the call it pumps (appliance/logs.py)
        self._thread = threading.Thread(target=contextvars.copy_context().run, args=(self._run,),
                                        name=f"audio-pump-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("audio pump %s did not stop within %.1fs", self.name, timeout)
        self.transport.close()
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
            if self._played_in:
                self._played_in.popleft()
            return self._inbound.popleft() if self._inbound else None

    def read_frame_with_played(self, timeout: float) -> tuple[bytes, bytes] | None:
        """Like :meth:`read_frame`, with the bot frame written in the same tick (for an echo guard)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._inbound or self.closed.is_set(), timeout):
                return None
            if not self._inbound:
                return None
            played = self._played_in.popleft() if self._played_in else self._silence
            return self._inbound.popleft(), played

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
        self.priority = raise_thread_priority(f"audio pump {self.name}")
        transport = self.transport
        n = self.device_frame_bytes
        buf = bytearray()
        last_write: float | None = None
        try:
            while not self._stop.is_set():
                chunk = transport.read(n - len(buf))
                if not chunk:
                    continue
                buf += chunk
                if len(buf) < n:
                    continue
                inbound = bytes(buf) if self.factor == 1 else downsample(bytes(buf), self.factor)
                buf.clear()
                with self._cond:
                    if self._outbound:
                        outbound = self._outbound.popleft()
                    else:
                        outbound = self._silence
                        if self._streaming:
                            self.underruns += 1
                if self.factor == 1:
                    transport.write(outbound)
                else:
                    wide, self._last_out = upsample(outbound, self.factor, self._last_out)
                    transport.write(wide)
                now = time.monotonic()
                if last_write is not None:
                    self.max_gap = max(self.max_gap, now - last_write)
                last_write = now
                for observer in self.observers:
                    try:
                        observer(inbound)
                    except Exception:
                        log.exception("audio observer failed on %s", self.name)
                with self._cond:
                    self.frames_in += 1
                    self.frames_out += 1
                    if len(self._inbound) >= self._capacity:
                        self._inbound.popleft()
                        if self._played_in:
                            self._played_in.popleft()
                        self.dropped_in += 1
                    self._inbound.append(inbound)
                    self._played_in.append(outbound)
                    self._cond.notify_all()
                if self.tap is not None:
                    try:
                        self.tap(inbound, outbound)
                    except Exception:
                        log.exception("audio tap failed on %s", self.name)
        except (PortError, serial.SerialException, OSError, TypeError, AttributeError) as exc:
            if not self._stop.is_set():
                self.error = PortError(f"voice port {self.port_path} failed: {exc}")
                log.error("%s", self.error)
        finally:
            self._finish()
