"""The dashboard and the Modems page at 100,000 calls.

    .venv/bin/python bench/live.py [--calls 100000] [--today 2000] [--repeat 5]

Seeds a temporary records file as ``bench/stats.py`` does (``--calls`` ended calls over 90 days), then moves the
newest ``--today`` of them to the start of today on the shop's clock, so "today" has calls to count. Then, through
the box's own ``LiveAdmin`` on that file: today's counters (what the dashboard reads on opening and after each
attempt), and the two pages rendered whole by the Flask app (``GET /dashboard``, ``GET /modems``) with a signed-in
session; each the best of ``--repeat``. Prints JSON.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from appliance.campaign.scheduler import start_of_day
from appliance.panel.dashboard import LiveAdmin
from appliance.panel.live import LiveBoard
from appliance.panel.modems import ModemsAdmin
from appliance.records.store import RecordsStore, iso
from web import create_app

ZONE = ZoneInfo("Europe/Berlin")


def load_stats_bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_stats", Path(__file__).with_name("stats.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_stats"] = module
    spec.loader.exec_module(module)
    return module


def move_to_today(path: Path, count: int) -> None:
    """The newest ``count`` calls start (and end) over the first hours of today, the shop's day."""
    first = start_of_day(datetime.now(UTC), ZONE)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    top = conn.execute("SELECT max(id) FROM calls").fetchone()[0]
    rows = []
    for n, call_id in enumerate(range(top - count + 1, top + 1)):
        at = first + timedelta(seconds=n * 7)
        rows.append((iso(at), iso(at + timedelta(seconds=60)), call_id))
    conn.executemany("UPDATE calls SET started_at = ?, ended_at = ? WHERE id = ?", rows)
    conn.execute("COMMIT")
    conn.close()


class PageService:
    """What the two pages ask of the box: the live part is the real one, the status strip a fixed one."""

    webhook_secret = "whsec_" + "A" * 43

    def __init__(self, live: LiveAdmin) -> None:
        self.live = live

    def status(self) -> dict[str, Any]:
        return {"lines": [], "asr": {"engine": "vosk", "fallback_reason": None}, "version": "bench"}


def best(run: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return round(min(times) * 1000, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--today", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=5)
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "records.db"
        seeded = load_stats_bench().seed(path, opts.calls, 90, random.Random(7))
        move_to_today(path, opts.today)
        records = RecordsStore(path)
        try:
            board = LiveBoard()
            live = LiveAdmin(board=board, records=records, zone=ZONE,
                             modems=ModemsAdmin(board=board, lines=[], records=records))
            counters = live.counters()
            assert counters["today"]["calls"] == opts.today, counters["today"]
            app = create_app(PageService(live), secret_key="bench")  # type: ignore[arg-type]
            client = app.test_client()
            with client.session_transaction() as session:
                session["user"] = "bench"

            def page(url: str) -> Callable[[], None]:
                def get() -> None:
                    response = client.get(url)
                    assert response.status_code == 200, response.status_code
                return get

            figures = {
                "counters_ms": best(live.counters, opts.repeat),
                "dashboard_page_ms": best(page("/dashboard"), opts.repeat),
                "modems_page_ms": best(page("/modems"), opts.repeat),
            }
        finally:
            records.close()
    print(json.dumps({"seed": seeded, "today": opts.today, "repeat": opts.repeat, **figures,
                      "python": platform.python_version(), "machine": platform.machine()}, indent=2))


if __name__ == "__main__":
    main()
