"""Call records in SQLite: tickets, tasks, calls, turns, ticket operations, outbox, users."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from appliance.records.db import Database
from appliance.records.dnc import DoNotCall

ACTIVE_TICKET = ("open", "calling")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class TicketRow:
    id: str
    type: str
    subject: str
    description: str
    customer_name: str
    customer_phone: str
    order_id: str
    order_status: str
    payload: dict[str, Any]
    status: str
    decision: str
    reason: str
    flow_id: str | None
    next_call_at: str | None


@dataclass(frozen=True)
class TaskRow:
    id: int
    ticket_id: str
    flow_id: str
    state: str
    attempts: int
    max_attempts: int
    next_attempt_at: str


@dataclass(frozen=True)
class Turn:
    speaker: str
    text: str
    intent: str | None = None
    confidence: float | None = None
    node: str | None = None
    at_ms: int = 0


@dataclass(frozen=True)
class Submission:
    ticket_id: str
    task_id: int | None
    decision: str
    reason: str
    duplicate: bool


class RecordsStore:
    def __init__(self, path: Path) -> None:
        self.db = Database(path)
        self.do_not_call = DoNotCall(self.db)  # numbers that asked not to be called again

    def close(self) -> None:
        self.db.close()

    # -- tickets -----------------------------------------------------------
    def submit_ticket(
        self,
        *,
        webhook_id: str,
        fields: dict[str, str],
        payload: dict[str, Any],
        decision: str,
        reason: str,
        flow_id: str | None,
        max_attempts: int,
    ) -> Submission:
        """Store a ticket and its call task in one transaction; idempotent per webhook id."""

        def tx(c: sqlite3.Connection) -> Submission:
            seen = c.execute("SELECT ticket_id FROM webhook_messages WHERE id=?", (webhook_id,)).fetchone()
            if seen is not None:
                return self._existing(c, seen["ticket_id"])
            ts = now_iso()
            existing = c.execute("SELECT status FROM tickets WHERE id=?", (fields["id"],)).fetchone()
            if existing is not None and existing["status"] in ACTIVE_TICKET:
                c.execute("INSERT INTO webhook_messages VALUES (?,?,?)", (webhook_id, fields["id"], ts))
                return self._existing(c, fields["id"])
            status = "open" if decision == "call" else "skipped"
            row = (
                fields["id"],
                fields["type"],
                fields["subject"],
                fields["description"],
                fields["customer_name"],
                fields["customer_phone"],
                fields["order_id"],
                fields["order_status"],
                json.dumps(payload, ensure_ascii=False),
                status,
                decision,
                reason,
                flow_id,
                None,
                ts,
                ts,
            )
            c.execute(
                "INSERT INTO tickets VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
                "type=excluded.type, subject=excluded.subject, description=excluded.description, "
                "customer_name=excluded.customer_name, customer_phone=excluded.customer_phone, "
                "order_id=excluded.order_id, order_status=excluded.order_status, payload=excluded.payload, "
                "status=excluded.status, decision=excluded.decision, reason=excluded.reason, "
                "flow_id=excluded.flow_id, updated_at=excluded.updated_at",
                row,
            )
            c.execute("INSERT INTO webhook_messages VALUES (?,?,?)", (webhook_id, fields["id"], ts))
            task_id = None
            if decision == "call" and flow_id is not None:
                cur = c.execute(
                    "INSERT INTO tasks (ticket_id, flow_id, state, attempts, max_attempts, next_attempt_at,"
                    " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)",
                    (fields["id"], flow_id, "pending", 0, max_attempts, ts, ts, ts),
                )
                task_id = cur.lastrowid
            return Submission(fields["id"], task_id, decision, reason, duplicate=False)

        return self.db.write(tx)

    @staticmethod
    def _existing(c: sqlite3.Connection, ticket_id: str) -> Submission:
        t = c.execute("SELECT decision, reason FROM tickets WHERE id=?", (ticket_id,)).fetchone()
        task = c.execute("SELECT id FROM tasks WHERE ticket_id=? ORDER BY id DESC LIMIT 1", (ticket_id,)).fetchone()
        return Submission(ticket_id, task["id"] if task else None, t["decision"], t["reason"], duplicate=True)

    def ticket(self, ticket_id: str) -> TicketRow | None:
        row = self.db.read(lambda c: c.execute("SELECT * FROM tickets WHERE id=?", (ticket_id,)).fetchone())
        return _ticket(row) if row else None

    def tickets(self, *, limit: int = 100) -> list[TicketRow]:
        rows = self.db.read(
            lambda c: c.execute("SELECT * FROM tickets ORDER BY received_at DESC LIMIT ?", (limit,)).fetchall()
        )
        return [_ticket(r) for r in rows]

    def set_ticket_status(self, ticket_id: str, status: str, *, next_call_at: str | None = None) -> None:
        self.db.write(
            lambda c: c.execute(
                "UPDATE tickets SET status=?, next_call_at=?, updated_at=? WHERE id=?",
                (status, next_call_at, now_iso(), ticket_id),
            )
        )

    # -- tasks -------------------------------------------------------------
    def claim_due_task(self, now: datetime) -> TaskRow | None:
        """Atomically take the oldest due pending task and mark it running."""

        def tx(c: sqlite3.Connection) -> TaskRow | None:
            row = c.execute(
                "SELECT * FROM tasks WHERE state='pending' AND next_attempt_at<=? ORDER BY next_attempt_at, id LIMIT 1",
                (iso(now),),
            ).fetchone()
            if row is None:
                return None
            c.execute(
                "UPDATE tasks SET state='running', attempts=attempts+1, updated_at=? WHERE id=?",
                (now_iso(), row["id"]),
            )
            c.execute("UPDATE tickets SET status='calling', updated_at=? WHERE id=?", (now_iso(), row["ticket_id"]))
            return TaskRow(
                row["id"],
                row["ticket_id"],
                row["flow_id"],
                "running",
                row["attempts"] + 1,
                row["max_attempts"],
                row["next_attempt_at"],
            )

        return self.db.write(tx)

    def reset_running_tasks(self) -> int:
        """After a restart nothing is running: put interrupted tasks back in the queue."""
        return self.db.write(
            lambda c: (
                c.execute("UPDATE tasks SET state='pending', updated_at=? WHERE state='running'", (now_iso(),)).rowcount
            )
        )

    def finish_task(self, task_id: int, *, state: str, outcome: str, next_attempt_at: str | None = None) -> None:
        self.db.write(
            lambda c: c.execute(
                "UPDATE tasks SET state=?, last_outcome=?, next_attempt_at=COALESCE(?, next_attempt_at),"
                " updated_at=? WHERE id=?",
                (state, outcome, next_attempt_at, now_iso(), task_id),
            )
        )

    def add_task(self, ticket_id: str, flow_id: str, *, at: datetime, max_attempts: int, attempts: int = 0) -> int:
        return self.db.write(lambda c: _add_task(c, ticket_id, flow_id, iso(at), max_attempts, attempts))

    def next_due_at(self) -> str | None:
        row = self.db.read(
            lambda c: c.execute("SELECT MIN(next_attempt_at) FROM tasks WHERE state='pending'").fetchone()
        )
        return row[0] if row else None

    def task(self, task_id: int) -> TaskRow | None:
        row = self.db.read(lambda c: c.execute("SELECT * FROM tasks WHERE id=?", (task_id,)).fetchone())
        if row is None:
            return None
        return TaskRow(
            row["id"],
            row["ticket_id"],
            row["flow_id"],
            row["state"],
            row["attempts"],
            row["max_attempts"],
            row["next_attempt_at"],
        )

    # -- calls -------------------------------------------------------------
    def start_call(self, *, task: TaskRow, phone: str, line: str, flow_version: int) -> int:
        def tx(c: sqlite3.Connection) -> int:
            cur = c.execute(
                "INSERT INTO calls (task_id, ticket_id, phone, line, flow_id, flow_version, state, started_at)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (task.id, task.ticket_id, phone, line, task.flow_id, flow_version, "dialing", now_iso()),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

        return self.db.write(tx)

    def mark_answered(self, call_id: int) -> None:
        self.db.write(
            lambda c: c.execute("UPDATE calls SET state='answered', answered_at=? WHERE id=?", (now_iso(), call_id))
        )

    def set_recording(self, call_id: int, path: Path) -> None:
        self.db.write(lambda c: c.execute("UPDATE calls SET recording=? WHERE id=?", (str(path), call_id)))

    def finish_call(
        self,
        call_id: int,
        *,
        outcome: str,
        cause: int | None,
        disposition: str | None,
        remark: str,
        turns: Sequence[Turn],
        operations: Sequence[tuple[str, str]],
        outbox: Sequence[tuple[str, dict[str, Any]]],
        slots: dict[str, Any] | None = None,
        strength: dict[str, Any] | None = None,
    ) -> None:
        """Close a call: outcome, turns, ticket operations and outbox rows, all in one transaction.
        ``slots`` (JSON-ready) and ``strength`` (``{"score", "grade", "reasons"}``) are what the flow made of it."""

        def tx(c: sqlite3.Connection) -> None:
            ts = now_iso()
            row = c.execute("SELECT ticket_id FROM calls WHERE id=?", (call_id,)).fetchone()
            c.execute(
                "UPDATE calls SET state='ended', ended_at=?, outcome=?, cause=?, disposition=?, remark=?, slots=?,"
                " strength_score=?, strength_grade=?, strength_reasons=? WHERE id=?",
                (ts, outcome, cause, disposition, remark,
                 json.dumps(slots, ensure_ascii=False) if slots else None,
                 strength["score"] if strength else None, strength["grade"] if strength else None,
                 json.dumps(strength["reasons"], ensure_ascii=False) if strength else None, call_id),
            )
            c.executemany(
                "INSERT INTO turns (call_id, seq, speaker, text, intent, confidence, node, at_ms)"
                " VALUES (?,?,?,?,?,?,?,?)",
                [(call_id, i, t.speaker, t.text, t.intent, t.confidence, t.node, t.at_ms) for i, t in enumerate(turns)],
            )
            c.executemany(
                "INSERT INTO ticket_operations (ticket_id, call_id, kind, detail, created_at) VALUES (?,?,?,?,?)",
                [(row["ticket_id"], call_id, kind, detail, ts) for kind, detail in operations],
            )
            c.executemany(
                "INSERT INTO outbox (topic, payload, created_at, next_try_at) VALUES (?,?,?,?)",
                [(topic, json.dumps(body, ensure_ascii=False), ts, ts) for topic, body in outbox],
            )

        self.db.write(tx)

    def calls(self, *, limit: int = 100, ticket_id: str | None = None) -> list[dict[str, Any]]:
        def q(c: sqlite3.Connection) -> list[dict[str, Any]]:
            sql = "SELECT calls.*, tickets.customer_name FROM calls JOIN tickets ON tickets.id = calls.ticket_id"
            args: tuple[Any, ...] = ()
            if ticket_id is not None:
                sql += " WHERE calls.ticket_id=?"
                args = (ticket_id,)
            rows = c.execute(sql + " ORDER BY calls.id DESC LIMIT ?", (*args, limit)).fetchall()
            return [self._call_dict(c, r) for r in rows]

        return self.db.read(q)

    def call(self, call_id: int) -> dict[str, Any] | None:
        def q(c: sqlite3.Connection) -> dict[str, Any] | None:
            r = c.execute(
                "SELECT calls.*, tickets.customer_name FROM calls JOIN tickets ON tickets.id = calls.ticket_id"
                " WHERE calls.id=?",
                (call_id,),
            ).fetchone()
            return self._call_dict(c, r) if r else None

        return self.db.read(q)

    @staticmethod
    def _call_dict(c: sqlite3.Connection, r: sqlite3.Row) -> dict[str, Any]:
        turns = c.execute(
            "SELECT speaker, text, intent, confidence, node, at_ms FROM turns WHERE call_id=? ORDER BY seq",
            (r["id"],),
        ).fetchall()
        d = dict(r)
        d["slots"] = json.loads(r["slots"]) if r["slots"] else {}
        d["intent_strength"] = None if r["strength_grade"] is None else {
            "score": r["strength_score"], "grade": r["strength_grade"],
            "reasons": json.loads(r["strength_reasons"] or "[]")}
        for key in ("strength_score", "strength_grade", "strength_reasons"):
            d.pop(key, None)
        d["turns"] = [dict(t) for t in turns]
        d["duration_s"] = _duration(r["answered_at"], r["ended_at"])
        return d

    def operations(self, ticket_id: str) -> list[dict[str, Any]]:
        rows = self.db.read(
            lambda c: c.execute(
                "SELECT kind, detail, call_id, created_at FROM ticket_operations WHERE ticket_id=? ORDER BY id",
                (ticket_id,),
            ).fetchall()
        )
        return [dict(r) for r in rows]

    def add_operation(self, ticket_id: str, kind: str, detail: str, *, outbox: dict[str, Any] | None = None) -> None:
        def tx(c: sqlite3.Connection) -> None:
            ts = now_iso()
            c.execute(
                "INSERT INTO ticket_operations (ticket_id, call_id, kind, detail, created_at) VALUES (?,?,?,?,?)",
                (ticket_id, None, kind, detail, ts),
            )
            if outbox is not None:
                c.execute(
                    "INSERT INTO outbox (topic, payload, created_at, next_try_at) VALUES (?,?,?,?)",
                    ("ticket.operation", json.dumps(outbox, ensure_ascii=False), ts, ts),
                )

        self.db.write(tx)

    # -- outbox ------------------------------------------------------------
    def outbox_due(self, now: datetime, *, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.db.read(
            lambda c: c.execute(
                "SELECT * FROM outbox WHERE delivered_at IS NULL AND next_try_at<=? ORDER BY id LIMIT ?",
                (iso(now), limit),
            ).fetchall()
        )
        return [dict(r) for r in rows]

    def outbox_delivered(self, item_id: int) -> None:
        self.db.write(
            lambda c: c.execute(
                "UPDATE outbox SET delivered_at=?, attempts=attempts+1 WHERE id=?", (now_iso(), item_id)
            )
        )

    def outbox_failed(self, item_id: int, error: str, next_try_at: datetime) -> None:
        self.db.write(
            lambda c: c.execute(
                "UPDATE outbox SET attempts=attempts+1, last_error=?, next_try_at=? WHERE id=?",
                (error[:500], iso(next_try_at), item_id),
            )
        )

    # -- users -------------------------------------------------------------
    def set_user(self, username: str, password_hash: str) -> None:
        self.db.write(
            lambda c: c.execute(
                "INSERT INTO users VALUES (?,?,?) ON CONFLICT(username) DO UPDATE"
                " SET password_hash=excluded.password_hash",
                (username, password_hash, now_iso()),
            )
        )

    def password_hash(self, username: str) -> str | None:
        row = self.db.read(
            lambda c: c.execute("SELECT password_hash FROM users WHERE username=?", (username,)).fetchone()
        )
        return row[0] if row else None


def _ticket(r: sqlite3.Row) -> TicketRow:
    return TicketRow(
        r["id"],
        r["type"],
        r["subject"],
        r["description"],
        r["customer_name"],
        r["customer_phone"],
        r["order_id"],
        r["order_status"],
        json.loads(r["payload"]),
        r["status"],
        r["decision"],
        r["reason"],
        r["flow_id"],
        r["next_call_at"],
    )


def _duration(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 1)


def _add_task(c: sqlite3.Connection, ticket_id: str, flow_id: str, at: str, max_attempts: int, attempts: int) -> int:
    ts = now_iso()
    cur = c.execute(
        "INSERT INTO tasks (ticket_id, flow_id, state, attempts, max_attempts, next_attempt_at, created_at,"
        " updated_at) VALUES (?,?,?,?,?,?,?,?)",
        (ticket_id, flow_id, "pending", attempts, max_attempts, at, ts, ts),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid
