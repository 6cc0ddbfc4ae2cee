"""`callbox config check` and `callbox config show`: every error of a config file with its line, and the
effective configuration with where each value came from.

The box's own loader (:mod:`appliance.config`) stays the one judge of what is valid: ``check_config_file`` runs
:func:`~appliance.config.parse_config` again and again, taking out the key each error names, so every error is
reported, not just the first, with no second set of rules to drift from the first. tomlkit finds a TOML syntax
error's line; the lines of keys come from the file's text (table headers and ``key =`` lines).
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions

from appliance.config import ENVIRONMENT, Config, apply_environment, parse_config
from appliance.errors import ConfigError

__all__ = ["ENV_KEYS", "Problem", "Setting", "check_config_file", "checked_config", "effective_settings",
           "key_lines"]

# Which environment variable sets which key (appliance.config.apply_environment reads them).
ENV_KEYS: dict[str, str] = {
    "state_dir": "CALLBOX_STATE_DIR",
    "web.host": "CALLBOX_LISTEN",
    "web.port": "CALLBOX_LISTEN",
    "web.webhook_secret": "CALLBOX_WEBHOOK_SECRET",
    "web.api_token": "CALLBOX_API_TOKEN",
    "web.callback_url": "CALLBOX_UPSTREAM_URL",
}
SECRET_KEYS = frozenset({"webhook_secret", "api_token", "password", "secret"})
_MAX_ERRORS = 100
_STAND_IN = "\x00broken-line-"  # the name of a [[lines]] table put in place of a broken one


@dataclass(frozen=True)
class Problem:
    """One error: the file (or ``<environment>``), its line (None when it has none), the key, what is wrong."""

    file: str
    line: int | None
    key: str | None
    message: str

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Setting:
    key: str
    value: object
    source: str  # the config file's path, an environment variable's name, "--state-dir" or "default"


def _tokens(key: str) -> list[str | int]:
    """``lines[0].daily_cap`` -> ["lines", 0, "daily_cap"]."""
    out: list[str | int] = []
    for part in key.split("."):
        name, _, rest = part.partition("[")
        if name:
            out.append(name)
        for index in re.findall(r"(\d+)\]", "[" + rest if rest else ""):
            out.append(int(index))
    return out


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")


def _dotted(text: str) -> str:
    return ".".join(p.strip().strip("\"'") for p in re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", text))


def key_lines(text: str) -> dict[str, int]:
    """Each table's and key's first line in a TOML text, by the loader's key names (``lines[1].at_port``)."""
    found: dict[str, int] = {}
    table = ""
    arrays: dict[str, int] = {}
    in_string: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string is not None:
            if line.count(in_string) % 2:
                in_string = None
            continue
        header = _HEADER.match(line)
        if header:
            name = _dotted(header.group(2))
            if header.group(1) == "[[":
                arrays[name] = arrays.get(name, -1) + 1
                found.setdefault(name, number)
                table = f"{name}[{arrays[name]}]"
            else:
                table = name
            found.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            full = f"{table}.{_dotted(key.group(1))}" if table else _dotted(key.group(1))
            found.setdefault(full, number)
            rest = line[key.end():]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2:
                    in_string = quote
    return found


def _line_of(key: str | None, lines: Mapping[str, int]) -> int | None:
    """The line of ``key``, else of the nearest table or key above it (``qa.opposite_intents[0]``)."""
    while key:
        if key in lines:
            return lines[key]
        cut = max(key.rfind("."), key.rfind("["))
        key = key[:cut] if cut > 0 else ""
    return None


def _take_out(data: dict[str, Any], key: str | None, count: int) -> bool:
    """Remove what ``key`` names so that the next run of the loader gets past it; False when nothing can be."""
    tokens = _tokens(key) if key else []
    while tokens:
        parent: Any = data
        try:
            for token in tokens[:-1]:
                parent = parent[token]
            last = tokens[-1]
            if isinstance(last, int) and isinstance(parent, list) and last < len(parent) \
                    and isinstance(parent[last], dict):
                # an array of tables keeps its length, so the next errors still name the right [[lines]]
                parent[last] = {"name": f"{_STAND_IN}{count}", "at_port": "", "audio_port": ""}
                return True
            if isinstance(last, str) and isinstance(parent, dict) and last in parent:
                del parent[last]
                return True
        except (KeyError, IndexError, TypeError):
            pass
        tokens = tokens[:-1]  # not there (a required key that is missing): take out its table
    return False


