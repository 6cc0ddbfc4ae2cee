"""How an attempt ends, decided as pure functions: no I/O, no clock of their own.

``conclude`` turns what happened on the line (an :class:`AttemptResult`) into a
:class:`~appliance.records.conclusion.Conclusion`: the call row's outcome and remark, the ticket operations and
their outbox events, a do-not-call entry, the task's state, the next task and the ticket's status.
``blocked`` does the same for an attempt a guard stopped before dialing, ``orphaned`` for a task whose ticket
is gone, and ``recover`` for the attempts a crash left in flight. The records store writes each in ONE
transaction (``RecordsStore.record_conclusion`` / ``recover_in_flight``), so a power cut leaves either the
whole conclusion or none of it. Each takes the shop's :class:`~appliance.campaign.remarks.Remarks` and writes its
remarks in that language (English when none is given).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from appliance.campaign.attempt import (
    AttemptState,
    Outcome,
    TaskState,
    TicketStatus,
    next_attempt_state,
    next_task_state,
    next_ticket_status,
    retry_decision,
)
from appliance.campaign.guards import Guard
from appliance.campaign.qa import CallFacts, tag_call
from appliance.campaign.remarks import ENGLISH, N_, Remarks
from appliance.config import QaConfig, RetryConfig
from appliance.dialog.runtime.engine import RenderedOperation, schedule_time
from appliance.records.conclusion import CallEnd, Conclusion, NewTask, TaskEnd, Turn
from appliance.records.store import InFlight, TaskRow, Ticket, iso
from appliance.records.talk import TalkTally


@dataclass(frozen=True)
class AttemptResult:
    """What one placed call came to: how it ended on the line and what the flow made of it."""

    outcome: Outcome
    cause: int | None = None
    detail: str = ""  # the dial's own words (why a dial was interrupted)
    fault: str | None = None  # why an interrupted call was interrupted
    answered: bool = False
    disposition: str | None = None
    operations: tuple[RenderedOperation, ...] = ()  # the flow's ticket operations (completed calls only)
    turns: tuple[Turn, ...] = ()
    slots: dict[str, Any] = field(default_factory=dict)
    strength: dict[str, Any] | None = None  # {"score", "grade", "reasons"}
    ended_by: str | None = None
    # who answered, as the greeting's screen decided (human, machine, invalid_number), what gave it away and
    # how long after the answer it was decided
    answered_by: str | None = None
    screen_why: str = ""
    screen_ms: int | None = None
    voicemail_left: bool = False  # a machine answered and recorded the flow's voicemail message
    dial_s: float = 0.0
    talk_s: float = 0.0
    total_s: float = 0.0
    ring_ms: int | None = None  # how long the far end rang (the modem's alerting to the answer or the give-up)
    talk: TalkTally | None = None  # who talked for how long, from the recording (the call runner's recorder)

    def call_end(self, disposition: str | None, remark: str, *, turns: tuple[Turn, ...] = (),
                 slots: dict[str, Any] | None = None, strength: dict[str, Any] | None = None,
                 tags: tuple[tuple[str, str], ...] = ()) -> CallEnd:
        """The call row's end with this attempt's figures: ring time always, duration and talk once answered."""
        return CallEnd(self.outcome.value, self.cause, disposition, remark, turns, slots, strength, tags=tags,
                       ring_ms=self.ring_ms, duration_ms=round(self.talk_s * 1000) if self.answered else None,
                       talk=self.talk if self.answered else None)
    flow_ended: bool = False  # the flow reached a hang-up node (a customer may hang up during its goodbye)
    longest_silence_ms: int | None = None  # the customer's longest silence, when known (QA's long_silence)


DEFAULT_QA = QaConfig()  # every automatic tag, the documented thresholds


def operation_event(ticket_id: str, call_id: int, kind: str, detail: str) -> dict[str, Any]:
    return {"ticket": ticket_id, "call": call_id, "operation": kind, "detail": detail}


def conclude(ticket: Ticket, task: TaskRow, result: AttemptResult, now: datetime, *, call_id: int,
             retry: RetryConfig, redials: Mapping[str, int] | None = None, ended_alike: int = 0,
             qa: QaConfig = DEFAULT_QA, remarks: Remarks = ENGLISH) -> Conclusion:
    """The end of a dialed attempt (call row ``call_id``). The attempt's state table says which outcomes an
    unanswered and an answered attempt can have; anything else raises ``IllegalTransition``. ``redials`` (the call
    task's outcome -> redials at most) with ``ended_alike`` (how many of the task's earlier attempts ended with
    this attempt's outcome): once an outcome has been redialled its limit's times, it is not retried again. A
    conversation gets its automatic QA tags under ``qa`` (``campaign.qa``), written with the call."""
    next_attempt_state(AttemptState.ANSWERED if result.answered else AttemptState.DIALING, result.outcome.value)
    limit = (redials or {}).get(result.outcome.value)
    spent = limit if limit is not None and ended_alike >= limit else None
    if not result.answered:
        return no_call_after(ticket, _unanswered(ticket, task, result, now, call_id=call_id, retry=retry,
                                                 spent=spent, remarks=remarks), remarks)
    if result.outcome in (Outcome.MACHINE, Outcome.INVALID_NUMBER):
        return no_call_after(ticket, _screened(ticket, task, result, now, call_id=call_id, retry=retry,
                                               spent=spent, remarks=remarks), remarks)
    tags = tuple((t.name, t.reason) for t in tag_call(facts_of(result), qa))
    return no_call_after(ticket, _conversed(ticket, task, result, now, call_id=call_id, retry=retry, spent=spent,
                                            tags=tags, remarks=remarks), remarks)


def facts_of(result: AttemptResult) -> CallFacts:
    """What QA reads of an attempt."""
    silence = result.longest_silence_ms  # from the no-input turns: a lower bound
    if result.talk is not None:  # measured on the recording: the longest stretch where neither side spoke
        silence = max(silence or 0, result.talk.longest_silence_ms)
    return CallFacts(result.turns, result.outcome.value, result.disposition, result.flow_ended,
                     silence, result.ended_by)


def no_call_after(ticket: Ticket, conclusion: Conclusion, remarks: Remarks = ENGLISH) -> Conclusion:
    """A ticket updated during its call so that calling is pointless (``campaign.updates``: its decision is now
    ``skip``): what the call did stands (a close closes, a do-not-call is kept, the remark is written), but no
    retry and no scheduled call follow; the task is cancelled and the ticket ends ``skipped``. ``ticket`` must
    be the one stored when the attempt ends, not the one read before dialing."""
    if ticket.decision != "skip" or conclusion.ticket_status not in (TicketStatus.OPEN, TicketStatus.SCHEDULED):
        return conclusion
    why = ticket.reason or remarks.phrase("the ticket was updated")
    task = conclusion.task
    if task is not None:
        task = TaskEnd(task.task_id, _CANCELLED, task.outcome, None, task.counted)
    operations = tuple(op for op in conclusion.operations if op[0] != "schedule")
    outbox = tuple(item for item in conclusion.outbox if item[1].get("operation") != "schedule")
    return replace(
        conclusion, task=task, next_task=None, next_call_at=None, outbox=outbox,
        ticket_status=next_ticket_status(TicketStatus.CALLING, "skip").value,
        operations=(*operations, ("remark", remarks.phrase("No further call: {why}.", why=why))),
    )


def _unanswered(ticket: Ticket, task: TaskRow, result: AttemptResult, now: datetime, *, call_id: int,
                retry: RetryConfig, spent: int | None = None, remarks: Remarks = ENGLISH) -> Conclusion:
    decision = retry_decision(result.outcome, attempt=task.attempts, max_attempts=task.max_attempts, now=now,
                              retry=retry, cause=result.cause, redials_spent=spent, remarks=remarks)
    remark = decision.remark
    if result.outcome is Outcome.INTERRUPTED and result.detail:  # say why the line failed
        remark = remarks.sentences(remark, remarks.phrase("Line fault: {fault}.", fault=result.detail))
    return Conclusion(
        task=_task_end(task, result.outcome, decision.retry_at),
        ticket_id=ticket.id,
        call_id=call_id,
        call=result.call_end(None, remark),
        operations=(("remark", remark),),
        outbox=(("ticket.operation", operation_event(ticket.id, call_id, "remark", remark)),),
        ticket_status=decision.ticket_status.value,
        next_call_at=iso(decision.retry_at) if decision.retry_at else None,
        extra={"disposition": None},
    )


def _screened(ticket: Ticket, task: TaskRow, result: AttemptResult, now: datetime, *, call_id: int,
              retry: RetryConfig, spent: int | None = None, remarks: Remarks = ENGLISH) -> Conclusion:
    """An answering machine or the network answered: no conversation. A machine is retried per the retry table,
    whether or not the flow's voicemail message was left on it (disposition ``voicemail_left``); a number the
    network says cannot be called is not called again and the ticket says why."""
    disposition = result.disposition if result.voicemail_left else None  # "voicemail_left"
    heard = remarks.phrase("{why}, {seconds} s after the answer", why=result.screen_why,
                           seconds=f"{result.screen_ms / 1000:.1f}") \
        if result.screen_ms is not None and result.screen_why else result.screen_why or remarks.phrase("on answering")
    when = f"{now.astimezone():%Y-%m-%d %H:%M}"
    if result.outcome is Outcome.INVALID_NUMBER:
        remark = remarks.phrase("Call {call_id} on {when}: the network says the number is not in service "
                                "({heard}). Not called again: check the customer's number ({phone}).",
                                call_id=call_id, when=when, heard=heard, phone=ticket.customer_phone)
        status: TicketStatus = next_ticket_status(TicketStatus.CALLING, "give_up")
        retry_at = None
    else:
        decision = retry_decision(result.outcome, attempt=task.attempts, max_attempts=task.max_attempts, now=now,
                                  retry=retry, cause=result.cause, redials_spent=spent, remarks=remarks)
        # the message is the bot's last turn (a beep during its first prompt may have stopped that prompt)
        said = next((t.text for t in reversed(result.turns) if t.speaker == "bot" and t.text), "")
        left = remarks.phrase("left the flow's message: '{said}'", said=said) if result.voicemail_left and said \
            else remarks.phrase("no message left")
        remark = remarks.sentences(
            remarks.phrase("Call {call_id} on {when}: an answering machine answered ({heard}); {left}.",
                           call_id=call_id, when=when, heard=heard, left=left), decision.remark)
        status, retry_at = decision.ticket_status, decision.retry_at
    return Conclusion(
        task=_task_end(task, result.outcome, retry_at),
        ticket_id=ticket.id,
        call_id=call_id,
        call=result.call_end(disposition, remark, turns=result.turns),
        operations=(("remark", remark),),
        outbox=(("ticket.operation", operation_event(ticket.id, call_id, "remark", remark)
                 | {"answered_by": result.answered_by}
                 | ({"disposition": disposition} if disposition else {})),),
        ticket_status=status.value,
        next_call_at=iso(retry_at) if retry_at else None,
        extra={"disposition": disposition},
    )


def _conversed(ticket: Ticket, task: TaskRow, result: AttemptResult, now: datetime, *, call_id: int,
               retry: RetryConfig, spent: int | None = None, tags: tuple[tuple[str, str], ...] = (),
               remarks: Remarks = ENGLISH) -> Conclusion:
    completed = result.outcome is Outcome.COMPLETED
    operations = result.operations if completed else ()
    disposition = result.disposition if completed else None
    said = [t.text for t in result.turns if t.speaker == "customer" and t.text and t.node != "answer"]
    heard = remarks.phrase("; ").join(f"'{s}'" for s in said) if said else remarks.phrase("nothing")
    parts = [remarks.phrase("Call {call_id} on {when}: {what}. Customer said {heard}.", call_id=call_id,
                            when=f"{now.astimezone():%Y-%m-%d %H:%M}",
                            what=disposition or remarks.word(CONVERSED_WORDS.get(result.outcome,
                                                                                 result.outcome.value)),
                            heard=heard)]
    if result.outcome is Outcome.INTERRUPTED and result.ended_by == "box":  # SIGTERM: goodbye said, hung up
        parts.append(remarks.phrase("The box stopped during the call (a restart or shutdown); the bot said goodbye."))
    elif result.fault and result.outcome is Outcome.INTERRUPTED:
        parts.append(remarks.phrase("Line fault: {fault}.", fault=result.fault))
    if result.strength is not None:
        parts.append(remarks.phrase("Intent strength {score} ({grade}).", score=result.strength["score"],
                                    grade=result.strength["grade"]))
    summary = remarks.sentences(*parts)
    flow_remarks = [op.text for op in operations if op.op == "remark" and op.text]
    ops: list[tuple[str, str]] = [("remark", remarks.sentences(summary, *flow_remarks))]
    status, next_at = next_ticket_status(TicketStatus.CALLING, "retry"), None  # no close, no schedule: open
    stop_calling = any(op.op == "do_not_call" for op in operations)
    for op in operations:
        if op.op == "close":
            ops.append(("close", remarks.phrase("closed after call {call_id} ({disposition})", call_id=call_id,
                                                disposition=disposition)))
            status = next_ticket_status(TicketStatus.CALLING, "close")
        elif op.op == "schedule" and not stop_calling:  # never for a number that asked not to be called
            next_at = schedule_time(op, now)  # a slot's time ("call me Friday at 3") or after the delay
            ops.append(("schedule", iso(next_at)))
            status = next_ticket_status(TicketStatus.CALLING, "schedule")
        elif op.op == "do_not_call":
            ops.append(("do_not_call", remarks.phrase("{phone} added to the do-not-call list: {why}",
                                                      phone=ticket.customer_phone, why=op.text)))
    retry_at = None
    if not completed:  # the customer hung up or the line failed mid-call: the retry table decides
        decision = retry_decision(result.outcome, attempt=task.attempts, max_attempts=task.max_attempts, now=now,
                                  retry=retry, cause=result.cause, redials_spent=spent, remarks=remarks)
        ops = [("remark", remarks.sentences(summary, decision.remark))]
        status, retry_at = decision.ticket_status, decision.retry_at
    events = [operation_event(ticket.id, call_id, kind, detail) for kind, detail in ops]
    if result.strength is not None or result.slots:
        # the ticketing system gets what the call found out with the remark, not only in its words
        events[0] |= {"disposition": disposition, "slots": result.slots or {}, "intent_strength": result.strength}
    when = next_at or retry_at
    return Conclusion(
        task=_task_end(task, result.outcome, retry_at),
        ticket_id=ticket.id,
        call_id=call_id,
        call=result.call_end(disposition, ops[0][1], turns=result.turns, slots=result.slots or None,
                             strength=result.strength, tags=tags),
        operations=tuple(ops),
        outbox=tuple(("ticket.operation", e) for e in events),
        do_not_call=(ticket.customer_phone, f"asked during call {call_id}") if stop_calling else None,
        next_task=NewTask(task.flow_id, iso(next_at), task.max_attempts) if next_at is not None else None,
        ticket_status=status.value,
        next_call_at=iso(when) if when else None,
        extra={"disposition": disposition},
    )


# A conversation's outcome in its remark when the flow gave no disposition ("Call 3 on ...: hung_up."); the
# English remark keeps the outcome's own name.
CONVERSED_WORDS: dict[Outcome, str] = {
    Outcome.COMPLETED: N_("completed"),
    Outcome.HUNG_UP: N_("hung_up"),
    Outcome.INTERRUPTED: N_("interrupted"),
}


def _task_end(task: TaskRow, outcome: Outcome, retry_at: datetime | None) -> TaskEnd:
    """The running task either waits for its retry or is done (the task's state table)."""
    if retry_at is not None:
        return TaskEnd(task.id, next_task_state(TaskState.RUNNING, "retry").value, outcome.value, iso(retry_at))
    return TaskEnd(task.id, next_task_state(TaskState.RUNNING, "complete").value, outcome.value)


_CANCELLED = next_task_state(TaskState.RUNNING, "cancel").value


# A guard that ends a task: the ticket's move, and whether the ticketing system is told. A number on the
# do-not-call list skips the ticket; a ticket lacking a flow variable stays open and upstream hears why; a flow
# that is not published (any more) leaves the ticket open for an admin and tells nobody.
_GUARD_ENDS: dict[str, tuple[str, bool]] = {"do_not_call": ("skip", True), "missing_variable": ("hold", True)}
_UNPUBLISHED_FLOW = ("hold", False)


def blocked(ticket: Ticket, task: TaskRow, guard: Guard, remarks: Remarks = ENGLISH) -> Conclusion:
    """A guard stopped the task before dialing: no call row; the task is cancelled and the ticket says why."""
    move, tell = _GUARD_ENDS.get(guard.name, _UNPUBLISHED_FLOW)
    remark = remarks.render(guard.remark)
    event = operation_event(ticket.id, 0, "remark", remark)
    return Conclusion(
        task=TaskEnd(task.id, _CANCELLED, Outcome.BLOCKED.value),
        ticket_id=ticket.id,
        operations=(("remark", remark),),
        outbox=(("ticket.operation", event),) if tell else (),
        ticket_status=next_ticket_status(TicketStatus.CALLING, move).value,
    )


def held(ticket: Ticket, task: TaskRow, guard: Guard, until: datetime, remarks: Remarks = ENGLISH) -> Conclusion:
    """A guard holds the task until ``until`` (calling hours, a cap, a refusal's quiet time): no call row, the
    task waits and is not counted as an attempt; the ticket says why and when (not told upstream: nothing
    happened yet)."""
    remark = remarks.sentences(remarks.render(guard.remark), remarks.phrase(
        "Next try at {at}.", at=f"{until.astimezone():%Y-%m-%d %H:%M}"))
    return Conclusion(
        task=TaskEnd(task.id, next_task_state(TaskState.RUNNING, "retry").value, Outcome.BLOCKED.value, iso(until),
                     counted=False),
        ticket_id=ticket.id,
        operations=(("remark", remark),),
        ticket_status=next_ticket_status(TicketStatus.CALLING, "retry").value,
        next_call_at=iso(until),
        extra={"guard": guard.name},
    )


def released(task: TaskRow) -> Conclusion:
    """The box stops (SIGTERM) after the task was taken but before it was dialed: it goes back to pending as it
    was, not counted as an attempt (nothing happened to the customer); the ticket waits for its call again."""
    return Conclusion(
        task=TaskEnd(task.id, next_task_state(TaskState.RUNNING, "retry").value, "box_stopped", None, counted=False),
        ticket_id=task.ticket_id,
        ticket_status=next_ticket_status(TicketStatus.CALLING, "retry").value,
        next_call_at=task.next_attempt_at,
    )


def orphaned(task: TaskRow) -> Conclusion:
    """A task that names a ticket the store does not have: cancel it (it would fail again on every claim)."""
    return Conclusion(task=TaskEnd(task.id, _CANCELLED, "missing_ticket"), ticket_id=None)


def recover(found: Sequence[InFlight], now: datetime, *, retry: RetryConfig,
            remarks: Remarks = ENGLISH) -> list[Conclusion]:
    """At start-up: each attempt a crash left in flight ends ``interrupted`` and its task follows the retry
    table's delay for ``interrupted`` (or gives up on the last attempt). The attempt was counted when its task was
    taken; it is not counted again."""
    out: list[Conclusion] = []
    for item in found:
        if item.ticket is None:
            out.append(orphaned(item.task) if item.task_running else
                       Conclusion(task=None, ticket_id=None, call_id=item.call_id,
                                  call=CallEnd(Outcome.INTERRUPTED.value, None, None,
                                               remarks.phrase("The box stopped during it."))))
            continue
        decision = retry_decision(Outcome.INTERRUPTED, attempt=item.task.attempts,
                                  max_attempts=item.task.max_attempts, now=now, retry=retry, remarks=remarks)
        remark = remarks.sentences(decision.remark, remarks.phrase("The box stopped during the attempt."))
        call = CallEnd(Outcome.INTERRUPTED.value, None, None, remark) if item.call_id is not None else None
        if not item.task_running:  # a stray call row: its task has moved on already
            out.append(Conclusion(task=None, ticket_id=item.ticket.id, call_id=item.call_id, call=call))
            continue
        event = operation_event(item.ticket.id, item.call_id or 0, "remark", remark)
        out.append(Conclusion(
            task=_task_end(item.task, Outcome.INTERRUPTED, decision.retry_at),
            ticket_id=item.ticket.id,
            call_id=item.call_id,
            call=call,
            operations=(("remark", remark),),
            outbox=(("ticket.operation", event),),
            ticket_status=decision.ticket_status.value,
            next_call_at=iso(decision.retry_at) if decision.retry_at else None,
        ))
    return out
