"""How an attempt ends, as one write: the call row (with its recording's size), its turns and automatic QA tags, the
ticket operations, the outbox rows (and the call's record for upstream sync, when it is on), the do-not-call entry,
the task's state, the next task and the ticket's status, in ONE transaction.

The campaign decides (``appliance.campaign.conclude``, a pure function) and hands this module a
:class:`Conclusion` of plain values; :func:`write_conclusion` runs inside the store's writer transaction, so a
power cut anywhere in it leaves the database as it was before the attempt ended (then the start-up recovery
finds the attempt in flight and ends it ``interrupted``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from appliance.records.call_tasks import settle, standing_task
from appliance.records.dnc import add_in
from appliance.records.figures import write_turn_figures
from appliance.records.outbox import enqueue
from appliance.records.qa import write_tags
from appliance.records.recordings import note_size
from appliance.records.talk import TalkTally
from appliance.records.upstream import queue_call_record

IN_FLIGHT_CALL = ("dialing", "ringing", "answered")  # attempt states that only a crash leaves behind
LIVE_TASK = ("pending", "running", "paused")  # a ticket has at most one of these (unique index, migration 4)


@dataclass(frozen=True)
class Turn:
    speaker: str
    text: str
    intent: str | None = None
    confidence: float | None = None
    node: str | None = None
    at_ms: int = 0
    event: str = ""  # what the flow engine made of the turn: no_input, no_match, barge_in, kb, dtmf, ...
    asr_confidence: float | None = None  # a spoken customer turn: the recogniser's confidence
    margin: float | None = None  # a matched intent's lead over the runner-up ((best - second) / best)


@dataclass(frozen=True)
class CallEnd:
    """The call row's last word: its terminal attempt state, what was said and what the flow made of it."""

    outcome: str
    cause: int | None
    disposition: str | None
    remark: str
    turns: tuple[Turn, ...] = ()
    slots: dict[str, Any] | None = None
    strength: dict[str, Any] | None = None  # {"score", "grade", "reasons"}
    # the call's figures (records.figures): how long it rang (the dial's own measure), how long it lasted from
    # the answer, and who talked for how long from the recording's two channels (None: not answered, or no
    # recording); the turns' figures are counted from the turns when they are written
    ring_ms: int | None = None
    duration_ms: int | None = None
    talk: TalkTally | None = None
    tags: tuple[tuple[str, str], ...] = ()  # automatic QA tags (tag, reason): appliance.campaign.qa


@dataclass(frozen=True)
class TaskEnd:
    task_id: int
    state: str
    outcome: str
    next_attempt_at: str | None = None  # set for a retry
    counted: bool = True  # False: a guard held the task before dialing; taking it does not count as an attempt


@dataclass(frozen=True)
class NewTask:
    flow_id: str
    at: str
    max_attempts: int


@dataclass(frozen=True)
class Conclusion:
    task: TaskEnd | None  # None: only a stray call row is ended (its task had already moved on)
    ticket_id: str | None  # None: the task named a ticket that does not exist
    call_id: int | None = None  # None: the attempt ended before a call row was written
    call: CallEnd | None = None
    operations: tuple[tuple[str, str], ...] = ()  # (kind, detail) on the ticket
    outbox: tuple[tuple[str, dict[str, Any]], ...] = ()  # (topic, payload) for the outbox worker
    do_not_call: tuple[str, str] | None = None  # (phone, reason)
    next_task: NewTask | None = None
    ticket_status: str | None = None
    next_call_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)  # for the caller's summary only


