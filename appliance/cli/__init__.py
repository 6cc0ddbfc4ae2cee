"""The `callbox` command: one module per command group, each registering its own sub-commands.

Errors become one readable line and a non-zero exit code. A command module imports the heavy parts it runs
(the box, speech models, simulators) inside its command function, so that `callbox --help` and the quick
commands start without loading piper or PocketSphinx.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from appliance.cli import (
    call,
    config_cmd,
    demo,
    dnc,
    doctor,
    export,
    flow,
    models,
    modem,
    recordings,
    rules,
    serve,
    sim,
    sms,
    sync,
    tasks,
    users,
)
from appliance.errors import CallboxError

GROUPS = (demo, serve, doctor, flow, rules, dnc, users, modem, call, sms, models, sim, tasks, sync, recordings,
          export, config_cmd)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="callbox", description="A SIM box that phones a shop's customers.")
    p.add_argument("--config", type=Path, default=None, help="config file (default /etc/callbox/callbox.toml)")
    p.add_argument("--state-dir", type=Path, default=None, help="state directory (default /var/lib/callbox)")
    p.add_argument("-v", "--verbose", action="count", default=0)
    commands = p.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(commands)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    opts = build_parser().parse_args(argv)
    try:
        return int(opts.func(opts))
    except CallboxError as exc:
        print(f"callbox: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"callbox: {exc}", file=sys.stderr)
        return 2


__all__ = ["build_parser", "main"]
