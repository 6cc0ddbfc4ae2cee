"""Line supervision: health checks, the idle ping, reopening a lost modem, power-cycling it.

One supervisor thread per line (``line-supervisor-<name>``). While the line is
``ready`` or ``in_call`` it pings the modem after ``idle_ping_s`` without a
successful exchange and watches for the port failing under it (unplugged). A
``faulted`` line is reopened every ``reopen_s``; after ``power_cycle_after``
reopen attempts in a row that failed because the modem was gone or mute (not
because the SIM or the network said no), the configured power-cycle command
runs (e.g. ``uhubctl -l 1-1 -p 2 -a cycle``), bounded by
``power_cycle_timeout_s``.

The pure parts (reading ``+CPIN``/``+CREG``/``+CSQ``/``+COPS`` answers) are
functions here so that ``callbox modem probe`` uses the same readings.
"""

from __future__ import annotations

import logging
import re
import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from appliance.errors import AtCommandError, AtTimeout, ModemError, PortError

if TYPE_CHECKING:
    from appliance.telephony.line import Line

log = logging.getLogger(__name__)

REGISTRATION = {
    0: "not registered",
    1: "registered (home)",
    2: "searching",
    3: "registration denied",
    4: "unknown",
    5: "registered (roaming)",
    6: "registered (home, SMS only)",
    7: "registered (roaming, SMS only)",
}
REGISTERED = frozenset({1, 5, 6, 7})


@dataclass(frozen=True)
class Supervision:
    """How a line is watched. Defaults are the field values; tests shrink them."""

    enabled: bool = True
    idle_ping_s: float = 10.0  # ping after this long without a successful exchange
    ping_timeout_s: float = 2.0  # one ping command
    ping_failures_to_fault: int = 2  # consecutive failed pings (timeouts, errors) before faulted
    ping_retry_s: float = 1.0  # after a failed ping, try again this soon
    reopen_s: float = 3.0  # a faulted line is reopened this often
    check_registration: bool = True
    power_cycle: tuple[str, ...] = ()  # argv; "{at_port}" and "{line}" are filled in; () = never
    power_cycle_after: int = 5  # reopen failures in a row (port gone or mute) before a power cycle
    power_cycle_timeout_s: float = 30.0
    power_cycle_settle_s: float = 5.0  # wait after the command before the next reopen
    join_s: float = 3.0  # bounded join of the supervisor thread on stop
    audio_stall_s: float = 5.0  # an answered call with no audio from the modem this long is ended (interrupted)

    @staticmethod
    def command(text: str) -> tuple[str, ...]:
        """A power-cycle command line from the config, split like a shell would (no shell runs)."""
        return tuple(shlex.split(text))


@dataclass
class LineHealth:
    """What the modem said the last time it was checked."""

    sim: str | None = None
    registration: int | None = None
    lte_registration: int | None = None
    signal_rssi: int | None = None  # 0..31, None = unknown (99)
    signal_dbm: int | None = None
    operator: str | None = None
    checked_at: float = field(default_factory=time.monotonic)

    @property
    def registered(self) -> bool:
        return self.registration in REGISTERED or self.lte_registration in REGISTERED

    def as_dict(self) -> dict[str, object]:
        return {
            "sim": self.sim,
            "registration": REGISTRATION.get(self.registration, None) if self.registration is not None else None,
            "lte_registration": (
                REGISTRATION.get(self.lte_registration, None) if self.lte_registration is not None else None
            ),
            "registered": self.registered,
            "signal_rssi": self.signal_rssi,
            "signal_dbm": self.signal_dbm,
            "operator": self.operator,
        }


# -- readings (pure) -----------------------------------------------------------

_CPIN = re.compile(r"^\+CPIN:\s*(.+)$")
_CSQ = re.compile(r"^\+CSQ:\s*(\d+)\s*,\s*(\d+)$")
_COPS = re.compile(r'^\+COPS:\s*\d+(?:\s*,\s*\d+\s*,\s*"([^"]*)")?')


def _first(pattern: re.Pattern[str], lines: list[str]) -> re.Match[str] | None:
    for line in lines:
        match = pattern.match(line.strip())
        if match:
            return match
    return None


