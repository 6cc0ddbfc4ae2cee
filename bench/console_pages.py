"""Every console page at 100,000 calls: its time and the SQL statements it runs, in one bench.

    .venv/bin/python bench/console_pages.py --json [--calls 100000] [--repeat 3]

Seeds ONE temporary records file with the other benches' seeders: ``bench/stats.py`` (``--calls`` ended calls over
90 days with their turns, tickets, tasks and five call tasks), ``bench/console_calls.py`` (QA tags on one call in
twenty), ``bench/live.py`` (the newest 2,000 calls moved to today); here only what none of them writes: recordings
indexed on the answered calls (``recording``, ``recording_bytes``), reviews of a tenth of the tagged calls, an
audit log of 2,000 changes and a day of signal samples. Then builds the real app (``create_app``) over the box's
own ``BoxPanel`` with its real parts (call tasks over the default rules, settings over a TOML file, the live
board, the Modems page, retention), signs in through the login form, and walks Flask's URL map: every GET route
that a person opens (not ``/api/``, static files, downloads, the SSE stream nor ``/metrics``) is timed, with its
path parameters filled from the seeded store; a page route the bench cannot fill is listed as ``not_timed`` so
that a new page is not silently left out. Each page: best and median of ``--repeat``, status, size, and the
number of SQL statements the records file ran for it (sqlite3's trace callback on the reader and the writer
connection), which stays flat as the calls grow (no query per row). Prints JSON; ``over_budget`` lists the pages
above the issue's 200 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug.security import generate_password_hash

sys.path.insert(0, str(Path(__file__).resolve().parent))
from console_calls import tag_some  # bench/ (first on the path): the other benches' seeders
from live import move_to_today
from stats import END, seed

from appliance.campaign.call_tasks import CallTasks
from appliance.campaign.publish import install_defaults
from appliance.config import parse_config
from appliance.config_edit import ConfigFile
from appliance.panel.dashboard import LiveAdmin
from appliance.panel.flows import FlowAdmin
from appliance.panel.live import LiveBoard
from appliance.panel.modems import ModemsAdmin
from appliance.panel.recordings import RecordingsAdmin
from appliance.panel.service import BoxPanel
from appliance.panel.settings import SettingsAdmin, WebhookSecret
from appliance.records.config_store import ConfigStore
from appliance.records.retention import Retention, RetentionPolicy
from appliance.records.store import RecordsStore, iso
from web import create_app

BUDGET_MS = 200.0
ZONE = ZoneInfo("Europe/Berlin")
USER, PASSWORD = "owner", "bench-password"
SECRET = "whsec_" + "Y29uc29sZS1wYWdlcy1iZW5jaC1zZWNyZXQtMzJieXQ="
# GET routes that are not pages a person opens: the API, files, downloads, the event stream, the scrape
NOT_PAGES = ("/api/", "/static/", "/events", "/metrics", "/healthz", "/login")
DOWNLOADS = (".wav", ".csv", ".json")


class Recogniser:
    """What the status strip reads of the recogniser (no page runs it)."""

    name = "bench"
    fallback_reason = None

    def close(self) -> None:
        pass


def seed_rest(path: Path, calls: int) -> dict[str, int]:
    """What the other benches' seeders leave out: recordings, reviews, the audit log, a day of signal."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    kept = conn.execute("UPDATE calls SET recording = 'recordings/' || id || '.wav', recording_bytes = 64000 +"
                        " (duration_ms / 1000) * 32000 WHERE answered_at IS NOT NULL").rowcount
    reviewed = conn.execute("INSERT INTO qa_reviews (call_id, reviewed_at, reviewer) SELECT DISTINCT call_id, ?, ?"
                            " FROM qa_tags WHERE call_id % 200 = 1", (iso(END), USER)).rowcount
    conn.executemany("INSERT INTO audit_log (at, who, what, before, after) VALUES (?,?,?,?,?)",
                     [(iso(END - timedelta(minutes=n * 60)), USER, f"calling.hours.{n % 7}", '"09:00-18:00"',
                       '"08:30-19:00"') for n in range(2000)])
    now = datetime.now(UTC)
    conn.executemany("INSERT INTO line_signal (line, at, dbm, rssi, state) VALUES (?,?,?,?,?)",
                     [("sim0", iso(now - timedelta(minutes=5 * n)), -70 - n % 20, 20 - n % 10, "ready")
                      for n in range(288)])
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return {"recordings": kept, "reviews": reviewed, "audit_rows": 2000, "signal_samples": 288}


