"""Line supervision: health checks, the idle ping, reopening a lost modem, power-cycling it.

The composition root (and ``callbox call``) starts a supervised line with :func:`supervise` and stops
it with :meth:`Supervisor.stop`; :class:`~appliance.telephony.line.Line` itself knows nothing of this
module. One supervisor thread per line (``line-supervisor-<name>``). While the line is
``ready`` or ``in_call`` it pings the modem after ``idle_ping_s`` without a
successful exchange and watches for the port failing under it (unplugged). A
``faulted`` line is reopened every ``reopen_s``; after ``power_cycle_after``
reopen attempts in a row that failed because the modem was gone or mute (not
because the SIM or the network said no), the configured power-cycle command
runs (e.g. ``uhubctl -l 1-1 -p 2 -a cycle``), bounded by
``power_cycle_timeout_s``.

The settings (:class:`Supervision`) and the readings of the modem's answers live in
:mod:`appliance.telephony.health`, and are importable from here too.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
import threading
import time
from collections.abc import Callable

from appliance.errors import AtCommandError, AtTimeout, ModemError, PortError
from appliance.logs import bind_line
from appliance.telephony.health import (
    REGISTERED,
    REGISTRATION,
    LineHealth,
    Supervision,
    check_health,
    parse_cops,
    parse_cpin,
    parse_csq,
    parse_registration,
)
from appliance.telephony.line import Line, LineState

__all__ = [
    "REGISTERED",
    "REGISTRATION",
    "LineHealth",
    "Supervision",
    "Supervisor",
    "check_health",
    "parse_cops",
    "parse_cpin",
    "parse_csq",
    "parse_registration",
    "run_power_cycle",
    "supervise",
]

log = logging.getLogger(__name__)

# -- power cycle ---------------------------------------------------------------


def run_power_cycle(argv: tuple[str, ...], *, timeout: float, stop: threading.Event) -> tuple[bool, str]:
    """Run the power-cycle command; kill it after ``timeout`` or on stop. Returns (ok, what happened)."""
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    except OSError as exc:
        return False, f"cannot run {argv[0]!r}: {exc}"
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if stop.is_set() or time.monotonic() >= deadline:
            proc.kill()
            proc.wait(2.0)
            return False, "stopped" if stop.is_set() else f"killed after {timeout:g} s"
        stop.wait(0.05)
    out = proc.stdout.read().decode(errors="replace").strip() if proc.stdout else ""
    if proc.stdout:
        proc.stdout.close()
    tail = out.splitlines()[-1] if out else ""
    return proc.returncode == 0, f"exit {proc.returncode}" + (f": {tail}" if tail else "")


# -- the thread ----------------------------------------------------------------


class Supervisor:
    """Watches one line; the only thread that reopens it after a fault."""

    def __init__(self, line: Line, supervision: Supervision, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.line = line
        self.cfg = supervision
        self.clock = clock
        self.stop_event = threading.Event()
        self.reopen_failures = 0  # in a row, port gone or mute
        self.pings = 0
        self._ping_failures = 0
        self._next_reopen = 0.0
        self._thread = threading.Thread(target=self._run, name=f"line-supervisor-{line.name}", daemon=True)

    @property
    def power_cycles(self) -> list[tuple[bool, str]]:
        """(ok, what happened) of each power cycle; kept on the line, which shows them in ``describe()``."""
        return self.line.power_cycles

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop watching, then stop the line (hang up, close the modem) and join the thread (bounded).

        In that order: the line's close ends a command the thread may be waiting on, and no reopen starts
        once the line is stopping."""
        self.stop_event.set()
        self.line.stop()
        self.join()

    def join(self) -> bool:
        if self._thread is not threading.current_thread() and self._thread.ident is not None:
            self._thread.join(self.cfg.join_s)
            if self._thread.is_alive():
                log.warning("%s did not stop within %.1f s", self._thread.name, self.cfg.join_s)
                return False
        return True

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        bind_line(self.line.name)  # this thread's log records name its line
        self._next_reopen = self.clock() + self.cfg.reopen_s
        while not self.stop_event.is_set():
            state = self.line.state
            try:
                if state in (LineState.READY, LineState.IN_CALL):
                    self._watch_open()
                elif state is LineState.FAULTED:
                    self._maybe_reopen()
                else:
                    self.stop_event.wait(0.05)
            except Exception:  # this thread is what brings a line back: it must outlive any bug
                log.exception("line %s: supervisor step failed; going on", self.line.name)
                self.stop_event.wait(self.cfg.reopen_s)

    # -- an open line ----------------------------------------------------------

    def _watch_open(self) -> None:
        line, modem = self.line, self.line.modem
        if modem.port_failed.is_set():
            if line.call is None:  # a call's own watcher reports its failure with the call
                line.report_fault(modem.fault or "AT port failed")
            self.stop_event.wait(0.05)
            return
        due = line.last_ok + (self.cfg.ping_retry_s if self._ping_failures else self.cfg.idle_ping_s)
        if modem.registration_lost.is_set() and line.call is None:
            modem.registration_lost.clear()
            due = 0.0  # the modem said it left the network: check now (a call in flight ends by itself)
        if self.clock() < due:
            self.stop_event.wait(min(0.1, max(0.0, due - self.clock())))
            return
        self._ping()

    def _ping(self) -> None:
        line = self.line
        self.pings += 1
        try:
            if line.state is LineState.READY:
                health = check_health(
                    line.modem, timeout=self.cfg.ping_timeout_s, check_registration=self.cfg.check_registration
                )
                line.health = health
            else:
                line.modem.command("AT", timeout=self.cfg.ping_timeout_s)
        except PortError as exc:
            self._ping_failures = 0
            line.report_fault(str(exc))
            return
        except (AtTimeout, AtCommandError) as exc:
            self._ping_failures += 1
            line.last_ok = self.clock()
            log.warning("line %s: ping %d/%d failed: %s", line.name, self._ping_failures,
                        self.cfg.ping_failures_to_fault, exc)
            if self._ping_failures >= self.cfg.ping_failures_to_fault:
                self._ping_failures = 0
                what = "modem stopped answering" if isinstance(exc, AtTimeout) else "modem keeps answering errors"
                line.report_fault(f"{what}: {exc}")
            return
        except ModemError as exc:  # SIM gone, registration lost: cannot call, but the modem is there
            self._ping_failures = 0
            line.report_fault(str(exc))
            return
        self._ping_failures = 0
        line.last_ok = self.clock()

    # -- a faulted line --------------------------------------------------------

    def _maybe_reopen(self) -> None:
        now = self.clock()
        if now < self._next_reopen:
            self.stop_event.wait(min(0.1, self._next_reopen - now))
            return
        self._next_reopen = now + self.cfg.reopen_s
        ok, modem_missing = self.line.try_open()
        if ok:
            self.reopen_failures = 0
            self._ping_failures = 0
            return
        if not modem_missing:
            self.reopen_failures = 0  # the modem answered; SIM or network said no
            return
        self.reopen_failures += 1
        if self.cfg.power_cycle and self.reopen_failures >= self.cfg.power_cycle_after:
            self._power_cycle()

    def _power_cycle(self) -> None:
        line = self.line
        argv = tuple(a.format(at_port=line.modem.at_port, line=line.name) for a in self.cfg.power_cycle)
        log.warning("line %s: %d reopen failures; power-cycling: %s", line.name, self.reopen_failures, shlex.join(argv))
        ok, what = run_power_cycle(argv, timeout=self.cfg.power_cycle_timeout_s, stop=self.stop_event)
        self.power_cycles.append((ok, what))
        (log.info if ok else log.error)("line %s: power cycle %s", line.name, what)
        self.reopen_failures = 0
        self._next_reopen = self.clock() + self.cfg.power_cycle_settle_s


def supervise(line: Line, supervision: Supervision | None = None) -> Supervisor:
    """Start ``line`` (one open attempt, bounded by its modem's timeouts) and a supervisor thread that
    watches it and reopens it after a fault; returns the supervisor, whose :meth:`Supervisor.stop` stops
    both. A line that could not open is ``faulted`` and joins when its modem answers.

    With ``supervision.enabled`` false the line is only started: the supervisor returned is not running,
    and its ``stop()`` still stops the line."""
    settings = supervision or line.supervision
    supervisor = Supervisor(line, settings)
    state = line.start()
    log.info("line %s: %s", line.name, state.value)
    if settings.enabled:
        supervisor.start()
    return supervisor
