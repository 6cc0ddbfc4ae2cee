"""`callbox dnc list|add|remove`: the do-not-call list from a terminal (the panel's Tickets page has it too)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from appliance.campaign.tickets import normalise_phone
from appliance.cli.common import config_of
from appliance.errors import CallboxError, TicketInvalid
from appliance.records.store import RecordsStore


def run_dnc_command(opts: argparse.Namespace) -> int:
    config = config_of(opts)
    store = RecordsStore(config.paths.records, phone_region=config.shop.region)
    try:
        dnc = store.do_not_call
        if opts.dnc_command == "list":
            entries = dnc.entries()
            if opts.json:
                print(json.dumps([e.as_dict() for e in entries], indent=2, ensure_ascii=False))
            elif not entries:
                print("the do-not-call list is empty")
            for e in entries if not opts.json else []:
                print(f"{e.phone}  since {e.added_at}  {e.reason}")
            return 0
        try:
            phone = normalise_phone(opts.phone, config.shop.region)
        except TicketInvalid:
            raise CallboxError(f"{opts.phone!r} is not a phone number") from None
        if opts.dnc_command == "add":
            dnc.add(phone, opts.reason)
            print(f"{phone} is on the do-not-call list")
            return 0
        if not dnc.remove(phone):
            raise CallboxError(f"{phone} is not on the do-not-call list")
        print(f"{phone} taken off the do-not-call list")
        return 0
    finally:
        store.close()


def register(commands: Any) -> None:
    d = commands.add_parser("dnc", help="the do-not-call list (numbers that asked not to be called again)")
    dsub = d.add_subparsers(dest="dnc_command", required=True)
    ls = dsub.add_parser("list", help="show the numbers on the list")
    ls.add_argument("--json", action="store_true")
    add = dsub.add_parser("add", help="put a number on the list")
    add.add_argument("phone")
    add.add_argument("--reason", default="added by an admin")
    rm = dsub.add_parser("remove", help="take a number off the list (it may be called again)")
    rm.add_argument("phone")
    d.set_defaults(func=run_dnc_command)
