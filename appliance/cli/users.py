"""`callbox passwd`: set a panel user's password (creating the user: an admin, or a reviewer with ``--role``)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from werkzeug.security import generate_password_hash

from appliance.cli.common import state_of
from appliance.errors import CallboxError
from appliance.records.access import ROLES
from appliance.records.store import RecordsStore


def run_passwd(opts: argparse.Namespace) -> int:
    paths = state_of(opts)
    password = sys.stdin.readline().strip() if opts.stdin else getpass.getpass(f"New password for {opts.user}: ")
    if len(password) < 8:
        raise CallboxError("the password must have at least 8 characters")
    store = RecordsStore(paths.records)
    try:
        store.set_user(opts.user, generate_password_hash(password), opts.role)
    finally:
        store.close()
    print(f"password set for {opts.user}" + (f" ({opts.role})" if opts.role else ""))
    return 0


def register(commands: Any) -> None:
    pw = commands.add_parser("passwd", help="set a panel user's password")
    pw.add_argument("user", nargs="?", default="admin")
    pw.add_argument("--stdin", action="store_true", help="read the password from standard input")
    pw.add_argument("--role", choices=ROLES, default=None,
                    help="the user's role (a new user is an admin unless this says otherwise)")
    pw.set_defaults(func=run_passwd)