def build(root: Path, records: RecordsStore) -> tuple[BoxPanel, ConfigStore]:
    """The panel as the box builds it (appliance/box.py), with no modem lines and no speech models."""
    configs = ConfigStore(root / "config.json")
    install_defaults(configs)
    toml = root / "callbox.toml"
    toml.write_text('# the shop\n[shop]\nname = "Corner Shop"\ntime_zone = "Europe/Berlin"\n')
    file = ConfigFile(toml)
    settings = SettingsAdmin(file=file, current=parse_config(file.data()), env={}, apply=lambda c: None,
                             webhook=WebhookSecret(env={}, file=file, state_file=root / "secret",
                                                   on_rotate=lambda s: None))
    call_tasks = CallTasks(records=records, configs=configs, max_attempts=3)
    board = LiveBoard()
    modems = ModemsAdmin(board=board, lines=[], records=records)
    live = LiveAdmin(board=board, records=records, zone=ZONE, modems=modems, call_tasks=call_tasks)
    (root / "recordings").mkdir()
    retention = Retention(records.db, root / "recordings", RetentionPolicy(), free_bytes=lambda: 10**11)
    panel = BoxPanel(records=records, flows=FlowAdmin(configs, configs.publish_flow), webhook_secret=SECRET,
                     admit=lambda p, w: {}, lines=[], recogniser=Recogniser(),  # type: ignore[arg-type]
                     call_tasks=call_tasks, recordings=RecordingsAdmin(retention), zone=ZONE, settings=settings,
                     live=live)
    return panel, configs


