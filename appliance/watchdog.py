"""systemd's notify protocol for ``callbox serve`` (``Type=notify``, ``WatchdogSec=``): ``READY=1`` once the box
serves, ``WATCHDOG=1`` from the main loop every ``WatchdogSec``/2 while the box's threads are alive, and
``STOPPING=1`` on SIGTERM.

Pinging from the main loop alone would only prove that the web server's loop turns: a scheduler stuck on a lock
or a line supervisor that died would leave a box that answers /healthz but never calls again. So each ping is
given only after :meth:`Watchdog.tick` asks the box which of its parts are dead or hung
(``Callbox.dead_parts``); while any is, the pings stop, systemd's watchdog fires and ``Restart=on-failure``
starts the box afresh. What stopped the pings is logged (once, then counted).

Without ``NOTIFY_SOCKET`` (a person at a terminal, the tests) every message is a no-op; without
``WATCHDOG_USEC`` (no ``WatchdogSec=``) there are no pings."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping

import sdnotify

from appliance.log_repeats import RepeatedLog

__all__ = ["Notifier", "Watchdog", "watchdog_interval"]

log = logging.getLogger(__name__)


class Notifier:
    """sd_notify messages to the process environment's ``NOTIFY_SOCKET`` (where ``sdnotify`` reads it); a no-op
    without it."""

    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        self._notifier = sdnotify.SystemdNotifier() if self.enabled else None

    def notify(self, state: str) -> None:
        if self._notifier is not None:
            self._notifier.notify(state)

    def ready(self, status: str = "") -> None:
        self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    def ping(self) -> None:
        self.notify("WATCHDOG=1")


def watchdog_interval(env: Mapping[str, str] | None = None) -> float | None:
    """Seconds between pings: half of systemd's ``WatchdogSec`` (``WATCHDOG_USEC``), None without a watchdog
    (or one meant for another process: ``WATCHDOG_PID``)."""
    env = os.environ if env is None else env
    usec, pid = env.get("WATCHDOG_USEC"), env.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        value = int(usec)
    except ValueError:
        log.warning("WATCHDOG_USEC=%r is not a number of microseconds; no watchdog pings", usec)
        return None
    return value / 2_000_000 if value > 0 else None


class Watchdog:
    """Called from the main loop (:meth:`tick`, often); pings every ``interval_s`` while ``dead_parts()`` is
    empty. ``interval_s`` None: never pings."""

    def __init__(self, notifier: Notifier, dead_parts: Callable[[], list[str]], interval_s: float | None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.notifier = notifier
        self.dead_parts = dead_parts
        self.interval_s = interval_s
        self.clock = clock
        self.pings = 0
        self.withheld: list[str] = []  # what stopped the last ping ([] while the pings go)
        self._next = clock()
        self._repeats = RepeatedLog(log)

    def tick(self) -> bool:
        """Ping if one is due and every part lives. True if it pinged."""
        if self.interval_s is None or self.clock() < self._next:
            return False
        self._next = self.clock() + self.interval_s
        try:
            dead = self.dead_parts()
        except Exception:  # a check that fails is a box that cannot vouch for itself
            log.exception("the watchdog's liveness check failed")
            dead = ["the liveness check"]
        self.withheld = dead
        if dead:
            self._repeats.log(logging.ERROR, "dead", "watchdog: not pinging systemd, %s not alive; the box will be "
                              "restarted", ", ".join(dead))
            return False
        self._repeats.clear("dead")
        self.notifier.ping()
        self.pings += 1
        return True
