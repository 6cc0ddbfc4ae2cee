"""Re-analysis: the box's stored recordings heard again, e.g. after a better model was installed, and what the flow
makes of them recomputed (each call's intent, slots and intent strength), beside the original values, which stay as
they are (``callbox recordings reanalyse``; the rows: ``appliance.records.reanalysis``).

For each call of the run's range (answered and ended; of one flow if asked), oldest first:

* the flow version the call ran, from the config store (a call whose version is gone is skipped, saying so);
* the recording (``appliance.speech.recorded``): each customer turn's utterance is found between the turn before it
  and the turn's own time, by the endpointer on the left channel, and heard by the recogniser the run names, with
  the node's expected answers as its grammar (the hybrid's and PocketSphinx's) or prompt (Whisper's), as the live
  call did (``appliance.dialog.runtime.conversation``);
* the flow's understanding at the turn's node (``appliance.dialog.runtime.rehearing``): intent, slots, the
  knowledge base. Key presses, silences and the greeting are not heard again (what a key meant does not depend on a
  model); a turn whose stretch of the recording holds no speech keeps its stored text;
* the call's intent (its last customer intent), slots, and intent strength (the turns heard again, with the
  call's own ending: the outcome share is what the bot did, not what it would have done).

A run writes each call's result with its progress in one transaction, so it can be stopped at any point and
continued (``appliance.records.reanalysis``). It runs at the lowest priority (the command sets nice 19 before it
loads a model) and, between calls, waits while the box has a call on a line (:class:`LinesIdle`), so a call is
never slowed by it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from appliance.dialog.flow.load import parse_flow
from appliance.dialog.flow.model import Flow
from appliance.dialog.runtime.rehearing import Rehearing
from appliance.dialog.runtime.steps import TurnRecord
from appliance.errors import AudioError, CallboxError, SpeechError
from appliance.logs import call_context
from appliance.records.reanalysis import Reading, ReanalysisRecords, RunRow, StoredCall, StoredTurn, call_intent
from appliance.speech.asr.base import AsrEngine
from appliance.speech.audio import frames
from appliance.speech.recorded import StereoRecording, find_utterance
from appliance.speech.vad import Endpointer

__all__ = ["REANALYSIS_NICE", "LinesIdle", "Reanalyser", "ReanalysisRange", "RunReport", "Skip"]

log = logging.getLogger(__name__)

REANALYSIS_NICE = 19  # the lowest priority: the box's calls, webhook and writer always go first
END_SLACK_MS = 200  # a turn's time is taken when the live call had it; the recording started a moment earlier
KEYS = re.compile(r"[0-9*#]+")  # what a key-press turn's text is
FlowSource = Callable[[str, int], "tuple[int, dict[str, Any]] | None"]  # ConfigStore.flow(flow_id, version)


class Skip(CallboxError):
    """A call the run cannot hear again; the message is the reason stored for it."""


@dataclass(frozen=True)
class ReanalysisRange:
    """Which calls a run hears: started from ``since`` to ``until`` (None: until the run began), of ``flow``
    (None: any), with ``recogniser`` (hybrid, whisper, grammar: the names of ``[speech] recogniser``)."""

    since: datetime
    until: datetime | None
    flow: str | None
    recogniser: str


@dataclass
class RunReport:
    run: RunRow
    resumed: bool
    analysed: int = 0
    changed: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)  # {"call", "reason"}
    stopped: bool = False  # interrupted before the end: the next run with the same settings continues

    def as_dict(self, results: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"run": self.run.as_dict(), "resumed": self.resumed, "analysed": self.analysed,
                               "changed": self.changed, "skipped": self.skipped, "stopped": self.stopped}
        if results is not None:
            out["calls"] = results
        return out


@dataclass
class LinesIdle:
    """Waits while the box has a call on a line. A call row in flight that started more than ``longest_call_s``
    ago (ringing plus the longest call) is what a crash left behind, not a call, and does not hold the run."""

    records: ReanalysisRecords
    longest_call_s: float
    poll_s: float = 5.0
    on_wait: Callable[[int], None] | None = None  # told how many calls are on the lines when it starts waiting

    def wait(self, stop: threading.Event) -> float:
        """Return once no call is on a line (or ``stop`` is set); the seconds it waited."""
        started = time.monotonic()
        told = False
        while not stop.is_set():
            since = (datetime.now(UTC) - timedelta(seconds=self.longest_call_s)).isoformat(timespec="milliseconds")
            busy = self.records.calls_in_flight(since)
            if not busy:
                break
            if not told and self.on_wait is not None:
                self.on_wait(busy)
                told = True
            stop.wait(self.poll_s)
        return time.monotonic() - started


class Reanalyser:
    """Hears stored calls again. ``asr`` gives the recogniser (called at the first call that needs it, so a run
    with nothing to hear loads no model); ``endpointer`` a fresh endpointer per call (the box's turn-taking
    settings); ``zone`` the shop's time zone (for times the customer said); ``idle`` waits for free lines."""

    def __init__(self, *, records: ReanalysisRecords, flows: FlowSource, asr: Callable[[], AsrEngine],
                 endpointer: Callable[[], Endpointer], zone: tzinfo, idle: LinesIdle | None = None) -> None:
        self.records = records
        self.flows = flows
        self._asr_source = asr
        self._asr: AsrEngine | None = None
        self.endpointer = endpointer
        self.zone = zone
        self.idle = idle
        self._parsed: dict[tuple[str, int], Flow | str] = {}  # a flow version, or why it cannot be read

    @property
    def asr(self) -> AsrEngine:
        if self._asr is None:
            self._asr = self._asr_source()
        return self._asr

    def run(self, span: ReanalysisRange, *, restart: bool = False,
            progress: Callable[[int, int, str], None] | None = None,
            stop: threading.Event | None = None) -> RunReport:
        """One run over ``span``: the latest run with the same settings continued (unless ``restart``), else a new
        one. ``progress(done, total, what)`` after each call; ``stop`` set ends the run after the current call
        (``interrupted``, as Ctrl-C does)."""
        stop = stop or threading.Event()
        run, resumed = self.records.open_run(since=_iso(span.since), until=_iso(span.until) if span.until else None,
                                             flow=span.flow, recogniser=span.recogniser, restart=restart)
        report = RunReport(run, resumed)
        done = run.done
        try:
            for call_id in self.records.pending(run):
                if self.idle is not None:
                    self.idle.wait(stop)
                if stop.is_set():
                    report.stopped = True
                    break
                what = self._one(run.id, call_id, report)
                done += 1
                if progress is not None:
                    progress(done, run.total, what)
        except BaseException:  # Ctrl-C, a failure: what is written stays, the next run continues from there
            self.records.end_run(run.id, "interrupted")
            raise
        report.run = self.records.end_run(run.id, "interrupted" if report.stopped else "finished")
        return report

    def _one(self, run_id: int, call_id: int, report: RunReport) -> str:
        with call_context(call=call_id):
            call = self.records.call(call_id)
            try:
                if call is None:
                    raise Skip("the call is no longer stored")
                reading = self.reanalyse(call)
            except CallboxError as exc:  # Skip, or a flow or audio the box cannot use: the next call goes on
                log.info("call %s: not re-analysed: %s", call_id, exc)
                self.records.skip(run_id, call_id, str(exc))
                report.skipped.append({"call": call_id, "reason": str(exc)})
                return f"call {call_id}: skipped ({exc})"
            self.records.save(run_id, reading)
            report.analysed += 1
            report.changed += reading.changed
            change = f"{reading.original_intent} -> {reading.intent}" if reading.changed else "unchanged"
            log.info("call %s: re-analysed, intent %s, grade %s", call_id, change, reading.strength["grade"])
            return f"call {call_id}: {change}, grade {reading.strength['grade']}"

    # -- one call ----------------------------------------------------------------------
    def reanalyse(self, call: StoredCall) -> Reading:
        """``call`` heard again (``Skip`` with the reason when it cannot be)."""
        flow = self._flow(call.flow_id, call.flow_version)
        if not any(_kind(t) == "speech" for t in call.turns):
            raise Skip("no customer speech in its transcript")
        recording = _recording(call)
        rehearing = Rehearing(flow, at=datetime.fromisoformat(call.started_at), tz=self.zone,
                              version=call.flow_version)
        endpointer = self.endpointer()
        heard: list[tuple[StoredTurn, TurnRecord, bool]] = []  # (stored, as heard now, heard again)
        previous_ms = 0
        for turn in call.turns:
            kind = _kind(turn)
            window = (previous_ms, turn.at_ms + END_SLACK_MS)
            previous_ms = turn.at_ms
            if kind == "other":
                continue
            node = turn.node or ""
            if kind == "greeting" or not rehearing.listens_at(node):
                heard.append((turn, _as_stored(turn), False))
            elif kind == "keys":
                heard.append((turn, rehearing.keys(node, turn.text), False))
            elif kind == "silence":
                heard.append((turn, rehearing.silence(node), False))
            else:
                heard.append(self._speech(turn, node, window, recording, endpointer, rehearing))
        turns = [{"seq": stored.seq, "text": now.text, "intent": now.intent, "confidence": now.confidence,
                  "event": now.event, "heard_again": again} for stored, now, again in heard]
        completed = call.outcome == "completed"
        fell_back = any(t.event == "fallback" for t in call.turns)
        ended_by = ("fallback" if fell_back else "flow") if completed else "customer"
        strength = rehearing.strength([now for _, now, _ in heard], nodes=[t.node for t in call.turns if t.node],
                                      disposition=call.disposition if completed else None, ended_by=ended_by)
        intent = call_intent([("customer", now.intent) for _, now, _ in heard])
        changed = any(stored.intent != now.intent for stored, now, _ in heard)
        return Reading(call.id, turns, intent, rehearing.slots, strength.to_dict(), changed,
                       original_intent=call.intent)

    def _speech(self, turn: StoredTurn, node: str, window: tuple[int, int], recording: StereoRecording,
                endpointer: Endpointer, rehearing: Rehearing) -> tuple[StoredTurn, TurnRecord, bool]:
        """A spoken turn heard again at ``node`` from its stretch of the recording (its stored text when the
        stretch holds no speech: a recording cut short, a turn's time off)."""
        found = find_utterance(recording, *window, endpointer)
        if found is None:
            log.info("no speech in %d-%d ms of the recording for turn %d; its stored text stands", *window, turn.seq)
            kept = rehearing.hear(node, turn.text)  # for the slots it filled; its reading stays the stored one
            return turn, _as_stored(turn, node=kept.node), False
        grammar = rehearing.grammar_at(node)
        try:
            session = self.asr.open_session(list(grammar) or None)
            for frame in frames(recording.customer_audio(*found)):
                session.accept(frame)
            utterance = session.finish()
        except SpeechError as exc:
            raise Skip(f"recognition failed: {exc}") from None
        log.debug("turn %d at %s: %r heard again as %r (%.2f)", turn.seq, node, turn.text, utterance.text,
                  utterance.confidence)
        return turn, rehearing.hear(node, utterance.text, confidence=utterance.confidence,
                                    alternatives=utterance.alternatives), True

    def _flow(self, flow_id: str, version: int) -> Flow:
        key = (flow_id, version)
        if key not in self._parsed:
            found = self.flows(flow_id, version)
            if found is None:
                self._parsed[key] = f"flow {flow_id} v{version} is not stored on this box"
            else:
                try:
                    self._parsed[key] = parse_flow(found[1])
                except CallboxError as exc:
                    self._parsed[key] = f"flow {flow_id} v{version} cannot be read: {exc}"
        parsed = self._parsed[key]
        if isinstance(parsed, str):
            raise Skip(parsed)
        return parsed


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds")  # as calls.started_at is stored


def _kind(t: StoredTurn) -> str:
    """What a stored turn is to re-analysis: speech (heard again), keys, silence, greeting, or other (not the
    customer's)."""
    if t.speaker != "customer":
        return "other"
    if t.event in ("greeting", "answer") or t.node == "answer":
        return "greeting"
    if t.event == "no_input" or not t.text.strip():
        return "silence"
    if t.event == "dtmf" or (t.event in (None, "", "no_match") and KEYS.fullmatch(t.text.strip())):
        return "keys"
    return "speech"


def _as_stored(t: StoredTurn, *, node: str | None = None) -> TurnRecord:
    return TurnRecord("customer", t.text, node or t.node or "", t.intent, t.confidence, t.event or "")


def _recording(call: StoredCall) -> StereoRecording:
    if not call.recording:
        raise Skip("no recording")
    path = Path(call.recording)
    if not path.is_file():
        raise Skip(f"its recording is gone ({path})")
    try:
        return StereoRecording.read(path)
    except (AudioError, OSError) as exc:
        raise Skip(f"its recording cannot be read: {exc}") from None
