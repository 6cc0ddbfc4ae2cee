"""An owner's actions on one ticket from the console: call now, retry, cancel, add a note. Each is one
transaction: it checks the ticket's state and changes everything it changes (task, ticket, the operation that
says who did it, the outbox row of a note), or raises ``TicketActionRefused`` and changes nothing.

- **call now**: the ticket's waiting task (a retry or a scheduled call) becomes due at once (not while its call task
  is paused: the owner resumes the task).
- **retry**: a ticket whose calls have ended (reached, unreachable, skipped, cancelled) gets a new task, due at once,
  with the attempts its last task had.
- **cancel**: the waiting task is cancelled; the ticket is skipped and gets no further call.
- **note**: a remark on the ticket, sent to the ticketing system through the outbox like the box's own remarks.

A call on the line is never touched: the actions that would change its task are refused until it ends.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from appliance.errors import TicketActionRefused
from appliance.records.call_tasks import settle
from appliance.records.conclusion import LIVE_TASK, insert_task
from appliance.records.outbox import enqueue

__all__ = ["ACTIONS", "MAX_NOTE", "act", "add_note"]

ACTIONS = ("call_now", "retry", "cancel")
MAX_NOTE = 2000  # characters of an owner's note
DEFAULT_ATTEMPTS = 3  # a retry of a ticket that never had a task (its rules skipped it)
ACTION_KIND = "action"  # ticket_operations.kind of an owner's action: shown on the ticket, not sent anywhere


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _operation(c: sqlite3.Connection, ticket_id: str, kind: str, detail: str, ts: str) -> None:
    c.execute("INSERT INTO ticket_operations (ticket_id, call_id, kind, detail, created_at) VALUES (?,?,?,?,?)",
              (ticket_id, None, kind, detail, ts))


def act(c: sqlite3.Connection, ticket_id: str, action: str, *, who: str) -> str | None:
    """Run ``action`` on the ticket inside the caller's transaction; what was done in words, or None when there is
    no such ticket. Raises ``TicketActionRefused`` (nothing changed) when the ticket's state does not allow it."""
    if action not in ACTIONS:
        raise TicketActionRefused(f"There is no action {action[:40]!r}.", code="unknown_action")
    ticket = c.execute("SELECT * FROM tickets WHERE id=?", (ticket_id,)).fetchone()
    if ticket is None:
        return None
    live = c.execute(f"SELECT * FROM tasks WHERE ticket_id=? AND state IN {LIVE_TASK} ORDER BY id DESC LIMIT 1",
                     (ticket_id,)).fetchone()
    if live is not None and live["state"] == "running":
        raise TicketActionRefused("A call to this customer is on the line now; wait until it ends.",
                                  code="on_the_line")
    ts = _now()
    if action == "cancel":
        if live is None:
            raise TicketActionRefused("No call is planned for this ticket, so there is nothing to cancel.",
                                      code="nothing_planned")
        c.execute("UPDATE tasks SET state='cancelled', last_outcome='cancelled', updated_at=? WHERE id=?",
                  (ts, live["id"]))
        c.execute("UPDATE tickets SET status='skipped', next_call_at=NULL, updated_at=? WHERE id=?", (ts, ticket_id))
        if live["call_task_id"] is not None:
            settle(c, live["call_task_id"], ts)
        done = f"Calls cancelled by {who}."
    else:
        listed = c.execute("SELECT 1 FROM do_not_call WHERE phone=?", (ticket["customer_phone"],)).fetchone()
        if listed is not None:
            raise TicketActionRefused("This customer asked not to be called again (do-not-call list).",
                                      code="do_not_call")
        if action == "call_now":
            if live is None:
                raise TicketActionRefused("No call is waiting for this ticket; use Retry to call again.",
                                          code="nothing_waiting")
            held = c.execute("SELECT 1 FROM call_tasks WHERE id=? AND state='paused'",
                             (live["call_task_id"],)).fetchone()
            if held is not None:
                raise TicketActionRefused("Its call task is paused; resume the task first.", code="task_paused")
            c.execute("UPDATE tasks SET state='pending', next_attempt_at=?, updated_at=? WHERE id=?",
                      (ts, ts, live["id"]))
            done = f"Call brought forward to now by {who}."
        else:
            if live is not None:
                raise TicketActionRefused("A call is already waiting for this ticket; use Call now instead.",
                                          code="already_waiting")
            if not ticket["flow_id"]:
                raise TicketActionRefused("No flow was chosen for this ticket (its rules skipped it), so the box "
                                          "does not know what to say.", code="no_flow")
            last = c.execute("SELECT max_attempts, call_task_id FROM tasks WHERE ticket_id=? ORDER BY id DESC"
                             " LIMIT 1", (ticket_id,)).fetchone()
            attempts = last["max_attempts"] if last is not None else DEFAULT_ATTEMPTS
            call_task = c.execute("SELECT id FROM call_tasks WHERE id=? AND state IN ('pending', 'running')",
                                  (last["call_task_id"],)).fetchone() if last is not None else None
            insert_task(c, ticket_id, ticket["flow_id"], ts, attempts, 0, ts,
                        call_task_id=call_task["id"] if call_task is not None else None)
            done = f"Called again by {who}."
        c.execute("UPDATE tickets SET status='open', next_call_at=NULL, updated_at=? WHERE id=?", (ts, ticket_id))
    _operation(c, ticket_id, ACTION_KIND, done, ts)
    return done


def add_note(c: sqlite3.Connection, ticket_id: str, text: str, *, who: str) -> str | None:
    """An owner's note on the ticket, queued for the ticketing system in the same transaction; the note as stored,
    or None when there is no such ticket. Raises ``TicketActionRefused`` for an empty or too long note."""
    note = text.strip()
    if not note:
        raise TicketActionRefused("Write the note first.", code="note_empty")
    if len(note) > MAX_NOTE:
        raise TicketActionRefused(f"A note may have at most {MAX_NOTE} characters, not {len(note)}.",
                                  code="note_too_long")
    if c.execute("SELECT 1 FROM tickets WHERE id=?", (ticket_id,)).fetchone() is None:
        return None
    ts = _now()
    detail = f"{note} ({who})"
    _operation(c, ticket_id, "remark", detail, ts)
    enqueue(c, target="ticket", topic="ticket.operation", ts=ts, order_key=ticket_id,
            payload={"ticket": ticket_id, "call": None, "operation": "remark", "detail": detail})
    return detail
