"""What the panel shows of a line: its state, operator, signal (bars and dBm), SIM, the call it is on, and a
fault as a *kind* the web layer puts in words with the fix ("No SIM card — insert a SIM and restart").

The modem stack reports faults as text (a profile's ``error``, ``SIM not ready (+CPIN: SIM PIN)``, ``cannot open
AT port /dev/ttyUSB2: [Errno 2] ...``); :data:`PROBLEMS` reads them into kinds, first match wins, so that no raw
error text reaches a person."""

from __future__ import annotations

import re
from typing import Any

from appliance.telephony.line import Line
from appliance.telephony.ports import LinePort

__all__ = ["PROBLEMS", "bars", "line_problem", "line_view"]

# (pattern on the fault text, kind). The kinds are the keys of the web layer's sentences (web/live_words.py).
PROBLEMS: tuple[tuple[str, str], ...] = (
    (r"SIM PUK", "sim_puk"),
    (r"SIM PIN", "sim_pin"),
    (r"NOT INSERTED|SIM not inserted|SIM failure|CME ERROR: 1[03]\b", "no_sim"),
    (r"SIM( card)? not ready", "sim_not_ready"),
    (r"registration denied", "registration_denied"),
    (r"not registered|searching|left the network", "not_registered"),
    (r"no voice|no USB voice|voice disabled|without 16 kHz PCM|QPCMV", "no_voice"),
    (r"voice port|ALSA|sound card", "audio_missing"),
    (r"cannot open AT port|No such file|AT port .* (failed|closed)|not open|went away|port failed|unplugged",
     "modem_missing"),
    (r"stopped answering|timed? ?out|hang-up failed|stalled", "modem_mute"),
    (r"keeps answering errors|init command failed|answered", "modem_errors"),
)
_COMPILED = tuple((re.compile(pattern, re.IGNORECASE), kind) for pattern, kind in PROBLEMS)


def line_problem(state: str, fault: str | None) -> str | None:
    """The kind of what keeps a line from calling: a fault's kind (``fault`` for one the table does not know),
    ``absent`` for a line not started; None for a line that is up or starting."""
    if state == "faulted":
        text = fault or ""
        return next((kind for pattern, kind in _COMPILED if pattern.search(text)), "fault")
    if state == "absent":
        return "absent"
    return None


def bars(rssi: int | None) -> int:
    """Signal bars 0..4 from the modem's ``+CSQ`` rssi (0..31; None unknown), as phones draw them: below 10 is
    marginal (-95 dBm and worse), 20 and above excellent (-73 dBm and better)."""
    if rssi is None:
        return 0
    if rssi < 2:
        return 0
    if rssi < 10:
        return 1
    if rssi < 15:
        return 2
    if rssi < 20:
        return 3
    return 4


def line_view(line: LinePort, *, call: dict[str, Any] | None = None, held: str | None = None) -> dict[str, Any]:
    """The line as the dashboard draws it. ``call``: the call it is on (id, phone, customer_name); ``held``: why a
    ready line takes no calls (its daily cap, no room for recordings)."""
    state = line.state.value
    health = line.health if isinstance(line, Line) else None  # a modem's last check; other ports have none
    rssi = health.signal_rssi if health else None
    return {
        "name": line.name,
        "state": state,
        "problem": line_problem(state, line.fault_reason),
        "operator": health.operator if health else None,
        "signal_dbm": health.signal_dbm if health else None,
        "signal_rssi": rssi,
        "bars": bars(rssi),
        "sim": health.sim if health else None,
        "registered": health.registered if health else None,
        "call": call,
        "held": held,
    }
