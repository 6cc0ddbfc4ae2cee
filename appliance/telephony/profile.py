"""Modem profiles: everything that differs between modem families, as data.

A profile is a TOML file (see firmware-config/modems/huawei-e1550.toml) read
once into a frozen :class:`ModemProfile`. Unknown keys are errors, so a typo in
a profile fails at load time and names the key.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from appliance.errors import ConfigError
from appliance.events import DialOutcome, DialResult

SYSTEM_DIR = Path("/etc/callbox/modems")
REPO_DIR = Path(__file__).resolve().parents[2] / "firmware-config" / "modems"

PROGRESS_STATES = ("dialing", "alerting", "active", "released")
_TERMINAL = {DialOutcome.BUSY, DialOutcome.NO_ANSWER, DialOutcome.REJECTED, DialOutcome.FAILED}


@dataclass(frozen=True)
class InitStep:
    """One command of the init sequence, with an optional check on its answer."""

    command: str
    expect: re.Pattern[str] | None = None
    error: str = ""
    optional: bool = False


@dataclass(frozen=True)
class AudioFormat:
    transport: str = "serial"
    rate: int = 8000
    format: str = "S16LE"
    channels: int = 1
    frame_bytes: int = 320
    device: str = ""  # default audio device: ALSA card name ("Android") or empty for the serial voice port
    period_ms: int = 20


@dataclass(frozen=True)
class UsbIds:
    """Where the modem sits on USB, for the udev rules (firmware-config/udev; a test holds the two together).

    ``ids`` are ``vvvv:pppp`` of the device carrying the AT port (a USB-serial adapter for the SIM800);
    ``at_interface`` / ``audio_interface`` the interface numbers of its AT and voice ttys ("" when the voice
    is not a tty); ``sound_card_ids`` the USB sound card's ids for the ALSA families.
    """

    ids: tuple[str, ...] = ()
    at_interface: str = ""
    audio_interface: str = ""
    sound_card_ids: tuple[str, ...] = ()


_USB_ID = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{4}$")


@dataclass(frozen=True)
class StatPattern:
    """A URC carrying the call state as a number (``+CLCC`` stat, ``+QIND: "ccinfo"`` state)."""

    pattern: re.Pattern[str]  # named groups: stat (required), idx, dir
    states: Mapping[str, str]  # stat value -> one of PROGRESS_STATES
    direction: str | None = None  # only lines whose ``dir`` group equals this (0: mobile originated)


@dataclass(frozen=True)
class DtmfProfile:
    send: str = ""  # template with {digit} (and {idx}); empty: no DTMF sending
    detect: str = ""  # URC regex with a ``digit`` or ``ascii`` group, or "inband" (tone detection on the audio)
    detect_start: tuple[str, ...] = ()  # commands that switch detection on (run when audio starts; errors ignored)


@dataclass(frozen=True)
class ModemProfile:
    name: str
    vendor: str
    model: str
    description: str
    baudrate: int
    urc_prefixes: tuple[str, ...]
    init: tuple[InitStep, ...]
    dial: str
    hangup: str
    audio_start: tuple[str, ...]
    audio_stop: tuple[str, ...]
    release_needs_origination: bool
    progress: tuple[tuple[str, re.Pattern[str]], ...]
    audio: AudioFormat
    cause_outcomes: Mapping[int, DialOutcome]
    final_code_outcomes: Mapping[str, DialOutcome]
    default_outcome: DialOutcome
    source: str = ""
    progress_extra: tuple[tuple[str, re.Pattern[str]], ...] = ()  # more patterns per state
    stat_patterns: tuple[StatPattern, ...] = ()
    release_after_hangup: bool = True  # the modem reports a release after our hang-up (SIM800 only says OK)
    audio_start_retry_s: float = 0.0  # keep retrying an audio-start command that answers ERROR this long
    confirm_answer_by_speech: bool = False  # "active" may come at ringback: wait to hear the callee
    answer_confirm_s: float = 5.0
    cause_query: str = ""  # e.g. AT+CEER, asked when a call is released without a cause
    cause_pattern: re.Pattern[str] | None = None  # groups: cause (number) and/or text
    # lower-case substring of the cause query's answer -> outcome
    cause_text_outcomes: Mapping[str, DialOutcome] = field(default_factory=lambda: MappingProxyType({}))
    dtmf: DtmfProfile = field(default_factory=DtmfProfile)
    usb: UsbIds = field(default_factory=UsbIds)

    def dial_command(self, number: str) -> str:
        return self.dial.format(number=number)

    def classify(self, line: str) -> tuple[str, re.Match[str]] | None:
        """Which call-progress state a URC line reports, or None."""
        for state, pattern in (*self.progress, *self.progress_extra):
            match = pattern.match(line)
            if match:
                return state, match
        for stat in self.stat_patterns:
            match = stat.pattern.match(line)
            if match is None:
                continue
            if stat.direction is not None and match.groupdict().get("dir") not in (None, stat.direction):
                return None
            found = stat.states.get(match["stat"])
            return (found, match) if found is not None else None
        return None

    def outcome_for_cause_text(self, text: str) -> DialOutcome | None:
        lowered = text.lower()
        for needle, outcome in self.cause_text_outcomes.items():
            if needle in lowered:
                return outcome
        return None

    def outcome_from_cause_report(self, lines: list[str]) -> DialResult | None:
        """The outcome the answer to ``cause_query`` (AT+CEER) tells, if any: by number, else by text."""
        if self.cause_pattern is None:
            return None
        for line in lines:
            match = self.cause_pattern.match(line)
            if match is None:
                continue
            groups = match.groupdict()
            if groups.get("cause"):
                number = int(groups["cause"])
                if number in self.cause_outcomes:
                    return DialResult(self.cause_outcomes[number], cause=number, detail=line)
            by_text = self.outcome_for_cause_text(groups.get("text") or line)
            if by_text is not None:
                return DialResult(by_text, detail=line)
        return None

    def dtmf_command(self, digit: str, idx: int = 1) -> str:
        return self.dtmf.send.format(digit=digit, idx=idx)

    def outcome_for_cause(self, cause: int | None) -> DialOutcome:
        if cause is None:
            return self.default_outcome
        return self.cause_outcomes.get(cause, self.default_outcome)

    def outcome_for_final_code(self, code: str) -> DialOutcome:
        return self.final_code_outcomes.get(code.strip(), self.default_outcome)


def find_profile(name_or_path: str) -> Path:
    """Resolve a profile name (or a path to a .toml file) to a file."""
    direct = Path(name_or_path)
    if direct.suffix == ".toml" or "/" in name_or_path:
        if direct.is_file():
            return direct
        raise ConfigError("modem profile file not found", file=name_or_path)
    candidates = [
        SYSTEM_DIR / f"{name_or_path}.toml",
        REPO_DIR / f"{name_or_path}.toml",
        Path(sys.prefix) / "share" / "callbox" / "modems" / f"{name_or_path}.toml",
    ]
    for path in candidates:
        if path.is_file():
            return path
    searched = ", ".join(str(p.parent) for p in candidates)
    raise ConfigError(f"no modem profile named {name_or_path!r} (searched {searched})")


def load_profile(name_or_path: str) -> ModemProfile:
    path = find_profile(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(str(exc), file=str(path)) from exc
    return parse_profile(data, source=str(path))


class _Table:
    """A TOML table read key by key; whatever is left unread is an unknown key."""

    def __init__(self, data: Any, where: str, file: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError("expected a table", file=file, key=where)
        self.data = dict(data)
        self.where = where
        self.file = file

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def take(self, name: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if name not in self.data:
            if default is ...:
                raise ConfigError("missing key", file=self.file, key=self.key(name))
            return default
        value = self.data.pop(name)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(f"wrong type {type(value).__name__}", file=self.file, key=self.key(name))
        return value

    def sub(self, name: str) -> _Table:
        return _Table(self.take(name, dict, {}), self.key(name), self.file)

    def done(self) -> None:
        if self.data:
            unknown = sorted(self.data)[0]
            raise ConfigError("unknown key", file=self.file, key=self.key(unknown))


def _regex(text: str, table: _Table, name: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as exc:
        raise ConfigError(f"bad regular expression: {exc}", file=table.file, key=table.key(name)) from exc


def _outcome(text: str, table: _Table, name: str) -> DialOutcome:
    try:
        outcome = DialOutcome(text)
    except ValueError:
        outcome = DialOutcome.ANSWERED  # rejected just below
    if outcome not in _TERMINAL:
        allowed = ", ".join(sorted(o.value for o in _TERMINAL))
        raise ConfigError(f"{text!r} is not one of {allowed}", file=table.file, key=table.key(name))
    return outcome


def _strings(value: list[Any], table: _Table, name: str) -> tuple[str, ...]:
    if not all(isinstance(v, str) for v in value):
        raise ConfigError("expected a list of strings", file=table.file, key=table.key(name))
    return tuple(value)


def parse_profile(data: dict[str, Any], *, source: str = "<profile>") -> ModemProfile:
    root = _Table(data, "", source)

    modem = root.sub("modem")
    name = modem.take("name", str)
    vendor = modem.take("vendor", str, "")
    model = modem.take("model", str, "")
    description = modem.take("description", str, "")
    modem.done()

    at = root.sub("at")
    baudrate = at.take("baudrate", int, 115200)
    urc_prefixes = _strings(at.take("urc_prefixes", list, []), at, "urc_prefixes")
    at.done()

    steps = []
    for i, raw in enumerate(root.take("init", list, [])):
        step = _Table(raw, f"init[{i}]", source)
        expect = step.take("expect", str, None)
        steps.append(
            InitStep(
                command=step.take("command", str),
                expect=_regex(expect, step, "expect") if expect is not None else None,
                error=step.take("error", str, ""),
                optional=step.take("optional", bool, False),
            )
        )
        step.done()

    call = root.sub("call")
    dial = call.take("dial", str)
    if "{number}" not in dial:
        raise ConfigError("dial template must contain {number}", file=source, key="call.dial")
    hangup = call.take("hangup", str)
    audio_start = _strings(call.take("audio_start", list, []), call, "audio_start")
    audio_stop = _strings(call.take("audio_stop", list, []), call, "audio_stop")
    release_needs_origination = call.take("release_needs_origination", bool, False)
    release_after_hangup = call.take("release_after_hangup", bool, True)
    audio_start_retry_s = float(call.take("audio_start_retry_s", (int, float), 0.0))
    confirm_answer_by_speech = call.take("confirm_answer_by_speech", bool, False)
    answer_confirm_s = float(call.take("answer_confirm_s", (int, float), 5.0))
    cause_query = call.take("cause_query", str, "")
    cause_text = call.take("cause_pattern", str, None)
    cause_pattern = _regex(cause_text, call, "cause_pattern") if cause_text is not None else None
    call.done()

    dtmf_table = root.sub("dtmf")
    dtmf = DtmfProfile(
        send=dtmf_table.take("send", str, ""),
        detect=dtmf_table.take("detect", str, ""),
        detect_start=_strings(dtmf_table.take("detect_start", list, []), dtmf_table, "detect_start"),
    )
    if dtmf.detect and dtmf.detect != "inband":
        detect_re = _regex(dtmf.detect, dtmf_table, "detect")
        if not {"digit", "ascii"} & set(detect_re.groupindex):
            raise ConfigError("detect needs a digit or ascii group", file=source, key="dtmf.detect")
    dtmf_table.done()

    progress_table = root.sub("progress")
    progress: list[tuple[str, re.Pattern[str]]] = []
    extra: list[tuple[str, re.Pattern[str]]] = []
    for state in PROGRESS_STATES:
        value = progress_table.take(state, (str, list), None)
        if value is None:
            continue
        texts = (value,) if isinstance(value, str) else _strings(value, progress_table, state)
        for i, text in enumerate(texts):
            (progress if i == 0 else extra).append((state, _regex(text, progress_table, state)))
    stat_patterns = []
    for i, raw_stat in enumerate(progress_table.take("stat", list, [])):
        st = _Table(raw_stat, f"progress.stat[{i}]", source)
        pattern = _regex(st.take("pattern", str), st, "pattern")
        if "stat" not in pattern.groupindex:
            raise ConfigError("pattern needs a (?P<stat>...) group", file=source, key=st.key("pattern"))
        direction = st.take("direction", str, None)
        states_table = st.sub("states")
        states = {}
        for key in list(states_table.data):
            value = states_table.take(key, str)
            if value not in PROGRESS_STATES:
                raise ConfigError(f"{value!r} is not a call state", file=source, key=states_table.key(key))
            states[key] = value
        st.done()
        stat_patterns.append(StatPattern(pattern, MappingProxyType(states), direction))
    progress_table.done()

    audio_table = root.sub("audio")
    audio = AudioFormat(
        transport=audio_table.take("transport", str, "serial"),
        rate=audio_table.take("rate", int, 8000),
        format=audio_table.take("format", str, "S16LE"),
        channels=audio_table.take("channels", int, 1),
        frame_bytes=audio_table.take("frame_bytes", int, 320),
        device=audio_table.take("device", str, ""),
        period_ms=audio_table.take("period_ms", int, 20),
    )
    if audio.transport not in ("serial", "alsa"):
        raise ConfigError("transport must be serial or alsa", file=source, key="audio.transport")
    if audio.frame_bytes != audio.rate * audio.period_ms // 1000 * 2 * audio.channels:
        raise ConfigError("frame_bytes does not match rate and period_ms", file=source, key="audio.frame_bytes")
    audio_table.done()

    usb_table = root.sub("usb")
    usb = UsbIds(
        ids=_strings(usb_table.take("ids", list, []), usb_table, "ids"),
        at_interface=usb_table.take("at_interface", str, ""),
        audio_interface=usb_table.take("audio_interface", str, ""),
        sound_card_ids=_strings(usb_table.take("sound_card_ids", list, []), usb_table, "sound_card_ids"),
    )
    for key, values in (("ids", usb.ids), ("sound_card_ids", usb.sound_card_ids)):
        if not all(_USB_ID.match(v) for v in values):
            raise ConfigError("expected lower-case vvvv:pppp USB ids", file=source, key=usb_table.key(key))
    usb_table.done()

    outcomes = root.sub("outcomes")
    default_outcome = _outcome(outcomes.take("default", str, "failed"), outcomes, "default")
    causes_table = outcomes.sub("cause")
    causes: dict[int, DialOutcome] = {}
    for key in list(causes_table.data):
        if not key.isdigit():
            raise ConfigError("cause must be a number", file=source, key=causes_table.key(key))
        causes[int(key)] = _outcome(causes_table.take(key, str), causes_table, key)
    finals_table = outcomes.sub("final_code")
    finals = {k: _outcome(finals_table.take(k, str), finals_table, k) for k in list(finals_table.data)}
    text_table = outcomes.sub("cause_text")
    cause_texts = {k.lower(): _outcome(text_table.take(k, str), text_table, k) for k in list(text_table.data)}
    outcomes.done()
    root.done()

    return ModemProfile(
        name=name,
        vendor=vendor,
        model=model,
        description=description,
        baudrate=baudrate,
        urc_prefixes=urc_prefixes,
        init=tuple(steps),
        dial=dial,
        hangup=hangup,
        audio_start=audio_start,
        audio_stop=audio_stop,
        release_needs_origination=release_needs_origination,
        progress=tuple(progress),
        audio=audio,
        cause_outcomes=MappingProxyType(causes),
        final_code_outcomes=MappingProxyType(finals),
        default_outcome=default_outcome,
        source=source,
        progress_extra=tuple(extra),
        stat_patterns=tuple(stat_patterns),
        audio_start_retry_s=audio_start_retry_s,
        release_after_hangup=release_after_hangup,
        confirm_answer_by_speech=confirm_answer_by_speech,
        answer_confirm_s=answer_confirm_s,
        cause_query=cause_query,
        cause_pattern=cause_pattern,
        cause_text_outcomes=MappingProxyType(cause_texts),
        dtmf=dtmf,
        usb=usb,
    )
