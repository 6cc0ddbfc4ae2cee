"""The ticket, one frozen type end to end: ``campaign.tickets.parse_ticket`` makes it from a helpdesk's payload,
the records store takes it and gives it back with what the box made of it (status, decision, next call)."""

from __future__ import annotations

from dataclasses import dataclass, field
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

    def variables(self, shop_name: str) -> dict[str, str]:
        """The call's flow variables (and an unreachable text's fields): one place makes them. The ticket's own
        fields (STANDARD_VARIABLES) and its ``vars``; ``vars`` cannot name a standard one (intake refuses it),
        so nothing here overrides anything."""
        return {**self.vars, "name": self.customer_name, "order_id": self.order_id,
                "order_status": self.order_status, "shop": shop_name, "subject": self.subject}
