"""Intake: a ticket from the webhook becomes a stored ticket and, if a rule says so and the guards let it, a
call task, in one transaction. The caller wakes the scheduler when a task was added."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from appliance.campaign.guards import dial_guard
from appliance.campaign.tickets import parse_ticket
from appliance.campaign.trigger import Decision, TriggerRule, decide
from appliance.records.config_store import ConfigStore
from appliance.records.store import RecordsStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Admission:
    ticket_id: str
    decision: str  # call | skip
    reason: str
    task_id: int | None
    duplicate: bool

    def as_dict(self) -> dict[str, Any]:
        return {"ticket": self.ticket_id, "decision": self.decision, "reason": self.reason, "task": self.task_id,
                "duplicate": self.duplicate}


def admit(payload: dict[str, Any], *, webhook_id: str, records: RecordsStore, configs: ConfigStore,
          max_attempts: int, phone_region: str | None = None) -> Admission:
    """Parse (TicketInvalid names the field), decide by the rules, check the guards, store. ``phone_region``
    (the shop's country) reads a national phone number into E.164."""
    ticket = parse_ticket(payload, region=phone_region)
    decision = decide(ticket, [TriggerRule.from_doc(r) for r in configs.rules()])
    if decision.call and decision.flow is not None:
        guard = dial_guard(ticket.customer_phone, decision.flow, configs=configs, do_not_call=records.do_not_call)
        if guard is not None:
            decision = Decision(False, f"{decision.reason}, but {guard.why}")
    sub = records.submit_ticket(
        ticket,
        webhook_id=webhook_id,
        decision="call" if decision.call else "skip",
        reason=decision.reason,
        flow_id=decision.flow if decision.call else None,
        max_attempts=max_attempts,
    )
    log.info("ticket %s: %s (%s)%s", sub.ticket_id, sub.decision, sub.reason,
             " [duplicate delivery]" if sub.duplicate else "")
    return Admission(sub.ticket_id, sub.decision, sub.reason, sub.task_id, sub.duplicate)
