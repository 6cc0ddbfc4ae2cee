"""AT channel: bytes on a serial port -> lines -> command responses and URCs.

One reader thread per port assembles lines from whatever bytes arrive (one at
a time, ``\\r\\r\\n``, half lines, invalid UTF-8). A line is either

* the echo of the pending command (dropped),
* a final result code that completes the pending command,
* an unsolicited result code (URC): it matches one of ``urc_prefixes`` (unless
  the pending command said it ``expect``s that prefix) or arrives while no
  command is pending; it goes to ``on_urc`` and never into a response,
* an information line of the pending command's response.

``on_urc`` is called on the reader thread, in arrival order. It must not block
and must not send AT commands (that would deadlock: the reader is the only one
who can complete them); hand work to another thread through a queue.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import serial

from appliance.errors import AtCommandError, AtTimeout, PortError

log = logging.getLogger(__name__)

FINAL_OK = "OK"
FINAL_ERRORS = ("ERROR", "COMMAND NOT SUPPORT", "NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE")
FINAL_ERROR_PREFIXES = ("+CME ERROR:", "+CMS ERROR:")


def is_final(line: str) -> bool:
    return line == FINAL_OK or line in FINAL_ERRORS or line.startswith(FINAL_ERROR_PREFIXES)


class LineAssembler:
    """Turns a byte stream into text lines; ``\\r`` and ``\\n`` both end a line."""

    def __init__(self, max_line: int = 4096) -> None:
        self._buf = bytearray()
        self._max = max_line

    def feed(self, data: bytes) -> list[str]:
        lines = []
        for byte in data:
            if byte in (0x0D, 0x0A):
                if self._buf:
                    lines.append(self._buf.decode("utf-8", errors="replace").strip())
                    self._buf.clear()
            else:
                self._buf.append(byte)
                if len(self._buf) >= self._max:
                    lines.append(self._buf.decode("utf-8", errors="replace"))
                    self._buf.clear()
        return [line for line in lines if line]

    @property
    def partial(self) -> bytes:
        return bytes(self._buf)


@dataclass
class _Pending:
    command: str
    expect: str | None
    lines: list[str] = field(default_factory=list)
    result: str | None = None
    error: Exception | None = None
    done: threading.Event = field(default_factory=threading.Event)


class AtChannel:
    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 115200,
        on_urc: Callable[[str], None] | None = None,
        default_timeout: float = 5.0,
        urc_prefixes: Iterable[str] = (),
        on_close: Callable[[Exception | None], None] | None = None,
        name: str | None = None,
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.on_urc = on_urc
        self.on_close = on_close
        self.default_timeout = default_timeout
        self.urc_prefixes = tuple(urc_prefixes)
        self.name = name or port.rsplit("/", 1)[-1]
        self.closed = threading.Event()
        self.error: Exception | None = None
        self._serial: serial.Serial | None = None
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one command at a time
        self._state = threading.Lock()  # guards _pending between caller and reader
        self._pending: _Pending | None = None
        self._assembler = LineAssembler()

    # -- lifecycle -----------------------------------------------------------

    def open(self) -> None:
        try:
            self._serial = serial.Serial(self.port, self.baudrate, timeout=0.1, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortError(f"cannot open AT port {self.port}: {exc}") from exc
        self._stop.clear()
        self.closed.clear()
        self.error = None
        self._reader = threading.Thread(target=self._read_loop, name=f"at-reader-{self.name}", daemon=True)
        self._reader.start()
        log.debug("AT channel open on %s", self.port)

    def close(self, timeout: float = 2.0) -> None:
        self._stop.set()
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout)
            if reader.is_alive():
                log.warning("AT reader for %s did not stop within %.1fs", self.port, timeout)
        self._reader = None
        if self._serial is not None:
            try:
                self._serial.close()
            except (serial.SerialException, OSError):
                pass
            self._serial = None
        self.closed.set()

    @property
    def is_open(self) -> bool:
        return self._serial is not None and not self.closed.is_set()

    # -- commands ------------------------------------------------------------

    def command(self, cmd: str, *, timeout: float | None = None, expect: str | None = None) -> list[str]:
        """Send one command, return its information lines; raise on any other outcome.

        ``expect``: a line prefix that belongs to this command's response even
        if it is also a URC prefix (``+CREG:`` for ``AT+CREG?``).
        """
        wait = self.default_timeout if timeout is None else timeout
        with self._lock:
            ser = self._serial
            if ser is None or self.closed.is_set():
                why = f" ({self.error})" if self.error else ""
                raise PortError(f"AT port {self.port} is not open{why}")
            pending = _Pending(cmd, expect)
            with self._state:
                self._pending = pending
            try:
                log.debug("%s <- %s", self.name, cmd)
                try:
                    ser.write(cmd.encode("ascii") + b"\r")
                except (serial.SerialException, OSError) as exc:
                    raise PortError(f"write to {self.port} failed: {exc}") from exc
                if not pending.done.wait(wait):
                    got = pending.lines
                    raise AtTimeout(f"{cmd!r}: no final result code within {wait:.2f}s (got {got!r})")
            finally:
                with self._state:
                    self._pending = None
        if pending.error is not None:
            raise pending.error
        if pending.result != FINAL_OK:
            raise AtCommandError(cmd, pending.result or "")
        return pending.lines

    # -- reader thread -------------------------------------------------------

    def _read_loop(self) -> None:
        ser = self._serial
        assert ser is not None
        failure: Exception | None = None
        try:
            while not self._stop.is_set():
                data = ser.read(ser.in_waiting or 1)
                if data:
                    for line in self._assembler.feed(data):
                        self._dispatch(line)
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            # TypeError/AttributeError: pyserial's fd vanished under a concurrent close()
            if not self._stop.is_set():
                failure = PortError(f"AT port {self.port} failed: {exc}")
                log.error("%s", failure)
        finally:
            if failure is not None:
                self.error = failure
            self.closed.set()
            with self._state:
                pending = self._pending
            if pending is not None and not pending.done.is_set():
                pending.error = failure or PortError(f"AT port {self.port} closed")
                pending.done.set()
            if failure is not None and self.on_close is not None:
                self.on_close(failure)

    def _dispatch(self, line: str) -> None:
        with self._state:
            pending = self._pending
        log.debug("%s -> %s", self.name, line)
        if pending is not None and not pending.done.is_set():
            if line == pending.command and not pending.lines:
                return  # echo
            if pending.expect is not None and line.startswith(pending.expect):
                pending.lines.append(line)
                return
            if is_final(line):
                pending.result = line
                pending.done.set()
                return
            if not line.startswith(self.urc_prefixes):
                pending.lines.append(line)
                return
        self._deliver_urc(line)

    def _deliver_urc(self, line: str) -> None:
        if self.on_urc is None:
            log.debug("%s: unhandled URC %s", self.name, line)
            return
        try:
            self.on_urc(line)
        except Exception:
            log.exception("URC handler failed on %r", line)
