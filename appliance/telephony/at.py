"""AT channel: bytes on a transport -> lines -> command responses and URCs.

The transport is opened from a URL (:func:`~appliance.telephony.transport.open_transport`: a serial
device path, ``pty:``, or the in-memory ``loop:`` the tests drive) or handed in ready-made.
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
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from appliance.errors import AtCommandError, AtTimeout, PortError
from appliance.telephony.transport import AtTransport, open_transport

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

    def take_prompt(self) -> bool:
        """Is the half line a bare ``>`` input prompt (which never gets a newline)? If so, consume it."""
        if self._buf.strip() == b">":
            self._buf.clear()
            return True
        return False


@dataclass
class _Pending:
    command: str
    expect: str | None
    lines: list[str] = field(default_factory=list)
    result: str | None = None
    error: Exception | None = None
    done: threading.Event = field(default_factory=threading.Event)
    prompt: threading.Event | None = None  # set when the modem shows "> " (command_with_prompt)
    payload: str | None = None  # what follows the prompt; its echo is dropped


class AtChannel:
    def __init__(
        self,
        port: str | AtTransport,
        *,
        baudrate: int = 115200,
        on_urc: Callable[[str], None] | None = None,
        default_timeout: float = 5.0,
        urc_prefixes: Iterable[str] = (),
        on_close: Callable[[Exception | None], None] | None = None,
        name: str | None = None,
    ) -> None:
        if isinstance(port, str):
            self.transport = open_transport(port, baudrate=baudrate)
            self.port = port
        else:
            self.transport = port
            self.port = port.name
        self.baudrate = baudrate
        self.on_urc = on_urc
        self.on_close = on_close
        self.default_timeout = default_timeout
        self.urc_prefixes = tuple(urc_prefixes)
        self.name = name or self.port.rsplit("/", 1)[-1]
        self.closed = threading.Event()
        self.error: Exception | None = None
        self._opened = False
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one command at a time
        self._state = threading.Lock()  # guards _pending between caller and reader
        self._pending: _Pending | None = None
        self._assembler = LineAssembler()

    # -- lifecycle -----------------------------------------------------------

    def open(self) -> None:
        self.transport.open()  # PortError when it cannot
        self._opened = True
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
        if self._opened:
            self._opened = False
            self.transport.close()
        self.closed.set()

    @property
    def is_open(self) -> bool:
        return self._opened and not self.closed.is_set()

    # -- commands ------------------------------------------------------------

    def command(self, cmd: str, *, timeout: float | None = None, expect: str | None = None) -> list[str]:
        """Send one command, return its information lines; raise on any other outcome.

        ``expect``: a line prefix that belongs to this command's response even
        if it is also a URC prefix (``+CREG:`` for ``AT+CREG?``).
        """
        wait = self.default_timeout if timeout is None else timeout
        with self._lock:
            self._check_open()
            pending = _Pending(cmd, expect)
            with self._state:
                self._pending = pending
            try:
                log.debug("%s <- %s", self.name, cmd)
                self._write(cmd.encode("ascii") + b"\r")
                if not pending.done.wait(wait):
                    got = pending.lines
                    raise AtTimeout(f"{cmd!r}: no final result code within {wait:.2f}s (got {got!r})")
            finally:
                with self._state:
                    self._pending = None
        return self._outcome(pending)

    def command_with_prompt(
        self,
        cmd: str,
        payload: str,
        *,
        prompt_timeout: float | None = None,
        timeout: float | None = None,
        expect: str | None = None,
    ) -> list[str]:
        """Send ``cmd``, wait for the ``> `` prompt, send ``payload`` + Ctrl-Z; return the information lines.

        For ``AT+CMGS=<len>`` in PDU mode: the modem answers ``\r\n> `` with no
        newline after it, takes the hex PDU up to Ctrl-Z, then ``+CMGS: <mr>``
        and ``OK``. A modem that refuses the command answers a final code
        instead of the prompt (raised as :class:`AtCommandError`). If no prompt
        comes within ``prompt_timeout`` an ESC cancels the input and
        :class:`AtTimeout` is raised.
        """
        prompt_wait = self.default_timeout if prompt_timeout is None else prompt_timeout
        wait = self.default_timeout if timeout is None else timeout
        with self._lock:
            self._check_open()
            pending = _Pending(cmd, expect, prompt=threading.Event(), payload=payload)
            with self._state:
                self._pending = pending
            try:
                log.debug("%s <- %s", self.name, cmd)
                self._write(cmd.encode("ascii") + b"\r")
                prompt = pending.prompt
                assert prompt is not None
                deadline = time.monotonic() + prompt_wait
                while not prompt.is_set() and not pending.done.is_set():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        self._write(b"\x1b")  # ESC: leave text input without sending
                        raise AtTimeout(f"{cmd!r}: no '> ' prompt within {prompt_wait:.2f}s (got {pending.lines!r})")
                    prompt.wait(min(left, 0.05))
                if prompt.is_set() and not pending.done.is_set():
                    log.debug("%s <- <%d characters> ^Z", self.name, len(payload))
                    self._write(payload.encode("ascii") + b"\x1a")
                    if not pending.done.wait(wait):
                        raise AtTimeout(f"{cmd!r}: no final result code within {wait:.2f}s after the payload")
            finally:
                with self._state:
                    self._pending = None
        return self._outcome(pending)

    def _check_open(self) -> None:
        if not self._opened or self.closed.is_set():
            why = f" ({self.error})" if self.error else ""
            raise PortError(f"AT port {self.port} is not open{why}")

    @staticmethod
    def _outcome(pending: _Pending) -> list[str]:
        """A finished command's information lines, or the error it ended in."""
        if pending.error is not None:
            raise pending.error
        if pending.result != FINAL_OK:
            raise AtCommandError(pending.command, pending.result or "")
        return pending.lines

    def _write(self, data: bytes) -> None:
        self.transport.write(data)  # PortError when it fails

    # -- reader thread -------------------------------------------------------

    def _read_loop(self) -> None:
        failure: Exception | None = None
        try:
            while not self._stop.is_set():
                data = self.transport.read()
                if data:
                    for line in self._assembler.feed(data):
                        self._dispatch(line)
                    self._check_prompt()
        except PortError as exc:
            if not self._stop.is_set():
                failure = exc
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
            if pending.prompt is not None and self._prompt_line(pending, line):
                return
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

    def _check_prompt(self) -> None:
        """A pending command_with_prompt sees its ``> `` as a half line (no newline follows it)."""
        with self._state:
            pending = self._pending
        if pending is None or pending.prompt is None or pending.prompt.is_set() or pending.done.is_set():
            return
        if self._assembler.take_prompt():
            pending.prompt.set()

    @staticmethod
    def _prompt_line(pending: _Pending, line: str) -> bool:
        """A prompt that did get a newline, or the modem echoing the payload: not part of the response."""
        assert pending.prompt is not None
        if line == ">" and not pending.prompt.is_set():
            pending.prompt.set()
            return True
        payload = pending.payload or ""
        text = line.lstrip("> ").rstrip("\x1a")
        return bool(payload) and pending.prompt.is_set() and text == payload

    def _deliver_urc(self, line: str) -> None:
        if self.on_urc is None:
            log.debug("%s: unhandled URC %s", self.name, line)
            return
        try:
            self.on_urc(line)
        except Exception:
            log.exception("URC handler failed on %r", line)
