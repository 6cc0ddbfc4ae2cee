"""A warning that repeats says so once, then counts: ``line sim0 faulted: no such port`` every 3 s while a modem
is absent would bury everything else in the journal, yet silence would hide that the fault goes on.

:class:`RepeatedLog` logs a message the first time its key is seen; the same key again within ``window_s``
only counts; the first one after the window logs the message again with ``(repeated N times in the last
minute)`` and starts a new window. A different message under the same key is logged at once (something
changed), and :meth:`RepeatedLog.clear` forgets a key once its condition ends (a line that opened again), so
the next fault is logged at once."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

__all__ = ["RepeatedLog"]


@dataclass
class _Seen:
    message: str
    logged_at: float
    count: int = 0  # how many were held back since ``logged_at``


class RepeatedLog:
    def __init__(self, logger: logging.Logger, *, window_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.window_s = window_s
        self.clock = clock
        self._seen: dict[Hashable, _Seen] = {}
        self._lock = threading.Lock()  # a line's fault may be reported from its supervisor and a call's watcher

    def log(self, level: int, key: Hashable, msg: str, *args: Any) -> bool:
        """Log ``msg % args`` under ``key``, or count it if it was logged within the window. True if logged."""
        text = msg % args if args else msg
        now = self.clock()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and seen.message == text and now - seen.logged_at < self.window_s:
                seen.count += 1
                return False
            held = seen.count if seen is not None and seen.message == text else 0
            self._seen[key] = _Seen(text, now)
        if held:
            minutes = (now - seen.logged_at) / 60 if seen is not None else 1.0
            span = "the last minute" if minutes < 1.5 else f"the last {minutes:.0f} minutes"
            # the ones held back and this one: each a repetition of the first
            self.logger.log(level, "%s (repeated %d times in %s)", text, held + 1, span)
        else:
            self.logger.log(level, "%s", text)
        return True

    def warning(self, key: Hashable, msg: str, *args: Any) -> bool:
        return self.log(logging.WARNING, key, msg, *args)

    def clear(self, key: Hashable) -> None:
        """The condition behind ``key`` ended: its next message is logged at once."""
        with self._lock:
            self._seen.pop(key, None)
