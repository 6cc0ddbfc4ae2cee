"""Call tasks in SQLite (migration 9): a campaign's row, the ticket tasks that belong to it, its timers.

The campaign decides (``appliance.campaign.calltask``: the state table and the settings); this module writes,
each change in ONE transaction on the writer thread: a task with all its customers' tickets and ticket tasks; a
pause, resume, cancel or expiry with the ticket tasks it ends; a timer's firing with the task it makes and the
due time it fired for (so that it fires at most once per due time, across restarts). States are kept as text
(records sits below the campaign and does not import it).

``settle`` runs inside an attempt's conclusion (``records.conclusion.write_conclusion``): the call task's
progress (``finished``) and its completion are written in the same transaction as the attempt's end.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from appliance.records.db import Database

__all__ = ["CallTaskRecords", "Customer", "NewCallTask", "settle", "standing_task"]

LIVE = ("pending", "running", "paused")  # a call task's live states, and a ticket task's (conclusion.LIVE_TASK)
ENDED = ("completed", "expired", "cancelled")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Customer:
    """One customer of a new call task: a row of a CSV or of the API's ``customers`` (a new ticket is stored for
    it), or a ticket the box already has (``ticket_id``)."""

    row: int
    phone: str = ""  # E.164
    name: str = ""
    order_id: str = ""
    vars: dict[str, str] = field(default_factory=dict)
    ticket_id: str | None = None


@dataclass(frozen=True)
class NewCallTask:
    name: str
    source: str  # trigger | cron | manual | csv
    flow_id: str
    settings: dict[str, Any]
    priority: int
    lines: int | None
    valid_until: str | None
    max_attempts: int


def standing_task(c: sqlite3.Connection, flow_id: str, ts: str, *, name: str | None = None,
                  settings: dict[str, Any] | None = None) -> int:
    """The live call task that the webhook's tickets join: one per scenario (``name``; a ticket without one: its
    flow's id), made on first use; a paused one keeps them waiting. ``settings`` (the scenario's task settings,
    checked by the campaign) are written over the stored ones when they differ, so an owner's edit of the
    scenario reaches the tickets already waiting in it; None leaves them as they are."""
    name = name or flow_id
    row = c.execute("SELECT id, flow_id, settings FROM call_tasks"
                    f" WHERE source='trigger' AND name=? AND state IN {LIVE}", (name,)).fetchone()
    if row is not None:
        if settings is not None and (json.loads(row["settings"]) != settings or row["flow_id"] != flow_id):
            c.execute("UPDATE call_tasks SET flow_id=?, settings=?, priority=?, lines=?, updated_at=? WHERE id=?",
                      (flow_id, json.dumps(settings), int(settings.get("priority", 0)), settings.get("lines"), ts,
                       row["id"]))
        return int(row["id"])
    settings = settings or {}
    cur = c.execute(
        "INSERT INTO call_tasks (name, source, flow_id, settings, state, priority, lines, created_at, updated_at)"
        " VALUES (?,?,?,?,?,?,?,?,?)",
        (name, "trigger", flow_id, json.dumps(settings), "pending", int(settings.get("priority", 0)),
         settings.get("lines"), ts, ts))
    assert cur.lastrowid is not None
    return cur.lastrowid


def settle(c: sqlite3.Connection, call_task_id: int, ts: str, *, ticket_status: str = "skipped") -> None:
    """After a change to its ticket tasks: count the ended ones; an ended call task ends what is still pending
    of it (a retry a call in progress planned), a live one (not a trigger's standing task) with nothing left is
    completed."""
    ct = c.execute("SELECT * FROM call_tasks WHERE id=?", (call_task_id,)).fetchone()
    if ct is None:
        return
    if ct["state"] in ("cancelled", "expired"):
        ended = [r["ticket_id"] for r in c.execute(
            "SELECT ticket_id FROM tasks WHERE call_task_id=? AND state='pending'", (call_task_id,))]
        c.execute("UPDATE tasks SET state=?, last_outcome=?, updated_at=? WHERE call_task_id=? AND state='pending'",
                  (ct["state"], ct["state"], ts, call_task_id))
        for ticket_id in ended:
            c.execute("UPDATE tickets SET status=?, next_call_at=NULL, updated_at=? WHERE id=? AND status IN"
                      " ('open', 'scheduled')", (ticket_status, ts, ticket_id))
            c.execute("INSERT INTO ticket_operations (ticket_id, call_id, kind, detail, created_at)"
                      " VALUES (?,?,?,?,?)", (ticket_id, None, "remark",
                                              f"No further call: call task {call_task_id} {ct['state']}.", ts))
    live = c.execute(f"SELECT COUNT(*) FROM tasks WHERE call_task_id=? AND state IN {LIVE}",
                     (call_task_id,)).fetchone()[0]
    total = c.execute("SELECT COUNT(*) FROM tasks WHERE call_task_id=?", (call_task_id,)).fetchone()[0]
    state = ct["state"]
    if live == 0 and state in ("pending", "running") and ct["source"] != "trigger":
        state = "completed"
    c.execute("UPDATE call_tasks SET state=?, total=?, finished=?, updated_at=? WHERE id=?",
              (state, total, total - live, ts, call_task_id))


def _insert_ticket_task(c: sqlite3.Connection, ticket_id: str, flow_id: str, at: str, max_attempts: int,
                        call_task_id: int, ts: str) -> None:
    c.execute(
        "INSERT INTO tasks (ticket_id, flow_id, state, attempts, max_attempts, next_attempt_at, created_at,"
        " updated_at, call_task_id) VALUES (?,?,?,?,?,?,?,?,?)",
        (ticket_id, flow_id, "pending", 0, max_attempts, at, ts, ts, call_task_id))


class CallTaskRecords:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- making them ------------------------------------------------------------
    def create(self, new: NewCallTask, customers: Sequence[Customer], *,
               timer: tuple[int, str] | None = None) -> int | None:
        """The call task, a ticket (``<source>-<task>-<row>``) for each new customer and a ticket task for every
        customer, in one transaction. ``timer`` (id, due time): the timer fires for that due time only if it has
        not yet (else nothing is written and None is returned)."""

        def tx(c: sqlite3.Connection) -> int | None:
            ts = _now()
            if timer is not None:
                timer_id, due = timer
                fired = c.execute("UPDATE call_task_timers SET last_due=? WHERE id=? AND active=1 AND"
                                  " (last_due IS NULL OR last_due < ?)", (due, timer_id, due)).rowcount
                if not fired:
                    return None
            cur = c.execute(
                "INSERT INTO call_tasks (name, source, flow_id, settings, state, priority, lines, valid_until,"
                " timer_id, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (new.name, new.source, new.flow_id, json.dumps(new.settings, ensure_ascii=False), "pending",
                 new.priority, new.lines, new.valid_until, timer[0] if timer else None, ts, ts))
            task_id = cur.lastrowid
            assert task_id is not None
            for cust in customers:
                ticket_id = cust.ticket_id
                if ticket_id is None:
                    ticket_id = f"{new.source}-{task_id}-{cust.row}"
                    payload = {"source": new.source, "call_task": task_id, "row": cust.row}
                    c.execute(
                        "INSERT INTO tickets (id, type, subject, description, customer_name, customer_phone,"
                        " order_id, order_status, payload, status, decision, reason, flow_id, next_call_at,"
                        " received_at, updated_at, vars) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (ticket_id, new.source, new.name, "", cust.name, cust.phone, cust.order_id, "",
                         json.dumps(payload), "open", "call", f"call task {task_id} ({new.name})", new.flow_id,
                         None, ts, ts, json.dumps(cust.vars, ensure_ascii=False)))
                else:
                    c.execute("UPDATE tickets SET status='open', decision='call', reason=?, flow_id=?,"
                              " next_call_at=NULL, updated_at=? WHERE id=?",
                              (f"call task {task_id} ({new.name})", new.flow_id, ts, ticket_id))
                _insert_ticket_task(c, ticket_id, new.flow_id, ts, new.max_attempts, task_id, ts)
            settle(c, task_id, ts)
            return task_id

        return self.db.write(tx)  # StorageError (nothing written): a customer got a live task meanwhile

    def move(self, task_id: int, from_state: str, to_state: str) -> bool:
        """Compare-and-set of the state (the campaign's table allowed the move); a cancel or an expiry ends the
        task's pending attempts in the same transaction. False: the state was not ``from_state`` any more."""

        def tx(c: sqlite3.Connection) -> bool:
            ts = _now()
            moved = c.execute("UPDATE call_tasks SET state=?, updated_at=? WHERE id=? AND state=?",
                              (to_state, ts, task_id, from_state)).rowcount
            if moved:
                settle(c, task_id, ts)
            return bool(moved)

        return bool(self.db.write(tx))

    def expire_due(self, now: datetime) -> list[int]:
        """Live call tasks whose validity ended become ``expired``, their pending attempts too: one transaction."""
        at = now.astimezone(UTC).isoformat(timespec="milliseconds")

        def tx(c: sqlite3.Connection) -> list[int]:
            ids = [r["id"] for r in c.execute(
                f"SELECT id FROM call_tasks WHERE state IN {LIVE} AND valid_until IS NOT NULL AND valid_until<=?",
                (at,))]
            ts = _now()
            for i in ids:
                c.execute("UPDATE call_tasks SET state='expired', updated_at=? WHERE id=?", (ts, i))
                settle(c, i, ts)
            return ids

        return list(self.db.write(tx))

    # -- reading them -------------------------------------------------------------
    def get(self, task_id: int) -> dict[str, Any] | None:
        def read(c: sqlite3.Connection) -> dict[str, Any] | None:
            row = c.execute("SELECT * FROM call_tasks WHERE id=?", (task_id,)).fetchone()
            return _view(c, row) if row is not None else None

        return self.db.read(read)

    def find(self, *, state: str | None = None, source: str | None = None, flow: str | None = None,
             before: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        where, args = [], []
        for clause, value in (("state = ?", state), ("source = ?", source), ("flow_id = ?", flow),
                              ("id < ?", before)):
            if value is not None:
                where.append(clause)
                args.append(value)
        sql = "SELECT * FROM call_tasks" + (" WHERE " + " AND ".join(where) if where else "") + \
            " ORDER BY id DESC LIMIT ?"
        return self.db.read(
            lambda c: [_view(c, r) for r in c.execute(sql, (*args, limit)).fetchall()])

    def attempts(self, task_id: int, *, after: int | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """The ticket tasks of the call task with their calls (id, attempt, outcome, times), oldest first; with
        ``after`` (a ticket task id) and ``limit``, one page of them. Two queries however many there are: the
        ticket tasks, then the calls of all of them."""

        def read(c: sqlite3.Connection) -> list[dict[str, Any]]:
            sql = ("SELECT tasks.*, tickets.customer_phone, tickets.customer_name FROM tasks"
                   " JOIN tickets ON tickets.id = tasks.ticket_id WHERE call_task_id=?"
                   + (" AND tasks.id > ?" if after is not None else "") + " ORDER BY tasks.id"
                   + (" LIMIT ?" if limit is not None else ""))
            args = [task_id] + ([after] if after is not None else []) + ([limit] if limit is not None else [])
            rows = c.execute(sql, args).fetchall()
            calls: dict[int, list[dict[str, Any]]] = {}
            ids = [t["id"] for t in rows]
            for i in range(0, len(ids), 500):
                part = ids[i:i + 500]
                for r in c.execute("SELECT task_id, id, attempt, line, state, outcome, disposition, started_at,"
                                   f" ended_at FROM calls WHERE task_id IN ({','.join('?' * len(part))})"
                                   " ORDER BY id", part):
                    call = dict(r)
                    calls.setdefault(call.pop("task_id"), []).append(call)
            return [{"task_id": t["id"], "ticket_id": t["ticket_id"], "phone": t["customer_phone"],
                     "name": t["customer_name"], "state": t["state"], "attempts": t["attempts"],
                     "max_attempts": t["max_attempts"], "last_outcome": t["last_outcome"],
                     "next_attempt_at": t["next_attempt_at"] if t["state"] == "pending" else None,
                     "calls": calls.get(t["id"], [])} for t in rows]

        return self.db.read(read)

    def settings_of(self, task_id: int) -> dict[str, Any] | None:
        row = self.db.read(lambda c: c.execute("SELECT settings FROM call_tasks WHERE id=?", (task_id,)).fetchone())
        return json.loads(row["settings"]) if row is not None else None

    def live_phones(self, phones: Sequence[str]) -> set[str]:
        """Which of ``phones`` (E.164) already have a live ticket task (in any call task)."""
        wanted = sorted(set(phones))

        def read(c: sqlite3.Connection) -> set[str]:
            found: set[str] = set()
            for i in range(0, len(wanted), 500):
                part = wanted[i:i + 500]
                marks = ",".join("?" * len(part))
                found.update(r[0] for r in c.execute(
                    f"SELECT DISTINCT tickets.customer_phone FROM tasks JOIN tickets ON tickets.id = tasks.ticket_id"
                    f" WHERE tasks.state IN {LIVE} AND tickets.customer_phone IN ({marks})", part))
            return found

        return self.db.read(read)

    def open_tickets(self, flow_id: str, *, limit: int = 10000) -> list[dict[str, Any]]:
        """Tickets of ``flow_id`` not done with (open, scheduled, unreachable) that have no live task."""
        return self.db.read(lambda c: [dict(r) for r in c.execute(
            "SELECT id, customer_phone, customer_name FROM tickets WHERE flow_id=? AND status IN"
            f" ('open', 'scheduled', 'unreachable') AND id NOT IN (SELECT ticket_id FROM tasks WHERE state IN {LIVE})"
            " ORDER BY received_at LIMIT ?", (flow_id, limit))])

    def tickets_with_live_task(self, ticket_ids: Sequence[str]) -> set[str]:
        """Which of ``ticket_ids`` already have a live ticket task."""
        wanted = sorted(set(ticket_ids))

        def read(c: sqlite3.Connection) -> set[str]:
            found: set[str] = set()
            for i in range(0, len(wanted), 500):
                part = wanted[i:i + 500]
                found.update(r[0] for r in c.execute(
                    f"SELECT ticket_id FROM tasks WHERE state IN {LIVE} AND ticket_id IN ({','.join('?' * len(part))})",
                    part))
            return found

        return self.db.read(read)

    # -- timers -------------------------------------------------------------------
    def add_timer(self, name: str, cron: str, template: dict[str, Any]) -> int:
        def tx(c: sqlite3.Connection) -> int:
            cur = c.execute("INSERT INTO call_task_timers (name, cron, template, created_at) VALUES (?,?,?,?)",
                            (name, cron, json.dumps(template, ensure_ascii=False), _now()))
            assert cur.lastrowid is not None
            return cur.lastrowid

        return int(self.db.write(tx))

    def mark_fired(self, timer_id: int, due: str) -> bool:
        """The timer fired for ``due`` without making a task (nobody to call): not again for that time."""
        return bool(self.db.write(lambda c: c.execute(
            "UPDATE call_task_timers SET last_due=? WHERE id=? AND (last_due IS NULL OR last_due < ?)",
            (due, timer_id, due)).rowcount))

    def set_timer_active(self, timer_id: int, active: bool) -> bool:
        """Enable or disable a timer; False when there is no such timer."""
        return bool(self.db.write(lambda c: c.execute(
            "UPDATE call_task_timers SET active=? WHERE id=?", (int(active), timer_id)).rowcount))

    def delete_timer(self, timer_id: int) -> bool:
        """Remove a timer (the call tasks it made stay); False when there is no such timer."""
        return bool(self.db.write(lambda c: c.execute(
            "DELETE FROM call_task_timers WHERE id=?", (timer_id,)).rowcount))

    def timers(self) -> list[dict[str, Any]]:
        rows = self.db.read(lambda c: c.execute("SELECT * FROM call_task_timers ORDER BY id").fetchall())
        return [{**dict(r), "template": json.loads(r["template"]), "active": bool(r["active"])} for r in rows]


def _view(c: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
    """A call task with its progress: ticket tasks by state, ended ones by outcome, calls made."""
    by_state = {r[0]: r[1] for r in c.execute(
        "SELECT state, COUNT(*) FROM tasks WHERE call_task_id=? GROUP BY state", (row["id"],))}
    by_outcome = {r[0]: r[1] for r in c.execute(  # calls.call_task_id: the task's, copied when the call is made
        "SELECT COALESCE(outcome, state), COUNT(*) FROM calls WHERE call_task_id=? GROUP BY 1", (row["id"],))}
    d = dict(row)
    d["settings"] = json.loads(row["settings"])
    d["progress"] = {"total": row["total"], "finished": row["finished"], "by_state": by_state,
                     "calls": sum(by_outcome.values()), "by_outcome": by_outcome}
    return d
