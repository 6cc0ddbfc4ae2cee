"""One call attempt for one task on one line: dial, converse, record, act on the ticket."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from appliance.campaign.outcomes import after_unanswered
from appliance.campaign.texts import UnreachableTexts
from appliance.config import CallingConfig
from appliance.dialog.flow.load import parse_flow
from appliance.dialog.runtime.conversation import Conversation, ConversationLimits
from appliance.dialog.runtime.engine import FlowRun, RenderedOperation, schedule_time
from appliance.dialog.runtime.ports import EndpointerLike
from appliance.errors import CallboxError
from appliance.events import DialOutcome, DialResult
from appliance.records.config_store import ConfigStore
from appliance.records.dnc import DoNotCall
from appliance.records.recordings import StereoRecorder, recording_path
from appliance.records.store import RecordsStore, TaskRow, TicketRow, Turn, iso
from appliance.speech.asr.base import AsrEngine
from appliance.speech.tts.player import PromptPlayer, SynthesizedPrompts, Synthesizer

log = logging.getLogger(__name__)


class ActiveCallLike(Protocol):
    audio: Any
    ended: threading.Event
    end_cause: int | None
    interrupted: bool

    def hangup(self) -> None: ...


class LineLike(Protocol):
    name: str

    def place_call(
        self, number: str, *, ring_timeout: float, tap: Callable[[bytes, bytes], None] | None = None
    ) -> tuple[DialResult, ActiveCallLike | None]: ...


@dataclass(frozen=True)
class SpeechKit:
    asr: AsrEngine
    tts: Synthesizer
    endpointer: Callable[[], EndpointerLike]
    use_grammar: bool = True
    # A flow's own prompts: its voice and settings, its broadcast mode (recorded / mixed) and its recordings
    # (appliance.speech.tts.prompts.PromptSource). None: every flow speaks with ``tts``.
    prompts: Callable[[Any], PromptPlayer] | None = None


@dataclass(frozen=True)
class CallSummary:
    call_id: int
    ticket_id: str
    outcome: str
    disposition: str | None
    ticket_status: str


class CallRunner:
    def __init__(
        self,
        *,
        records: RecordsStore,
        configs: ConfigStore,
        speech: SpeechKit,
        calling: CallingConfig,
        recordings_dir: Path,
        shop_name: str = "the shop",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        texts: UnreachableTexts | None = None,
    ) -> None:
        self.texts = texts  # a text to the customer after the last failed attempt
        self.records = records
        self.configs = configs
        self.speech = speech
        self.calling = calling
        self.recordings_dir = recordings_dir
        self.shop_name = shop_name
        self.clock = clock
        self.do_not_call = DoNotCall(records.db)

    def run(self, task: TaskRow, line: LineLike) -> CallSummary:
        ticket = self.records.ticket(task.ticket_id)
        if ticket is None:
            raise LookupError(f"task {task.id} names missing ticket {task.ticket_id}")
        found = self.configs.flow(task.flow_id)
        if found is None:
            self.records.finish_task(task.id, state="failed", outcome="flow_missing")
            self.records.set_ticket_status(ticket.id, "open")
            self.records.add_operation(ticket.id, "remark", f"Flow {task.flow_id!r} is not published; no call made.")
            return CallSummary(0, ticket.id, "failed", None, "open")
        version, document = found
        blocked = self.do_not_call.entry(ticket.customer_phone)
        if blocked is not None:  # planned before the customer asked not to be called again
            self.records.finish_task(task.id, state="done", outcome="do_not_call")
            self.records.set_ticket_status(ticket.id, "skipped")
            remark = (f"Not called: {ticket.customer_phone} is on the do-not-call list since "
                      f"{blocked.added_at[:10]} ({blocked.reason}).")
            self.records.add_operation(ticket.id, "remark", remark,
                                       outbox=_operation_event(ticket, 0, "remark", remark))
            log.info("task %s: %s is on the do-not-call list; not dialing", task.id, ticket.customer_phone)
            return CallSummary(0, ticket.id, "do_not_call", None, "skipped")
        flow = parse_flow(document)
        call_id = self.records.start_call(task=task, phone=ticket.customer_phone, line=line.name, flow_version=version)
        log.info(
            "call %s: dialing %s on %s for ticket %s (attempt %d/%d)",
            call_id,
            ticket.customer_phone,
            line.name,
            ticket.id,
            task.attempts,
            task.max_attempts,
        )
        path = recording_path(self.recordings_dir, ticket.customer_phone, call_id, self.clock().astimezone())
        recorder = StereoRecorder(path)
        try:
            result, active = line.place_call(
                ticket.customer_phone, ring_timeout=self.calling.ring_timeout_s, tap=recorder.write
            )
        except Exception as exc:  # the line failed while dialing: never lose the attempt
            log.exception("call %s: line %s failed while dialing", call_id, line.name)
            result, active = DialResult(DialOutcome.INTERRUPTED, None, str(exc)), None
        if result.outcome is not DialOutcome.ANSWERED or active is None:
            recorder.close()
            path.unlink(missing_ok=True)
            return self._text_if_unreachable(self._unanswered(call_id, task, ticket, result), ticket, line, document)
        self.records.set_recording(call_id, path)
        summary = self._converse(call_id, task, ticket, flow, active, recorder, version=version)
        return self._text_if_unreachable(summary, ticket, line, document)

    def _text_if_unreachable(
        self, summary: CallSummary, ticket: TicketRow, line: LineLike, document: dict[str, Any]
    ) -> CallSummary:
        """The campaign gave up on this customer: send the configured text (recorded as an `sms` operation)."""
        if summary.ticket_status == "unreachable" and self.texts is not None:
            try:
                self.texts.after_unreachable(
                    self.records, ticket=ticket, call_id=summary.call_id, line=line, flow_document=document
                )
            except Exception:
                log.exception("call %s: text to an unreachable customer failed", summary.call_id)
        return summary

    def _unanswered(self, call_id: int, task: TaskRow, ticket: TicketRow, result: DialResult) -> CallSummary:
        outcome = result.outcome.value
        decision = after_unanswered(
            outcome,
            attempt=task.attempts,
            max_attempts=task.max_attempts,
            now=self.clock(),
            retry=self.calling.retry_s,
            cause=result.cause,
        )
        if result.outcome is DialOutcome.INTERRUPTED and result.detail:  # say why the line failed
            decision = dataclasses.replace(decision, remark=f"{decision.remark} Line fault: {result.detail}.")
        log.info("call %s: %s", call_id, decision.remark)
        event = _operation_event(ticket, call_id, "remark", decision.remark)
        self.records.finish_call(
            call_id,
            outcome=outcome,
            cause=result.cause,
            disposition=None,
            remark=decision.remark,
            turns=[],
            operations=[("remark", decision.remark)],
            outbox=[("ticket.operation", event)],
        )
        if decision.retry_at is not None:
            self.records.finish_task(task.id, state="pending", outcome=outcome, next_attempt_at=iso(decision.retry_at))
        else:
            self.records.finish_task(task.id, state="done", outcome=outcome)
        self.records.set_ticket_status(
            ticket.id, decision.ticket_status, next_call_at=iso(decision.retry_at) if decision.retry_at else None
        )
        return CallSummary(call_id, ticket.id, outcome, None, decision.ticket_status)

    def _voice_for(self, flow: Any) -> PromptPlayer:
        """The flow's prompt source (its voice, mode and recordings), or the box's voice if it has none."""
        if self.speech.prompts is None:
            return SynthesizedPrompts(self.speech.tts)
        try:
            return self.speech.prompts(flow)
        except CallboxError as exc:  # a voice that went missing since publishing: speak, with the box's voice
            log.warning("flow %s: its own voice is not available (%s); using the box's voice", flow.id, exc)
            return SynthesizedPrompts(self.speech.tts)

    def _converse(
        self,
        call_id: int,
        task: TaskRow,
        ticket: TicketRow,
        flow: Any,
        active: ActiveCallLike,
        recorder: StereoRecorder,
        *,
        version: int | None = None,
    ) -> CallSummary:
        self.records.mark_answered(call_id)
        variables = {
            "name": ticket.customer_name,
            "order_id": ticket.order_id,
            "shop": self.shop_name,
            "subject": ticket.subject,
        }
        run = FlowRun(flow, variables, version=version)
        convo = Conversation(
            run,
            active.audio,
            self.speech.asr,
            self._voice_for(flow),
            self.speech.endpointer(),
            ended=active.ended,
            limits=ConversationLimits(max_call_s=self.calling.max_call_s),
            use_grammar=self.speech.use_grammar,
            call_id=call_id,
            keys=getattr(active, "read_dtmf", None),  # the keypad
        )
        try:
            completed = convo.execute()
        except Exception:
            log.exception("call %s: conversation failed", call_id)
            completed = False
        finally:
            try:
                active.hangup()
            except Exception:
                log.exception("call %s: hang-up failed", call_id)
            recorder.close()
        turns = [
            Turn(
                t.speaker,
                t.text,
                t.intent,
                t.confidence,
                t.node,
                convo.turn_times_ms[i] if i < len(convo.turn_times_ms) else 0,
            )
            for i, t in enumerate(run.turns)
        ]
        outcome = "completed" if completed else ("interrupted" if active.interrupted else "hung_up")
        disposition = run.result.disposition if completed else None
        strength = run.result.intent_strength if completed else run.strength(ended_by="customer")
        return self._apply(
            call_id,
            task,
            ticket,
            outcome,
            active.end_cause,
            disposition,
            run.result.operations if completed else [],
            turns,
            fault=getattr(active, "fault", None) if active.interrupted else None,
            slots=run.result.to_json()["slots"],
            strength=strength.to_dict() if strength is not None else None,
        )

    def _apply(
        self,
        call_id: int,
        task: TaskRow,
        ticket: TicketRow,
        outcome: str,
        cause: int | None,
        disposition: str | None,
        operations: list[RenderedOperation],
        turns: list[Turn],
        fault: str | None = None,
        slots: dict[str, Any] | None = None,
        strength: dict[str, Any] | None = None,
    ) -> CallSummary:
        now = self.clock()
        said = [t.text for t in turns if t.speaker == "customer" and t.text and t.node != "answer"]
        heard = "; ".join(f"'{s}'" for s in said) if said else "nothing"
        when = f"{now.astimezone():%Y-%m-%d %H:%M}"
        summary = f"Call {call_id} on {when}: {disposition or outcome}. Customer said {heard}."
        if fault:
            summary += f" Line fault: {fault}."
        if strength is not None:
            summary += f" Intent strength {strength['score']} ({strength['grade']})."
        remarks = [op.text for op in operations if op.op == "remark" and op.text]
        remark = " ".join([summary, *remarks])
        ops: list[tuple[str, str]] = [("remark", remark)]
        status, next_at = "open", None
        stop_calling = outcome == "completed" and any(op.op == "do_not_call" for op in operations)
        for op in operations:
            if op.op == "close":
                ops.append(("close", f"closed after call {call_id} ({disposition})"))
                status = "closed"
            elif op.op == "schedule" and not stop_calling:  # never for a number that asked not to be called
                next_at = schedule_time(op, now)  # a slot's time ("call me Friday at 3") or after the delay
                ops.append(("schedule", iso(next_at)))
                status = "scheduled"
            elif op.op == "do_not_call":
                ops.append(("do_not_call", f"{ticket.customer_phone} added to the do-not-call list: {op.text}"))
        if outcome != "completed":
            # The customer hung up or the line failed mid-call: try again per the retry table.
            decision = after_unanswered(
                "interrupted" if outcome == "interrupted" else "failed",
                attempt=task.attempts,
                max_attempts=task.max_attempts,
                now=now,
                retry=self.calling.retry_s,
                cause=cause,
            )
            ops = [("remark", f"{summary} {decision.remark}")]
            status, next_at = decision.ticket_status, decision.retry_at
        events = [_operation_event(ticket, call_id, kind, detail) for kind, detail in ops]
        if strength is not None or slots:
            # the ticketing system gets what the call found out with the remark, not only in its words
            events[0] |= {"disposition": disposition, "slots": slots or {}, "intent_strength": strength}
        self.records.finish_call(
            call_id,
            outcome=outcome,
            cause=cause,
            disposition=disposition,
            remark=ops[0][1],
            turns=turns,
            operations=ops,
            outbox=[("ticket.operation", e) for e in events],
            slots=slots,
            strength=strength,
        )
        if stop_calling:
            self.do_not_call.add(ticket.customer_phone, f"asked during call {call_id}", ticket_id=ticket.id,
                                 call_id=call_id)
        if next_at is not None and outcome != "completed":
            self.records.finish_task(task.id, state="pending", outcome=outcome, next_attempt_at=iso(next_at))
        else:
            self.records.finish_task(task.id, state="done", outcome=outcome)
            if next_at is not None:
                self.records.add_task(task.ticket_id, task.flow_id, at=next_at, max_attempts=task.max_attempts)
        self.records.set_ticket_status(ticket.id, status, next_call_at=iso(next_at) if next_at else None)
        log.info("call %s: %s, disposition %s, ticket %s -> %s", call_id, outcome, disposition, ticket.id, status)
        return CallSummary(call_id, ticket.id, outcome, disposition, status)


def _operation_event(ticket: TicketRow, call_id: int, kind: str, detail: str) -> dict[str, Any]:
    return {"ticket": ticket.id, "call": call_id, "operation": kind, "detail": detail}
