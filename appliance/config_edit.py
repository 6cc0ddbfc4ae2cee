"""Changing /etc/callbox/callbox.toml from the panel: the owner's comments and order kept (tomlkit), the whole new
file validated by the loader the box starts with (``config.parse_config``) BEFORE anything is written, then written
atomically (a temporary file beside it, fsync, rename, fsync of the folder): a power cut leaves the old file or the
new one, and a bad value leaves the file as it was.

Values are given typed (``{"calling.hours": "08:00-20:00", "recordings.quota_mb": 1024}``); ``None`` takes the
key out of the file (its default applies again). A table the file lacks is added at its end.
"""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import Table

from appliance.config import Config, parse_config
from appliance.errors import ConfigError, SettingInvalid
from appliance.files import write_atomic

__all__ = ["ConfigFile"]

Check = Callable[[Config], None]  # raises SettingInvalid for what the loader alone does not see


class ConfigFile:
    """One config file, edited under a lock (two admins saving at once write one after the other)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def text(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):
            return ""  # no file yet: every key has its default, and saving makes the file
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingInvalid(f"{self.path} cannot be read ({getattr(exc, 'strerror', None) or exc})",
                                 field="file") from None

    def data(self) -> dict[str, Any]:
        """The file as plain TOML data (what the loader reads)."""
        try:
            return tomllib.loads(self.text())
        except tomllib.TOMLDecodeError as exc:  # edited by hand since the box started
            raise SettingInvalid(f"{self.path} is not valid TOML now ({exc})", field="file") from None

    def has(self, dotted: str) -> bool:
        """Whether the file itself sets ``dotted`` (else the default, or the environment, applies)."""
        node: Any = self.data()
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    def change(self, values: Mapping[str, Any], *, check: Check | None = None) -> Config:
        """Set ``values`` (dotted keys), validate the whole result, write it; the new file's config. Raises
        :class:`SettingInvalid` naming the key, with nothing written, when the result would not load."""
        with self._lock:
            self.data()  # a file broken by hand since the box started is not written over
            document = tomlkit.parse(self.text())
            for dotted, value in values.items():
                _set(document, dotted.split("."), value)
            text = tomlkit.dumps(document)
            try:
                config = parse_config(tomllib.loads(text), file=str(self.path))
            except ConfigError as exc:
                key = exc.key or next(iter(values), "")
                raise SettingInvalid(_reason(exc), field=key) from None
            except tomllib.TOMLDecodeError as exc:  # a value tomlkit could not write back as TOML
                raise SettingInvalid(str(exc), field=next(iter(values), "")) from None
            if check is not None:
                check(config)
            try:
                write_atomic(self.path, text.encode("utf-8"), sync_dir=True)
            except OSError as exc:  # a read-only /etc, a full disk: said in words, the old file stays
                raise SettingInvalid(f"could not be saved: {self.path} cannot be written ({exc.strerror or exc})",
                                     field=next(iter(values), "")) from None
            return config


def _reason(exc: ConfigError) -> str:
    """The loader's message without its ``file:key:`` prefix."""
    text = str(exc)
    where = ":".join(p for p in (exc.file, exc.key) if p)
    return text[len(where) + 2:] if where and text.startswith(where + ": ") else text


def _set(document: Any, path: list[str], value: Any) -> None:
    table = document
    for part in path[:-1]:
        if part not in table:
            if value is None:
                return  # nothing to take out
            table.add(part, tomlkit.table())
        table = table[part]
        if not isinstance(table, Table | dict):
            raise SettingInvalid("is not a table in the config file", field=".".join(path[:-1]))
    key = path[-1]
    if value is None:
        if key in table:
            del table[key]
        return
    if isinstance(value, tuple):
        value = [list(v) if isinstance(v, tuple) else v for v in value]
    table[key] = value