def urls(app: Any, records: RecordsStore, flow: str, calls: int) -> tuple[dict[str, str], dict[str, str]]:
    """Each page route's URLs (name -> URL), and the page routes not timed (rule -> why)."""
    middle = calls // 2
    ticket, phone = records.db.read(lambda c: tuple(c.execute(
        "SELECT ticket_id, phone FROM calls WHERE id = ?", (middle,)).fetchone()))
    # several URLs for the list pages (the issue's: first page, a deep page, each filter; both statistics ranges)
    known: dict[str, dict[str, str]] = {
        "/": {"root": "/"},
        "/dashboard": {"dashboard": "/dashboard"},
        "/dashboard/state": {"dashboard_state": "/dashboard/state"},
        "/live/lines": {"live_lines": "/live/lines"},
        "/calls": {"calls": "/calls", "calls_page_1000": "/calls?page=1000",
                   "calls_by_phone": f"/calls?phone={phone.replace('+', '%2B')}",
                   "calls_by_outcome": "/calls?outcome=busy",
                   "calls_by_intent_and_grade": "/calls?intent=confirm&grade=B",
                   "calls_by_tag": "/calls?tag=long_silence",
                   "calls_one_week": "/calls?from=2026-11-20&to=2026-11-26"},
        "/calls/<int:call_id>": {"call": f"/calls/{middle}"},
        "/tickets": {"tickets": "/tickets", "tickets_search": f"/tickets?q={ticket}"},
        "/tickets/<path:ticket_id>": {"ticket": f"/tickets/{ticket}"},
        "/tasks": {"tasks": "/tasks"},
        "/tasks/<int:task_id>": {"task": "/tasks/1"},
        "/tasks/new": {"task_new": "/tasks/new"},
        "/flows": {"flows": "/flows"},
        "/flows/<flow_id>": {"flow": f"/flows/{flow}"},
        "/flows/<flow_id>/edit": {"flow_editor": f"/flows/{flow}/edit"},
        "/flows/<flow_id>/graph.svg": {"flow_graph": f"/flows/{flow}/graph.svg"},
        "/flows/<flow_id>/rendering": {"flow_rendering": f"/flows/{flow}/rendering"},
        "/voice": {"voice": "/voice"},
        "/rules": {"rules": "/rules"},
        "/rules/<any(rule, scenario):kind>/<int:index>": {"rule": "/rules/rule/0", "scenario": "/rules/scenario/0"},
        "/rules/<any(rule, scenario):kind>/new": {"rule_new": "/rules/rule/new"},
        "/rules/vui": {"vui": "/rules/vui"},
        "/rules/knowledge": {"knowledge": "/rules/knowledge"},
        "/qa": {"qa": "/qa"},
        "/statistics": {"statistics": "/statistics"},
        "/statistics/figures": {"statistics_figures": "/statistics/figures",
                                "statistics_figures_all_time": "/statistics/figures?since=2026-08-01"
                                                               "&until=2026-12-05"},
        "/modems": {"modems": "/modems"},
        "/settings": {"settings": "/settings"},
        "/setup": {"setup": "/setup"},
        "/users": {"users": "/users"},
        "/audit": {"audit": "/audit"},
    }
    untimed = {"/modems/<line>/signal": "no modem line in the bench (the Modems page draws none)"}
    pages: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.rule.startswith(NOT_PAGES) or rule.rule.endswith(DOWNLOADS):
            continue
        if rule.rule in known:
            pages.update(known[rule.rule])
        else:
            skipped[rule.rule] = untimed.get(rule.rule, "a page route this bench does not know: add it")
    return pages, skipped


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="one line of JSON (else indented)")
    opts = ap.parse_args()
    out: dict[str, Any] = {"date": datetime.now(UTC).strftime("%Y-%m-%d"),
                           "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
                           "cpus": os.cpu_count(), "python": platform.python_version(),
                           "sqlite": sqlite3.sqlite_version, "calls": opts.calls, "repeat": opts.repeat,
                           "budget_ms": BUDGET_MS}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / "callbox.db"
        seeded = seed(path, opts.calls, 90, random.Random(7))
        tag_some(path, opts.calls)
        move_to_today(path, min(2000, opts.calls // 10))
        seeded.update(seed_rest(path, opts.calls))
        out["seeded"] = seeded
        records = RecordsStore(path)
        records.set_user(USER, generate_password_hash(PASSWORD))
        panel, configs = build(root, records)
        app = create_app(panel, secret_key="bench")
        client = app.test_client()
        form = client.get("/login").get_data(as_text=True)
        token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        signed_in = client.post("/login", data={"csrf_token": token, "username": USER, "password": PASSWORD})
        assert signed_in.status_code in (302, 303), signed_in.status_code
        pages, skipped = urls(app, records, configs.flow_ids()[0], opts.calls)
        statements: list[str] = []
        records.db.read(lambda c: c.set_trace_callback(statements.append))
        records.db._writer_conn.set_trace_callback(statements.append)  # a page that writes (none should)
        figures: dict[str, Any] = {}
        try:
            for name, url in pages.items():
                times, counts = [], []
                for _ in range(opts.repeat):
                    statements.clear()
                    started = time.perf_counter()
                    response = client.get(url)
                    body = response.get_data()
                    times.append(time.perf_counter() - started)
                    counts.append(len(statements))
                figures[name] = {"url": url, "status": response.status_code, "kb": round(len(body) / 1024, 1),
                                 "best_ms": round(1000 * min(times), 1),
                                 "median_ms": round(1000 * statistics.median(times), 1), "queries": max(counts)}
        finally:
            records.close()
            configs.close()
    out["pages"] = figures
    out["not_timed"] = skipped
    out["not_200"] = {name: f["status"] for name, f in figures.items() if f["status"] != 200}
    out["over_budget"] = {name: f["best_ms"] for name, f in figures.items() if f["best_ms"] >= BUDGET_MS}
    print(json.dumps(out) if opts.json else json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
