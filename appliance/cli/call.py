"""`callbox call NUMBER --profile P --at-port PORT --audio AUDIO [--flow FILE] [--var k=v ...] [--json]`.

Places one call on one line and prints the call record: outcome, cause,
timings, disposition and the turns. Admins use it to test a SIM and a modem;
tests use it against the simulator. It runs the same parts as the box (line
with supervision, modem profile, flow engine, conversation, speech) but
touches no ticket store: nothing is scheduled or reported upstream.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from appliance.campaign.calls import SpeechKit
from appliance.dialog.flow.load import builtin_flow_path, load_flow
from appliance.dialog.flow.model import Flow
from appliance.dialog.runtime.conversation import Conversation, ConversationLimits
from appliance.dialog.runtime.engine import FlowRun
from appliance.errors import CallboxError, ConfigError
from appliance.events import DialOutcome
from appliance.records.recordings import StereoRecorder
from appliance.speech.tts.player import SynthesizedPrompts
from appliance.telephony.line import Line, LineState
from appliance.telephony.modem import Modem, ModemTimeouts
from appliance.telephony.profile import load_profile
from appliance.telephony.supervisor import Supervision

log = logging.getLogger(__name__)

DEFAULT_FLOW = "delivery-confirmation.en"
DEFAULT_VARS = {"name": "there", "order_id": "", "shop": "the shop", "subject": ""}


@dataclass
class CallTurn:
    speaker: str
    text: str
    node: str
    intent: str | None
    confidence: float | None
    at_ms: int


@dataclass
class CallRecord:
    number: str
    line: str
    flow: str
    outcome: str  # completed, hung_up, interrupted, busy, no_answer, rejected, failed
    cause: int | None = None
    detail: str = ""
    fault: str | None = None  # why an interrupted call was interrupted
    disposition: str | None = None
    dial_s: float = 0.0  # from dialing to answer (or to the end, unanswered)
    talk_s: float = 0.0  # from answer to hang-up
    total_s: float = 0.0
    ended_by: str | None = None
    recording: str | None = None
    turns: list[CallTurn] = field(default_factory=list)
    line_state: dict[str, object] = field(default_factory=dict)
    slots: dict[str, Any] = field(default_factory=dict)  # what the flow collected ("call me Friday at 3")
    intent_strength: dict[str, Any] | None = None  # score, grade A-D, reasons

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        head = f"{self.number} on {self.line}: {self.outcome}"
        if self.cause is not None:
            head += f" (cause {self.cause})"
        if self.fault:
            head += f" [{self.fault}]"
        lines = [
            head,
            f"disposition: {self.disposition or '-'}",
            f"dial {self.dial_s:.1f} s, talk {self.talk_s:.1f} s, total {self.total_s:.1f} s",
        ]
        lines += [f"  {t.at_ms / 1000:6.1f}s {t.speaker:8} {t.text or '(silence)'}" for t in self.turns]
        if self.recording:
            lines.append(f"recording: {self.recording}")
        return "\n".join(lines)


def parse_vars(items: list[str]) -> dict[str, str]:
    variables = dict(DEFAULT_VARS)
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--var {item!r}: expected KEY=VALUE")
        variables[key.strip()] = value
    return variables


def call_once(
    line: Line,
    number: str,
    flow: Flow,
    variables: dict[str, Any],
    speech: SpeechKit,
    *,
    ring_timeout: float,
    limits: ConversationLimits,
    recording: Path | None = None,
) -> CallRecord:
    """Dial ``number`` on a ready line, run the flow if answered, hang up; the record of what happened."""
    record = CallRecord(number=number, line=line.name, flow=flow.id, outcome="failed")
    recorder = StereoRecorder(recording) if recording is not None else None
    started = time.monotonic()
    result, active = line.place_call(number, ring_timeout=ring_timeout, tap=recorder.write if recorder else None)
    answered = time.monotonic()
    record.dial_s = round(answered - started, 3)
    record.cause, record.detail = result.cause, result.detail
    if result.outcome is not DialOutcome.ANSWERED or active is None:
        record.outcome = result.outcome.value
        record.fault = line.fault_reason if result.outcome is DialOutcome.INTERRUPTED else None
        record.total_s = record.dial_s
        if recorder is not None:
            recorder.close()
            recording.unlink(missing_ok=True)  # type: ignore[union-attr]
        record.line_state = line.describe()
        return record
    run = FlowRun(flow, variables)
    port: Any = active.audio  # AudioPump satisfies dialog's CallAudio (flush_playback also counts frames)
    convo = Conversation(
        run,
        port,
        speech.asr,
        SynthesizedPrompts(speech.tts),
        speech.endpointer(),
        ended=active.ended,
        limits=limits,
        use_grammar=speech.use_grammar,
        call_id=number,
        keys=getattr(active, "read_dtmf", None),  # the keypad
    )
    try:
        completed = convo.execute()
    except CallboxError as exc:
        log.error("call to %s: conversation failed: %s", number, exc)
        completed = False
    finally:
        active.hangup()
        if recorder is not None:
            recorder.close()
    ended = time.monotonic()
    record.talk_s = round(ended - answered, 3)
    record.total_s = round(ended - started, 3)
    record.outcome = "completed" if completed else ("interrupted" if active.interrupted else "hung_up")
    record.cause = active.end_cause if active.end_cause is not None else record.cause
    record.fault = active.fault
    record.ended_by = active.ended_by
    record.disposition = run.result.disposition if completed else None
    record.slots = run.result.to_json()["slots"]
    strength = run.result.intent_strength if completed else run.strength(ended_by="customer")
    record.intent_strength = strength.to_dict() if strength is not None else None
    record.recording = str(recording) if recording is not None else None
    times = convo.turn_times_ms
    record.turns = [
        CallTurn(t.speaker, t.text, t.node, t.intent, t.confidence, times[i] if i < len(times) else 0)
        for i, t in enumerate(run.turns)
    ]
    record.line_state = line.describe()
    return record


def open_line(profile: str, at_port: str, audio: str, *, timeouts: ModemTimeouts | None = None,
              supervision: Supervision | None = None) -> Line:
    """A started line, or ModemError/CallboxError saying why it is not ready."""
    modem = Modem(load_profile(profile), at_port, audio, timeouts=timeouts, name="call")
    line = Line("call", modem, supervision=supervision or Supervision(reopen_s=3600.0))
    if line.start() is not LineState.READY:
        reason = line.fault_reason
        line.stop()
        raise CallboxError(f"line on {at_port} is not ready: {reason}")
    return line


def run_call_command(opts: argparse.Namespace, *, speech: SpeechKit | None = None) -> int:
    """The `callbox call` command; exit 0 when the flow completed, 1 for any other outcome."""
    flow = load_flow(opts.flow if opts.flow is not None else builtin_flow_path(DEFAULT_FLOW))
    variables = parse_vars(opts.var)
    audio: str = opts.audio
    if not audio.startswith(("serial:", "alsa:", "fifo:")):
        raise ConfigError(f"--audio {audio!r}: expected serial:PATH or alsa:DEVICE")
    built_engine: object = None
    with tempfile.TemporaryDirectory(prefix="callbox-call-") as tmp:
        if speech is None:
            from appliance.config import Config
            from appliance.service import StatePaths, build_speech

            state = Path(opts.state_dir) if getattr(opts, "state_dir", None) else Path(tmp)
            speech, built_engine = build_speech(Config(state_dir=state), StatePaths(state))
        line = open_line(opts.profile, opts.at_port, audio)
        try:
            record = call_once(
                line,
                opts.number,
                flow,
                variables,
                speech,
                ring_timeout=opts.ring_timeout,
                limits=ConversationLimits(max_call_s=opts.max_call),
                recording=opts.recording,
            )
        finally:
            line.stop()
            close_engine = getattr(built_engine, "close", None)
            if close_engine is not None:
                close_engine()  # recognition worker processes
    if opts.json:
        print(json.dumps(record.as_dict(), indent=2, ensure_ascii=False))
    else:
        print(record.text())
    return 0 if record.outcome == "completed" else 1
