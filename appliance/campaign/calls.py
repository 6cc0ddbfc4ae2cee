"""One call attempt for one task on one line: guards, dial and converse, conclude in one transaction, and a text
to a customer the campaign gave up on.

The guards are asked here, per task, just before the dial: the flow and the do-not-call list (``dial_guard``,
which cancel), then the calling rules (``compliance.hold``: hours in the callee's zone, caps, a refusal's quiet
time), which move the task to the first time they allow, and last the room for the recording (``room``: the
disk's free space after pruning, ``appliance.records.retention``), which holds the task for 15 minutes."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from appliance.campaign.attempt import Outcome, TicketStatus
from appliance.campaign.calltask import TaskSettings, parse_settings, task_rules
from appliance.campaign.compliance import CallingRules, hold
from appliance.campaign.conclude import AttemptResult, blocked, conclude, held, orphaned
from appliance.campaign.dialing import SpeechKit, place_and_converse
from appliance.campaign.guards import Guard, dial_guard, flow_not_published, missing_variable, no_room
from appliance.campaign.hours import box_zone, callee_zones
from appliance.campaign.remarks import ENGLISH, Remarks
from appliance.campaign.ruleset import load_ruleset
from appliance.campaign.scenarios import Scenario, call_variables
from appliance.campaign.texts import UnreachableTexts
from appliance.config import CallingConfig, QaConfig, VuiConfig
from appliance.dialog.flow.load import parse_flow
from appliance.dialog.flow.model import Flow
from appliance.dialog.runtime.conversation import ConversationLimits
from appliance.errors import CallboxError, RulesInvalid
from appliance.logs import bind_call, call_context
from appliance.records.config_store import ConfigStore
from appliance.records.recordings import StereoRecorder, recording_path
from appliance.records.retention import MB, Room
from appliance.records.store import RecordsStore, TaskRow, Ticket
from appliance.speech.tts.player import PromptPlayer, SynthesizedPrompts
from appliance.telephony.ports import LinePort

__all__ = ["CallRunner", "CallSummary", "CallWatch", "SpeechKit"]

log = logging.getLogger(__name__)

NO_ROOM_RETRY = timedelta(minutes=15)  # a task held for want of disk room is tried again this much later


@dataclass(frozen=True)
class CallSummary:
    call_id: int  # 0: the attempt ended before a call row was written
    ticket_id: str
    outcome: Outcome
    disposition: str | None
    ticket_status: str
    guard: str | None = None  # which guard blocked it (outcome ``blocked``)


class CallWatch(Protocol):
    """Told what a call does as it goes (the panel's live view: ``appliance.panel.live.LiveBoard``), on the call's
    own threads; each method returns at once and never raises."""

    def call_started(self, call_id: int | str, *, line: str, phone: str, ticket_id: str | None,
                     customer_name: str, attempt: int, max_attempts: int) -> None: ...
    def call_answered(self, call_id: int | str) -> None: ...
    def call_turn(self, call_id: int | str, turn: dict[str, Any]) -> None: ...
    def attempt_over(self, line: str | None, summary: CallSummary | None) -> None:
        """The attempt on ``line`` ended (``summary`` None: it failed with an error; ``line`` None: it made no
        call)."""
        ...


class CallRunner:
    def __init__(
        self,
        *,
        records: RecordsStore,
        configs: ConfigStore,
        speech: SpeechKit,
        calling: CallingConfig,
        recordings_dir: Path,
        vui: VuiConfig | None = None,
        shop_name: str = "the shop",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        texts: UnreachableTexts | None = None,
        rules: CallingRules | None = None,
        room: Callable[[], Room] | None = None,
        qa: QaConfig | None = None,
        watch: CallWatch | None = None,
        remarks: Remarks = ENGLISH,
    ) -> None:
        self.watch = watch  # the panel's live view of each call
        self.remarks = remarks  # the remarks on tickets, in the shop's language ([shop] language)
        self.room = room  # the disk's room for a recording, after a prune if need be (Retention.ensure_room)
        self.qa = qa or QaConfig()  # the automatic QA tags each conversation gets
        # the calling rules; by default the configured preset, numbers of unknown zone on the box's clock
        self.rules = rules or CallingRules.from_config(calling, box_zone())
        self.texts = texts  # a text to the customer after the last failed attempt
        self.records = records
        self.configs = configs
        self.speech = speech
        self.calling = calling
        self.limits = ConversationLimits.configured(calling.max_call_s, vui or VuiConfig())
        self.recordings_dir = recordings_dir
        self.shop_name = shop_name
        self.clock = clock
        # set when the box stops (SIGTERM): a call in progress says goodbye after its current prompt and ends
        self.closing = threading.Event()

    def run(self, task: TaskRow, line: LinePort) -> CallSummary:
        """One attempt; every log record written meanwhile (on this thread and the call's own) carries the
        ticket and, once its row is written, the call id and the line (the scheduler's line worker names its
        line from the start)."""
        with call_context(ticket=task.ticket_id):
            try:
                summary = self._attempt(task, line)
            except BaseException:
                if self.watch is not None:
                    self.watch.attempt_over(line.name, None)
                raise
            if self.watch is not None:  # an attempt a guard stopped made no call and never touched the line
                self.watch.attempt_over(line.name if summary.call_id else None, summary)
            return summary

    def _attempt(self, task: TaskRow, line: LinePort) -> CallSummary:
        ticket = self.records.ticket(task.ticket_id)
        if ticket is None:
            log.warning("task %s names missing ticket %s; cancelled", task.id, task.ticket_id)
            self.records.record_conclusion(orphaned(task))
            return CallSummary(0, task.ticket_id, Outcome.CANCELLED, None, "")
        guard = dial_guard(ticket.customer_phone, task.flow_id, configs=self.configs,
                           do_not_call=self.records.do_not_call)
        scenario = self._scenario(ticket, task)
        pinned = scenario.version if scenario is not None else None
        found = self.configs.flow(task.flow_id, pinned) if guard is None else None
        if guard is not None or found is None:
            return self._blocked(task, ticket, guard or flow_not_published(task.flow_id))  # unpublished meanwhile
        settings = self._settings(task)
        stop = self._held(ticket, task, task_rules(self.rules, settings))
        if stop is not None:
            return stop
        version, document = found
        flow = parse_flow(document)
        # the scenario's mapping and defaults, then the flow's defaults, under the ticket's own values
        variables = flow.declared.values(call_variables(ticket, self.shop_name, scenario))
        guard = missing_variable(flow, variables)
        if guard is not None:
            return self._blocked(task, ticket, guard)
        stop = self._no_room(ticket, task)
        if stop is not None:
            return stop
        call_id = self.records.start_call(task=task, phone=ticket.customer_phone, line=line.name, flow_version=version)
        bind_call(call_id, line=line.name)
        log.info("call %s: dialing %s on %s for ticket %s (attempt %d/%d)", call_id, ticket.customer_phone,
                 line.name, ticket.id, task.attempts, task.max_attempts)
        path = recording_path(self.recordings_dir, ticket.customer_phone, call_id, self.clock().astimezone())
        recorder = StereoRecorder(path)
        watch = self.watch
        if watch is not None:
            watch.call_started(call_id, line=line.name, phone=ticket.customer_phone, ticket_id=ticket.id,
                               customer_name=ticket.customer_name, attempt=task.attempts,
                               max_attempts=task.max_attempts)
        try:
            result = place_and_converse(
                line, ticket.customer_phone, flow, variables, self.speech,
                voice=self._voice_for(flow),
                ring_timeout=self.calling.ring_timeout_s,
                limits=self.limits,
                call_id=call_id,
                tap=recorder.write,
                version=version,
                on_answered=lambda: self._answered(call_id, path),
                # one message per ticket: a retry of a ticket whose mailbox has the message leaves no second
                voicemail=self.records.voicemails_left(ticket.id) == 0,
                on_turn=(lambda turn: watch.call_turn(call_id, turn)) if watch is not None else None,
                closing=self.closing,
            )
        finally:
            recorder.close()
        if not result.answered:
            path.unlink(missing_ok=True)
        else:  # who talked for how long, from the recording's two channels
            result = dataclasses.replace(result, talk=recorder.tally)
        summary = self._conclude(call_id, task, ticket, result, settings, scenario)
        if summary.ticket_status == TicketStatus.UNREACHABLE and self.texts is not None:
            self._text(summary, ticket, line, document)
        return summary

    def _answered(self, call_id: int, recording: Path) -> None:
        self.records.mark_answered(call_id, recording=recording)
        if self.watch is not None:
            self.watch.call_answered(call_id)

    def _settings(self, task: TaskRow) -> TaskSettings:
        """The settings of the task's call task (its hours, retry delays); the defaults if it has none."""
        doc = self.records.call_tasks.settings_of(task.call_task_id) if task.call_task_id is not None else None
        try:
            return parse_settings(doc)
        except CallboxError as exc:  # stored settings were checked when made; never stop a call on them
            log.warning("task %s: call task %s has settings the box cannot read (%s); using the defaults",
                        task.id, task.call_task_id, exc)
            return TaskSettings()

    def _held(self, ticket: Ticket, task: TaskRow, rules: CallingRules) -> CallSummary | None:
        """The calling rules (the preset's, narrowed by the call task's hours): None if the call may be made
        now; else the task is moved to the first time they allow (or cancelled if there is none) and the attempt
        ends ``blocked`` with the guard's name."""
        now = self.clock()
        phone = ticket.customer_phone
        stop = hold(now, rules=rules, zones=callee_zones(phone, rules.fallback_zone),
                    history=self.records.phone_history(phone, now - rules.look_back))
        if stop is None:
            return None
        if stop.until is not None:
            log.info("task %s: not dialing %s now: %s; moved to %s", task.id, phone, stop.guard.why,
                     stop.until.isoformat(timespec="minutes"))
            conclusion = held(ticket, task, stop.guard, stop.until, self.remarks)
        else:
            log.warning("task %s: not dialing %s: %s, and no time allows it; cancelled", task.id, phone,
                        stop.guard.why)
            conclusion = blocked(ticket, task, stop.guard, self.remarks)
        self.records.record_conclusion(conclusion)
        return CallSummary(0, ticket.id, Outcome.BLOCKED, None, conclusion.ticket_status or "", stop.guard.name)

    def _no_room(self, ticket: Ticket, task: TaskRow) -> CallSummary | None:
        """None if the disk has room for the call's recording; else the task waits ``NO_ROOM_RETRY`` (not counted
        as an attempt) and the line's status says why (``Retention.last_room``)."""
        room = self.room() if self.room is not None else None
        if room is None or room.ok:
            return None
        guard = no_room(room.free_bytes // MB, room.min_free_bytes // MB)
        until = self.clock() + NO_ROOM_RETRY
        log.warning("task %s: not dialing %s: %s; tried again at %s", task.id, ticket.customer_phone, guard.why,
                    until.isoformat(timespec="minutes"))
        conclusion = held(ticket, task, guard, until, self.remarks)
        self.records.record_conclusion(conclusion)
        return CallSummary(0, ticket.id, Outcome.BLOCKED, None, conclusion.ticket_status or "", guard.name)

    def _blocked(self, task: TaskRow, ticket: Ticket, guard: Guard) -> CallSummary:
        log.info("task %s: not dialing %s: %s", task.id, ticket.customer_phone, guard.why)
        conclusion = blocked(ticket, task, guard, self.remarks)
        self.records.record_conclusion(conclusion)
        return CallSummary(0, ticket.id, Outcome.BLOCKED, None, conclusion.ticket_status or "", guard.name)

    def _scenario(self, ticket: Ticket, task: TaskRow) -> Scenario | None:
        """The scenario the rules picked for the ticket, as it stands now, if it still uses the task's flow (else
        the flow's latest version with the ticket's own variables, as a ticket without a scenario)."""
        if ticket.scenario is None:
            return None
        try:
            scenario = load_ruleset(self.configs).scenario(ticket.scenario)
        except RulesInvalid as exc:
            log.warning("task %s: the stored scenarios are broken (%s); flow %s as is", task.id, exc, task.flow_id)
            return None
        return scenario if scenario is not None and scenario.flow == task.flow_id else None

    def _conclude(self, call_id: int, task: TaskRow, ticket: Ticket, result: AttemptResult,
                  settings: TaskSettings, scenario: Scenario | None = None) -> CallSummary:
        ticket = self.records.ticket(ticket.id) or ticket  # as stored now: an update may have come during the call
        base = scenario.retry_override(self.calling.retry_s) if scenario is not None else self.calling.retry_s
        alike = self.records.ended_alike(task.id, result.outcome.value, call_id) if settings.redials else 0
        conclusion = conclude(ticket, task, result, self.clock(), call_id=call_id,
                              retry=settings.retry_config(base),  # the call task's own waits over the scenario's
                              redials=settings.redials, ended_alike=alike, qa=self.qa, remarks=self.remarks)
        self.records.record_conclusion(conclusion)
        status = conclusion.ticket_status or ""
        disposition = conclusion.call.disposition if conclusion.call is not None else None
        log.info("call %s: %s, disposition %s, ticket %s -> %s", call_id, result.outcome.value, disposition,
                 ticket.id, status)
        return CallSummary(call_id, ticket.id, result.outcome, disposition, status)

    def _text(self, summary: CallSummary, ticket: Ticket, line: LinePort, document: dict[str, Any]) -> None:
        """The campaign gave up on this customer: send the configured text (recorded as an `sms` operation)."""
        assert self.texts is not None
        try:
            self.texts.after_unreachable(
                self.records, ticket=ticket, call_id=summary.call_id, line=line, flow_document=document,
                remarks=self.remarks,
            )
        except Exception:
            log.exception("call %s: text to an unreachable customer failed", summary.call_id)

    def _voice_for(self, flow: Flow) -> PromptPlayer:
        """The flow's prompt source (its voice, mode and recordings), or the box's voice if it has none."""
        if self.speech.prompts is None:
            return SynthesizedPrompts(self.speech.tts)
        try:
            return self.speech.prompts.for_flow(flow)
        except CallboxError as exc:  # a voice that went missing since publishing: speak, with the box's voice
            log.warning("flow %s: its own voice is not available (%s); using the box's voice", flow.id, exc)
            return SynthesizedPrompts(self.speech.tts)
