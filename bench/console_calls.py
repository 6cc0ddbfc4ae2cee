"""The console's Calls and Tickets pages at 100,000 calls.

    .venv/bin/python bench/console_calls.py --json [--calls 100000] [--repeat 3]

Seeds a temporary records file as ``bench/stats.py`` does (``--calls`` ended calls over 90 days, half as many
tickets, QA tags on one call in twenty), then renders each page through the real web app over the box's own panel
service (``BoxPanel`` on ``RecordsStore``), signed in, with Flask's test client: the first page of calls, a deep
page, each filter, a call's own page, the tickets list, a ticket search and a ticket's own page. Prints each page's
time (best of ``--repeat``), its status, the SQL statements it ran and the query plans of the two list queries.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from werkzeug.security import generate_password_hash

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stats import END, seed

from appliance.panel.flows import FlowAdmin
from appliance.panel.service import BoxPanel
from appliance.records.config_store import ConfigStore
from appliance.records.store import RecordsStore, iso
from web import create_app

USER, PASSWORD = "owner", "bench-password"


def tag_some(path: Path, calls: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO qa_tags (call_id, tag, source, note, created_at) VALUES (?,?,?,?,?)",
                     [(n, "low_confidence" if (n // 20) % 2 else "long_silence", "auto", "bench", iso(END))
                      for n in range(1, calls + 1, 20)])
    conn.execute("COMMIT")
    conn.close()


def plans(path: Path) -> dict[str, list[str]]:
    conn = sqlite3.connect(path)
    found = {}
    for name, sql in (
        ("calls_page", "SELECT calls.id FROM calls JOIN tickets ON tickets.id = calls.ticket_id"
                       " ORDER BY calls.started_at DESC, calls.id DESC LIMIT 50 OFFSET 0"),
        ("calls_by_phone", "SELECT calls.id FROM calls JOIN tickets ON tickets.id = calls.ticket_id"
                           " WHERE calls.phone = '+15550000001' ORDER BY calls.started_at DESC, calls.id DESC"
                           " LIMIT 50"),
        ("calls_by_tag", "SELECT calls.id FROM calls JOIN tickets ON tickets.id = calls.ticket_id WHERE calls.id IN"
                         " (SELECT call_id FROM qa_tags WHERE tag = 'long_silence')"
                         " ORDER BY calls.started_at DESC, calls.id DESC LIMIT 50"),
        ("tickets_page", "SELECT id FROM tickets ORDER BY received_at DESC, tickets.rowid DESC LIMIT 50"),
    ):
        found[name] = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
    conn.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "records.db"
        seeded = seed(path, args.calls, 90, random.Random(7))
        tag_some(path, args.calls)
        records = RecordsStore(path)
        records.set_user(USER, generate_password_hash(PASSWORD))
        configs = ConfigStore(Path(tmp) / "config.json")
        panel = BoxPanel(records=records, flows=FlowAdmin(configs, configs.publish_flow), webhook_secret="whsec_"
                         + "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=", admit=lambda payload, webhook: {},
                         lines=[], recogniser=SimpleNamespace(name="bench", fallback_reason=None))  # type: ignore[arg-type]
        app = create_app(panel, secret_key="bench")  # type: ignore[arg-type]
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        client.post("/login", data={"csrf_token": token, "username": USER, "password": PASSWORD})
        middle = args.calls // 2
        ticket = records.db.read(lambda c: c.execute("SELECT ticket_id FROM calls WHERE id=?", (middle,)).fetchone()[0])
        phone = records.db.read(lambda c: c.execute("SELECT phone FROM calls WHERE id=?", (middle,)).fetchone()[0])
        pages = {
            "calls": "/calls",
            "calls_page_1000": "/calls?page=1000",
            "calls_by_phone": f"/calls?phone={phone.replace('+', '%2B')}",
            "calls_by_outcome": "/calls?outcome=busy",
            "calls_by_intent_and_grade": "/calls?intent=confirm&grade=B",
            "calls_by_tag": "/calls?tag=long_silence",
            "calls_one_week": "/calls?from=2026-11-20&to=2026-11-26",
            "call": f"/calls/{middle}",
            "tickets": "/tickets",
            "tickets_search": f"/tickets?q={ticket}",
            "ticket": f"/tickets/{ticket}",
        }
        statements: list[str] = []
        records.db.read(lambda c: c.set_trace_callback(statements.append))
        figures: dict[str, Any] = {}
        for name, url in pages.items():
            best = float("inf")
            status = 0
            for _ in range(args.repeat):
                statements.clear()
                started = time.perf_counter()
                response = client.get(url)
                best = min(best, time.perf_counter() - started)
                status = response.status_code
            figures[name] = {"url": url, "ms": round(best * 1000, 1), "status": status, "statements": len(statements)}
        result = {"machine": platform.machine(), "python": platform.python_version(), "calls": args.calls,
                  "seed": seeded, "pages": figures, "plans": plans(path)}
        records.close()
        configs.close()
    print(json.dumps(result, indent=2 if not args.json else None))


if __name__ == "__main__":
    main()
