"""Why call records live in SQLite, not TinyDB: per-insert cost as the store grows.

    .venv/bin/python bench/store_compare.py [--sizes 100 1000 5000] [--json]

TinyDB (JSONStorage, as shipped) rewrites its whole file on every insert, so an
insert costs time proportional to the number of records already stored.
SQLite through Callbox's RecordsStore (WAL, synchronous=FULL, one writer
thread) appends. Each figure is the mean of the inserts made after the store
already holds N records.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from tinydb import TinyDB

from appliance.records.conclusion import CallEnd, Conclusion, TaskEnd
from appliance.records.store import RecordsStore, Ticket, Turn


def call_record(i: int) -> dict[str, object]:
    return {
        "ticket": f"T-{i}",
        "phone": f"+1555{i:07d}",
        "outcome": "completed",
        "disposition": "confirmed",
        "remark": "Customer confirmed someone will be home for the delivery.",
        "turns": [
            {"speaker": "bot", "text": "Hello, this is the shop calling about your order."},
            {"speaker": "customer", "text": "yes someone will be home"},
        ],
    }


def bench_tinydb(root: Path, sizes: list[int], probe: int) -> dict[int, float]:
    db = TinyDB(str(root / "calls.json"))
    out, count = {}, 0
    for size in sizes:
        while count < size:
            db.insert(call_record(count))
            count += 1
        t0 = time.perf_counter()
        for _ in range(probe):
            db.insert(call_record(count))
            count += 1
        out[size] = (time.perf_counter() - t0) / probe * 1000
    out_file = (root / "calls.json").stat().st_size
    db.close()
    out[-1] = out_file
    return out


def bench_sqlite(root: Path, sizes: list[int], probe: int) -> dict[int, float]:
    store = RecordsStore(root / "callbox.db")
    fields = {
        "type": "delivery",
        "subject": "s",
        "description": "d",
        "customer_name": "A",
        "order_id": "1",
        "order_status": "shipped",
    }
    from datetime import UTC, datetime

    count = 0

    def insert(i: int) -> None:
        sub = store.submit_ticket(
            Ticket(**{**fields, "id": f"T-{i}", "customer_phone": f"+1{i}"}),
            webhook_id=f"m{i}",
            decision="call",
            reason="r",
            flow_id="f",
            max_attempts=1,
        )
        task = store.claim_due_task(datetime.now(UTC))
        assert task is not None and task.ticket_id == sub.ticket_id
        call = store.start_call(task=task, phone=f"+1{i}", line="sim0", flow_version=1)
        store.record_conclusion(Conclusion(
            TaskEnd(task.id, "completed", "completed"), sub.ticket_id, call_id=call,
            call=CallEnd("completed", None, "confirmed", "ok", (Turn("bot", "Hello"), Turn("customer", "yes"))),
            operations=(("close", "x"),), ticket_status="closed",
        ))

    out: dict[int, float] = {}
    for size in sizes:
        while count < size:
            insert(count)
            count += 1
        t0 = time.perf_counter()
        for _ in range(probe):
            insert(count)
            count += 1
        out[size] = (time.perf_counter() - t0) / probe * 1000
    store.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    ap.add_argument("--probe", type=int, default=20, help="inserts timed at each size")
    ap.add_argument("--json", action="store_true", help="(output is always JSON)")
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tiny = bench_tinydb(Path(tmp), opts.sizes, opts.probe)
        lite = bench_sqlite(Path(tmp), opts.sizes, opts.probe)
    print(
        json.dumps(
            {
                "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
                "python": platform.python_version(),
                "tinydb_ms_per_insert": {str(k): round(v, 3) for k, v in tiny.items() if k >= 0},
                "tinydb_file_bytes_at_end": int(tiny[-1]),
                "sqlite_ms_per_call_record": {str(k): round(v, 3) for k, v in lite.items()},
                "note": "sqlite figure is a whole call: ticket, task claim, call, 2 turns, operation; each committed",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
