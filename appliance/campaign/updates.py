"""When a ticket changes: what a delivery of a ticket the box already has does, decided as a pure function.

The records store reads the stored ticket inside its submit transaction and asks :func:`plan_update`; the
:class:`~appliance.records.ticket_change.TicketChange` it returns is written in that same transaction. The
rules (README "When a ticket changes" prints them):

1. **Versions.** A payload may carry ``updated_at`` (ISO 8601 with a zone; the adapters map the helpdesk's
   own update time). A version older than the stored one is acknowledged and ignored (``change: stale``).
   Without ``updated_at`` on either side, the order of arrival decides.
2. **Pointless.** An update makes the call pointless when the rules (and guards) now say skip (the order was
   delivered, the number asked not to be called) or the helpdesk's status (``vars.helpdesk_status``) is one
   of :data:`DONE_AT_HELPDESK`: solved elsewhere.
3. **Open or scheduled ticket** (a pending or paused task): the stored fields take the update; the task keeps
   its place in the queue and dials the new data (and the flow the rules now pick). A pointless update cancels
   the task with the reason and the ticket becomes ``skipped`` with a remark (``change: cancelled``).
4. **Calling ticket** (a call on the line now): the fields take the update; the call is not interrupted. A
   pointless update is kept as the ticket's decision (``skip``) and the conclusion of the running attempt
   honours it (``campaign.conclude``): what the call did stands (a close closes, a do-not-call is kept), but
   no retry and no scheduled call follow; the ticket ends ``skipped`` with a remark.
5. **Closed, unreachable or skipped ticket:** the fields take the update, and the box does not call again,
   unless the helpdesk reopened it: its status went from done to active, or became ``reopened``; for a native
   ticket (no helpdesk status) a newer ``updated_at``. Then, if the rules call for a call, it reopens with a
   new task (``redeliver``, ``change: reopened``). A ``skipped`` ticket the box never dialed is not "called
   again": an update the rules call for opens it.
   A helpdesk ticket's ``updated_at`` alone does not reopen it: the box's own remarks and closes change that
   time too, and the helpdesk's webhook then sends the ticket back; counting that as a reopening would call
   an unreachable customer over and over.

Updates are not sent back upstream (the helpdesk sent them), so there is no loop. A delivery id seen before is
still answered as a duplicate and changes nothing; a ticket still has at most one live task.
"""

from __future__ import annotations

from appliance.campaign.attempt import TicketStatus, next_ticket_status
from appliance.campaign.remarks import phrase
from appliance.campaign.rules import Decision
from appliance.records.store import KnownTicket, Ticket, TicketChange

# The helpdesks' statuses (Zendesk, Freshdesk, Zammad) that mean the ticket is done with there.
DONE_AT_HELPDESK = frozenset({"solved", "resolved", "closed", "merged"})
# ... and those that mean someone is working on it again after it was done.
ACTIVE_AT_HELPDESK = frozenset({"new", "open", "pending", "hold", "on-hold", "reopened", "pending reminder",
                                "pending close"})

__all__ = ["ACTIVE_AT_HELPDESK", "DONE_AT_HELPDESK", "plan_update", "pointless"]


def pointless(ticket: Ticket, decision: Decision) -> str | None:
    """Why a call for this version of the ticket is pointless, or None when the rules call for one."""
    if ticket.helpdesk_status in DONE_AT_HELPDESK:
        return phrase("the helpdesk has it {status}", status=ticket.helpdesk_status)
    if not decision.call:
        return decision.reason
    return None


def plan_update(known: KnownTicket, new: Ticket, decision: Decision) -> TicketChange:
    """What the delivery ``new`` does to the stored ticket ``known`` (the rules in the module docstring);
    ``decision`` is what the rules and guards say about ``new``."""
    stored = known.ticket
    if new.updated_at and stored.updated_at and new.updated_at < stored.updated_at:
        return TicketChange(
            "stale", stored.decision,
            f"this version (updated {new.updated_at}) is older than the stored one (updated {stored.updated_at}); "
            "ignored", store_fields=False)
    why_not = pointless(new, decision)
    status = TicketStatus(stored.status)
    if status in (TicketStatus.OPEN, TicketStatus.SCHEDULED):
        return _waiting(known, status, decision, why_not)
    if status is TicketStatus.CALLING:
        if why_not is not None:
            return TicketChange("updated", "skip", f"updated: {why_not}; the call in progress goes on, no call "
                                "after it",
                                remark=phrase("Updated during a call: {why}. No further call.", why=why_not))
        return TicketChange("updated", "call", f"updated during a call; {decision.reason}",
                            scenario=decision.scenario)
    return _done(known, new, status, decision, why_not)


def _waiting(known: KnownTicket, status: TicketStatus, decision: Decision, why_not: str | None) -> TicketChange:
    """An open or scheduled ticket: update in place, or cancel its pending call."""
    if why_not is not None:
        task = f"task {known.live_task}" if known.live_task is not None else "the call"
        return TicketChange(
            "cancelled", "skip", f"updated: {why_not}; {task} cancelled",
            status=next_ticket_status(status, "cancel").value, cancel_task=True,
            remark=phrase("Pending call cancelled by an update: {why}.", why=why_not))
    if known.live_task is None:  # open without a task (a guard held it for an admin): queue one
        return TicketChange("updated", "call", f"updated; {decision.reason}", new_task_flow=decision.flow,
                            scenario=decision.scenario)
    return TicketChange("updated", "call", f"updated; {decision.reason}; the pending call dials the new data",
                        task_flow=decision.flow, scenario=decision.scenario)


def _done(known: KnownTicket, new: Ticket, status: TicketStatus, decision: Decision,
          why_not: str | None) -> TicketChange:
    """A closed, unreachable or skipped ticket: stored, and called again only if the helpdesk reopened it."""
    first_call = status is TicketStatus.SKIPPED and not known.called
    reopened = _reopened(known.ticket, new)
    if why_not is None and (first_call or reopened is not None):
        why = reopened or phrase("never called before")
        return TicketChange(
            "reopened", "call", f"{why}; {decision.reason}", status=next_ticket_status(status, "redeliver").value,
            new_task_flow=decision.flow, remark=phrase("Reopened ({how}): {reason}.", how=why, reason=decision.reason),
            scenario=decision.scenario)
    if why_not is not None:
        return TicketChange("updated", "skip", f"the ticket is {status.value}; {why_not}")
    return TicketChange("updated", "skip", f"the ticket is {status.value} and the helpdesk has not reopened it; "
                                           "no new call")


def _reopened(stored: Ticket, new: Ticket) -> str | None:
    """How the helpdesk reopened the ticket, or None if it did not."""
    before, now = stored.helpdesk_status, new.helpdesk_status
    if now in ACTIVE_AT_HELPDESK and before in DONE_AT_HELPDESK:
        return phrase("reopened at the helpdesk ({before} -> {now})", before=before, now=now)
    if now == "reopened" and before != "reopened":
        return phrase("reopened at the helpdesk")
    if not now and new.updated_at and (stored.updated_at is None or new.updated_at > stored.updated_at):
        return phrase("a newer version (updated {at})", at=new.updated_at)
    return None
