"""The ticket, one frozen type end to end: ``campaign.tickets.parse_ticket`` makes it from a helpdesk's payload,
the records store takes it and gives it back with what the box made of it (status, decision, next call)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# The variables every ticket supplies to a flow (Ticket.variables); a ticket's ``vars`` add any other name.
STANDARD_VARIABLES = ("name", "order_id", "order_status", "shop", "subject")


@dataclass(frozen=True)
class Ticket:
    id: str
    type: str
    subject: str
    description: str
    customer_name: str
    customer_phone: str
    order_id: str
    order_status: str
    payload: dict[str, Any] = field(default_factory=dict, compare=False)  # what the helpdesk sent
    # what the box made of it (the store fills these in)
    status: str = "open"
    decision: str = ""
    reason: str = ""
    flow_id: str | None = None
    next_call_at: str | None = None
    vars: dict[str, str] = field(default_factory=dict)  # the payload's "vars": more flow variables by name
    # the payload's "updated_at": when the helpdesk last changed this version (UTC, ``version_time``), if it says
    updated_at: str | None = None
    tags: tuple[str, ...] = ()  # the payload's "tags" (lower case): rules match on them
    scenario: str | None = None  # the scenario the rules picked (campaign.rules), when they called for a call

    @property
    def helpdesk_status(self) -> str:
        """The helpdesk's own status of the ticket (``vars.helpdesk_status``, set by the adapters), lower case."""
        return self.vars.get("helpdesk_status", "").strip().lower()

    def variables(self, shop_name: str) -> dict[str, str]:
        """The call's flow variables (and an unreachable text's fields): one place makes them. The ticket's own
        fields (STANDARD_VARIABLES) and its ``vars``; ``vars`` cannot name a standard one (intake refuses it),
        so nothing here overrides anything."""
        return {**self.vars, "name": self.customer_name, "order_id": self.order_id,
                "order_status": self.order_status, "shop": shop_name, "subject": self.subject}


def version_time(text: str) -> str:
    """An ISO 8601 time with a zone as UTC text that sorts as it compares (``2024-05-01T08:00:00.000000+00:00``).
    ValueError for anything else (a time without a zone is ambiguous: refused)."""
    when = datetime.fromisoformat(text.strip())
    if when.tzinfo is None:
        raise ValueError("has no time zone (add Z or an offset such as +02:00)")
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def ticket_from_row(r: sqlite3.Row) -> Ticket:
    """A ticket as the records store keeps it (a row of ``tickets``)."""
    return Ticket(
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
        vars=json.loads(r["vars"]),
        updated_at=_version_of(r["payload"]),
        tags=_tags_of(r["payload"]),
        scenario=r["scenario"] if "scenario" in r.keys() else None,
    )


def _tags_of(payload_json: str) -> tuple[str, ...]:
    """The stored payload's ``tags`` (checked when it arrived), lower case."""
    value = json.loads(payload_json).get("tags") if payload_json.startswith("{") else None
    if not isinstance(value, list):
        return ()
    return tuple(dict.fromkeys(t.strip().lower() for t in value if isinstance(t, str) and t.strip()))


def _version_of(payload_json: str) -> str | None:
    """The stored payload's ``updated_at`` (checked when it arrived; None if it had none)."""
    value = json.loads(payload_json).get("updated_at") if payload_json.startswith("{") else None
    try:
        return version_time(value) if isinstance(value, str) else None
    except ValueError:
        return None
