"""Signed webhook tickets per second, and their latency, with many tickets already stored.

    .venv/bin/python bench/ingest.py [--stored 100000] [--tickets 3000] [--clients 8] [--lines 2] [--json]

The real box (``appliance.box.Callbox``: SQLite records, the intake with its rules and guards, the waitress
server on 127.0.0.1) holds ``--stored`` tickets already, each with a pending call task, so its ``--lines``
simulated modems are calling the whole time (real piper and PocketSphinx in the calls). ``--clients`` threads
then post ``--tickets`` new tickets, each signed per Standard Webhooks over HTTP keep-alive, and the figures
are the throughput and the latency of the acknowledgements (202 only after the ticket is committed).

The clients run in a process of their own, as a helpdesk is another machine: threads in the box's process
would take the box's GIL to sign and parse, and their own work would be counted as the box's latency.
``--clients-in-process`` runs them there anyway (how this bench measured until December 2026).

Beside it, the same HTTP route and signature check in front of TinyDB-only storage (the ticket and its
delivery id as JSON documents, one insert each; TinyDB rewrites its whole file per insert) with the same
number of tickets already stored; it is slow, so it gets ``--tinydb-tickets`` tickets.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import os
import platform
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from standardwebhooks.webhooks import Webhook
from tinydb import Query, TinyDB

SECRET = "whsec_" + "YmVuY2gtaW5nZXN0LXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm"


def ticket(i: int, prefix: str) -> dict[str, Any]:
    return {"id": f"{prefix}-{i}", "type": "delivery", "subject": "Parcel out for delivery",
            "description": "Order shipped; confirm someone is home.",
            "customer": {"name": "Alice Moreau", "phone": f"+1555{i % 10_000_000:07d}"},
            "order": {"id": f"{100000 + i}", "status": "shipped"}}


def prefill_sqlite(path: Path, count: int) -> None:
    """``count`` tickets with their pending tasks, written in one transaction (as if received over time)."""
    from appliance.records.store import RecordsStore

    store = RecordsStore(path)
    try:
        def tx(c: Any) -> None:
            columns = [r[1] for r in c.execute("PRAGMA table_info(tickets)")]
            now = datetime.now(UTC).isoformat(timespec="milliseconds")
            values = {"status": "open", "decision": "call", "reason": "prefill", "flow_id": "delivery-confirmation",
                      "next_call_at": None, "received_at": now, "updated_at": now, "vars": "{}"}
            rows = []
            for i in range(count):
                t = ticket(i, "OLD")
                row = {"id": t["id"], "type": "delivery", "subject": t["subject"], "description": t["description"],
                       "customer_name": "Alice Moreau", "customer_phone": t["customer"]["phone"],
                       "order_id": t["order"]["id"], "order_status": "shipped", "payload": json.dumps(t), **values}
                rows.append(tuple(row.get(col) for col in columns))
            c.executemany(f"INSERT INTO tickets ({','.join(columns)}) VALUES ({','.join('?' * len(columns))})", rows)
            c.executemany("INSERT INTO webhook_messages VALUES (?,?,?)",
                          [(f"old-{i}", f"OLD-{i}", now) for i in range(count)])
            c.executemany("INSERT INTO tasks (ticket_id, flow_id, state, attempts, max_attempts, next_attempt_at,"
                          " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)",
                          [(f"OLD-{i}", "delivery-confirmation", "pending", 0, 1, now, now, now) for i in range(count)])

        store.db.write(tx, timeout=600)
    finally:
        store.close()


def post_all(port: int, tickets: list[dict[str, Any]], clients: int, *, in_process: bool = False
             ) -> tuple[list[float], int, float]:
    """Post each ticket once from ``clients`` threads, in a process of their own unless ``in_process``;
    (latencies in ms, non-202 answers, wall seconds)."""
    if not in_process:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            return pool.submit(post_all, port, tickets, clients, in_process=True).result()
    webhook = Webhook(SECRET)
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    chunks = [tickets[i::clients] for i in range(clients)]

    def client(chunk: list[dict[str, Any]]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for t in chunk:
            body = json.dumps(t)
            msg_id = f"msg_{uuid.uuid4().hex}"
            now = datetime.now(UTC)
            headers = {"content-type": "application/json", "webhook-id": msg_id,
                       "webhook-timestamp": str(int(now.timestamp())),
                       "webhook-signature": webhook.sign(msg_id, now, body)}
            started = time.perf_counter()
            conn.request("POST", "/api/v1/tickets", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            took = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(took)
                failures[0] += response.status != 202
        conn.close()

    threads = [threading.Thread(target=client, args=(c,), name=f"client-{i}") for i, c in enumerate(chunks)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, failures[0], time.perf_counter() - started


def figures(latencies: list[float], failures: int, wall: float) -> dict[str, Any]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {"tickets": len(latencies), "non_202": failures, "seconds": round(wall, 2),
            "tickets_per_s": round(len(latencies) / wall, 1), "p50_ms": round(statistics.median(ordered), 2),
            "p99_ms": round(p99, 2), "max_ms": round(ordered[-1], 2)}


def run_box(stored: int, count: int, clients: int, lines: int, clients_in_process: bool) -> dict[str, Any]:
    import waitress

    from appliance.box import Callbox
    from appliance.cli.demo import CAST, demo_config
    from appliance.sim.customer import CustomerScript
    from appliance.sim.huawei import SimulatedHuaweiModem
    from web import create_app

    state = Path(tempfile.mkdtemp(prefix="callbox-ingest-"))
    started = time.perf_counter()
    prefill_sqlite(state / "callbox.db", stored)
    prefill_s = time.perf_counter() - started

    def callee(number: str) -> CustomerScript:
        return CAST[int(number[-1]) % len(CAST)].script()

    sims = [SimulatedHuaweiModem(callee, ring_ms=800) for _ in range(lines)]
    for sim in sims:
        sim.start()
    config = demo_config(state, sims, 0)
    config = dataclasses.replace(config, web=dataclasses.replace(config.web, webhook_secret=SECRET))
    box = Callbox(config, shop_name="Corner Shop")
    server = waitress.create_server(create_app(box.panel, secret_key=box.session_key), host="127.0.0.1", port=0,
                                    threads=8)
    web = threading.Thread(target=server.run, name="web", daemon=True)
    web.start()
    box.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(line.state.value == "in_call" for line in box.lines):
            time.sleep(0.1)  # the load starts once every line is in a call
        in_call: list[int] = []
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.1):
                in_call.append(sum(line.state.value == "in_call" for line in box.lines))

        sampler = threading.Thread(target=sample, name="sampler")
        sampler.start()
        latencies, failures, wall = post_all(server.effective_port, [ticket(i, "NEW") for i in range(count)],
                                             clients, in_process=clients_in_process)
        done.set()
        sampler.join()
    finally:
        server.close()
        box.stop()
        for sim in sims:
            sim.stop()
    return {"storage": "sqlite (the box)", "stored_before": stored, "prefill_s": round(prefill_s, 1),
            "lines": lines, "clients": "in the box's process" if clients_in_process else "a process of their own",
            "lines_in_call_mean": round(statistics.mean(in_call), 2) if in_call else 0.0,
            **figures(latencies, failures, wall)}


class TinyIntake:
    """Ticket admission on TinyDB only: dedupe on the delivery id, then insert the ticket document."""

    def __init__(self, path: Path, stored: int) -> None:
        self.db = TinyDB(path)
        self.db.insert_multiple({"webhook_id": f"old-{i}", **ticket(i, "OLD"), "status": "open"}
                                for i in range(stored))
        self.webhook_secret = SECRET
        self.lock = threading.Lock()  # TinyDB is not thread-safe

    def submit_ticket(self, payload: dict[str, Any], *, webhook_id: str) -> dict[str, Any]:
        with self.lock:
            if self.db.contains(Query().webhook_id == webhook_id):
                return {"ticket": payload["id"], "decision": "call", "reason": "", "task": None, "duplicate": True}
            self.db.insert({"webhook_id": webhook_id, **payload, "status": "open"})
        return {"ticket": payload["id"], "decision": "call", "reason": "tinydb", "task": None, "duplicate": False}


def run_tinydb(stored: int, count: int, clients: int) -> dict[str, Any]:
    import waitress

    from web import create_app

    path = Path(tempfile.mkdtemp(prefix="callbox-ingest-tinydb-")) / "tickets.json"
    intake = TinyIntake(path, stored)
    server = waitress.create_server(create_app(intake), host="127.0.0.1", port=0, threads=8)  # type: ignore[arg-type]
    web = threading.Thread(target=server.run, name="web-tinydb", daemon=True)
    web.start()
    try:
        latencies, failures, wall = post_all(server.effective_port, [ticket(i, "NEW") for i in range(count)],
                                             clients)
    finally:
        server.close()
    return {"storage": "tinydb only", "stored_before": stored, "file_mb": round(path.stat().st_size / 1e6, 1),
            **figures(latencies, failures, wall)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=100_000)
    parser.add_argument("--tickets", type=int, default=3000)
    parser.add_argument("--tinydb-tickets", type=int, default=40)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--lines", type=int, default=2)
    parser.add_argument("--clients-in-process", action="store_true",
                        help="post from threads in the box's process (the old harness), not a process of their own")
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()
    load = os.getloadavg()
    out = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_before": load},
        "box": run_box(opts.stored, opts.tickets, opts.clients, opts.lines, opts.clients_in_process),
        "tinydb": run_tinydb(opts.stored, opts.tinydb_tickets, opts.clients),
        "target": {"tickets_per_s": 300, "p99_ms": 50},
    }
    out["machine"]["load_after"] = os.getloadavg()
    print(json.dumps(out, indent=None if opts.json else 2))


if __name__ == "__main__":
    main()
