"""`callbox modem probe`: what is on this AT port, and which profile drives it.

Only read-only queries are sent (identity, SIM, registration, signal, the
family's voice query); nothing is configured. Which profile fits comes from
:data:`PROFILE_MATCH`, a table of (manufacturer, model) patterns, and the voice
check from :data:`VOICE_CHECKS`, per profile.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field

from appliance.errors import AtCommandError, AtTimeout, PortError
from appliance.telephony.at import AtChannel
from appliance.telephony.health import Commander
from appliance.telephony.supervisor import REGISTRATION, parse_cops, parse_cpin, parse_csq, parse_registration

log = logging.getLogger(__name__)

# (manufacturer pattern, model pattern, profile). First match wins; patterns are case-insensitive searches.
PROFILE_MATCH: tuple[tuple[str, str, str], ...] = (
    ("huawei", r"E1550|E1552|E173|E169|E1750|E156|K3715|K3765|E1553", "huawei-e1550"),
    ("quectel", r"EC2[015]|EG2[15]|EC200", "quectel-ec25"),
    ("simcom", r"SIM7[056]00|SIM7[56]\d\d|A76\d\d", "simcom-sim7600"),
    ("simcom", r"SIM8[0-9]{2}|SIM900", "sim800"),
)

# profile -> (read-only query, pattern a line of a voice-capable modem's answer matches, what it means,
#             does an ERROR answer prove there is no voice?)
VOICE_CHECKS: dict[str, tuple[str, str, str, bool]] = {
    "huawei-e1550": (
        "AT^CVOICE?", r"^\^CVOICE:\s*0,8000,16,20$", "^CVOICE:0 (voice enabled, 8 kHz 16-bit PCM)", True
    ),
    "quectel-ec25": ("AT+QPCMV?", r"^\+QPCMV:", "+QPCMV present (PCM voice over USB)", True),
    "simcom-sim7600": ("AT+CPCMFRM?", r"^\+CPCMFRM:", "+CPCMFRM present (PCM voice on the audio port)", False),
    "sim800": ("AT+CLVL?", r"^\+CLVL:", "analog voice path (+CLVL answers)", False),
}


@dataclass
class ProbeResult:
    port: str
    responding: bool = False
    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    imei: str | None = None
    sim: str | None = None
    registration: str | None = None
    lte_registration: str | None = None
    registered: bool = False
    signal_rssi: int | None = None
    signal_dbm: int | None = None
    operator: str | None = None
    voice: bool | None = None  # None: unknown (no profile matched, or the query did not answer)
    voice_detail: str = ""
    profile: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def lines(self) -> list[str]:
        """A human-readable summary, one fact per line."""

        def show(value: object) -> str:
            return "unknown" if value is None else str(value)

        lte = f" / LTE {self.lte_registration}" if self.lte_registration else ""
        sig = f"{self.signal_dbm} dBm (rssi {self.signal_rssi})" if self.signal_rssi is not None else "unknown"
        voice = {True: "yes", False: "NO", None: "unknown"}[self.voice]
        out = [
            f"port:          {self.port}",
            f"manufacturer:  {show(self.manufacturer)}",
            f"model:         {show(self.model)}",
            f"firmware:      {show(self.firmware)}",
            f"IMEI:          {show(self.imei)}",
            f"SIM:           {show(self.sim)}",
            f"registration:  {show(self.registration)}{lte}",
            f"operator:      {show(self.operator)}",
            f"signal:        {sig}",
            f"voice:         {voice}" + (f" ({self.voice_detail})" if self.voice_detail else ""),
            f"profile:       {self.profile or 'none matched'}",
        ]
        out += [f"note: {n}" for n in self.notes]
        return out


def match_profile(manufacturer: str | None, model: str | None) -> str | None:
    maker, mdl = manufacturer or "", model or ""
    for maker_re, model_re, profile in PROFILE_MATCH:
        if re.search(maker_re, maker, re.IGNORECASE) and re.search(model_re, mdl, re.IGNORECASE):
            return profile
    for _maker_re, model_re, profile in PROFILE_MATCH:  # some firmwares put the maker in the model only
        if re.search(model_re, mdl, re.IGNORECASE):
            return profile
    return None


def _value(lines: list[str], prefix: str) -> str | None:
    """The answer of an identity command: ``+CGMI: "Quectel"``, ``Quectel`` or ``Manufacturer: huawei``."""
    for line in lines:
        text = line.strip()
        if not text:
            continue
        for p in (prefix, prefix.replace("+", "")):
            if p and text.upper().startswith(p.upper()):
                text = text[len(p) :].strip()
        return text.strip('"').strip() or None
    return None


def _ati(lines: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in ("manufacturer", "model", "revision", "imei"):
            found[key.strip().lower()] = value.strip()
    return found


def probe_modem(port: str, *, baudrate: int = 115200, timeout: float = 2.0) -> ProbeResult:
    """Ask the modem on ``port``; raise PortError if the port cannot be opened."""
    result = ProbeResult(port=port)
    channel = AtChannel(port, baudrate=baudrate, default_timeout=timeout, name="probe")
    channel.open()
    try:
        _probe(channel, result, timeout)
    finally:
        channel.close()
    return result


def probe_line(modem: Commander, port: str, *, timeout: float = 2.0) -> ProbeResult:
    """The same questions asked through an open line's own channel (the panel's Modems page, as the line comes
    up): read-only queries between the supervisor's, one command at a time."""
    result = ProbeResult(port=port)
    _probe(modem, result, timeout)
    return result


