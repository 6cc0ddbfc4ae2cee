"""`callbox modem probe`: identify the modem on an AT port and the profile to use."""

from __future__ import annotations

import argparse
import json
from typing import Any

from appliance.cli.common import setup_logging
from appliance.telephony.probe import probe_modem


def run_probe(opts: argparse.Namespace) -> int:
    setup_logging(opts.verbose, quiet=not opts.verbose)
    result = probe_modem(opts.at_port, baudrate=opts.baudrate, timeout=opts.timeout)
    if opts.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print("\n".join(result.lines()))
    return 0 if result.responding else 1


def register(commands: Any) -> None:
    modem = commands.add_parser("modem", help="work with modems")
    sub = modem.add_subparsers(dest="modem_command", required=True)
    mp = sub.add_parser("probe", help="identify the modem on an AT port and the profile to use")
    mp.add_argument("at_port", metavar="AT_PORT")
    mp.add_argument("--json", action="store_true", help="print JSON")
    mp.add_argument("--baudrate", type=int, default=115200)
    mp.add_argument("--timeout", type=float, default=2.0, help="seconds per AT command")
    mp.set_defaults(func=run_probe)
