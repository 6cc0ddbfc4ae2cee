"""`callbox sim modem`: one simulated modem on a pseudo-terminal until Ctrl-C."""

from __future__ import annotations

import argparse
from typing import Any

from appliance.sim.run import add_arguments, run_sim_modem_opts


def run_sim_modem(opts: argparse.Namespace) -> int:
    return run_sim_modem_opts(opts, opts.sim_parser)


def register(commands: Any) -> None:
    sim = commands.add_parser("sim", help="simulators")
    sub = sim.add_subparsers(dest="sim_command", required=True)
    sm = sub.add_parser("modem", help="run one simulated modem (--profile P --customer SCRIPT --fault F; -h)")
    add_arguments(sm)
    sm.set_defaults(func=run_sim_modem, sim_parser=sm)