def parse_cpin(lines: list[str]) -> str | None:
    match = _first(_CPIN, lines)
    return match.group(1).strip() if match else None


def parse_registration(lines: list[str]) -> int | None:
    """``+CREG: 0,1`` / ``+CEREG: 2,5,"1A2B",...`` / ``+CREG: 1`` -> the stat field."""
    for line in lines:
        text = line.strip()
        if not text.startswith(("+CREG:", "+CEREG:", "+CGREG:")):
            continue
        fields = [f.strip() for f in text.split(":", 1)[1].split(",")]
        # query answer: n,stat[,...]; URC: stat[,...]. A quoted lac can only follow stat.
        if len(fields) >= 2 and fields[1].isdigit():
            return int(fields[1])
        if fields and fields[0].isdigit():
            return int(fields[0])
    return None


def parse_csq(lines: list[str]) -> tuple[int | None, int | None]:
    """``+CSQ: <rssi>,<ber>`` -> (rssi 0..31 or None, dBm or None)."""
    match = _first(_CSQ, lines)
    if not match:
        return None, None
    rssi = int(match.group(1))
    if rssi > 31:
        return None, None
    return rssi, -113 + 2 * rssi


def parse_cops(lines: list[str]) -> str | None:
    match = _first(_COPS, lines)
    return match.group(1) if match and match.group(1) else None


class Commander(Protocol):
    def command(self, cmd: str, *, timeout: float | None = None, expect: str | None = None) -> list[str]: ...


def check_health(modem: Commander, *, timeout: float, check_registration: bool = True) -> LineHealth:
    """Ask SIM, registration, signal and operator; raise ModemError when the line cannot call.

    AtTimeout and PortError pass through (the modem is mute or gone)."""
    health = LineHealth()
    try:
        health.sim = parse_cpin(modem.command("AT+CPIN?", timeout=timeout, expect="+CPIN:"))
    except AtCommandError as exc:
        raise ModemError(f"SIM not ready ({exc.result})") from exc
    if health.sim != "READY":
        raise ModemError(f"SIM not ready (+CPIN: {health.sim})")
    for cmd, attr in (("AT+CREG?", "registration"), ("AT+CEREG?", "lte_registration")):
        try:
            setattr(health, attr, parse_registration(modem.command(cmd, timeout=timeout, expect=cmd[2:-1] + ":")))
        except AtCommandError:
            pass  # a 2G/3G modem without +CEREG, or the reverse
    try:
        health.signal_rssi, health.signal_dbm = parse_csq(modem.command("AT+CSQ", timeout=timeout, expect="+CSQ:"))
    except AtCommandError:
        pass
    try:
        health.operator = parse_cops(modem.command("AT+COPS?", timeout=timeout, expect="+COPS:"))
    except (AtCommandError, AtTimeout):
        pass  # some modems are slow to name the operator while searching; the commands above proved it answers
    if check_registration and not health.registered:
        stat = health.registration if health.registration is not None else health.lte_registration
        raise ModemError(f"not registered on the network ({REGISTRATION.get(stat or 0, stat)})")
    return health


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
        self.power_cycles: list[tuple[bool, str]] = []
        self.pings = 0
        self._ping_failures = 0
        self._next_reopen = 0.0
        self._thread = threading.Thread(target=self._run, name=f"line-supervisor-{line.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stop_event.set()

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
        from appliance.telephony.line import LineState

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
                line._fault(modem.fault or "AT port failed")
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
        from appliance.telephony.line import LineState

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
            line._fault(str(exc))
            return
        except (AtTimeout, AtCommandError) as exc:
            self._ping_failures += 1
            line.last_ok = self.clock()
            log.warning("line %s: ping %d/%d failed: %s", line.name, self._ping_failures,
                        self.cfg.ping_failures_to_fault, exc)
            if self._ping_failures >= self.cfg.ping_failures_to_fault:
                self._ping_failures = 0
                what = "modem stopped answering" if isinstance(exc, AtTimeout) else "modem keeps answering errors"
                line._fault(f"{what}: {exc}")
            return
        except ModemError as exc:  # SIM gone, registration lost: cannot call, but the modem is there
            self._ping_failures = 0
            line._fault(str(exc))
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
        ok, modem_missing = self.line._reopen()
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
