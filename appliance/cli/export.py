"""`callbox export calls|turns [--since --until --task --scenario --flow-version] [--out FILE]`: the calls (one
row each, with their figures) or their turns as CSV, to stdout or a file, streamed a page at a time like
``GET /api/v1/export/{calls,turns}.csv``. It reads the records file, so it works whether the box runs or not.
A date or a time without an offset is on the shop's clock ([shop] time_zone, else the box's)."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from appliance.campaign.hours import box_zone
from appliance.cli.common import config_of
from appliance.errors import CallboxError
from appliance.records.export import EXPORTS
from appliance.records.stats import CallFilter, FilterInvalid, call_filter
from appliance.records.store import RecordsStore


def _moment(option: str, raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        raise CallboxError(f"{option} {raw!r}: expected a date (2026-11-20) or an ISO 8601 date-time") from None


def calls_asked(opts: argparse.Namespace, zone: tzinfo) -> CallFilter:
    try:
        return call_filter(zone, since=_moment("--since", opts.since), until=_moment("--until", opts.until),
                           task=opts.task, scenario=opts.scenario, flow_version=opts.flow_version)
    except FilterInvalid as exc:
        raise CallboxError(f"--{exc.parameter.replace('_', '-')}: {exc.message}") from None


def run_export_command(opts: argparse.Namespace) -> int:
    config = config_of(opts)
    zone = ZoneInfo(config.shop.time_zone) if config.shop.time_zone else box_zone()
    calls = calls_asked(opts, zone)
    store = RecordsStore(config.paths.records, phone_region=config.shop.region)
    try:
        chunks = store.export_csv(opts.what, calls)
        if opts.out is None:
            for chunk in chunks:
                sys.stdout.write(chunk)
            sys.stdout.flush()
            return 0
        partial = opts.out.with_name(opts.out.name + ".part")  # a file that is there is a whole export
        with partial.open("w", encoding="utf-8", newline="") as out:
            for chunk in chunks:
                out.write(chunk)
        os.replace(partial, opts.out)
    finally:
        store.close()
    print(f"{opts.what} written to {opts.out}", file=sys.stderr)
    return 0


def register(commands: Any) -> None:
    e = commands.add_parser("export", help="the calls or their turns as CSV")
    e.add_argument("what", choices=tuple(EXPORTS), help="calls (one row each, with its figures) or turns")
    e.add_argument("--since", help="calls started at or after: a date or an ISO 8601 time (shop's clock)")
    e.add_argument("--until", help="calls started before: a date or an ISO 8601 time (shop's clock)")
    e.add_argument("--task", type=int, help="a call task's id")
    e.add_argument("--scenario", help="a scenario's name")
    e.add_argument("--flow-version", help="<flow id>@<version>, or a flow id for all its versions")
    e.add_argument("--out", type=Path, help="write to this file (default: stdout)")
    e.set_defaults(func=run_export_command)
