"""The panel's service: what ``web.service.PanelService`` asks of the box, answered from the parts the box
hands in. Nothing here starts a thread or opens a port."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from appliance import __version__
from appliance.campaign.call_tasks import CallTasks, TaskNotFound, TimerNotFound
from appliance.campaign.hours import box_zone
from appliance.errors import CallboxError, QueryInvalid
from appliance.panel.access import AccessAdmin
from appliance.panel.dashboard import LiveAdmin
from appliance.panel.dnc import DoNotCallAdmin
from appliance.panel.flows import FlowAdmin
from appliance.panel.knowledge import KnowledgeAdmin
from appliance.panel.lines import line_problem
from appliance.panel.qa import QaAdmin
from appliance.panel.recordings import RecordingsAdmin, query_phone
from appliance.panel.rules import RulesAdmin
from appliance.panel.settings import SettingsAdmin
from appliance.panel.setup import SetupAdmin
from appliance.panel.views import call_view, task_view, ticket_detail_view, ticket_view
from appliance.records.browse import CallSearch, TicketSearch
from appliance.records.export import EXPORTS
from appliance.records.queries import CallQuery, TaskQuery
from appliance.records.stats import CallFilter, FilterInvalid, StatsQuery, call_filter
from appliance.records.store import RecordsStore
from appliance.speech.asr.base import AsrEngine
from appliance.telephony.ports import LinePort

log = logging.getLogger(__name__)

MAX_TICKET_CALLS = 500  # a ticket's calls in its read API answer (its caps keep it far below)

Admit = Callable[[dict[str, Any], str], dict[str, Any]]  # (payload, webhook id) -> the webhook's answer

EXPORT_KINDS = tuple(EXPORTS)  # calls, turns

__all__ = ["BoxPanel"]


class BoxPanel:
    def __init__(
        self,
        *,
        records: RecordsStore,
        flows: FlowAdmin,
        webhook_secret: str,
        admit: Admit,
        lines: Sequence[LinePort],
        recogniser: AsrEngine,
        phone_region: str | None = None,
        call_tasks: CallTasks | None = None,
        line_notes: Callable[[], dict[str, str]] | None = None,
        rules: RulesAdmin | None = None,
        sync_targets: Mapping[str, bool] | None = None,
        metrics: Callable[[], tuple[bytes, str]] | None = None,
        recordings: RecordingsAdmin | None = None,
        zone: tzinfo | None = None,
        setup: SetupAdmin | None = None,
        settings: SettingsAdmin | None = None,
        live: LiveAdmin | None = None,
    ) -> None:
        self._live = live  # the dashboard and Modems page: live events, today's counters, test calls
        self.zone = zone or box_zone()  # the shop's: statistics' days and hours, and times given without an offset
        self._recordings = recordings  # browse, download, delete; the disk's room (appliance.panel.recordings)
        self.qa = QaAdmin(records, zone=self.zone)  # QA tags, reviews, the review queue, tag counts (the shop's days)
        self.call_tasks = call_tasks
        self.sync_targets = dict(sync_targets or {})  # outbox target -> has somewhere to send to
        self._metrics = metrics  # a scrape (appliance.panel.metrics.BoxMetrics.exposition)
        self.records = records
        self.flows = flows
        self.rules = rules or RulesAdmin(flows.configs, phone_region=phone_region)
        self.knowledge = KnowledgeAdmin(flows.configs)  # VUI presets, knowledge bases (the console's Rules pages)
        self.webhook_secret = webhook_secret
        self._admit = admit
        self.lines = lines
        self.recogniser = recogniser
        self.phone_region = phone_region  # the shop's country: reads a national number in a query
        self.line_notes = line_notes or dict  # line name -> why a ready line takes no calls (its daily cap)
        self.access = AccessAdmin(records.accounts)  # users and roles, API tokens, the audit log
        # the Setup page: the shop, where tickets come in, where the box sends to
        self.setup = setup or SetupAdmin(configs=flows.configs, shop={}, webhook_secret=webhook_secret,
                                         helpdesks=None, targets=[], admit=admit, rules=self.rules)
        self._settings = settings  # the Settings and QA pages' keys of the config file (appliance.panel.settings)
        self.do_not_call = DoNotCallAdmin(records.do_not_call, region=phone_region)  # the Settings page's list

    # -- tickets in --------------------------------------------------------------
    def submit_ticket(self, payload: dict[str, Any], *, webhook_id: str) -> dict[str, Any]:
        return self._admit(payload, webhook_id)

    # -- calls and tickets -------------------------------------------------------
    def list_calls(self, *, limit: int = 100) -> list[dict[str, Any]]:
        return [call_view(c) for c in self.records.calls(limit=limit)]

    def get_call(self, call_id: int) -> dict[str, Any] | None:
        c = self.records.call(call_id)
        return call_view(c) | self.qa.call_tags(call_id) if c else None  # the detail shows its QA tags

    def recording_path(self, call_id: int) -> Path | None:
        c = self.records.call(call_id)
        if not c or not c["recording"] or c.get("recording_deleted_at"):
            return None
        path = Path(c["recording"])
        return path if path.exists() else None

    @property
    def recordings(self) -> RecordingsAdmin:
        if self._recordings is None:
            raise CallboxError("this box keeps no recordings")
        return self._recordings

    @property
    def settings(self) -> SettingsAdmin:
        if self._settings is None:
            raise CallboxError("this box was started without a config file to change")
        return self._settings

    @property
    def live(self) -> LiveAdmin:
        if self._live is None:
            raise CallboxError("this box shows nothing live")
        return self._live

    def list_tickets(self, *, limit: int = 100) -> list[dict[str, Any]]:
        tickets = self.records.tickets(limit=limit)
        operations = self.records.operations_of([t.id for t in tickets])  # one query, not one a ticket
        return [ticket_view(t, operations[t.id]) for t in tickets]

    # -- the read API ------------------------------------------------------------
    def find_calls(self, *, phone: str | None = None, since: datetime | None = None, until: datetime | None = None,
                   outcome: str | None = None, task: int | None = None, before: int | None = None,
                   limit: int = 100) -> list[dict[str, Any]]:
        phone = query_phone(phone, self.phone_region)
        query = CallQuery(phone=phone, since=since, until=until, outcome=outcome, task_id=task, before=before,
                          limit=limit)
        return [call_view(c) for c in self.records.find_calls(query)]

    def find_tasks(self, *, state: str | None = None, ticket: str | None = None, before: int | None = None,
                   limit: int = 100) -> list[dict[str, Any]]:
        query = TaskQuery(state=state, ticket_id=ticket, before=before, limit=limit)
        return [task_view(t) for t in self.records.find_tasks(query)]

    # -- statistics and exports (appliance.records.stats, appliance.records.export) -------
    def call_filter(self, *, since: datetime | None = None, until: datetime | None = None, task: int | None = None,
                    scenario: str | None = None, flow_version: str | None = None) -> CallFilter:
        """The calls a statistics or export request asks for; a time without an offset is the shop's clock."""
        try:
            return call_filter(self.zone, since=since, until=until, task=task, scenario=scenario,
                               flow_version=flow_version)
        except FilterInvalid as exc:
            raise QueryInvalid(exc.message, parameter=exc.parameter) from None

    def stats(self, *, group_by: str = "day", since: datetime | None = None, until: datetime | None = None,
              task: int | None = None, scenario: str | None = None,
              flow_version: str | None = None) -> dict[str, Any]:
        calls = self.call_filter(since=since, until=until, task=task, scenario=scenario, flow_version=flow_version)
        try:
            query = StatsQuery(group_by=group_by, calls=calls)
        except ValueError as exc:
            raise QueryInvalid(str(exc), parameter="group_by") from None
        return self.records.stats(query, self.zone)

    def stats_figures(self, *, since: datetime | None = None, until: datetime | None = None, task: int | None = None,
                      scenario: str | None = None, flow_version: str | None = None) -> dict[str, Any]:
        """The Statistics page's figures (``RecordsStore.stats_figures``): ``by_day`` and ``by_hour``."""
        calls = self.call_filter(since=since, until=until, task=task, scenario=scenario, flow_version=flow_version)
        return self.records.stats_figures(calls, self.zone)

    def export_csv(self, kind: str, *, since: datetime | None = None, until: datetime | None = None,
                   task: int | None = None, scenario: str | None = None,
                   flow_version: str | None = None) -> Iterator[str]:
        if kind not in EXPORT_KINDS:
            raise QueryInvalid(f"must be one of {', '.join(EXPORT_KINDS)}", parameter="kind")
        calls = self.call_filter(since=since, until=until, task=task, scenario=scenario, flow_version=flow_version)
        return self.records.export_csv(kind, calls)

    # -- call tasks ----------------------------------------------------------------
    def _tasks(self) -> CallTasks:
        if self.call_tasks is None:
            raise CallboxError("this box has no call tasks")
        return self.call_tasks

    def find_call_tasks(self, *, state: str | None = None, source: str | None = None, flow: str | None = None,
                        before: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        return self._tasks().find(state=state, source=source, flow=flow, before=before, limit=limit)

    def call_task(self, task_id: int) -> dict[str, Any] | None:
        return self._tasks().get(task_id)

    def call_task_page(self, task_id: int, *, after: int | None = None, limit: int = 100) -> dict[str, Any] | None:
        """A call task with one page of its customers (the console's task page: a task of 10,000 reads 100)."""
        task = self.records.call_tasks.get(task_id)
        if task is None:
            return None
        return {**task, "attempts": self.records.call_tasks.attempts(task_id, after=after, limit=limit)}

    def preview_call_task(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._tasks().preview(body).as_dict()

    def create_call_task(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._tasks().create(body)

    def call_task_action(self, task_id: int, action: str) -> dict[str, Any] | None:
        try:
            return self._tasks().act(task_id, action)
        except TaskNotFound:
            return None

    def timers(self) -> list[dict[str, Any]]:
        return self._tasks().timers()

    def timer_action(self, timer_id: int, action: str) -> dict[str, Any] | None:
        try:
            return self._tasks().timer_action(timer_id, action)
        except TimerNotFound:
            return None

    def delete_timer(self, timer_id: int) -> bool:
        try:
            self._tasks().delete_timer(timer_id)
        except TimerNotFound:
            return False
        return True

    def ticket_detail(self, ticket_id: str) -> dict[str, Any] | None:
        ticket = self.records.ticket(ticket_id)
        if ticket is None:
            return None
        calls = self.records.find_calls(CallQuery(ticket_id=ticket_id, limit=MAX_TICKET_CALLS))
        return ticket_detail_view(ticket, self.records.operations(ticket_id), self.records.tasks_of(ticket_id),
                                  calls[::-1])

    # -- the console's Calls and Tickets pages (appliance.records.browse, appliance.records.ticket_actions) ----
    def search_calls(self, *, phone: str | None = None, since: datetime | None = None,
                     until: datetime | None = None, outcome: str | None = None, intent: str | None = None,
                     grade: str | None = None, tag: str | None = None, limit: int = 50,
                     offset: int = 0) -> dict[str, Any]:
        since, until = self._shop_time(since), self._shop_time(until)
        query = CallSearch(phone=query_phone(phone, self.phone_region), since=since, until=until, outcome=outcome,
                           intent=intent, grade=grade, tag=tag, limit=limit, offset=offset)
        return {**self.records.search_calls(query), "limit": limit, "offset": offset}

    def search_tickets(self, *, phone: str | None = None, status: str | None = None, text: str | None = None,
                       since: datetime | None = None, until: datetime | None = None, limit: int = 50,
                       offset: int = 0) -> dict[str, Any]:
        query = TicketSearch(phone=query_phone(phone, self.phone_region), status=status, text=text,
                             since=self._shop_time(since), until=self._shop_time(until), limit=limit, offset=offset)
        return {**self.records.search_tickets(query), "limit": limit, "offset": offset}

    def _shop_time(self, moment: datetime | None) -> datetime | None:
        """A time without an offset is on the shop's clock (a day picked in the console)."""
        return moment.replace(tzinfo=self.zone) if moment is not None and moment.tzinfo is None else moment

    def ticket_deliveries(self, ticket_id: str) -> list[dict[str, Any]]:
        return self.records.ticket_outbox(ticket_id)

    def ticket_action(self, ticket_id: str, action: str, *, who: str) -> str | None:
        done = self.records.ticket_action(ticket_id, action, who=who)
        if done is not None:
            log.info("ticket %s: %s (%s)", ticket_id, action, who)
        return done

    def ticket_note(self, ticket_id: str, text: str, *, who: str) -> str | None:
        return self.records.ticket_note(ticket_id, text, who=who)

    # -- users -------------------------------------------------------------------
    def verify_login(self, username: str, password: str) -> bool:
        return self.access.verify(username, password) is not None

    def set_password(self, username: str, password: str, role: str | None = None) -> None:
        self.access.set_password(username, password, role)

    def audit_change(self, user: str, what: str, before: Any, after: Any) -> None:
        """One entry of the audit log (``web.audit.record_change``): who, what, before -> after."""
        self.access.audit(user, what, before, after)

    # -- the box -----------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        notes = self.line_notes()
        return {
            "lines": [
                # why a line is not ready (its supervisor keeps reopening it), or ready but held (its daily cap)
                # a fault's kind (``problem``) is what the panel puts in words; the raw text is for logs and tests
                {"name": ln.name, "state": ln.state.value,
                 **({"fault": ln.fault_reason, "problem": line_problem(ln.state.value, ln.fault_reason)}
                    if ln.fault_reason else {}),
                 **({"held": notes[ln.name]} if ln.name in notes else {})}
                for ln in self.lines
            ],
            "asr": {"engine": self.recogniser.name, "fallback_reason": self.recogniser.fallback_reason},
            "version": __version__,
        }

    def metrics(self) -> tuple[bytes, str] | None:
        return self._metrics() if self._metrics is not None else None

    # -- the outbox ---------------------------------------------------------------
    def outbox(self, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        return self.records.outbox.report(datetime.now(UTC), limit=limit, offset=offset)

    def sync_status(self) -> dict[str, Any]:
        return self.records.outbox.status(datetime.now(UTC), self.sync_targets)

    # -- the do-not-call list ----------------------------------------------------
    def do_not_call_list(self) -> list[dict[str, Any]]:
        return [e.as_dict() for e in self.records.do_not_call.entries()]

    def remove_do_not_call(self, phone: str) -> bool:
        removed = self.records.do_not_call.remove(phone)
        if removed:
            log.info("%s taken off the do-not-call list from the panel", phone)
        return removed
