"""Calls and tickets shaped for the panel's pages and the read API (plain dicts, JSON-ready)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from appliance.records.ticket import Ticket

__all__ = ["call_view", "task_view", "ticket_detail_view", "ticket_view"]

TERMINAL_TASK = ("completed", "expired", "cancelled")  # no next attempt


def call_view(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": c["id"],
        "ticket_id": c["ticket_id"],
        "task_id": c["task_id"],
        "attempt": c.get("attempt"),  # "attempt 2 of 3"
        "max_attempts": c.get("max_attempts"),
        "phone": c["phone"],
        "customer_name": c["customer_name"],
        "line": c["line"],
        "started_at": c["started_at"],
        "outcome": c["outcome"] or c["state"],
        "cause": c["cause"],
        "disposition": c["disposition"],
        "duration_s": c["duration_s"],
        "remark": c["remark"],
        "flow": f"{c['flow_id']} v{c['flow_version']}",
        "slots": c.get("slots") or {},
        "intent_strength": c.get("intent_strength"),
        "turns": [
            {
                "speaker": t["speaker"],
                "text": t["text"],
                "intent": t["intent"],
                "confidence": t["confidence"],
                "at_ms": t["at_ms"],
                "node": t.get("node"),
            }
            for t in c["turns"]
        ],
        # a recording marked deleted is gone even if a cut-short prune left its file for the next pass
        "has_recording": bool(c["recording"]) and not c.get("recording_deleted_at") and Path(c["recording"]).exists(),
        **({"reanalysis": c["reanalysis"]} if "reanalysis" in c else {}),  # one call's detail only
    }


def ticket_view(t: Ticket, operations: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": t.id,
        "subject": t.subject,
        "customer_name": t.customer_name,
        "phone": t.customer_phone,
        "status": t.status,
        "decision": t.decision,
        "reason": t.reason,
        "next_call_at": t.next_call_at,
        "remarks": [
            o["detail"] if o["kind"] == "remark" else f"Text message sent: {o['detail']}"
            for o in operations
            if o["kind"] in ("remark", "sms")
        ],
        "operations": operations,
    }


def task_view(t: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": t["id"],
        "ticket_id": t["ticket_id"],
        "flow_id": t["flow_id"],
        "state": t["state"],
        "attempts": t["attempts"],
        "max_attempts": t["max_attempts"],
        "next_attempt_at": None if t["state"] in TERMINAL_TASK else t["next_attempt_at"],
        "last_outcome": t["last_outcome"],
        "call_task_id": t.get("call_task_id"),
        "created_at": t["created_at"],
        "updated_at": t["updated_at"],
    }


def ticket_detail_view(t: Ticket, operations: list[dict[str, Any]], tasks: list[dict[str, Any]],
                       calls: list[dict[str, Any]]) -> dict[str, Any]:
    """One ticket for the read API: what the box decided, each operation with its time, its tasks, its calls
    (oldest first), each call with its task and attempt number."""
    return {
        "id": t.id,
        "type": t.type,
        "subject": t.subject,
        "customer_name": t.customer_name,
        "phone": t.customer_phone,
        "order_id": t.order_id,
        "order_status": t.order_status,
        "status": t.status,
        "decision": t.decision,
        "reason": t.reason,
        "flow_id": t.flow_id,
        "next_call_at": t.next_call_at,
        "vars": dict(t.vars),
        "operations": [{"kind": o["kind"], "detail": o["detail"], "call_id": o["call_id"], "at": o["created_at"]}
                       for o in operations],
        "tasks": [task_view(task) for task in tasks],
        "calls": [call_view(c) for c in calls],
    }
