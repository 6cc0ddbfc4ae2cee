"""The console's lists: calls and tickets searched and paged for the Calls and Tickets pages, and a ticket's outbox
rows (what the helpdesk has of it). Reads only, on the caller's connection.

A page is one query for its rows (LIMIT/OFFSET, newest first on the time indexes), one ``COUNT`` for the total and,
for calls, one query for the page's QA tags; never a query per row, so a page stays fast with 100,000 calls."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from appliance.records.queries import call_duration

__all__ = ["IN_PROGRESS", "CallSearch", "TicketSearch", "search_calls", "search_tickets", "ticket_outbox"]

IN_PROGRESS = "in_progress"  # the outcome filter's value for calls still on the line (no outcome yet)

_CALL_COLUMNS = (
    "calls.id, calls.ticket_id, calls.phone, calls.line, calls.state, calls.started_at, calls.answered_at,"
    " calls.ended_at, calls.outcome, calls.cause, calls.disposition, calls.intent, calls.strength_grade,"
    " calls.strength_score, calls.flow_id, calls.flow_version, calls.attempt,"
    " calls.recording IS NOT NULL AND calls.recording_deleted_at IS NULL AS has_recording,"
    " tickets.customer_name"
)


def _stored(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds")  # as the times are stored: UTC text


@dataclass(frozen=True)
class CallSearch:
    """Every filter is optional: ``phone`` in E.164 as stored; ``since`` inclusive, ``until`` exclusive (aware);
    ``outcome`` a terminal attempt state or :data:`IN_PROGRESS`; ``intent`` the call's intent; ``grade`` its
    intent strength's grade (A-D); ``tag`` a QA tag it carries."""

    phone: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    outcome: str | None = None
    intent: str | None = None
    grade: str | None = None
    tag: str | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class TicketSearch:
    """``phone`` in E.164; ``status`` a ticket status; ``text`` part of the id or subject (case-insensitive);
    ``since``/``until`` bound the time the ticket arrived."""

    phone: str | None = None
    status: str | None = None
    text: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    offset: int = 0


def _where(clauses: list[tuple[str, Any]]) -> tuple[str, list[Any]]:
    """The WHERE of the clauses whose value is given, and its arguments (a tuple value fills several marks; a
    clause without a mark takes none)."""
    kept = [(sql, value) for sql, value in clauses if value is not None]
    where = " WHERE " + " AND ".join(sql for sql, _ in kept) if kept else ""
    args: list[Any] = []
    for sql, value in kept:
        if "?" in sql:
            args.extend(value if isinstance(value, tuple) else (value,))
    return where, args


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_calls(c: sqlite3.Connection, q: CallSearch) -> dict[str, Any]:
    """``{"calls": [...], "total": n}``: the page of calls that match, newest first, each with its tags."""
    in_progress = q.outcome == IN_PROGRESS
    where, args = _where([
        ("calls.phone = ?", q.phone),
        ("calls.started_at >= ?", _stored(q.since) if q.since else None),
        ("calls.started_at < ?", _stored(q.until) if q.until else None),
        ("calls.outcome IS NULL", True if in_progress else None),
        ("calls.outcome = ?", None if in_progress else q.outcome),
        ("calls.intent = ?", q.intent),
        ("calls.strength_grade = ?", q.grade),
        ("calls.id IN (SELECT call_id FROM qa_tags WHERE tag = ?)", q.tag),
    ])
    total = c.execute(f"SELECT COUNT(*) FROM calls{where}", args).fetchone()[0]
    rows = c.execute(
        f"SELECT {_CALL_COLUMNS} FROM calls JOIN tickets ON tickets.id = calls.ticket_id{where}"
        " ORDER BY calls.started_at DESC, calls.id DESC LIMIT ? OFFSET ?", (*args, q.limit, q.offset)).fetchall()
    calls = [_call_row(r) for r in rows]
    if calls:
        ids = [call["id"] for call in calls]
        marks = ",".join("?" * len(ids))
        by_call: dict[int, list[str]] = {}
        for r in c.execute(f"SELECT call_id, tag FROM qa_tags WHERE call_id IN ({marks}) ORDER BY id", ids):
            by_call.setdefault(r["call_id"], []).append(r["tag"])
        for call in calls:
            call["tags"] = by_call.get(call["id"], [])
    return {"calls": calls, "total": total}


def _call_row(r: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": r["id"],
        "ticket_id": r["ticket_id"],
        "phone": r["phone"],
        "customer_name": r["customer_name"],
        "line": r["line"],
        "started_at": r["started_at"],
        "outcome": r["outcome"],  # None: still on the line (``state`` says where it is)
        "state": r["state"],
        "in_progress": r["outcome"] is None,
        "cause": r["cause"],
        "disposition": r["disposition"],
        "duration_s": call_duration(r["answered_at"], r["ended_at"]),
        "intent": r["intent"],
        "grade": r["strength_grade"],
        "score": r["strength_score"],
        "flow": f"{r['flow_id']} v{r['flow_version']}",
        "attempt": r["attempt"],
        "has_recording": bool(r["has_recording"]),
        "tags": [],
    }


def search_tickets(c: sqlite3.Connection, q: TicketSearch) -> dict[str, Any]:
    """``{"tickets": [...], "total": n}``: the page of tickets that match, the latest arrived first, each with the
    number of its calls."""
    where, args = _where([
        ("customer_phone = ?", q.phone),
        ("status = ?", q.status),
        ("(id LIKE ? ESCAPE '\\' OR subject LIKE ? ESCAPE '\\')", (_like(q.text),) * 2 if q.text else None),
        ("received_at >= ?", _stored(q.since) if q.since else None),
        ("received_at < ?", _stored(q.until) if q.until else None),
    ])
    total = c.execute(f"SELECT COUNT(*) FROM tickets{where}", args).fetchone()[0]
    rows = c.execute(
        "SELECT id, subject, customer_name, customer_phone, status, decision, reason, next_call_at, received_at,"
        " (SELECT COUNT(*) FROM calls WHERE calls.ticket_id = tickets.id) AS calls"
        f" FROM tickets{where} ORDER BY received_at DESC, tickets.rowid DESC LIMIT ? OFFSET ?",
        (*args, q.limit, q.offset)).fetchall()
    tickets = [{**dict(r), "phone": r["customer_phone"]} for r in rows]
    for ticket in tickets:
        del ticket["customer_phone"]
    return {"tickets": tickets, "total": total}


def ticket_outbox(c: sqlite3.Connection, ticket_id: str) -> list[dict[str, Any]]:
    """What the box sent (or is sending) to the ticketing system about a ticket, oldest first: each operation
    with ``state`` delivered | pending | given_up, its attempts and its last error."""
    rows = c.execute("SELECT * FROM outbox WHERE target = 'ticket' AND order_key = ? ORDER BY id",
                     (ticket_id,)).fetchall()
    sent = []
    for r in rows:
        try:
            payload = json.loads(r["payload"])
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        state = "delivered" if r["delivered_at"] else "given_up" if r["gave_up_at"] else "pending"
        sent.append({"id": r["id"], "operation": payload.get("operation"), "detail": payload.get("detail"),
                     "created_at": r["created_at"], "delivered_at": r["delivered_at"], "state": state,
                     "attempts": r["attempts"], "next_try_at": r["next_try_at"] if state == "pending" else None,
                     "last_error": r["last_error"]})
    return sent
