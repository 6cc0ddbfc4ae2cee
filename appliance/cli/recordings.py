"""`callbox recordings …`: the call recordings on this box (``<state>/recordings``) and what is made of them
again. Each sub-command registers itself below."""

from __future__ import annotations

import argparse
from typing import Any

from appliance.cli import reanalyse


def register(commands: Any) -> None:
    p = commands.add_parser("recordings", help="call recordings: list, download, delete, re-analyse")
    subs: Any = p.add_subparsers(dest="recordings_command", required=True, metavar="COMMAND")
    _ = (argparse, subs)  # the sub-commands are added here
    reanalyse.register(subs)
