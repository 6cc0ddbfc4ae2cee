"""What the scheduler reads to share the work between its lines and to keep one call per number: the calls each
line started since a moment (its SIM's daily cap), when each line last finished a call (least recently used
first), and the condition that keeps a task whose number is already being called from being taken.

``ONE_CALL_PER_NUMBER`` is a SQL condition on the ``tasks`` row being claimed, kept apart from the claim's own
ordering and filters so that other conditions (task priority, pauses, lines per task) can sit beside it. It is
evaluated inside the claim's transaction on the one writer thread, so two lines can never both take a task for
one number: the first claim marks its task ``running`` before the second claim's query runs."""

from __future__ import annotations

import sqlite3

from appliance.records.conclusion import IN_FLIGHT_CALL


def one_call_per_number(task: str = "tasks") -> str:
    """SQL: true when no task for the same customer number (by ``tickets.customer_phone``, E.164) is running and
    no call row to it is in flight. ``task`` is the alias of the tasks table in the claim's query."""
    return (
        "NOT EXISTS (SELECT 1 FROM tickets AS mine"
        " JOIN tickets AS same ON same.customer_phone = mine.customer_phone"
        " JOIN tasks AS busy ON busy.ticket_id = same.id AND busy.state = 'running'"
        f" WHERE mine.id = {task}.ticket_id)"
        " AND NOT EXISTS (SELECT 1 FROM tickets AS mine"
        " JOIN calls AS live ON live.phone = mine.customer_phone"
        f" AND live.state IN {IN_FLIGHT_CALL} WHERE mine.id = {task}.ticket_id)"
    )


ONE_CALL_PER_NUMBER = one_call_per_number()


def calls_started_since(c: sqlite3.Connection, since_iso: str) -> dict[str, int]:
    """line name -> calls it started at or after ``since_iso`` (the ``calls_time`` index: today's calls only)."""
    rows = c.execute("SELECT line, COUNT(*) FROM calls WHERE started_at >= ? GROUP BY line", (since_iso,))
    return {line: int(n) for line, n in rows.fetchall()}


def last_call_ended(c: sqlite3.Connection) -> dict[str, str]:
    """line name -> when its latest call ended (or started, for one a crash cut), ISO UTC: read once at start."""
    rows = c.execute("SELECT line, MAX(COALESCE(ended_at, started_at)) FROM calls GROUP BY line")
    return {line: str(at) for line, at in rows.fetchall() if at is not None}
