"""`callbox passwd`: set a panel user's password."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from werkzeug.security import generate_password_hash

from appliance.cli.common import state_of
from appliance.errors import CallboxError
from appliance.records.store import RecordsStore


def run_passwd(opts: argparse.Namespace) -> int:
    paths = state_of(opts)
    password = sys.stdin.readline().strip() if opts.stdin else getpass.getpass(f"New password for {opts.user}: ")
    if len(password) < 8:
        raise CallboxError("the password must have at least 8 characters")
    store = RecordsStore(paths.records)
    try:
        store.set_user(opts.user, generate_password_hash(password))
    finally:
        store.close()
    print(f"password set for {opts.user}")
    return 0


def register(commands: Any) -> None:
    pw = commands.add_parser("passwd", help="set a panel user's password")
    pw.add_argument("user", nargs="?", default="admin")
    pw.add_argument("--stdin", action="store_true", help="read the password from standard input")
    pw.set_defaults(func=run_passwd)
