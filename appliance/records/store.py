"""Call records in SQLite: tickets, tasks, calls, turns, ticket operations, outbox, users."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from appliance.records import browse, ticket_actions
from appliance.records.access import Accounts
from appliance.records.call_tasks import CallTaskRecords
from appliance.records.conclusion import (
    IN_FLIGHT_CALL,
    LIVE_TASK,
    Conclusion,
    Turn,
    insert_task,
    write_all,
    write_conclusion,
)
from appliance.records.db import Database
from appliance.records.dnc import DoNotCall
from appliance.records.export import EXPORTS
from appliance.records.history import VOICEMAIL_DISPOSITION, PhoneHistory, phone_history
from appliance.records.line_use import ONE_CALL_PER_NUMBER, calls_started_since, last_call_ended
from appliance.records.outbox import Outbox, enqueue
from appliance.records.phones import normalise_stored_phones
from appliance.records.qa import QaRecords
from appliance.records.queries import CallQuery, TaskQuery, find_calls, find_tasks, one_call, tasks_of
from appliance.records.rollup import figures as rolled_up
from appliance.records.rollup import grouped as rolled_up_groups
from appliance.records.stats import CallFilter, StatsQuery
from appliance.records.stats import stats as call_stats
from appliance.records.ticket import Ticket, ticket_from_row
from appliance.records.ticket_change import KnownTicket, TicketChange, known_ticket, write_change

__all__ = ["Conclusion", "InFlight", "KnownTicket", "RecordsStore", "Submission", "TaskRow", "Ticket", "TicketChange",
           "Turn", "iso", "now_iso"]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class TaskRow:
    id: int
    ticket_id: str
    flow_id: str
    state: str
    attempts: int
    max_attempts: int
    next_attempt_at: str
    call_task_id: int | None = None  # the call task it belongs to (None: made before call tasks)


@dataclass(frozen=True)
class InFlight:
    """An attempt a crash left behind: its task (running, or already moved on) and its call row, if any."""

    task: TaskRow
    ticket: Ticket | None
    call_id: int | None  # None: the box stopped between taking the task and writing the call row
    task_running: bool


@dataclass(frozen=True)
class Submission:
    ticket_id: str
    task_id: int | None
    decision: str
    reason: str
    duplicate: bool
    change: str = "new"  # new | duplicate, or a TicketChange's: updated | cancelled | reopened | stale
    cancelled_task: int | None = None  # the pending task the update cancelled


class RecordsStore:
    """``phone_region`` (the shop's country) reads national numbers; numbers stored before it was known are
    rewritten in E.164 on opening."""

    def __init__(self, path: Path, *, phone_region: str | None = None, sync_calls: bool = False) -> None:
        self.sync_calls = sync_calls  # each finished call's record is queued for [upstream] in its conclusion
        self.db = Database(path)
        self._do_not_call = DoNotCall(self.db, region=phone_region)
        self._outbox = Outbox(self.db)
        self._call_tasks = CallTaskRecords(self.db)
        self._qa = QaRecords(self.db)
        self.accounts = Accounts(self.db)  # users with roles, API tokens, the audit log
        if phone_region:
            self.db.write(lambda c: normalise_stored_phones(c, phone_region))

    def close(self) -> None:
        self.db.close()

    @property
    def do_not_call(self) -> DoNotCall:
        """The numbers that asked not to be called again."""
        return self._do_not_call

    @property
    def call_tasks(self) -> CallTaskRecords:
        """Call tasks (campaigns): their rows, their ticket tasks, their timers."""
        return self._call_tasks

    @property
    def qa(self) -> QaRecords:
        """QA tags, reviews, the review queue and tag counts."""
        return self._qa

    # -- tickets -----------------------------------------------------------
    def submit_ticket(
        self,
        ticket: Ticket,
        *,
        webhook_id: str,
        decision: str,
        reason: str,
        flow_id: str | None,
        max_attempts: int,
        plan: Callable[[KnownTicket], TicketChange] | None = None,
        scenario: str | None = None,
        call_task_settings: dict[str, Any] | None = None,
    ) -> Submission:
        """Store a ticket and its call task in one transaction; idempotent per webhook id. ``decision``,
        ``reason``, ``flow_id`` and ``scenario`` (the one the rules picked) are for a ticket the store does not
        have yet; ``call_task_settings`` are its scenario's, for the standing call task the ticket joins. A
        ticket it has is handed to ``plan`` (the campaign's rules for updates, run inside the transaction) and
        the change it returns is written in the same transaction. Without ``plan``, a ticket that still has a
        live task keeps it (the delivery is answered as a duplicate) and any other is overwritten."""

        def tx(c: sqlite3.Connection) -> Submission:
            seen = c.execute("SELECT ticket_id FROM webhook_messages WHERE id=?", (webhook_id,)).fetchone()
            if seen is not None:
                return self._existing(c, seen["ticket_id"])
            ts = now_iso()
            stored = c.execute("SELECT * FROM tickets WHERE id=?", (ticket.id,)).fetchone()
            if stored is not None and plan is not None:
                known = known_ticket(c, stored)
                change = plan(known)
                c.execute("INSERT INTO webhook_messages VALUES (?,?,?)", (webhook_id, ticket.id, ts))
                live, cancelled = write_change(c, ticket, change, known=known, ts=ts, max_attempts=max_attempts)
                return Submission(ticket.id, live, change.decision, change.reason, duplicate=False,
                                  change=change.change, cancelled_task=cancelled)
            live = c.execute(
                f"SELECT id FROM tasks WHERE ticket_id=? AND state IN {LIVE_TASK} LIMIT 1", (ticket.id,)
            ).fetchone()
            if live is not None:
                c.execute("INSERT INTO webhook_messages VALUES (?,?,?)", (webhook_id, ticket.id, ts))
                return self._existing(c, ticket.id)
            status = "open" if decision == "call" else "skipped"
            row = (
                ticket.id,
                ticket.type,
                ticket.subject,
                ticket.description,
                ticket.customer_name,
                ticket.customer_phone,
                ticket.order_id,
                ticket.order_status,
                json.dumps(ticket.payload, ensure_ascii=False),
                status,
                decision,
                reason,
                flow_id,
                None,
                ts,
                ts,
                json.dumps(ticket.vars, ensure_ascii=False),
                scenario if decision == "call" else None,
            )
            c.execute(
                "INSERT INTO tickets (id, type, subject, description, customer_name, customer_phone, order_id, "
                "order_status, payload, status, decision, reason, flow_id, next_call_at, received_at, updated_at, "
                "vars, scenario) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
                "type=excluded.type, subject=excluded.subject, description=excluded.description, "
                "customer_name=excluded.customer_name, customer_phone=excluded.customer_phone, "
                "order_id=excluded.order_id, order_status=excluded.order_status, payload=excluded.payload, "
                "vars=excluded.vars, "
                "status=excluded.status, decision=excluded.decision, reason=excluded.reason, "
                "flow_id=excluded.flow_id, scenario=excluded.scenario, next_call_at=NULL, "
                "updated_at=excluded.updated_at",
                row,
            )
            c.execute("INSERT INTO webhook_messages VALUES (?,?,?)", (webhook_id, ticket.id, ts))
            task_id = None
            if decision == "call" and flow_id is not None:
                task_id = insert_task(c, ticket.id, flow_id, ts, max_attempts, 0, ts,
                                      standing_settings=call_task_settings)
            return Submission(ticket.id, task_id, decision, reason, duplicate=False)

        return self.db.write(tx)

    @staticmethod
    def _existing(c: sqlite3.Connection, ticket_id: str) -> Submission:
        t = c.execute("SELECT decision, reason FROM tickets WHERE id=?", (ticket_id,)).fetchone()
        task = c.execute("SELECT id FROM tasks WHERE ticket_id=? ORDER BY id DESC LIMIT 1", (ticket_id,)).fetchone()
        return Submission(ticket_id, task["id"] if task else None, t["decision"], t["reason"], duplicate=True,
                          change="duplicate")

    def ticket(self, ticket_id: str) -> Ticket | None:
        row = self.db.read(lambda c: c.execute("SELECT * FROM tickets WHERE id=?", (ticket_id,)).fetchone())
        return ticket_from_row(row) if row else None

    def tickets(self, *, limit: int = 100) -> list[Ticket]:
        rows = self.db.read(
            lambda c: c.execute("SELECT * FROM tickets ORDER BY received_at DESC LIMIT ?", (limit,)).fetchall()
        )
        return [ticket_from_row(r) for r in rows]

    # -- tasks -------------------------------------------------------------
    def claim_due_task(self, now: datetime) -> TaskRow | None:
        """Atomically take the due pending task that comes first and mark it running: of a call task that is not
        paused or ended and still has a line to spare (``first_claimable``), highest priority first, then oldest due. A
        task whose number is being called (another task for it running, a call to it in flight) waits: never two
        calls to one number at once (``appliance.records.line_use``)."""

        def tx(c: sqlite3.Connection) -> TaskRow | None:
            row = first_claimable(c, iso(now))
            if row is None:
                return None
            if row["call_task_id"] is not None:
                c.execute("UPDATE call_tasks SET state='running', updated_at=? WHERE id=? AND state='pending'",
                          (now_iso(), row["call_task_id"]))
            c.execute(
                "UPDATE tasks SET state='running', attempts=attempts+1, updated_at=? WHERE id=?",
                (now_iso(), row["id"]),
            )
            c.execute("UPDATE tickets SET status='calling', updated_at=? WHERE id=?", (now_iso(), row["ticket_id"]))
            return replace(_task(row), state="running", attempts=row["attempts"] + 1)

        return self.db.write(tx)

    def record_conclusion(self, conclusion: Conclusion) -> None:
        """End an attempt: every write of it in one transaction (see appliance.records.conclusion)."""
        self.db.write(lambda c: write_conclusion(c, conclusion, now_iso(), upstream=self.sync_calls))

    def recover_in_flight(self, plan: Callable[[list[InFlight]], Sequence[Conclusion]]) -> int:
        """At start-up: the attempts a crash left in flight (a running task, a call row still dialing, ringing or
        answered) are read, ended by ``plan`` (pure: the campaign's decision) and written, in one transaction.
        Returns how many were found."""

        def tx(c: sqlite3.Connection) -> int:
            found = _in_flight(c)
            write_all(c, plan(found), now_iso(), upstream=self.sync_calls)
            return len(found)

        return self.db.write(tx)

    def next_due_at(self) -> str | None:
        row = self.db.read(
            lambda c: c.execute("SELECT MIN(next_attempt_at) FROM tasks WHERE state='pending'").fetchone()
        )
        return row[0] if row else None

    def calls_started_by_line(self, since: datetime) -> dict[str, int]:
        """line name -> calls it started since ``since``: what a SIM's daily cap is checked on."""
        return self.db.read(lambda c: calls_started_since(c, iso(since)))

    def line_last_call(self) -> dict[str, datetime]:
        """line name -> when its latest call ended: where least-recently-used starts after a restart."""
        found = self.db.read(last_call_ended)
        return {line: datetime.fromisoformat(at) for line, at in found.items()}

    def task(self, task_id: int) -> TaskRow | None:
        row = self.db.read(lambda c: c.execute("SELECT * FROM tasks WHERE id=?", (task_id,)).fetchone())
        return _task(row) if row is not None else None

    # -- calls -------------------------------------------------------------
    def phone_history(self, phone: str, since: datetime) -> PhoneHistory:
        """The calls to ``phone`` (E.164) since ``since`` and its last refusal: what the caps are checked on."""
        return self.db.read(lambda c: phone_history(c, phone, since))

    def ended_alike(self, task_id: int, outcome: str, call_id: int) -> int:
        """How many of task ``task_id``'s calls other than ``call_id`` ended with ``outcome``."""
        row = self.db.read(lambda c: c.execute(
            "SELECT COUNT(*) FROM calls WHERE task_id=? AND outcome=? AND id<>?", (task_id, outcome, call_id)
        ).fetchone())
        return int(row[0])

    def voicemails_left(self, ticket_id: str) -> int:
        """How many of ticket ``ticket_id``'s calls left the flow's message on an answering machine
        (disposition ``voicemail_left``; read through the ``calls_ticket`` index)."""
        row = self.db.read(lambda c: c.execute(
            "SELECT COUNT(*) FROM calls WHERE ticket_id=? AND disposition=?", (ticket_id, VOICEMAIL_DISPOSITION)
        ).fetchone())
        return int(row[0])

    def start_call(self, *, task: TaskRow, phone: str, line: str, flow_version: int) -> int:
        def tx(c: sqlite3.Connection) -> int:
            cur = c.execute(
                "INSERT INTO calls (task_id, ticket_id, phone, line, flow_id, flow_version, state, started_at,"
                " attempt, call_task_id, scenario) VALUES (?,?,?,?,?,?,?,?,(SELECT attempts FROM tasks WHERE id=?),"
                " (SELECT call_task_id FROM tasks WHERE id=?), (SELECT scenario FROM tickets WHERE id=?))",
                (task.id, task.ticket_id, phone, line, task.flow_id, flow_version, "dialing", now_iso(), task.id,
                 task.id, task.ticket_id),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

        return self.db.write(tx)

    def mark_answered(self, call_id: int, *, recording: Path | None = None) -> None:
        self.db.write(
            lambda c: c.execute(
                "UPDATE calls SET state='answered', answered_at=?, recording=COALESCE(?, recording) WHERE id=?",
                (now_iso(), str(recording) if recording is not None else None, call_id),
            )
        )

    def calls(self, *, limit: int = 100, ticket_id: str | None = None) -> list[dict[str, Any]]:
        return self.find_calls(CallQuery(ticket_id=ticket_id, limit=limit))

    def find_calls(self, query: CallQuery) -> list[dict[str, Any]]:
        """Calls that match ``query``, newest first: each row with its turns, attempt and the task's max."""
        return self.db.read(lambda c: find_calls(c, query))

    def call(self, call_id: int) -> dict[str, Any] | None:
        return self.db.read(lambda c: one_call(c, call_id))

    def stats(self, query: StatsQuery, zone: tzinfo) -> dict[str, Any]:
        """Statistics of the ended calls (appliance.records.stats); days and hours in ``zone``. By call task,
        scenario or flow version from the running totals (``records.rollup.grouped``), by day or hour of day by
        counting the calls."""
        return self.db.read(lambda c: call_stats(c, query, zone, rolled_up_groups(c, query.calls, query.group_by)))

    def stats_figures(self, calls: CallFilter, zone: tzinfo) -> dict[str, Any]:
        """What the Statistics page draws: ``by_day`` (the totals, calls and connected per day) and ``by_hour``
        (calls and the connect rate per hour of day), from the running totals (``records.rollup``), or by
        counting the calls twice when those cannot say (a zone half an hour off UTC)."""

        def read(c: sqlite3.Connection) -> dict[str, Any]:
            found = rolled_up(c, calls, zone)
            if found is None:
                day = call_stats(c, StatsQuery(group_by="day", calls=calls), zone)
                hour = call_stats(c, StatsQuery(group_by="hour", calls=calls), zone)
                return {"by_day": day, "by_hour": hour}
            shown = {"zone": getattr(zone, "key", None) or str(zone), "filters": calls.as_dict()}
            return {"by_day": {**shown, "group_by": "day", "total": found["total"], "groups": found["days"]},
                    "by_hour": {**shown, "group_by": "hour", "groups": found["hours"]}}

        return self.db.read(read)

    def export_csv(self, kind: str, calls: CallFilter) -> Iterator[str]:
        """``calls`` or ``turns`` as CSV text chunks, streamed a page at a time (appliance.records.export)."""
        return EXPORTS[kind](self.db.read, calls)

    def find_tasks(self, query: TaskQuery) -> list[dict[str, Any]]:
        return self.db.read(lambda c: find_tasks(c, query))

    def tasks_of(self, ticket_id: str) -> list[dict[str, Any]]:
        return self.db.read(lambda c: tasks_of(c, ticket_id))

    def operations(self, ticket_id: str) -> list[dict[str, Any]]:
        rows = self.db.read(
            lambda c: c.execute(
                "SELECT kind, detail, call_id, created_at FROM ticket_operations WHERE ticket_id=? ORDER BY id",
                (ticket_id,),
            ).fetchall()
        )
        return [dict(r) for r in rows]

    def operations_of(self, ticket_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Each ticket's operations (oldest first) in one query, for a list of tickets (not a query per ticket)."""
        ids = list(dict.fromkeys(ticket_ids))
        found: dict[str, list[dict[str, Any]]] = {t: [] for t in ids}
        for start in range(0, len(ids), 500):  # well under SQLite's limit on bound parameters
            chunk = ids[start:start + 500]
            sql = ("SELECT ticket_id, kind, detail, call_id, created_at FROM ticket_operations WHERE ticket_id IN"
                   f" ({','.join('?' * len(chunk))}) ORDER BY id")


            def read(c: sqlite3.Connection, sql: str = sql, chunk: list[str] = chunk) -> list[sqlite3.Row]:
                return c.execute(sql, chunk).fetchall()

            rows = self.db.read(read)
            for r in rows:
                found[r["ticket_id"]].append({"kind": r["kind"], "detail": r["detail"], "call_id": r["call_id"],
                                              "created_at": r["created_at"]})
        return found

    def add_operation(self, ticket_id: str, kind: str, detail: str, *, outbox: dict[str, Any] | None = None) -> None:
        def tx(c: sqlite3.Connection) -> None:
            ts = now_iso()
            c.execute(
                "INSERT INTO ticket_operations (ticket_id, call_id, kind, detail, created_at) VALUES (?,?,?,?,?)",
                (ticket_id, None, kind, detail, ts),
            )
            if outbox is not None:
                enqueue(c, target="ticket", topic="ticket.operation", payload=outbox, ts=ts, order_key=ticket_id)

        self.db.write(tx)

    # -- the console's lists and an owner's ticket actions (appliance.records.browse, .ticket_actions) -----
    def search_calls(self, query: browse.CallSearch) -> dict[str, Any]:
        return self.db.read(lambda c: browse.search_calls(c, query))

    def search_tickets(self, query: browse.TicketSearch) -> dict[str, Any]:
        return self.db.read(lambda c: browse.search_tickets(c, query))

    def ticket_outbox(self, ticket_id: str) -> list[dict[str, Any]]:
        return self.db.read(lambda c: browse.ticket_outbox(c, ticket_id))

    def ticket_action(self, ticket_id: str, action: str, *, who: str) -> str | None:
        return self.db.write(lambda c: ticket_actions.act(c, ticket_id, action, who=who))

    def ticket_note(self, ticket_id: str, text: str, *, who: str) -> str | None:
        return self.db.write(lambda c: ticket_actions.add_note(c, ticket_id, text, who=who))

    # -- outbox (appliance.records.outbox) ------------------------------------
    @property
    def outbox(self) -> Outbox:
        """Ticket operations waiting for the ticketing system."""
        return self._outbox

    def outbox_due(self, now: datetime, *, limit: int = 20) -> list[dict[str, Any]]:
        return self._outbox.due(now, limit=limit)

    def outbox_delivered(self, item_id: int) -> None:
        self._outbox.delivered(item_id)

    def outbox_failed(self, item_id: int, error: str, next_try_at: datetime) -> None:
        self._outbox.failed(item_id, error, next_try_at)

    # -- users -------------------------------------------------------------
    def set_user(self, username: str, password_hash: str, role: str | None = None) -> None:
        """Set a user's password, creating the user (an admin unless ``role``) if need be."""
        self.accounts.upsert(username, password_hash, role)

    def password_hash(self, username: str) -> str | None:
        return self.accounts.password_hash(username)




# The one claim query: a due pending ticket task whose call task (if any) is pending or running, still valid,
# and has fewer running attempts than the lines it may use; priority first, then the oldest due.
# The call tasks whose ticket tasks may be taken now: live and not paused, still valid, a line to spare.
CLAIMABLE_CALL_TASKS = (
    "SELECT ct.id, ct.priority FROM call_tasks AS ct"
    " WHERE ct.state IN ('pending', 'running') AND (ct.valid_until IS NULL OR ct.valid_until>?)"
    " AND (ct.lines IS NULL OR ct.lines > (SELECT COUNT(*) FROM tasks AS r"
    " WHERE r.call_task_id = ct.id AND r.state='running'))"
)
# The oldest due ticket task of one call task (of none: rows made before call tasks) whose number is not being
# called; walks the tasks_claim index (call task, state, due time) in order, so it stops at the first that fits.
_DUE_OF = (" AND tasks.state='pending' AND tasks.next_attempt_at<=?"
           f" AND {ONE_CALL_PER_NUMBER}"  # appliance.records.line_use
           " ORDER BY tasks.next_attempt_at, tasks.id LIMIT 1")
DUE_IN_CALL_TASK = "SELECT tasks.* FROM tasks WHERE tasks.call_task_id=?" + _DUE_OF
DUE_WITHOUT_CALL_TASK = "SELECT tasks.* FROM tasks WHERE tasks.call_task_id IS NULL" + _DUE_OF


def first_claimable(c: sqlite3.Connection, now: str) -> sqlite3.Row | None:
    """The ticket task to take next: of the claimable call tasks with the highest priority that has one due, the
    oldest due (then the lowest id). One small query per live call task instead of one over every pending task:
    with 100,000 tasks waiting, a single ordered query over all of them held the writer for ~150 ms a claim."""
    groups: dict[int, list[int | None]] = {0: [None]}  # priority -> call task ids; None: tasks without one
    for g in c.execute(CLAIMABLE_CALL_TASKS, (now,)).fetchall():
        groups.setdefault(int(g["priority"]), []).append(int(g["id"]))
    for priority in sorted(groups, reverse=True):
        found = [row for call_task in groups[priority]
                 if (row := (c.execute(DUE_WITHOUT_CALL_TASK, (now,)) if call_task is None
                             else c.execute(DUE_IN_CALL_TASK, (call_task, now))).fetchone()) is not None]
        if found:
            return min(found, key=lambda r: (r["next_attempt_at"], r["id"]))
    return None


def _task(r: sqlite3.Row) -> TaskRow:
    return TaskRow(r["id"], r["ticket_id"], r["flow_id"], r["state"], r["attempts"], r["max_attempts"],
                   r["next_attempt_at"], r["call_task_id"])


def _in_flight(c: sqlite3.Connection) -> list[InFlight]:
    """Running tasks (with their last call row if it is still in flight) and stray in-flight call rows."""
    found: list[InFlight] = []
    seen_calls: set[int] = set()

    def ticket_of(ticket_id: str) -> Ticket | None:
        row = c.execute("SELECT * FROM tickets WHERE id=?", (ticket_id,)).fetchone()
        return ticket_from_row(row) if row is not None else None

    for t in c.execute("SELECT * FROM tasks WHERE state='running' ORDER BY id").fetchall():
        call = c.execute(
            f"SELECT id FROM calls WHERE task_id=? AND state IN {IN_FLIGHT_CALL} ORDER BY id DESC LIMIT 1",
            (t["id"],),
        ).fetchone()
        if call is not None:
            seen_calls.add(call["id"])
        found.append(InFlight(_task(t), ticket_of(t["ticket_id"]), call["id"] if call else None, True))
    for call in c.execute(f"SELECT id, task_id FROM calls WHERE state IN {IN_FLIGHT_CALL} ORDER BY id").fetchall():
        if call["id"] in seen_calls:
            continue
        t = c.execute("SELECT * FROM tasks WHERE id=?", (call["task_id"],)).fetchone()
        found.append(InFlight(_task(t), ticket_of(t["ticket_id"]), call["id"], False))
    return found
