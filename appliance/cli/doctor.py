"""`callbox doctor`: one line per check with ok / warn / error and the fix in words; exit 1 if any is an error.

The checks (appliance/cli/doctor_box.py, doctor_lines.py) only read: nothing is created or changed on disk,
and the modems get only the read-only queries of `callbox modem probe`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any

from appliance.cli.common import setup_logging
from appliance.cli.doctor_box import (
    admin_check,
    clock_check,
    config_checks,
    disk_check,
    package_checks,
    service_user_check,
    speech_checks,
    state_check,
    targets_checks,
    time_zone_check,
    web_port_check,
)
from appliance.cli.doctor_lines import PROC_CARDS, Check, line_checks, service_user
from appliance.config import Config, ShopConfig, apply_environment, config_path
from appliance.errors import ConfigError


def doctor_checks(opts: argparse.Namespace, *, cards: Path = PROC_CARDS, speech: bool = True) -> list[Check]:
    """Every check, in the order a person would fix them."""
    path = config_path(opts.config)
    checks, found = config_checks(path, dict(os.environ))
    config = found or _without_the_file(checks)
    if opts.state_dir is not None:
        config = dataclasses.replace(config, state_dir=opts.state_dir)
    shop = config.shop
    zone = shop.time_zone or "the system's"
    checks.append(Check("shop", "ok" if shop.name != ShopConfig().name else "warn",
                        f"{shop.name} (language {shop.language}, time zone {zone}, "
                        f"country {shop.country or 'not set'})",
                        "" if shop.name != ShopConfig().name else "set [shop] name (customers hear it)"))
    checks += package_checks(config)
    if speech:
        checks += speech_checks(config)
    checks.append(state_check(config))
    if not config.lines:
        checks.append(Check("lines", "error", "none configured",
                            "add a [[lines]] table per modem (firmware-config/callbox.toml.example)"))
    user = None
    if os.geteuid() == 0:  # root passes every permission test: ask for the service user's
        user = service_user()
        checks.append(service_user_check(user))
    for lc in config.lines:
        checks += line_checks(lc, cards=cards, user=user)
    checks += [disk_check(config), clock_check(), time_zone_check(config), web_port_check(config),
               admin_check(config)]
    checks += targets_checks(config)
    return checks


def _without_the_file(checks: list[Check]) -> Config:
    """The config a box whose file is missing or unreadable runs on (``callbox serve`` would): the defaults under
    the environment's ``CALLBOX_*`` variables; one that cannot be used is an error of its own."""
    try:
        return apply_environment(Config(), os.environ)
    except ConfigError as exc:
        checks.append(Check("config", "error", str(exc), "correct or unset that environment variable"))
        return Config()


def run_doctor(opts: argparse.Namespace) -> int:
    setup_logging(0, quiet=True)
    parts = logging.getLogger("appliance")
    level = parts.level
    parts.setLevel(logging.ERROR)  # what the parts would warn about is a check here
    try:
        checks = doctor_checks(opts, cards=opts.asound_cards)
    finally:  # main() may run in a process that goes on logging (the tests)
        parts.setLevel(level)
    errors = sum(c.status == "error" for c in checks)
    if opts.json:
        print(json.dumps({"ok": not errors, "checks": [c.as_dict() for c in checks]}, indent=2))
    else:
        for check in checks:
            print(check)
        warnings = sum(c.status == "warn" for c in checks)
        print(f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}")
    return 1 if errors else 0


def register(commands: Any) -> None:
    doc = commands.add_parser("doctor", help="check the config, packages, models, modems, clock and network; "
                              "say what to fix")
    doc.add_argument("--json", action="store_true", help="print JSON")
    doc.add_argument("--asound-cards", type=Path, default=PROC_CARDS, help=argparse.SUPPRESS)  # tests
    doc.set_defaults(func=run_doctor)
