"""An in-memory AT port whose far end the test plays: no pty, no thread of the test's own, no sleeps.

The channel side is a transport (``open``/``read``/``write``/``close``); the far end is
:attr:`LoopbackTransport.modem`, a :class:`LoopbackModem` that records each command line the channel
wrote and answers it at once from a table (on the writing thread), or sends whatever the test says.
:meth:`LoopbackModem.wait_idle` returns once the channel's reader has taken every byte and come back for
more, i.e. has dispatched every line: a test waits on that instead of sleeping.

Delivery can be made hard, deterministically: ``chunk`` bytes at most per read (1: byte at a time),
``lose`` (indices in the far end's byte stream that never arrive), ``delay_s`` (each byte readable only
that long after it was sent). bellows tests its radio protocol the same way.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

from appliance.errors import PortError

READ_WAIT_S = 0.02  # a read with nothing to deliver returns b"" after this long (the reader checks its stop)

Reply = bytes | Callable[["LoopbackModem"], None]


class LoopbackTransport:
    def __init__(
        self,
        *,
        name: str = "loop",
        chunk: int | None = None,
        lose: frozenset[int] = frozenset(),
        delay_s: float = 0.0,
    ) -> None:
        if chunk is not None and chunk < 1:
            raise ValueError(f"loopback chunk must be at least 1, not {chunk}")
        self.name = name
        self.chunk = chunk
        self.lose = lose
        self.delay_s = delay_s
        self.modem = LoopbackModem(self)
        self._cond = threading.Condition()
        self._inbound: collections.deque[tuple[float, int]] = collections.deque()  # (readable at, byte)
        self._sent = 0  # bytes the far end has sent, lost ones included
        self._open = False
        self._failure: str | None = None
        self._reader_waiting = False  # the reader asked for bytes and found none

    # -- the channel's side ----------------------------------------------------

    def open(self) -> None:
        with self._cond:
            if self._open:
                raise PortError(f"cannot open AT port {self.name}: already open")
            self._open = True
            self._failure = None

    def read(self) -> bytes:
        with self._cond:
            deadline = time.monotonic() + READ_WAIT_S
            while True:
                if self._failure is not None:
                    raise PortError(f"AT port {self.name} failed: {self._failure}")
                if not self._open:
                    raise PortError(f"AT port {self.name} failed: port closed")
                now = time.monotonic()
                limit = self.chunk or len(self._inbound)
                out = bytearray()
                while self._inbound and len(out) < limit and self._inbound[0][0] <= now:
                    out.append(self._inbound.popleft()[1])
                if out:
                    self._reader_waiting = False
                    return bytes(out)
                if not self._inbound:
                    self._reader_waiting = True
                    self._cond.notify_all()
                wait = deadline - now
                if self._inbound:
                    wait = min(wait, self._inbound[0][0] - now)
                if deadline <= now:
                    return b""
                self._cond.wait(max(wait, 0.0))

    def write(self, data: bytes) -> None:
        with self._cond:
            if self._failure is not None or not self._open:
                raise PortError(f"write to {self.name} failed: {self._failure or 'port closed'}")
        self.modem.take(data)

    def close(self) -> None:
        with self._cond:
            self._open = False
            self._cond.notify_all()

    # -- the far end's side ----------------------------------------------------

    def deliver(self, data: bytes) -> None:
        with self._cond:
            due = time.monotonic() + self.delay_s
            for byte in data:
                if self._sent not in self.lose:
                    self._inbound.append((due, byte))
                self._sent += 1
            self._cond.notify_all()

    def fail(self, reason: str) -> None:
        with self._cond:
            self._failure = reason
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._inbound and self._reader_waiting, timeout)


class LoopbackModem:
    """The far end of a :class:`LoopbackTransport`, played by a test."""

    def __init__(self, transport: LoopbackTransport) -> None:
        self.transport = transport
        self.received: list[str] = []  # what the channel wrote, line by line (a payload up to its Ctrl-Z)
        self.answers: dict[str, Reply] = {}
        self.echo = False
        self._partial = bytearray()

    def answer(self, command: str, reply: Reply) -> None:
        """Reply to ``command`` (as the channel writes it) with these bytes, or by calling ``reply(modem)``."""
        self.answers[command] = reply

    def send(self, data: bytes) -> None:
        self.transport.deliver(data)

    def unplug(self, reason: str = "device disconnected") -> None:
        self.transport.fail(reason)

    def wait_idle(self, timeout: float = 2.0) -> bool:
        """True once the channel has read and dispatched everything sent so far."""
        return self.transport.wait_idle(timeout)

    def take(self, data: bytes) -> None:
        if self.echo:
            self.send(data)
        for byte in data:
            if byte in (0x0D, 0x1A):
                line = self._partial.decode("ascii", errors="replace")
                self._partial.clear()
                self.received.append(line)
                reply = self.answers.get(line)
                if callable(reply):
                    reply(self)
                elif reply is not None:
                    self.send(reply)
            elif byte == 0x1B:
                self._partial.clear()
                self.received.append("<ESC>")
            else:
                self._partial.append(byte)
