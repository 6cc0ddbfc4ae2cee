"""Log records for journald: each carries the call id, line and ticket of the call it was written in.

The call's context lives in :mod:`contextvars` set where an attempt starts (:func:`call_context`, used by the
campaign's call runner) and where a line's own threads start (:func:`bind_line`); :class:`CallContextFilter`
copies it onto every record, so a handler's formatter can print it. A new thread starts with an empty context,
so the threads a call starts (its audio pump, its watcher, a prompt's prefetch) run in a copy of the
starter's (``contextvars.copy_context().run``), and a line's long-lived threads bind their line.

``[log] format``: ``json`` (one object a line: ``journalctl -o cat | jq 'select(.call == 42)'``, and any
log shipper reads the fields without a parsing rule), or ``text`` for a person at a terminal. The default is
``json``: the box runs under systemd, and journald stamps each line with its own time, so the text format's
time and level prefix only repeat what ``journalctl`` shows.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TextIO, cast

from appliance.config import LOG_FORMATS, LogConfig

__all__ = ["LOG_FORMATS", "CallContextFilter", "JsonFormatter", "LogConfig", "TextFormatter", "bind_call",
           "bind_line", "call_context", "install"]

CONTEXT_FIELDS = ("call", "line", "ticket")

_call: contextvars.ContextVar[int | None] = contextvars.ContextVar("callbox_call", default=None)
_line: contextvars.ContextVar[str | None] = contextvars.ContextVar("callbox_line", default=None)
_ticket: contextvars.ContextVar[str | None] = contextvars.ContextVar("callbox_ticket", default=None)


@contextlib.contextmanager
def call_context(*, call: int | None = None, line: str | None = None, ticket: str | None = None) -> Iterator[None]:
    """Within the block, log records carry these (those not given keep the outer values); on leaving it, all
    three are as they were before, also what :func:`bind_call` set inside."""
    call_token = _call.set(call if call is not None else _call.get())
    line_token = _line.set(line if line is not None else _line.get())
    ticket_token = _ticket.set(ticket if ticket is not None else _ticket.get())
    try:
        yield
    finally:
        _ticket.reset(ticket_token)
        _line.reset(line_token)
        _call.reset(call_token)


def bind_call(call: int, *, line: str | None = None) -> None:
    """Inside :func:`call_context`: from here on, records carry the call id (known once its row is written)
    and, if given, its line."""
    _call.set(call)
    if line is not None:
        _line.set(line)


def bind_line(line: str) -> None:
    """For the rest of this thread: its records carry ``line`` (a line's reader, pump and worker threads)."""
    _line.set(line)


class CallContextFilter(logging.Filter):
    """Puts ``call``, ``line`` and ``ticket`` (None where there is none) on every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.call = _call.get()
        record.line = _line.get()
        record.ticket = _ticket.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``ts`` (UTC, ms), ``level``, ``logger``, ``msg``, ``thread``, then ``call``,
    ``line``, ``ticket`` where set, ``exc`` with a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "thread": record.threadName,
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)  # set by CallContextFilter; absent on a record it never saw
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The classic line, with ``[call=… line=… ticket=…]`` where a call's context is set."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s%(context)s")

    def format(self, record: logging.LogRecord) -> str:
        pairs = [f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS
                 if getattr(record, name, None) is not None]
        record.context = f" [{' '.join(pairs)}]" if pairs else ""
        return super().format(record)


class _BoxHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler :func:`install` puts on the root logger (and takes off again when called twice)."""


class _StandardHandler(_BoxHandler):
    """Writes to whatever ``sys.stdout`` / ``sys.stderr`` is at the time of each record (as logging's own last
    resort does), so a stream swapped since (a test's capture, a daemon's redirect) is never written closed."""

    def __init__(self, name: str) -> None:
        logging.Handler.__init__(self)
        self._name = name

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return cast(TextIO, getattr(sys, self._name))


def install(config: LogConfig, *, level: int | None = None, stream: TextIO | str = "stdout") -> logging.Handler:
    """Logging for the process (the command that runs calls this): one handler on the root logger to
    ``stream`` ("stdout": journald keeps it, "stderr", or a stream), in ``config.format``; ``level`` (from
    -v / -q) beats ``config.level``. A handler an earlier call installed is replaced; others (a test
    runner's) stay. Returns the handler."""
    if isinstance(stream, str):
        if stream not in ("stdout", "stderr"):
            raise ValueError(f"stream must be stdout or stderr, not {stream!r}")
        handler: _BoxHandler = _StandardHandler(stream)
    else:
        handler = _BoxHandler(stream)
    handler.addFilter(CallContextFilter())
    handler.setFormatter(JsonFormatter() if config.format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old, _BoxHandler):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level if level is not None else getattr(logging, config.level.upper()))
    return handler
