"""Trigger rules: which tickets get a call, with which flow, and why (or why not)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from appliance.campaign.tickets import Ticket
from appliance.errors import ConfigError

DEFAULT_RULES: list[dict[str, Any]] = [
    {
        "name": "delivery shipped",
        "type": ["delivery"],
        "order_status": ["shipped", "out_for_delivery"],
        "flow": "delivery-confirmation",
    }
]


@dataclass(frozen=True)
class TriggerRule:
    name: str
    flow: str
    types: tuple[str, ...] = ()
    order_statuses: tuple[str, ...] = ()
    subject_contains: tuple[str, ...] = ()

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> TriggerRule:
        known = {"name", "flow", "type", "order_status", "subject_contains"}
        unknown = set(doc) - known
        if unknown:
            raise ConfigError(f"unknown key(s) {', '.join(sorted(unknown))}", key=f"rule {doc.get('name', '?')}")
        if not doc.get("name") or not doc.get("flow"):
            raise ConfigError("a rule needs a name and a flow", key="rules")

        def lower(key: str) -> tuple[str, ...]:
            return tuple(str(v).lower() for v in doc.get(key, []))

        return cls(str(doc["name"]), str(doc["flow"]), lower("type"), lower("order_status"), lower("subject_contains"))

    def explain(self, ticket: Ticket) -> str | None:
        """Why this rule does not match, or None when it does."""
        if self.types and ticket.type not in self.types:
            return f"type {ticket.type!r} is not {'/'.join(self.types)}"
        if self.order_statuses and ticket.order_status not in self.order_statuses:
            return f"order status {ticket.order_status!r} is not {'/'.join(self.order_statuses)}"
        if self.subject_contains and not any(w in ticket.subject.lower() for w in self.subject_contains):
            return f"subject has none of {', '.join(self.subject_contains)}"
        return None


@dataclass(frozen=True)
class Decision:
    call: bool
    reason: str
    flow: str | None = None


def decide(ticket: Ticket, rules: Sequence[TriggerRule]) -> Decision:
    """The first matching rule picks the flow; otherwise skip, naming why each rule did not match."""
    misses = []
    for rule in rules:
        why_not = rule.explain(ticket)
        if why_not is None:
            return Decision(True, f"rule {rule.name!r} matched", rule.flow)
        misses.append(f"rule {rule.name!r}: {why_not}")
    if not misses:
        return Decision(False, "no trigger rules are configured")
    return Decision(False, "no rule matched (" + "; ".join(misses) + ")")
