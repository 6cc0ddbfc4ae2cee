"""What a line's modem says about itself, and how a line is watched.

:class:`Supervision` holds the watch settings (the supervisor thread uses most of them, the line the
ping timeout and the audio stall limit); :func:`check_health` asks SIM, registration, signal and
operator. The readings of ``+CPIN``/``+CREG``/``+CSQ``/``+COPS`` answers are pure functions here so that
``callbox modem probe`` uses the same ones.
"""

from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass, field
from typing import Protocol

from appliance.errors import AtCommandError, AtTimeout, ModemError

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
