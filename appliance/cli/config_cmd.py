"""`callbox config check [FILE]` and `callbox config show [--json]` (appliance/config_report.py)."""

from __future__ import annotations

import argparse
import json
import os
import tomllib
from pathlib import Path
from typing import Any

from appliance.cli.common import config_of
from appliance.config import config_path
from appliance.config_report import check_config_file, effective_settings, format_value


def _check(opts: argparse.Namespace) -> int:
    path = opts.file or config_path(opts.config)
    problems = check_config_file(path, os.environ)
    if opts.json:
        print(json.dumps({"file": str(path), "ok": not problems, "errors": [p.as_dict() for p in problems]},
                         indent=2))
    else:
        for problem in problems:
            print(problem)
        if not problems:
            print(f"{path}: ok")
    return 1 if problems else 0


def _show(opts: argparse.Namespace) -> int:
    path = config_path(opts.config)
    cfg = config_of(opts)  # a bad file stops here with its error, as serve would
    data: dict[str, Any] = {}
    if path.exists():
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    settings = effective_settings(cfg, data, file=str(path), env=os.environ,
                                  state_dir_option=opts.state_dir is not None)
    if opts.json:
        print(json.dumps([{"key": s.key, "value": s.value, "source": s.source} for s in settings], indent=2))
        return 0
    width = max(len(s.key) for s in settings)
    for s in settings:
        print(f"{s.key:<{width}} = {format_value(s.value)}   # {s.source}")
    return 0


def register(commands: Any) -> None:
    config = commands.add_parser("config", help="check the config file, show the effective configuration")
    sub = config.add_subparsers(dest="config_command", required=True)
    check = sub.add_parser("check", help="every error of the config file with its line and key (exit 1 if any)")
    check.add_argument("file", nargs="?", type=Path, default=None,
                       help="the file (default: --config, CALLBOX_CONFIG or /etc/callbox/callbox.toml)")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(func=_check)
    show = sub.add_parser("show", help="every setting's effective value and where it came from")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=_show)
