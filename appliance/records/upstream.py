"""A finished call's record for upstream sync (``[upstream] url``): built and queued in the outbox inside the
transaction that ends the call (``records.conclusion``), so a record is queued if and only if the call is recorded.

The record is read back from the rows that transaction just wrote (the call row and its turns), so it says what
the box stores, nothing the campaign only believed. Its shape is ``docs/upstream/call-record.schema.json`` (the
``data`` of the message ``appliance.sync.upstream`` sends). The recording is not inlined: the record says whether
one exists (``recording``) and the sender POSTs the WAV as a second request when ``send_recordings`` is on. A call
with 40 turns makes a row of about 6 KB, so a week's backlog stays small in the table.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from appliance.records.outbox import enqueue
from appliance.records.qa import tags_of

__all__ = ["RECORD_TOPIC", "queue_call_record", "upstream_record"]

RECORD_TOPIC = "call.record"
RECORD_VERSION = 1


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        return round(max(0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()), 3)
    except ValueError:
        return None


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def upstream_record(c: sqlite3.Connection, call_id: int) -> dict[str, Any]:
    """The record of call ``call_id`` as stored now (see the schema file for each field)."""
    row = c.execute("SELECT * FROM calls WHERE id=?", (call_id,)).fetchone()
    if row is None:
        raise ValueError(f"no call {call_id}")
    turns = c.execute(
        "SELECT seq, speaker, text, intent, confidence, node, at_ms, event FROM turns WHERE call_id=? ORDER BY seq",
        (call_id,)).fetchall()
    task = c.execute("SELECT call_task_id FROM tasks WHERE id=?", (row["task_id"],)).fetchone()
    intent = next((t["intent"] for t in reversed(turns) if t["speaker"] == "customer" and t["intent"]), None)
    answered = row["answered_at"]
    return {
        "version": RECORD_VERSION,
        "call_id": row["id"],
        "ticket_id": row["ticket_id"],
        "task_id": row["task_id"],
        "call_task_id": task["call_task_id"] if task is not None else None,
        "attempt": row["attempt"],
        "line": row["line"],
        "phone": row["phone"],
        "started_at": row["started_at"],
        "answered_at": answered,
        "ended_at": row["ended_at"],
        "ring_s": _seconds(row["started_at"], answered),
        "talk_s": _seconds(answered, row["ended_at"]),
        "outcome": row["outcome"],
        "cause": row["cause"],
        "disposition": row["disposition"],
        "remark": row["remark"],
        "intent": intent,
        "intent_strength": ({"score": row["strength_score"], "grade": row["strength_grade"],
                             "reasons": _json(row["strength_reasons"]) or []}
                            if row["strength_score"] is not None else None),
        "slots": _json(row["slots"]) or {},
        "flow": {"id": row["flow_id"], "version": row["flow_version"]},
        "recording": bool(row["recording"]),
        "turns": [
            {"seq": t["seq"], "speaker": t["speaker"], "text": t["text"], "intent": t["intent"],
             "confidence": t["confidence"], "node": t["node"], "event": t["event"] or None, "at_ms": t["at_ms"]}
            for t in turns
        ],
        "tags": [{"tag": t["tag"], "source": t["source"], "note": t["note"]} for t in tags_of(c, call_id)],
    }


def queue_call_record(c: sqlite3.Connection, call_id: int, ts: str) -> int:
    """Queue call ``call_id``'s record for upstream, in the caller's transaction; returns the outbox row id.
    A call's records go out in order (order key ``call:<id>``)."""
    return enqueue(c, target="upstream", topic=RECORD_TOPIC, payload=upstream_record(c, call_id), ts=ts,
                   order_key=f"call:{call_id}")
