"""A delivery of a ticket the store already has, as one write.

The campaign decides what an update does (``appliance.campaign.updates.plan_update``, pure) from a
:class:`KnownTicket` read inside the store's writer transaction, and hands back a :class:`TicketChange` of plain
values; :func:`write_change` applies it in the same transaction: the ticket's fields and status, the live task
cancelled or pointed at another flow, a new task, a remark on the ticket. So a pending call is never dialed
with the old number after the update was acknowledged, and a cancelled task never leaves a ticket ``open``.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from appliance.records.call_tasks import settle
from appliance.records.conclusion import LIVE_TASK, insert_task
from appliance.records.ticket import Ticket, ticket_from_row


@dataclass(frozen=True)
class KnownTicket:
    """The stored ticket as an update finds it."""

    ticket: Ticket
    live_task: int | None  # its pending, running or paused task
    live_task_state: str | None
    called: bool  # the box has dialed this ticket's customer before (a call row exists)


@dataclass(frozen=True)
class TicketChange:
    """What an update does to a known ticket. ``change`` names it for the webhook's answer: ``updated`` (fields
    stored), ``cancelled`` (and the pending call cancelled), ``reopened`` (a new call), ``stale`` (older than
    what is stored: nothing changed)."""

    change: str
    decision: str  # call | skip: what the webhook answers and the ticket row keeps
    reason: str
    store_fields: bool = True  # write the new version's fields (phone, name, order, vars, payload)
    status: str | None = None  # the ticket's new status; None keeps it
    cancel_task: bool = False  # cancel the live task (only a pending or paused one: a running call goes on)
    task_flow: str | None = None  # the live pending/paused task dials this flow from now on
    new_task_flow: str | None = None  # a new pending task with this flow (the ticket must have no live one)
    remark: str | None = None  # a `remark` operation on the ticket (not sent upstream: the helpdesk sent it)
    scenario: str | None = None  # the scenario the rules now pick (kept with the ticket when it calls)


def known_ticket(c: sqlite3.Connection, row: sqlite3.Row) -> KnownTicket:
    """What an update finds: the stored ticket (a ``tickets`` row), its live task, whether it was called."""
    live = c.execute(f"SELECT id, state FROM tasks WHERE ticket_id=? AND state IN {LIVE_TASK} LIMIT 1",
                     (row["id"],)).fetchone()
    called = c.execute("SELECT 1 FROM calls WHERE ticket_id=? LIMIT 1", (row["id"],)).fetchone() is not None
    return KnownTicket(ticket_from_row(row), live["id"] if live else None, live["state"] if live else None, called)


def write_change(c: sqlite3.Connection, new: Ticket, change: TicketChange, *, known: KnownTicket, ts: str,
                 max_attempts: int) -> tuple[int | None, int | None]:
    """Apply ``change`` inside the caller's transaction. Returns (the ticket's live task after it, the task it
    cancelled)."""
    if change.store_fields:
        c.execute(
            "UPDATE tickets SET type=?, subject=?, description=?, customer_name=?, customer_phone=?, order_id=?,"
            " order_status=?, payload=?, vars=?, decision=?, reason=?, updated_at=?,"
            " scenario=CASE WHEN ?='call' THEN ? ELSE scenario END WHERE id=?",
            (new.type, new.subject, new.description, new.customer_name, new.customer_phone, new.order_id,
             new.order_status, json.dumps(new.payload, ensure_ascii=False), json.dumps(new.vars, ensure_ascii=False),
             change.decision, change.reason, ts, change.decision, change.scenario, new.id),
        )
    live, cancelled = known.live_task, None
    if change.cancel_task and live is not None and known.live_task_state in ("pending", "paused"):
        c.execute("UPDATE tasks SET state='cancelled', last_outcome='cancelled', updated_at=? WHERE id=?", (ts, live))
        call_task = c.execute("SELECT call_task_id FROM tasks WHERE id=?", (live,)).fetchone()["call_task_id"]
        if call_task is not None:
            settle(c, call_task, ts)  # its call task's progress (and completion) in the same transaction
        live, cancelled = None, known.live_task
    if change.task_flow is not None and live is not None:
        c.execute("UPDATE tasks SET flow_id=?, updated_at=? WHERE id=? AND state IN ('pending', 'paused')",
                  (change.task_flow, ts, live))
        c.execute("UPDATE tickets SET flow_id=? WHERE id=?", (change.task_flow, new.id))
    if change.new_task_flow is not None:
        still = c.execute(f"SELECT id FROM tasks WHERE ticket_id=? AND state IN {LIVE_TASK}", (new.id,)).fetchone()
        if still is None:
            live = insert_task(c, new.id, change.new_task_flow, ts, max_attempts, 0, ts)
            c.execute("UPDATE tickets SET flow_id=? WHERE id=?", (change.new_task_flow, new.id))
    if change.status is not None:
        c.execute("UPDATE tickets SET status=?, next_call_at=NULL, updated_at=? WHERE id=?",
                  (change.status, ts, new.id))
    if change.remark:
        c.execute(
            "INSERT INTO ticket_operations (ticket_id, call_id, kind, detail, created_at) VALUES (?,?,?,?,?)",
            (new.id, None, "remark", change.remark, ts),
        )
    return live, cancelled
