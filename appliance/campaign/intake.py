"""Intake: a ticket from the webhook becomes a stored ticket and, if a rule says so and the guards let it, a
call task, in one transaction. The caller wakes the scheduler when a task was added.

A ticket the box already has is an update: ``campaign.updates.plan_update`` decides, inside the same
transaction, what it does (update in place, cancel the pending call, reopen, or ignore a stale version). A
ticket the helpdesk already has solved or closed is not called, on first arrival as on an update."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from appliance.campaign.guards import dial_guard
from appliance.campaign.remarks import ENGLISH, Remarks
from appliance.campaign.rules import Decision, decide
from appliance.campaign.ruleset import load_ruleset
from appliance.campaign.scenarios import Scenario
from appliance.campaign.tickets import parse_ticket
from appliance.campaign.updates import DONE_AT_HELPDESK, plan_update
from appliance.errors import RulesInvalid
from appliance.records.config_store import ConfigStore
from appliance.records.store import KnownTicket, RecordsStore, TicketChange

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Admission:
    ticket_id: str
    decision: str  # call | skip
    reason: str
    task_id: int | None
    duplicate: bool
    change: str = "new"  # new | duplicate | updated | cancelled | reopened | stale
    cancelled_task: int | None = None

    @property
    def updated(self) -> bool:
        """A known ticket's stored fields took this delivery."""
        return self.change in ("updated", "cancelled", "reopened")

    def as_dict(self) -> dict[str, Any]:
        return {"ticket": self.ticket_id, "decision": self.decision, "reason": self.reason, "task": self.task_id,
                "duplicate": self.duplicate, "change": self.change, "updated": self.updated,
                "cancelled_task": self.cancelled_task}


def standing_settings(scenario: Scenario) -> dict[str, Any]:
    """The scenario's task settings as its standing call task keeps them: all but ``valid_days`` (the standing
    task lasts as long as the scenario; a task made by hand or by a timer is the one that expires)."""
    return {k: v for k, v in scenario.task.items() if k != "valid_days"}


def admit(payload: dict[str, Any], *, webhook_id: str, records: RecordsStore, configs: ConfigStore,
          max_attempts: int, phone_region: str | None = None, remarks: Remarks = ENGLISH) -> Admission:
    """Parse (TicketInvalid names the field), decide by the owner's rules (``campaign.rules``: the scenario
    and its flow, or skip and why), check the guards, store. ``max_attempts`` is the box's, unless the scenario's
    task settings say otherwise. ``phone_region`` (the shop's country) reads a national phone number into
    E.164. An update's remark on the ticket is said in ``remarks``' language."""
    ticket = parse_ticket(payload, region=phone_region)
    try:
        ruleset = load_ruleset(configs)
    except RulesInvalid as exc:  # only a hand-edited store gets here: the API and CLI refuse a broken set
        log.error("the stored rules are broken (%s); ticket %s is stored and not called", exc, ticket.id)
        ruleset = None
    decision = (decide(ticket, ruleset.rules, ruleset.scenarios) if ruleset is not None
                else Decision(False, "the stored rules are broken; fix them with `callbox rules set`"))
    scenario = ruleset.scenario(decision.scenario) if ruleset is not None else None
    max_attempts = int(scenario.task.get("max_attempts", max_attempts)) if scenario is not None else max_attempts
    if decision.call and decision.flow is not None:
        guard = dial_guard(ticket.customer_phone, decision.flow, configs=configs, do_not_call=records.do_not_call)
        if guard is not None:
            decision = Decision(False, f"{decision.reason}, but {guard.why}", rule=decision.rule)
    if decision.call and ticket.helpdesk_status in DONE_AT_HELPDESK:
        decision = Decision(False, f"{decision.reason}, but the helpdesk has it {ticket.helpdesk_status}",
                            rule=decision.rule)

    def plan(known: KnownTicket) -> TicketChange:
        change = plan_update(known, ticket, decision)
        return replace(change, remark=remarks.render(change.remark)) if change.remark else change

    sub = records.submit_ticket(
        ticket,
        webhook_id=webhook_id,
        decision="call" if decision.call else "skip",
        reason=decision.reason,
        flow_id=decision.flow if decision.call else None,
        max_attempts=max_attempts,
        plan=plan,
        scenario=decision.scenario,
        call_task_settings=standing_settings(scenario) if decision.call and scenario is not None else None,
    )
    log.info("ticket %s: %s, %s (%s)%s", sub.ticket_id, sub.change, sub.decision, sub.reason,
             f" [task {sub.cancelled_task} cancelled]" if sub.cancelled_task is not None else "")
    return Admission(sub.ticket_id, sub.decision, sub.reason, sub.task_id, sub.duplicate, sub.change,
                     sub.cancelled_task)
