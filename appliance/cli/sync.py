"""`callbox sync status`: what waits to leave the box, per outbox target (ticket operations for the ticketing
system, call records for ``[upstream] url``): pending rows, the oldest one's age, the last error, the last
success. It reads the records file, so it works whether the box runs or not (``GET /api/v1/sync`` is the same)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from appliance.cli.common import config_of
from appliance.records.store import RecordsStore
from appliance.sync.destinations import rest_apis


def _line(name: str, t: dict[str, Any]) -> str:
    if not t["configured"] and not t["pending"] and not t["failed"]:
        return f"{name}: not configured"
    age = f", oldest {t['oldest_pending_age_s']:.0f} s old" if t["oldest_pending_age_s"] is not None else ""
    out = f"{name}: {t['pending']} pending{age}, {t['failed']} given up"
    out += f"; last success {t['last_success'] or 'never'}"
    if t["last_error"]:
        out += f"; last error (item {t['last_error']['item']}): {t['last_error']['error']}"
    if not t["configured"]:
        out += " (not configured: nothing is sent)"
    return out


def run_sync_command(opts: argparse.Namespace) -> int:
    config = config_of(opts)
    store = RecordsStore(config.paths.records, phone_region=config.shop.region)
    try:
        configured = {"ticket": bool(config.web.callback_url or rest_apis(config.helpdesks)),
                      "upstream": config.upstream.enabled}
        status = store.outbox.status(datetime.now(UTC), configured)
    finally:
        store.close()
    if opts.json:
        print(json.dumps(status, indent=2, ensure_ascii=False))
        return 0
    for name, target in status["targets"].items():
        print(_line(name, target))
    return 0


def register(commands: Any) -> None:
    s = commands.add_parser("sync", help="what waits to leave the box (ticket operations, upstream call records)")
    ssub = s.add_subparsers(dest="sync_command", required=True)
    st = ssub.add_parser("status", help="per target: pending, oldest age, last error, last success")
    st.add_argument("--json", action="store_true")
    s.set_defaults(func=run_sync_command)
