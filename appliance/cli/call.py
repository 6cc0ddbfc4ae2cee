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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from appliance.campaign.dialing import SpeechKit, place_and_converse
from appliance.cli.common import parse_vars, setup_logging
from appliance.config import Config
from appliance.dialog.flow.load import builtin_flow_path, load_flow
from appliance.dialog.flow.model import Flow
from appliance.dialog.runtime.conversation import ConversationLimits
from appliance.errors import CallboxError, ConfigError
from appliance.records.recordings import StereoRecorder
from appliance.speech.asr.base import AsrEngine
from appliance.speech.tts.player import SynthesizedPrompts
from appliance.telephony.line import Line, LineState
from appliance.telephony.modem import Modem, ModemTimeouts
from appliance.telephony.profile import load_profile
from appliance.telephony.supervisor import Supervision, Supervisor, supervise

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
    outcome: str  # completed, hung_up, interrupted, machine, invalid_number, busy, no_answer, rejected, failed
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
    answered_by: str | None = None  # human, machine, invalid_number: who the greeting's screen heard
    screen_why: str = ""  # what gave it away ("a beep after the greeting")
    screen_ms: int | None = None  # from the answer to that decision

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
            *([f"answered by: {self.answered_by} ({self.screen_why}, {self.screen_ms} ms after the answer)"]
              if self.answered_by and self.answered_by != "human" else []),
            f"dial {self.dial_s:.1f} s, talk {self.talk_s:.1f} s, total {self.total_s:.1f} s",
        ]
        lines += [f"  {t.at_ms / 1000:6.1f}s {t.speaker:8} {t.text or '(silence)'}" for t in self.turns]
        if self.recording:
            lines.append(f"recording: {self.recording}")
        return "\n".join(lines)


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
    recorder = StereoRecorder(recording) if recording is not None else None
    try:
        result = place_and_converse(
            line, number, flow, variables, speech, voice=SynthesizedPrompts(speech.tts), ring_timeout=ring_timeout,
            limits=limits, call_id=number, tap=recorder.write if recorder is not None else None,
        )
    finally:
        if recorder is not None:
            recorder.close()
    kept = recording is not None and result.answered
    if recording is not None and not kept:
        recording.unlink(missing_ok=True)
    return CallRecord(
        number=number,
        line=line.name,
        flow=flow.id,
        outcome=result.outcome.value,
        cause=result.cause,
        detail=result.detail,
        fault=result.fault,
        disposition=result.disposition,
        dial_s=result.dial_s,
        talk_s=result.talk_s,
        total_s=result.total_s,
        ended_by=result.ended_by,
        recording=str(recording) if kept else None,
        turns=[CallTurn(t.speaker, t.text, t.node or "", t.intent, t.confidence, t.at_ms) for t in result.turns],
        line_state=line.describe(),
        slots=result.slots if result.answered else {},
        intent_strength=result.strength,
        answered_by=result.answered_by,
        screen_why=result.screen_why,
        screen_ms=result.screen_ms,
    )


def open_line(profile: str, at_port: str, audio: str, *, timeouts: ModemTimeouts | None = None,
              supervision: Supervision | None = None) -> Supervisor:
    """A started, supervised line (``.line``; ``.stop()`` stops both), or CallboxError saying why it is not ready."""
    modem = Modem(load_profile(profile), at_port, audio, timeouts=timeouts, name="call")
    line = Line("call", modem, supervision=supervision or Supervision(reopen_s=3600.0))
    supervisor = supervise(line)
    if line.state is not LineState.READY:
        reason = line.fault_reason
        supervisor.stop()
        raise CallboxError(f"line on {at_port} is not ready: {reason}")
    return supervisor


def run_call_command(opts: argparse.Namespace, *, speech: SpeechKit | None = None) -> int:
    """The `callbox call` command; exit 0 when the flow completed, 1 for any other outcome."""
    flow = load_flow(opts.flow if opts.flow is not None else builtin_flow_path(DEFAULT_FLOW))
    variables = dict(DEFAULT_VARS) | parse_vars(opts.var)
    audio: str = opts.audio
    if not audio.startswith(("serial:", "alsa:", "fifo:")):
        raise ConfigError(f"--audio {audio!r}: expected serial:PATH or alsa:DEVICE")
    built_engine: AsrEngine | None = None  # closed here only if this command loaded it
    with tempfile.TemporaryDirectory(prefix="callbox-call-") as tmp:
        if speech is None:
            from appliance.box import build_speech  # loads the models: only when the command runs

            state = Path(opts.state_dir) if opts.state_dir else Path(tmp)
            speech = build_speech(Config(state_dir=state))
            built_engine = speech.asr
        supervised = open_line(opts.profile, opts.at_port, audio)
        try:
            record = call_once(
                supervised.line,
                opts.number,
                flow,
                variables,
                speech,
                ring_timeout=opts.ring_timeout,
                limits=ConversationLimits(max_call_s=opts.max_call),
                recording=opts.recording,
            )
        finally:
            supervised.stop()
            if built_engine is not None:
                built_engine.close()  # recognition worker processes
    if opts.json:
        print(json.dumps(record.as_dict(), indent=2, ensure_ascii=False))
    else:
        print(record.text())
    return 0 if record.outcome == "completed" else 1


def _run(opts: argparse.Namespace) -> int:
    setup_logging(opts.verbose, quiet=not opts.verbose)
    return run_call_command(opts)


def register(commands: Any) -> None:
    call = commands.add_parser("call", help="place one call on one line and print the call record")
    call.add_argument("number", metavar="NUMBER")
    call.add_argument("--profile", required=True, help="modem profile name or .toml file")
    call.add_argument("--at-port", required=True)
    call.add_argument("--audio", required=True, help="serial:PATH or alsa:DEVICE")
    call.add_argument("--flow", type=Path, default=None, help="flow JSON (default: the English delivery example)")
    call.add_argument("--var", action="append", default=[], metavar="K=V", help="flow variable (repeatable)")
    call.add_argument("--ring-timeout", type=float, default=45.0)
    call.add_argument("--max-call", type=float, default=300.0, help="seconds before the bot hangs up")
    call.add_argument("--recording", type=Path, default=None, help="write a stereo WAV of the call here")
    call.add_argument("--json", action="store_true", help="print the call record as JSON")
    call.set_defaults(func=_run)
