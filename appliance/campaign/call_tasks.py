"""Call tasks as an owner drives them: preview and create (by hand, from a CSV, by a timer), pause, resume,
cancel, and the timer's tick (fire what is due, expire what ran out). The API, the CLI and the timer thread all
come here; the records store writes each change in one transaction (``records.call_tasks``).

A preview lists every customer that would be called and every one that would not, with the reason: a bad phone
number, the do-not-call list, a duplicate in the file, a number that already has a call planned, a variable the
flow needs and the row does not give. Creating runs the same checks again and stores the accepted rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from croniter import croniter

from appliance.campaign.calltask import CALL_TASK_TABLE, CallTaskState, TaskSettings, parse_settings
from appliance.campaign.customers import RawCustomer, customers_from_csv, customers_from_list
from appliance.campaign.tickets import normalise_phone
from appliance.dialog.flow.load import parse_flow
from appliance.errors import CallboxError, TaskInvalid, TicketInvalid
from appliance.records.call_tasks import Customer, NewCallTask
from appliance.records.config_store import ConfigStore
from appliance.records.store import RecordsStore

__all__ = ["CallTasks", "Preview", "TaskNotFound", "latest_due"]

log = logging.getLogger(__name__)

_KEYS = {"name", "flow", "settings", "tickets", "customers", "csv", "cron"}
MAX_NAME = 200


class TaskNotFound(CallboxError):
    def __init__(self, task_id: int) -> None:
        super().__init__(f"no call task {task_id}")
        self.task_id = task_id


class TimerNotFound(CallboxError):
    def __init__(self, timer_id: int) -> None:
        super().__init__(f"no timer {timer_id}")
        self.timer_id = timer_id


TIMER_ACTIONS = {"enable": True, "disable": False}


@dataclass(frozen=True)
class Preview:
    name: str
    flow: str
    source: str  # manual | csv | cron
    settings: TaskSettings
    accepted: list[Customer]
    refused: list[dict[str, Any]]  # {row, phone, reason, detail}

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "flow": self.flow, "source": self.source, "settings": self.settings.as_dict(),
            "accepted": [{"row": c.row, "phone": c.phone, "name": c.name, "order_id": c.order_id, "vars": c.vars,
                          **({"ticket": c.ticket_id} if c.ticket_id else {})} for c in self.accepted],
            "refused": self.refused,
            "counts": {"accepted": len(self.accepted), "refused": len(self.refused)},
        }


def latest_due(expr: str, after: datetime, now: datetime, zone: tzinfo) -> datetime | None:
    """The last time ``expr`` (cron, on the wall clock of ``zone``) was due in ``(after, now]``, or None. A timer
    fires for that time once: missed times while the box was off come to one firing, not a burst."""
    prev = croniter(expr, now.astimezone(zone) + timedelta(seconds=1)).get_prev(datetime)  # `now` itself counts
    prev = prev.replace(fold=0).astimezone(UTC)
    return prev if prev > after else None


def next_due(expr: str, now: datetime, zone: tzinfo) -> datetime:
    """The next time after ``now`` that ``expr`` (cron, on the wall clock of ``zone``) is due, in UTC."""
    return croniter(expr, now.astimezone(zone)).get_next(datetime).replace(fold=0).astimezone(UTC)


def _text(body: dict[str, Any], key: str, *, required: bool) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise TaskInvalid("must be a non-empty text", field=key)
    if len(value) > MAX_NAME:
        raise TaskInvalid(f"is longer than {MAX_NAME} characters", field=key)
    return value.strip()


def _cron(expr: Any) -> str:
    if not isinstance(expr, str) or len(expr) > 200 or not croniter.is_valid(expr):
        raise TaskInvalid("is not a cron expression such as '0 10 * * 1-5' (minute hour day month weekday)",
                          field="cron")
    return expr


class CallTasks:
    def __init__(self, *, records: RecordsStore, configs: ConfigStore, max_attempts: int,
                 shop_name: str = "the shop", phone_region: str | None = None, zone: tzinfo = UTC,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 on_created: Callable[[], None] | None = None) -> None:
        self.records = records
        self.configs = configs
        self.max_attempts = max_attempts  # `calling.max_attempts`: a task without its own
        self.shop_name = shop_name
        self.phone_region = phone_region
        self.zone = zone  # timers' cron expressions are read on this wall clock (the shop's)
        self.clock = clock
        self.on_created = on_created  # wakes the scheduler

    # -- making one ---------------------------------------------------------------
    def preview(self, body: Any, *, source: str | None = None) -> Preview:
        """What creating ``body`` would call and what it would refuse, and why; writes nothing."""
        if not isinstance(body, dict):
            raise TaskInvalid("the body must be a JSON object", field="body")
        unknown = sorted(str(k)[:40] for k in body if k not in _KEYS)
        if unknown:
            raise TaskInvalid(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}",
                              field="body")
        if body.get("cron") is not None:
            _cron(body["cron"])
        flow_id = _text(body, "flow", required=True)
        assert flow_id is not None
        settings = parse_settings(body.get("settings"))
        ends = settings.ends_at(self.clock())
        if ends is not None and datetime.fromisoformat(ends) <= self.clock():
            raise TaskInvalid("has already passed", field="settings.valid_until")
        found = self.configs.flow(flow_id)
        if found is None:
            raise TaskInvalid(f"flow {flow_id!r} is not published", field="flow")
        given = [k for k in ("tickets", "customers", "csv") if body.get(k) is not None]
        if len(given) > 1:
            raise TaskInvalid(f"give one of tickets, customers, csv (not {' and '.join(given)})", field=given[1])
        kind = given[0] if given else None
        if kind is None and body.get("cron") is None and source != "cron":
            raise TaskInvalid("give tickets (ids), customers, or csv", field="customers")
        name = _text(body, "name", required=False) or f"{flow_id} {self.clock().astimezone(self.zone):%Y-%m-%d %H:%M}"
        declared = parse_flow(found[1]).declared
        if kind == "tickets":
            accepted, refused = self._tickets(body["tickets"], declared, name)
        elif kind is None:  # a timer's "open tickets of the flow"
            ids = [t["id"] for t in self.records.call_tasks.open_tickets(flow_id)]
            accepted, refused = self._tickets(ids, declared, name) if ids else ([], [])
        else:
            raws = customers_from_csv(body["csv"]) if kind == "csv" else customers_from_list(body["customers"])
            accepted, refused = self._customers(raws, declared, name)
        return Preview(name, flow_id, source or ("csv" if kind == "csv" else "manual"), settings, accepted, refused)

    def _variables(self, name: str, customer_name: str, order_id: str, extra: dict[str, str],
                   subject: str) -> dict[str, str]:
        return {**extra, "name": customer_name, "order_id": order_id, "order_status": "", "shop": self.shop_name,
                "subject": subject}

    def _customers(self, raws: list[RawCustomer], declared: Any, name: str
                   ) -> tuple[list[Customer], list[dict[str, Any]]]:
        accepted: list[Customer] = []
        refused: list[dict[str, Any]] = []
        readable: list[tuple[RawCustomer, str]] = []
        for raw in raws:
            if raw.problem is not None:
                refused.append({"row": raw.row, "phone": raw.phone[:64], "reason": "unreadable", "detail": raw.problem})
                continue
            try:
                phone = normalise_phone(raw.phone, self.phone_region)
            except TicketInvalid as exc:
                refused.append({"row": raw.row, "phone": raw.phone[:64], "reason": "bad_phone",
                                "detail": exc.message if raw.phone else "no phone number"})
                continue
            readable.append((raw, phone))
        live = self.records.call_tasks.live_phones([p for _, p in readable])
        seen: dict[str, int] = {}
        for raw, phone in readable:
            why = self._refusal(phone, live, seen, raw.row)
            if why is None:
                missing = declared.missing(self._variables(name, raw.name, raw.order_id, raw.vars, name))
                if missing:
                    why = ("missing_variables", f"the flow needs {', '.join(missing)} and the row has no value")
            seen.setdefault(phone, raw.row)
            if why is not None:
                refused.append({"row": raw.row, "phone": phone, "reason": why[0], "detail": why[1]})
                continue
            accepted.append(Customer(raw.row, phone, raw.name, raw.order_id, raw.vars))
        return accepted, refused

    def _refusal(self, phone: str, live: set[str], seen: dict[str, int], row: int) -> tuple[str, str] | None:
        entry = self.records.do_not_call.entry(phone)
        if entry is not None:
            return "do_not_call", f"on the do-not-call list since {entry.added_at[:10]} ({entry.reason})"
        if phone in seen:
            return "duplicate", f"the same number as row {seen[phone]}"
        if phone in live:
            return "already_in_task", "the number already has a call planned in a live task"
        return None

    def _tickets(self, ids: Any, declared: Any, name: str) -> tuple[list[Customer], list[dict[str, Any]]]:
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and 0 < len(i) <= 200 for i in ids):
            raise TaskInvalid("must be a non-empty list of ticket ids", field="tickets")
        accepted: list[Customer] = []
        refused: list[dict[str, Any]] = []
        busy = self.records.call_tasks.tickets_with_live_task(ids)
        seen: dict[str, int] = {}
        for row, ticket_id in enumerate(ids, start=1):
            ticket = self.records.ticket(ticket_id)
            if ticket is None:
                refused.append({"row": row, "ticket": ticket_id, "phone": "", "reason": "unknown_ticket",
                                "detail": f"no ticket {ticket_id}"})
                continue
            phone = ticket.customer_phone
            why = self._refusal(phone, set(), seen, row)
            if why is None and ticket_id in busy:
                why = ("already_in_task", "the ticket already has a call planned in a live task")
            if why is None:
                missing = declared.missing(ticket.variables(self.shop_name))
                if missing:
                    why = ("missing_variables", f"the flow needs {', '.join(missing)} and the ticket has no value")
            seen.setdefault(phone, row)
            if why is not None:
                refused.append({"row": row, "ticket": ticket_id, "phone": phone, "reason": why[0], "detail": why[1]})
                continue
            accepted.append(Customer(row, phone, ticket.customer_name, ticket.order_id, ticket.vars, ticket_id))
        return accepted, refused

    def create(self, body: Any) -> dict[str, Any]:
        """A call task with the accepted customers (refused ones are listed in the answer), or a timer when the
        body has ``cron``. Nothing is written when no customer can be called."""
        if isinstance(body, dict) and body.get("cron") is not None:
            return self.add_timer(body)
        preview = self.preview(body)
        task_id = self._store(preview, timer=None)
        assert task_id is not None
        task = self.get(task_id)
        assert task is not None
        return {**task, "refused": preview.refused}

    def _store(self, preview: Preview, *, timer: tuple[int, str] | None) -> int | None:
        if not preview.accepted:
            raise TaskInvalid("no customer can be called (see the preview for why)", field="customers")
        s = preview.settings
        now = self.clock()
        new = NewCallTask(preview.name, preview.source, preview.flow, s.as_dict(), s.priority, s.lines,
                          s.ends_at(now), s.attempts(self.max_attempts))
        task_id = self.records.call_tasks.create(new, preview.accepted, timer=timer)
        if task_id is not None:
            log.info("call task %s (%s): %d customer(s) to call with flow %s, %d refused", task_id, preview.name,
                     len(preview.accepted), preview.flow, len(preview.refused))
            if self.on_created is not None:
                self.on_created()
        return task_id

    # -- driving one ----------------------------------------------------------------
    def get(self, task_id: int) -> dict[str, Any] | None:
        task = self.records.call_tasks.get(task_id)
        if task is None:
            return None
        return {**task, "attempts": self.records.call_tasks.attempts(task_id)}

    def find(self, **filters: Any) -> list[dict[str, Any]]:
        return self.records.call_tasks.find(**filters)

    def act(self, task_id: int, action: str) -> dict[str, Any]:
        """``pause``, ``resume`` or ``cancel`` by the call task's state table (``IllegalTransition`` names the
        state and the action); a cancel ends its pending attempts ``cancelled`` in the same transaction."""
        for _ in range(3):  # the state may move under us (the scheduler starts it, a call completes it)
            task = self.records.call_tasks.get(task_id)
            if task is None:
                raise TaskNotFound(task_id)
            state = CallTaskState(task["state"])
            new = CALL_TASK_TABLE.next(state, action)
            if self.records.call_tasks.move(task_id, state.value, new.value):
                log.info("call task %s: %s (%s -> %s)", task_id, action, state.value, new.value)
                if action == "resume" and self.on_created is not None:
                    self.on_created()
                found = self.get(task_id)
                assert found is not None
                return found
        raise CallboxError(f"call task {task_id} kept changing state; try again")

    # -- timers -----------------------------------------------------------------------
    def add_timer(self, body: dict[str, Any]) -> dict[str, Any]:
        """A timer: at each time of the cron expression, a call task from the rest of the body (its CSV, its
        customers, its tickets, or without them the flow's tickets still open)."""
        expr = _cron(body.get("cron"))
        template = {k: v for k, v in body.items() if k != "cron"}
        self.preview(template, source="cron")  # checked whole now: the flow, the settings, the customers' shape
        name = _text(body, "name", required=False) or f"{template['flow']} at {expr}"
        timer_id = self.records.call_tasks.add_timer(name, expr.strip(), template)
        log.info("timer %s (%s): %s", timer_id, name, expr)
        return {"timer": timer_id, "name": name, "cron": expr.strip(), "template": template}

    def timers(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Every timer: id, name, cron, active, last_due, created_at, template and ``next_due`` (the next time its
        cron expression is due on the shop's clock, as the tick reads it; None when it is disabled)."""
        now = now or self.clock()
        out = []
        for timer in self.records.call_tasks.timers():
            upcoming = None
            if timer["active"]:
                try:
                    upcoming = next_due(timer["cron"], now, self.zone).isoformat(timespec="milliseconds")
                except (ValueError, KeyError):
                    upcoming = None
            out.append({**timer, "next_due": upcoming})
        return out

    def timer(self, timer_id: int, now: datetime | None = None) -> dict[str, Any] | None:
        return next((t for t in self.timers(now) if t["id"] == timer_id), None)

    def timer_action(self, timer_id: int, action: str) -> dict[str, Any]:
        """``enable`` or ``disable`` a timer (a disabled one never fires); the timer after it."""
        if action not in TIMER_ACTIONS:
            raise CallboxError(f"no timer action {action[:40]!r}; one of {', '.join(TIMER_ACTIONS)}")
        if not self.records.call_tasks.set_timer_active(timer_id, TIMER_ACTIONS[action]):
            raise TimerNotFound(timer_id)
        log.info("timer %s: %sd", timer_id, action)
        found = self.timer(timer_id)
        if found is None:  # deleted meanwhile
            raise TimerNotFound(timer_id)
        return found

    def delete_timer(self, timer_id: int) -> None:
        """Remove a timer; the call tasks it made stay as they are."""
        if not self.records.call_tasks.delete_timer(timer_id):
            raise TimerNotFound(timer_id)
        log.info("timer %s deleted", timer_id)

    def tick(self, now: datetime | None = None) -> tuple[list[int], list[int]]:
        """Expire the call tasks whose validity ended, fire the timers that are due: (expired, created)."""
        now = now or self.clock()
        expired = self.records.call_tasks.expire_due(now)
        for task_id in expired:
            log.info("call task %s expired; its pending attempts ended expired", task_id)
        created: list[int] = []
        for timer in self.records.call_tasks.timers():
            if not timer["active"]:
                continue
            after = datetime.fromisoformat(timer["last_due"] or timer["created_at"])
            try:
                due = latest_due(timer["cron"], after, now, self.zone)
            except (ValueError, KeyError) as exc:
                log.warning("timer %s: cannot read %r: %s", timer["id"], timer["cron"], exc)
                continue
            if due is None:
                continue
            stamp = due.astimezone(UTC).isoformat(timespec="milliseconds")
            try:
                preview = self.preview(timer["template"], source="cron")
                if not preview.accepted:
                    self.records.call_tasks.mark_fired(timer["id"], stamp)
                    log.info("timer %s fired for %s: nobody to call", timer["id"], stamp)
                    continue
                made = self._store(preview, timer=(timer["id"], stamp))
            except CallboxError as exc:
                log.warning("timer %s fired for %s but made no task: %s", timer["id"], stamp, exc)
                self.records.call_tasks.mark_fired(timer["id"], stamp)
                continue
            if made is not None:
                created.append(made)
        return expired, created
