"""Calls and tickets shaped for the panel's pages and the read API (plain dicts, JSON-ready)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from appliance.records.ticket import Ticket

__all__ = ["call_view", "ticket_view"]


def call_view(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": c["id"],
        "ticket_id": c["ticket_id"],
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
            }
            for t in c["turns"]
        ],
        "has_recording": bool(c["recording"]) and Path(c["recording"]).exists(),
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
