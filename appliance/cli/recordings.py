"""`callbox recordings …`: the call recordings on this box (``<state>/recordings``) and what is made of them
again. Each sub-command registers itself below: ``list``, ``delete`` and ``prune`` here (retention and the quota,
``appliance.records.retention``, as ``[recordings]`` sets them; the API under /api/v1/recordings does the same
over HTTP)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from appliance.cli import reanalyse
from appliance.cli.common import config_of
from appliance.errors import CallboxError
from appliance.panel.recordings import RecordingsAdmin
from appliance.records.retention import MB, Retention, RetentionPolicy
from appliance.records.store import RecordsStore


@contextmanager
def _recordings(opts: argparse.Namespace) -> Iterator[RecordingsAdmin]:
    """The box's recordings as its config has them, on its records (closed after)."""
    config = config_of(opts)
    store = RecordsStore(config.paths.records, phone_region=config.shop.region)
    try:
        retention = Retention(store.db, config.paths.recordings,
                              RetentionPolicy.from_config(config.recordings, config.calling.preset))
        yield RecordingsAdmin(retention, phone_region=config.shop.region)
    finally:
        store.close()


def _moment(text: str | None, option: str) -> datetime | None:
    """``2026-05-01`` or ``2026-05-01T14:00[+02:00]``; without an offset, the box's local time."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CallboxError(f"{option} {text!r}: expected a date or date-time such as 2026-05-01T14:00") from None
    return value if value.tzinfo is not None else value.astimezone()


def _range(opts: argparse.Namespace) -> dict[str, Any]:
    return {"phone": opts.phone, "since": _moment(opts.since, "--since"), "until": _moment(opts.until, "--until")}


def run_list(opts: argparse.Namespace) -> int:
    with _recordings(opts) as recordings:
        found = recordings.find(**_range(opts), limit=opts.limit, offset=opts.offset)
    if opts.json:
        print(json.dumps(found, indent=2, ensure_ascii=False))
        return 0
    for r in found["recordings"]:
        took = f"{r['duration_s']:.0f} s" if r["duration_s"] is not None else "-"
        print(f"{r['call_id']:>7}  {r['started_at'][:19]}  {r['phone']:<16} {took:>6}  {(r['bytes'] or 0) / MB:6.1f} MB"
              f"  {r['outcome'] or ''}  {r['customer_name']}")
    print(f"{found['total']} recording(s), {found['bytes'] / MB:.1f} MB"
          + (f"; showing {len(found['recordings'])} from {opts.offset}" if found["total"] > len(found["recordings"])
             else ""))
    return 0


def run_delete(opts: argparse.Namespace) -> int:
    chosen = _range(opts)
    if all(value is None for value in chosen.values()):
        raise CallboxError("give --phone, --since or --until: a delete names what it deletes")
    with _recordings(opts) as recordings:
        if not opts.yes:
            found = recordings.find(**chosen, limit=1)
            print(f"{found['total']} recording(s), {found['bytes'] / MB:.1f} MB match; add --yes to delete them "
                  "(those younger than the law's minimum stay)")
            return 1
        done = recordings.delete(**chosen)
    print(f"deleted {done['deleted']} recording(s), {done['freed_bytes'] / MB:.1f} MB freed"
          + (f"; {done['kept_by_law']} kept by law" if done["kept_by_law"] else "")
          + (f"; {done['in_progress']} still on the line" if done["in_progress"] else ""))
    return 0


def run_prune(opts: argparse.Namespace) -> int:
    with _recordings(opts) as recordings:
        report = recordings.retention.prune()
    room = report.room
    if opts.json:
        print(json.dumps({"marked": report.marked, "removed": report.removed, "freed_bytes": report.freed_bytes,
                          "room": room.as_dict()}, indent=2))
        return 0 if room.ok else 1
    marked = ", ".join(f"{n} by {why}" for why, n in report.marked.items() if n) or "none"
    print(f"marked {marked}; removed {report.removed} file(s), {report.freed_bytes / MB:.1f} MB freed")
    print(f"{room.kept} recording(s) kept, {room.used_bytes / MB:.1f} MB of a {room.quota_bytes // MB} MB quota; "
          f"{room.free_bytes // MB} MB free on the disk (calls need {room.min_free_bytes // MB} MB)")
    if not room.ok:
        print(room.why)
    return 0 if room.ok else 1


def _add_range(p: argparse.ArgumentParser) -> None:
    p.add_argument("--phone", help="the customer's number, in any form the box reads")
    p.add_argument("--since", help="calls started at or after (2026-05-01 or 2026-05-01T14:00; local time)")
    p.add_argument("--until", help="calls started before")


def register(commands: Any) -> None:
    p = commands.add_parser("recordings", help="call recordings: list, download, delete, re-analyse")
    subs: Any = p.add_subparsers(dest="recordings_command", required=True, metavar="COMMAND")
    ls = subs.add_parser("list", help="the kept recordings, newest first, by customer and time range")
    _add_range(ls)
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--offset", type=int, default=0)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)
    rm = subs.add_parser("delete", help="delete the recordings of a customer and/or a time range")
    _add_range(rm)
    rm.add_argument("--yes", action="store_true", help="delete (without it: say how many match)")
    rm.set_defaults(func=run_delete)
    prune = subs.add_parser("prune", help="apply [recordings] retention, quota and free space now")
    prune.add_argument("--json", action="store_true")
    prune.set_defaults(func=run_prune)
    reanalyse.register(subs)
