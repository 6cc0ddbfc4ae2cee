"""The outbox table: messages waiting to leave the box, one ``target`` each.

Targets: ``ticket`` (ticket operations for the ticketing system) and ``upstream`` (finished calls' records for
``[upstream] url``, ``records.upstream``). Rows are written inside the transaction that records what they tell
(``records.conclusion``, ``add_operation``); each target's worker (``appliance.sync.outbox``,
``appliance.sync.upstream``) reads its due rows in small batches and marks each delivered, failed for now, or
given up. Rows of one ``order_key`` (a ticket's operations: the ticket id; a call's records: ``call:<id>``) go out
in the order they were written: a row is not due while an earlier row of the same target and key is still
undelivered; rows of other keys go on. A row the box gave up on no longer holds its key's later rows back.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from appliance.records.db import Database

__all__ = ["TARGETS", "Outbox", "OutboxItem", "enqueue"]

PENDING = "delivered_at IS NULL AND gave_up_at IS NULL"
TARGETS = ("ticket", "upstream")

_DUE = """
SELECT o.* FROM outbox o
WHERE o.target = ? AND o.delivered_at IS NULL AND o.gave_up_at IS NULL AND o.next_try_at <= ?
  AND NOT EXISTS (
    SELECT 1 FROM outbox e
    WHERE e.target = o.target AND e.order_key = o.order_key AND e.id < o.id
      AND e.delivered_at IS NULL AND e.gave_up_at IS NULL)
ORDER BY o.id LIMIT ?
"""


def enqueue(c: sqlite3.Connection, *, target: str, topic: str, payload: dict[str, Any], ts: str,
            order_key: str | None) -> int:
    """One outbox row, inside the caller's transaction; due at once."""
    if target not in TARGETS:
        raise ValueError(f"unknown outbox target {target!r}")
    cur = c.execute(
        "INSERT INTO outbox (target, topic, payload, created_at, next_try_at, order_key) VALUES (?,?,?,?,?,?)",
        (target, topic, json.dumps(payload, ensure_ascii=False), ts, ts, order_key))
    assert cur.lastrowid is not None
    return cur.lastrowid


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class OutboxItem:
    """One undelivered row, as the API shows it: ``state`` is ``pending`` (will be tried again) or ``failed``
    (the ticketing system refused it; the box gave up)."""

    id: int
    ticket: str | None
    operation: str | None
    created_at: str
    attempts: int
    next_try_at: str | None
    last_error: str | None
    state: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "ticket": self.ticket, "operation": self.operation, "created_at": self.created_at,
                "attempts": self.attempts, "next_try_at": self.next_try_at, "last_error": self.last_error,
                "state": self.state}


class Outbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    def due(self, now: datetime, *, limit: int = 20, target: str = "ticket") -> list[dict[str, Any]]:
        """Undelivered rows of ``target`` whose time has come and whose order key has no earlier undelivered row,
        oldest first, at most ``limit`` of them."""
        rows = self.db.read(lambda c: c.execute(_DUE, (target, _iso(now), limit)).fetchall())
        return [dict(r) for r in rows]

    def delivered(self, item_id: int, *, at: datetime | None = None) -> None:
        self.db.write(lambda c: c.execute(
            "UPDATE outbox SET delivered_at=?, attempts=attempts+1 WHERE id=?",
            (_iso(at or datetime.now(UTC)), item_id)))

    def delivered_many(self, item_ids: list[int], *, at: datetime) -> None:
        """Several rows delivered, in one short write (the upstream sender marks a batch at a time)."""
        if item_ids:
            self.db.write(lambda c: c.executemany(
                "UPDATE outbox SET delivered_at=?, attempts=attempts+1 WHERE id=?",
                [(_iso(at), item_id) for item_id in item_ids]))

    def step_done(self, item_id: int, steps_done: int) -> None:
        """``steps_done`` of the item's requests went through: a retry starts at the next one."""
        self.db.write(lambda c: c.execute("UPDATE outbox SET steps_done=? WHERE id=?", (steps_done, item_id)))

    def failed(self, item_id: int, error: str, next_try_at: datetime) -> None:
        self.db.write(lambda c: c.execute(
            "UPDATE outbox SET attempts=attempts+1, last_error=?, next_try_at=? WHERE id=?",
            (error[:500], _iso(next_try_at), item_id)))

    def gave_up(self, item_id: int, error: str, *, at: datetime | None = None) -> None:
        """The receiver refused the item for good (a 4xx it will not take back): never tried again."""
        self.db.write(lambda c: c.execute(
            "UPDATE outbox SET attempts=attempts+1, last_error=?, gave_up_at=? WHERE id=?",
            (error[:500], _iso(at or datetime.now(UTC)), item_id)))

    def target_status(self, now: datetime, target: str) -> dict[str, Any]:
        """One target's backlog: ``pending`` (rows that will be tried), ``failed`` (given up), ``oldest_pending_age_s``,
        ``last_error`` (``{"item", "error"}`` of the newest undelivered row that failed, None: none),
        ``last_success`` (when a row was last delivered, None: never). Index reads only (migration 12)."""

        def read(c: sqlite3.Connection) -> dict[str, Any]:
            pending, oldest = c.execute(
                f"SELECT COUNT(*), MIN(created_at) FROM outbox WHERE target=? AND {PENDING}", (target,)).fetchone()
            failed = c.execute("SELECT COUNT(*) FROM outbox WHERE target=? AND delivered_at IS NULL"
                               " AND gave_up_at IS NOT NULL", (target,)).fetchone()[0]
            last = c.execute(
                "SELECT id, last_error FROM outbox"
                " WHERE target=? AND delivered_at IS NULL AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1",
                (target,)).fetchone()
            success = c.execute("SELECT MAX(delivered_at) FROM outbox WHERE target=?", (target,)).fetchone()[0]
            return {
                "pending": pending,
                "failed": failed,
                "oldest_pending_age_s": (round((now - datetime.fromisoformat(oldest)).total_seconds(), 1)
                                         if oldest else None),
                "last_error": {"item": last["id"], "error": last["last_error"]} if last else None,
                "last_success": success,
            }

        return self.db.read(read)

    def status(self, now: datetime, configured: Mapping[str, bool]) -> dict[str, Any]:
        """Every target's backlog (``target_status``) and whether it has somewhere to send to."""
        return {"targets": {t: {"configured": bool(configured.get(t)), **self.target_status(now, t)}
                            for t in TARGETS}}

    def report(self, now: datetime, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """The backlog as the API shows it: how many wait, the oldest one's age, the last error, how many were
        given up, and the undelivered items (oldest first, paged)."""

        def read(c: sqlite3.Connection) -> dict[str, Any]:
            backlog, oldest = c.execute(
                f"SELECT COUNT(*), MIN(created_at) FROM outbox WHERE target='ticket' AND {PENDING}").fetchone()
            failed = c.execute("SELECT COUNT(*) FROM outbox WHERE target='ticket' AND delivered_at IS NULL"
                               " AND gave_up_at IS NOT NULL").fetchone()[0]
            last = c.execute(
                "SELECT id, last_error FROM outbox WHERE target='ticket'"
                " AND delivered_at IS NULL AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
            rows = c.execute("SELECT * FROM outbox WHERE target='ticket' AND delivered_at IS NULL"
                             " ORDER BY id LIMIT ? OFFSET ?", (limit, offset)).fetchall()
            total = c.execute("SELECT COUNT(*) FROM outbox WHERE target='ticket' AND delivered_at IS NULL"
                              ).fetchone()[0]
            return {
                "backlog": backlog,
                "failed": failed,
                "oldest_age_s": round((now - datetime.fromisoformat(oldest)).total_seconds(), 1) if oldest else None,
                "last_error": {"item": last["id"], "error": last["last_error"]} if last else None,
                "items": [_item(r).as_dict() for r in rows],
                "total": total,
                "limit": limit,
                "offset": offset,
            }

        return self.db.read(read)


def _item(r: sqlite3.Row) -> OutboxItem:
    try:
        payload = json.loads(r["payload"])
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    ticket, operation = payload.get("ticket"), payload.get("operation")
    given_up = r["gave_up_at"] is not None
    return OutboxItem(r["id"], str(ticket) if ticket is not None else None,
                      str(operation) if operation is not None else None, r["created_at"], r["attempts"],
                      None if given_up else r["next_try_at"], r["last_error"], "failed" if given_up else "pending")
