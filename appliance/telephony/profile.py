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
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from appliance.errors import ConfigError
from appliance.events import DialOutcome

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

    def dial_command(self, number: str) -> str:
        return self.dial.format(number=number)

    def classify(self, line: str) -> tuple[str, re.Match[str]] | None:
        """Which call-progress state a URC line reports, or None."""
        for state, pattern in self.progress:
            match = pattern.match(line)
            if match:
                return state, match
        return None

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
    call.done()

    progress_table = root.sub("progress")
    progress = []
    for state in PROGRESS_STATES:
        text = progress_table.take(state, str, None)
        if text is not None:
            progress.append((state, _regex(text, progress_table, state)))
    progress_table.done()

    audio_table = root.sub("audio")
    audio = AudioFormat(
        transport=audio_table.take("transport", str, "serial"),
        rate=audio_table.take("rate", int, 8000),
        format=audio_table.take("format", str, "S16LE"),
        channels=audio_table.take("channels", int, 1),
        frame_bytes=audio_table.take("frame_bytes", int, 320),
    )
    audio_table.done()

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
    )