def write_conclusion(c: sqlite3.Connection, conclusion: Conclusion, ts: str, *, upstream: bool = False) -> None:
    """Every write of one conclusion, inside the caller's transaction; ``upstream``: a call that ends is queued
    for ``[upstream] url`` too (``records.upstream``)."""
    call_id = conclusion.call_id
    if conclusion.call is not None:
        if call_id is None:
            raise ValueError("a call end needs a call id")
        end = conclusion.call
        strength = end.strength
        c.execute(
            "UPDATE calls SET state=?, ended_at=?, outcome=?, cause=?, disposition=?, remark=?, slots=?,"
            " strength_score=?, strength_grade=?, strength_reasons=? WHERE id=?",
            (end.outcome, ts, end.outcome, end.cause, end.disposition, end.remark,
             json.dumps(end.slots, ensure_ascii=False) if end.slots else None,
             strength["score"] if strength else None, strength["grade"] if strength else None,
             json.dumps(strength["reasons"], ensure_ascii=False) if strength else None, call_id),
        )
        note_size(c, call_id, ts)  # the recording's size, for the quota and /metrics (records.recordings)
        for i, t in enumerate(end.turns):
            c.execute(
                "INSERT INTO turns (call_id, seq, speaker, text, intent, confidence, node, at_ms, event,"
                " asr_confidence, margin) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (call_id, i, t.speaker, t.text, t.intent, t.confidence, t.node, t.at_ms, t.event, t.asr_confidence,
                 t.margin),
            )
        write_call_figures(c, call_id, end)
        write_tags(c, call_id, end.tags, ts)  # before the upstream record is read: it carries them
    if conclusion.ticket_id is not None:
        for kind, detail in conclusion.operations:
            c.execute(
                "INSERT INTO ticket_operations (ticket_id, call_id, kind, detail, created_at) VALUES (?,?,?,?,?)",
                (conclusion.ticket_id, call_id, kind, detail, ts),
            )
    for topic, body in conclusion.outbox:
        ticket = body.get("ticket")
        enqueue(c, target="ticket", topic=topic, payload=body, ts=ts,
                order_key=str(ticket) if ticket is not None else None)
    if upstream and conclusion.call is not None and call_id is not None:
        queue_call_record(c, call_id, ts)
    if conclusion.do_not_call is not None:
        phone, reason = conclusion.do_not_call
        add_in(c, phone, reason, ticket_id=conclusion.ticket_id, call_id=call_id)
    task = conclusion.task
    call_task = None  # the call task the attempt belongs to: its progress is written in this transaction too
    if task is not None:
        row = c.execute("SELECT call_task_id FROM tasks WHERE id=?", (task.task_id,)).fetchone()
        call_task = row["call_task_id"] if row is not None else None
        c.execute(
            "UPDATE tasks SET state=?, last_outcome=?, next_attempt_at=COALESCE(?, next_attempt_at), updated_at=?,"
            " attempts=attempts-? WHERE id=?",
            (task.state, task.outcome, task.next_attempt_at, ts, 0 if task.counted else 1, task.task_id),
        )
    if conclusion.next_task is not None and conclusion.ticket_id is not None:
        nt = conclusion.next_task
        insert_task(c, conclusion.ticket_id, nt.flow_id, nt.at, nt.max_attempts, 0, ts, call_task_id=call_task)
    if conclusion.ticket_status is not None and conclusion.ticket_id is not None:
        c.execute(
            "UPDATE tickets SET status=?, next_call_at=?, updated_at=? WHERE id=?",
            (conclusion.ticket_status, conclusion.next_call_at, ts, conclusion.ticket_id),
        )
    if call_task is not None:
        settle(c, call_task, ts)


def write_call_figures(c: sqlite3.Connection, call_id: int, end: CallEnd) -> None:
    """The call's figures onto its row (after its turns are written): the times and the recording's tally as
    the campaign measured them, the rest counted from the turns (``records.figures``)."""
    talk = end.talk
    c.execute(
        "UPDATE calls SET ring_ms=?, duration_ms=?, customer_talk_ms=?, bot_talk_ms=?, silences=?,"
        " longest_silence_ms=? WHERE id=?",
        (end.ring_ms, end.duration_ms, talk.customer_talk_ms if talk else None, talk.bot_talk_ms if talk else None,
         talk.silences if talk else None, talk.longest_silence_ms if talk else None, call_id),
    )
    write_turn_figures(c, call_id, interruptions=talk.interruptions if talk else None)


def insert_task(c: sqlite3.Connection, ticket_id: str, flow_id: str, at: str, max_attempts: int, attempts: int,
                ts: str, *, call_task_id: int | None = None, standing_settings: dict[str, Any] | None = None) -> int:
    """A pending task; a ticket that already has a live one keeps it (StorageError from the unique index). It
    joins ``call_task_id``, else the standing call task of the ticket's scenario, or of its flow when the rules
    named none (the webhook's tickets), with ``standing_settings`` (see ``call_tasks.standing_task``)."""
    if call_task_id is None:
        row = c.execute("SELECT scenario FROM tickets WHERE id=?", (ticket_id,)).fetchone()
        call_task_id = standing_task(c, flow_id, ts, name=row["scenario"] if row is not None else None,
                                     settings=standing_settings)
    cur = c.execute(
        "INSERT INTO tasks (ticket_id, flow_id, state, attempts, max_attempts, next_attempt_at, created_at,"
        " updated_at, call_task_id) VALUES (?,?,?,?,?,?,?,?,?)",
        (ticket_id, flow_id, "pending", attempts, max_attempts, at, ts, ts, call_task_id),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def write_all(c: sqlite3.Connection, conclusions: Sequence[Conclusion], ts: str, *, upstream: bool = False) -> None:
    for conclusion in conclusions:
        write_conclusion(c, conclusion, ts, upstream=upstream)
