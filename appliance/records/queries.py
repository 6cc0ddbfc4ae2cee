"""The read API's questions to the records: calls by number, time, outcome and task; tasks by state and ticket;
everything about one ticket. Reads only, on the caller's connection; pages run newest first by id, so a page's
cursor (``before``: the last id it showed) stays right while new calls and tasks are written."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from appliance.records.reanalysis import latest_reanalysis

__all__ = ["CallQuery", "TaskQuery", "call_duration", "call_record", "find_calls", "find_tasks", "one_call", "tasks_of"]

_CALLS = ("SELECT calls.*, tickets.customer_name, tasks.max_attempts FROM calls"
          " JOIN tickets ON tickets.id = calls.ticket_id LEFT JOIN tasks ON tasks.id = calls.task_id")


@dataclass(frozen=True)
class CallQuery:
    """Every filter is optional; ``phone`` in E.164 as stored, ``since``/``until`` aware datetimes (a call that
    started at ``since`` is in, one at ``until`` is out), ``outcome`` a terminal attempt state."""

    phone: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    outcome: str | None = None
    task_id: int | None = None
    ticket_id: str | None = None
    before: int | None = None  # only calls with a smaller id (the cursor)
    limit: int = 100


@dataclass(frozen=True)
class TaskQuery:
    state: str | None = None
    ticket_id: str | None = None
    before: int | None = None
    limit: int = 100


def _stored(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds")  # as started_at is stored: UTC text


def call_record(c: sqlite3.Connection, r: sqlite3.Row) -> dict[str, Any]:
    """A call row with its turns, slots, intent strength and duration."""
    turns = c.execute(
        "SELECT speaker, text, intent, confidence, node, at_ms, event FROM turns WHERE call_id=? ORDER BY seq",
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
    d["duration_s"] = call_duration(r["answered_at"], r["ended_at"])
    return d


def call_duration(start: str | None, end: str | None) -> float | None:
    """Seconds from the answer to the end (None for a call never answered or still on the line)."""
    if not start or not end:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 1)


def find_calls(c: sqlite3.Connection, q: CallQuery) -> list[dict[str, Any]]:
    """The calls that match, newest (highest id) first, at most ``q.limit``."""
    where: list[str] = []
    args: list[Any] = []
    for clause, value in (
        ("calls.phone = ?", q.phone),
        ("calls.started_at >= ?", _stored(q.since) if q.since else None),
        ("calls.started_at < ?", _stored(q.until) if q.until else None),
        ("COALESCE(calls.outcome, calls.state) = ?", q.outcome),
        ("calls.task_id = ?", q.task_id),
        ("calls.ticket_id = ?", q.ticket_id),
        ("calls.id < ?", q.before),
    ):
        if value is not None:
            where.append(clause)
            args.append(value)
    sql = _CALLS + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY calls.id DESC LIMIT ?"
    return [call_record(c, r) for r in c.execute(sql, (*args, q.limit)).fetchall()]


def one_call(c: sqlite3.Connection, call_id: int) -> dict[str, Any] | None:
    """A call's record, with its latest re-analysis beside the original values (``reanalysis``, None if none)."""
    r = c.execute(_CALLS + " WHERE calls.id=?", (call_id,)).fetchone()
    if r is None:
        return None
    return {**call_record(c, r), "reanalysis": latest_reanalysis(c, call_id)}


def find_tasks(c: sqlite3.Connection, q: TaskQuery) -> list[dict[str, Any]]:
    """Tasks newest first, each as stored (id, ticket_id, flow_id, state, attempts, max_attempts,
    next_attempt_at, last_outcome, created_at, updated_at)."""
    where: list[str] = []
    args: list[Any] = []
    for clause, value in (("state = ?", q.state), ("ticket_id = ?", q.ticket_id), ("id < ?", q.before)):
        if value is not None:
            where.append(clause)
            args.append(value)
    sql = "SELECT * FROM tasks" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC LIMIT ?"
    return [dict(r) for r in c.execute(sql, (*args, q.limit)).fetchall()]


def tasks_of(c: sqlite3.Connection, ticket_id: str) -> list[dict[str, Any]]:
    """A ticket's tasks, oldest first."""
    return [dict(r) for r in c.execute("SELECT * FROM tasks WHERE ticket_id=? ORDER BY id", (ticket_id,))]
