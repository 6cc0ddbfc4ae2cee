"""What every command shares: logging set-up, the config and state paths from the global options, one
``--var K=V`` parser, one progress bar."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Iterable
from typing import TextIO

from appliance import logs
from appliance.config import Config, LogConfig, StatePaths, load_config
from appliance.errors import ConfigError

__all__ = ["ProgressBar", "config_of", "parse_vars", "setup_logging", "state_of"]


def setup_logging(verbose: int, *, quiet: bool = False, log: LogConfig | None = None) -> None:
    """Logging is configured here only, by the command that runs. With ``log`` (``callbox serve``: the service
    under journald) records go to stdout in ``[log] format`` at ``[log] level`` (``-vv`` still means debug);
    without it (the other commands, whose stdout is their answer) as text on stderr. Either way each record
    carries the call id, line and ticket of the call it was written in (appliance/logs.py)."""
    if log is not None:
        level = logging.DEBUG if verbose > 1 else None
        logs.install(log, level=level, stream="stdout")
    else:
        level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
        logs.install(LogConfig(format="text"), level=level, stream="stderr")
    if verbose < 2:
        logging.getLogger("waitress").setLevel(logging.WARNING)


def config_of(opts: argparse.Namespace) -> Config:
    """The config named by ``--config`` (else /etc/callbox/callbox.toml), with ``--state-dir`` over it."""
    return load_config(opts.config, state_dir=opts.state_dir)


def state_of(opts: argparse.Namespace) -> StatePaths:
    return config_of(opts).paths


def parse_vars(items: Iterable[str]) -> dict[str, str]:
    """``--var K=V`` options (repeatable) as a dict; a malformed one is a ``ConfigError``."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--var {item!r}: expected KEY=VALUE")
        out[key.strip()] = value
    return out


_BAR_WIDTH = 30


class ProgressBar:
    """Bytes done / total on one redrawn line of a terminal; on anything else, one plain line per phase."""

    def __init__(self, stream: TextIO | None = None, *, min_interval_s: float = 0.1) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.min_interval_s = min_interval_s
        self._phase: str | None = None
        self._done = self._total = 0
        self._started = self._drawn_at = 0.0
        self._drawn_done = -1

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self._phase:
            self.close()
            self._phase, self._started, self._drawn_at, self._drawn_done = phase, time.monotonic(), 0.0, -1
        self._done, self._total = done, total
        now = time.monotonic()
        due = now - self._drawn_at >= self.min_interval_s or done >= total
        if self.tty and due and done != self._drawn_done:
            self._drawn_done = done
            self._drawn_at = now
            frac = done / total if total else 1.0
            filled = int(frac * _BAR_WIDTH)
            bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
            self.stream.write(f"\r{phase} [{bar}] {done / 1e6:7.1f}/{total / 1e6:.1f} MB {frac:4.0%}")
            self.stream.flush()

    def say(self, text: str) -> None:
        """A step without a byte count, on a line of its own."""
        self.close()
        self.stream.write(f"{text}...\n")
        self.stream.flush()

    def close(self) -> None:
        """End the current phase: a newline on a terminal, the plain summary line elsewhere."""
        if self._phase is None:
            return
        took = time.monotonic() - self._started
        if self.tty:
            self.stream.write("\n")
        else:
            self.stream.write(f"{self._phase}: {self._done / 1e6:.1f} of {self._total / 1e6:.1f} MB in {took:.1f} s\n")
        self.stream.flush()
        self._phase = None

    def counter(self, label: str) -> Callable[[int, int, str], None]:
        """A ``progress(done, total, text)`` callback for things counted one by one (prompts): a bar on a
        terminal, one plain line per item elsewhere."""

        def show(done: int, total: int, text: str) -> None:
            if self.tty:
                filled = int(_BAR_WIDTH * done / total) if total else _BAR_WIDTH
                self.stream.write(f"\r{label} [{'#' * filled}{'-' * (_BAR_WIDTH - filled)}] {done}/{total}")
                if done >= total:
                    self.stream.write("\n")
            else:
                self.stream.write(f"{label} {done}/{total}: {text}\n")
            self.stream.flush()

        return show
