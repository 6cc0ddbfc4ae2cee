"""Statistics and CSV exports at 100,000 calls.

    .venv/bin/python bench/stats.py --json [--calls 100000] [--days 90] [--repeat 3]

Seeds a temporary records file through the box's own schema (RecordsStore's migrations) with ``--calls`` ended
calls over ``--days`` days (five call tasks and scenarios, three flow versions; about 70 % answered, each with its
figures and 2-12 turns), written with executemany in one transaction. Then, through ``RecordsStore`` as the
panel uses it: each grouping over every call, a week's statistics by day, and both CSV exports of every call
(drained as the web server would send them), each with its time (best of ``--repeat``), the export's size, and
the peak Python memory tracemalloc saw in one more run. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sqlite3
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from appliance.records.stats import GROUPINGS, CallFilter, StatsQuery
from appliance.records.store import RecordsStore, iso

ZONE = ZoneInfo("Europe/Berlin")
END = datetime(2026, 12, 1, tzinfo=UTC)
OUTCOMES = (("completed", 0.5), ("hung_up", 0.1), ("machine", 0.07), ("interrupted", 0.03), ("no_answer", 0.2),
            ("busy", 0.07), ("rejected", 0.03))
ANSWERED = {"completed", "hung_up", "machine", "interrupted"}
DISPOSITIONS = ("confirmed", "confirmed", "confirmed", "rescheduled", "call_later", "do_not_call")
INTENTS = ("confirm", "confirm", "reschedule", "later", "stop", "person", "wrong_number")
SAID = ("yes someone will be home", "no not tomorrow", "call me on friday at three", "who is this",
        "please take my number off your list", "where is my parcel")


def seed(path: Path, calls: int, days: int, rng: random.Random) -> dict[str, Any]:
    RecordsStore(path).close()  # the schema, as the box makes it
    started = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    now = iso(END)
    conn.executemany("INSERT INTO call_tasks (id, name, source, flow_id, state, created_at, updated_at)"
                     " VALUES (?,?,?,?,?,?,?)",
                     [(i, f"scenario-{i}", "trigger", "delivery" if i < 4 else "reminder", "running", now, now)
                      for i in range(1, 6)])
    tickets = calls // 2
    conn.executemany(
        "INSERT INTO tickets (id, type, subject, description, customer_name, customer_phone, order_id,"
        " order_status, payload, status, decision, reason, received_at, updated_at, scenario)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [(f"T{i}", "delivery", "Parcel", "", "Ann", f"+1555{i:07d}", f"A{i}", "shipped", "{}", "closed", "call",
          "rule", now, now, f"scenario-{i % 5 + 1}") for i in range(tickets)])
    conn.executemany(
        "INSERT INTO tasks (id, ticket_id, flow_id, state, attempts, max_attempts, next_attempt_at, created_at,"
        " updated_at, call_task_id) VALUES (?,?,?,?,?,?,?,?,?,?)",
        [(i + 1, f"T{i}", "delivery" if i % 5 < 3 else "reminder", "completed", 2, 3, now, now, now, i % 5 + 1)
         for i in range(tickets)])
    span = days * 86400
    starts = sorted(rng.uniform(0, span) for _ in range(calls))
    call_rows, turn_rows = [], []
    outcomes, weights = zip(*OUTCOMES, strict=True)
    for n, offset in enumerate(starts, start=1):
        i = rng.randrange(tickets)
        at = END - timedelta(seconds=span - offset)
        outcome = rng.choices(outcomes, weights)[0]
        answered = outcome in ANSWERED
        talk = rng.randint(8, 400) if answered else None
        said = rng.randint(1, 6) if answered and outcome != "machine" else 0
        intent = rng.choice(INTENTS) if said else None
        flow = "delivery" if i % 5 < 3 else "reminder"
        call_rows.append((
            n, i + 1, f"T{i}", f"+1555{i:07d}", f"sim{n % 2}", flow, 1 + (n % 3 if flow == "delivery" else 0),
            outcome, iso(at), iso(at + timedelta(seconds=4)) if answered else None,
            iso(at + timedelta(seconds=4 + (talk or 30))), outcome,
            rng.choice(DISPOSITIONS) if outcome == "completed" else None, "Call ended.",
            rng.randint(10, 100) if said else None, rng.choice("ABCD") if said else None, rng.randint(2000, 30000),
            talk * 1000 if talk else None, rng.randint(1000, 60000) if answered else None,
            rng.randint(3000, 90000) if answered else None, said, rng.randint(0, 2) if answered else None,
            rng.randint(0, 3) if answered else None, rng.randint(0, 9000) if answered else None,
            rng.randint(0, 2) if answered else 0, rng.randint(0, 1) if answered else 0, intent, i % 5 + 1,
            f"scenario-{i % 5 + 1}", 2))
        for seq in range(2 * said + (1 if answered else 0)):
            customer = seq % 2 == 1
            turn_rows.append((n, seq, "customer" if customer else "bot",
                              rng.choice(SAID) if customer else "Hello Ann, this is Corner Shop about your order.",
                              intent if customer else None, 0.8 if customer else None, "ask", seq * 2500,
                              "speech" if customer else "prompt"))
    conn.executemany(
        "INSERT INTO calls (id, task_id, ticket_id, phone, line, flow_id, flow_version, state, started_at,"
        " answered_at, ended_at, outcome, disposition, remark, strength_score, strength_grade, ring_ms, duration_ms,"
        " customer_talk_ms, bot_talk_ms, customer_turns, interruptions, silences, longest_silence_ms, no_matches,"
        " kb_answers, intent, call_task_id, scenario, attempt)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", call_rows)
    conn.executemany("INSERT INTO turns (call_id, seq, speaker, text, intent, confidence, node, at_ms, event)"
                     " VALUES (?,?,?,?,?,?,?,?,?)", turn_rows)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return {"calls": calls, "turns": len(turn_rows), "seed_s": round(time.perf_counter() - started, 2),
            "file_mb": round(path.stat().st_size / 1e6, 1)}


def measure(run: Callable[[], Any], repeat: int) -> dict[str, Any]:
    """Best time of ``repeat`` runs, then the peak Python memory of one more run under tracemalloc (which slows
    it, so it is not timed)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    tracemalloc.start()
    result = run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"s": round(best, 3), "peak_mb": round(peak / 1e6, 2), "result": result}