def _message(exc: ConfigError) -> str:
    where = ":".join(p for p in (exc.file, exc.key) if p)
    text = str(exc)
    return text[len(where) + 2:] if where and text.startswith(where + ": ") else text


def check_config_file(path: Path, env: Mapping[str, str] | None = None) -> list[Problem]:
    """Every error of the config file at ``path`` (a missing file is one), then of the environment variables
    the box reads; [] when the box would start with it."""
    return checked_config(path, env)[0]


def checked_config(path: Path, env: Mapping[str, str] | None = None) -> tuple[list[Problem], Config | None]:
    """The errors, and the config the file gives with the wrong keys left out (None when it cannot be read):
    `callbox doctor` still checks the lines of a file with a typo in [shop]."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return [Problem(file, None, None, "no such file (copy firmware-config/callbox.toml.example there)")], None
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(file, None, None, f"cannot read it: {exc}")], None
    try:
        tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        return [Problem(file, exc.line, None, f"TOML syntax error: {str(exc).split(' at line ')[0]}"
                        f" (column {exc.col})")], None
    try:
        data = tomllib.loads(text)  # what the loader itself reads
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        return [Problem(file, int(found.group(1)) if found else None, None, f"TOML syntax error: {exc}")], None
    lines = key_lines(text)
    problems: list[Problem] = []
    cfg: Config | None = None
    while len(problems) < _MAX_ERRORS:
        try:
            cfg = parse_config(data, file=file)
            break
        except ConfigError as exc:
            problems.append(Problem(file, _line_of(exc.key, lines), exc.key, _message(exc)))
            if not _take_out(data, exc.key, len(problems)):
                break
    if cfg is not None and problems:  # the [[lines]] tables stood in for broken ones are not lines
        cfg = dataclasses.replace(cfg, lines=tuple(lc for lc in cfg.lines if not lc.name.startswith(_STAND_IN)))
    problems.sort(key=lambda p: p.line or 0)  # in the file's order; the loader's order is its own
    if env is not None:
        try:
            cfg = apply_environment(cfg or Config(), env)
        except ConfigError as exc:
            problems.append(Problem(ENVIRONMENT, None, exc.key, _message(exc)))
    return problems, cfg


def _fields(value: Any, prefix: str) -> list[tuple[str, Any]]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: list[tuple[str, Any]] = []
        for f in dataclasses.fields(value):
            key = f"{prefix}.{f.name}" if prefix else f.name
            out += _fields(getattr(value, f.name), key)
        return out
    if isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
        return [item for i, line in enumerate(value) for item in _fields(line, f"{prefix}[{i}]")]
    return [(prefix, value)]


def _plain(key: str, value: Any) -> object:
    if key.rsplit(".", 1)[-1] in SECRET_KEYS and value:
        return "(set, not shown)"
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_plain("", v) for v in value]
    return value


def _in_file(data: Mapping[str, Any], key: str) -> bool:
    node: Any = data
    for token in _tokens(key):
        try:
            node = node[token]
        except (KeyError, IndexError, TypeError):
            return False
    return True


def effective_settings(cfg: Config, data: Mapping[str, Any], *, file: str, env: Mapping[str, str],
                       state_dir_option: bool = False) -> list[Setting]:
    """Every setting of ``cfg`` with its source: ``--state-dir``, an environment variable, the file, the default.
    ``data`` is what the file holds (tomllib's reading of it; {} when there is none)."""
    out = []
    for key, value in _fields(cfg, ""):
        variable = ENV_KEYS.get(key)
        if key == "state_dir" and state_dir_option:
            source = "--state-dir"
        elif variable and env.get(variable):
            source = variable
        elif _in_file(data, key):
            source = file
        else:
            source = "default"
        out.append(Setting(key, _plain(key, value), source))
    return out


def format_value(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)