def _ask(channel: Commander, cmd: str, timeout: float, expect: str | None = None) -> list[str] | None:
    try:
        return channel.command(cmd, timeout=timeout, expect=expect)
    except AtCommandError as exc:
        log.debug("probe: %s answered %s", cmd, exc.result)
        return None


def _probe(channel: Commander, result: ProbeResult, timeout: float) -> None:
    try:
        channel.command("AT", timeout=timeout)
    except AtTimeout:
        result.notes.append(f"no answer to AT within {timeout:g} s: not an AT port, or the modem is mute")
        return
    except AtCommandError as exc:
        result.notes.append(f"AT answered {exc.result}")
    result.responding = True
    _ask(channel, "ATE0", timeout)
    ati = _ati(_ask(channel, "ATI", timeout) or [])
    result.manufacturer = _value(_ask(channel, "AT+CGMI", timeout) or [], "+CGMI:") or ati.get("manufacturer")
    result.model = _value(_ask(channel, "AT+CGMM", timeout) or [], "+CGMM:") or ati.get("model")
    result.firmware = _value(_ask(channel, "AT+CGMR", timeout) or [], "+CGMR:") or ati.get("revision")
    result.imei = _value(_ask(channel, "AT+CGSN", timeout) or [], "+CGSN:") or ati.get("imei")
    cpin = _ask(channel, "AT+CPIN?", timeout, "+CPIN:")
    result.sim = parse_cpin(cpin) if cpin is not None else "absent or error"
    for cmd, attr in (("AT+CREG?", "registration"), ("AT+CEREG?", "lte_registration")):
        answer = _ask(channel, cmd, timeout, cmd[2:-1] + ":")
        stat = parse_registration(answer) if answer is not None else None
        if stat is not None:
            setattr(result, attr, REGISTRATION.get(stat, str(stat)))
            result.registered = result.registered or stat in (1, 5, 6, 7)
    csq = _ask(channel, "AT+CSQ", timeout, "+CSQ:")
    if csq is not None:
        result.signal_rssi, result.signal_dbm = parse_csq(csq)
    cops = _ask(channel, "AT+COPS?", timeout, "+COPS:")
    result.operator = parse_cops(cops) if cops is not None else None
    result.profile = match_profile(result.manufacturer, result.model)
    if result.profile is None:
        result.notes.append("no profile matches this manufacturer/model; see PROFILE_MATCH in telephony/probe.py")
        return
    query, pattern, meaning, error_is_no = VOICE_CHECKS[result.profile]
    answer = _ask(channel, query, timeout)
    if answer is None:
        result.voice = False if error_is_no else None
        result.voice_detail = f"{query} answered an error"
    elif any(re.match(pattern, line.strip()) for line in answer):
        result.voice, result.voice_detail = True, meaning
    else:
        result.voice, result.voice_detail = False, f"{query} answered {answer!r}"
    if result.sim != "READY":
        result.notes.append("the SIM is not ready: calls will fail until it is")
    elif not result.registered:
        result.notes.append("not registered on a network: calls will fail until it is")


__all__ = ["PROFILE_MATCH", "VOICE_CHECKS", "PortError", "ProbeResult", "match_profile", "probe_line", "probe_modem"]