def drain(store: RecordsStore, kind: str) -> dict[str, int]:
    size = rows = 0
    for chunk in store.export_csv(kind, CallFilter()):
        size += len(chunk.encode())
        rows += chunk.count("\r\n")
    return {"bytes": size, "rows": rows - 1}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="(output is always JSON)")
    opts = ap.parse_args()
    out: dict[str, Any] = {"machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
                           "python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "callbox.db"
        out["seeded"] = seed(path, opts.calls, opts.days, random.Random(12))
        store = RecordsStore(path)
        try:
            groupings = {}
            for group_by in GROUPINGS:
                m = measure(lambda g=group_by: store.stats(StatsQuery(group_by=g), ZONE), opts.repeat)
                groupings[group_by] = {"s": m["s"], "peak_mb": m["peak_mb"], "groups": len(m["result"]["groups"]),
                                       "calls": m["result"]["total"]["calls"]}
            out["stats_all_calls"] = groupings
            week = CallFilter(since=END - timedelta(days=7), until=END)
            m = measure(lambda: store.stats(StatsQuery(group_by="day", calls=week), ZONE), opts.repeat)
            out["stats_week_by_day"] = {"s": m["s"], "peak_mb": m["peak_mb"], "calls": m["result"]["total"]["calls"]}
            for kind in ("calls", "turns"):
                m = measure(lambda k=kind: drain(store, k), opts.repeat)
                out[f"export_{kind}_csv"] = {"s": m["s"], "mb": round(m["result"]["bytes"] / 1e6, 1),
                                             "rows": m["result"]["rows"], "peak_mb": m["peak_mb"]}
        finally:
            store.close()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
