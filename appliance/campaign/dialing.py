"""One way to place a call and converse: dial on a line, run the flow if answered, hang up, and say what
happened as a typed :class:`~appliance.campaign.conclude.AttemptResult`.

The scheduler's call runner persists the result (``conclude`` and one records transaction); ``callbox call``
prints it. Neither touches the conversation's parts itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from appliance.campaign.attempt import Outcome
from appliance.campaign.conclude import AttemptResult
from appliance.campaign.qa import silence_from_no_input
from appliance.campaign.voices import FlowPrompts
from appliance.dialog.flow.model import Flow
from appliance.dialog.runtime.ahead import texts_ahead
from appliance.dialog.runtime.conversation import Conversation, ConversationLimits
from appliance.dialog.runtime.engine import FlowRun
from appliance.dialog.runtime.ports import EndpointerLike, TurnObserver
from appliance.events import DialOutcome, DialResult
from appliance.records.conclusion import Turn
from appliance.speech.asr.base import AsrEngine
from appliance.speech.tts.ahead import RenderAhead
from appliance.speech.tts.player import PromptPlayer, Synthesizer
from appliance.telephony.ports import CallPort, LinePort, Tap

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpeechKit:
    asr: AsrEngine
    tts: Synthesizer
    endpointer: Callable[[], EndpointerLike]
    use_grammar: bool = True
    # A flow's own prompts: its voice and settings, its broadcast mode (recorded / mixed) and its recordings.
    # None: every flow speaks with ``tts``.
    prompts: FlowPrompts | None = None
    # Told each turn's latency and recognition confidence (the box's /metrics); None: nobody listens.
    observer: TurnObserver | None = None


def place_and_converse(
    line: LinePort,
    number: str,
    flow: Flow,
    variables: dict[str, Any],
    speech: SpeechKit,
    *,
    voice: PromptPlayer,
    ring_timeout: float,
    limits: ConversationLimits,
    call_id: int | str,
    tap: Tap | None = None,
    version: int | None = None,
    on_answered: Callable[[], None] | None = None,
    voicemail: bool = True,
    on_turn: Callable[[dict[str, Any]], None] | None = None,
    closing: threading.Event | None = None,
) -> AttemptResult:
    """Dial ``number``; if answered, ``on_answered()`` and the flow with ``voice``; always hang up. An answering
    machine hears the flow's voicemail node when it has one and ``voicemail`` allows it. ``on_turn`` is told each
    turn as the conversation adds it (the panel's live transcript). ``closing`` set (the box stops): the prompt
    playing finishes, the bot says a short goodbye and hangs up; the attempt ends ``interrupted``, ended by the box.

    While it rings, the flow's templated prompts near its start are rendered into the prompt cache with the
    call's variables (:func:`~appliance.dialog.runtime.ahead.texts_ahead`), so the greeting plays from the
    cache; that stops, and the call's entries leave the cache, when the call ends."""
    started = time.monotonic()
    ahead = _render_ahead(voice, flow, variables, call_id)
    try:
        try:
            result, active = line.place_call(number, ring_timeout=ring_timeout, tap=tap)
        except Exception as exc:  # the line failed while dialing: never lose the attempt
            log.exception("call %s: line %s failed while dialing", call_id, line.name)
            result, active = DialResult(DialOutcome.INTERRUPTED, None, str(exc)), None
        answered = time.monotonic()
        dial_s = round(answered - started, 3)
        if result.outcome is not DialOutcome.ANSWERED or active is None:
            outcome = Outcome(result.outcome.value if result.outcome is not DialOutcome.ANSWERED else "failed")
            fault = line.fault_reason if outcome is Outcome.INTERRUPTED else None
            return AttemptResult(outcome, result.cause, result.detail, fault, dial_s=dial_s, total_s=dial_s,
                                 ring_ms=result.ring_ms)
        if ahead is not None:
            log.debug("call %s: answered after %.1f s; %d of %d prompt(s) rendered ahead", call_id, dial_s,
                      len(ahead.rendered), len(ahead.texts))
        if on_answered is not None:
            on_answered()
        return _converse(active, flow, variables, speech, voice=voice, limits=limits, call_id=call_id,
                         version=version, dial=result, started=started, answered=answered, voicemail=voicemail,
                         on_turn=on_turn, closing=closing)
    finally:
        if ahead is not None:
            ahead.close()


def _render_ahead(voice: PromptPlayer, flow: Flow, variables: dict[str, Any],
                  call_id: int | str) -> RenderAhead | None:
    """Start rendering the call's templated prompts (None when there are none, or nothing to render with)."""
    try:
        texts = texts_ahead(flow, variables)
        return voice.render_ahead(texts, call_id=call_id) if texts else None
    except Exception:  # the call goes on without: its templated prompts render as they are said
        log.exception("call %s: cannot render its prompts ahead", call_id)
        return None


def _converse(active: CallPort, flow: Flow, variables: dict[str, Any], speech: SpeechKit, *, voice: PromptPlayer,
              limits: ConversationLimits, call_id: int | str, version: int | None, dial: DialResult, started: float,
              answered: float, voicemail: bool = True,
              on_turn: Callable[[dict[str, Any]], None] | None = None,
              closing: threading.Event | None = None) -> AttemptResult:
    run = FlowRun(flow, variables, version=version)
    convo = Conversation(
        run,
        active.audio,
        speech.asr,
        voice,
        speech.endpointer(),
        ended=active.ended,
        limits=limits,
        use_grammar=speech.use_grammar,
        call_id=call_id,
        keys=active.read_dtmf,  # the keypad
        voicemail=voicemail,
        observer=speech.observer,
        on_turn=on_turn,
        closing=closing,
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
    ended = time.monotonic()
    times = convo.turn_times_ms
    turns = tuple(
        Turn(t.speaker, t.text, t.intent, t.confidence, t.node, times[i] if i < len(times) else 0, t.event,
             t.asr_confidence, t.margin)
        for i, t in enumerate(run.turns)
    )
    # until the recording's own measure: each no-input turn is a silence of its node's no-input time
    silence = silence_from_no_input(turns, {node.id: node.vui.no_input_ms for node in flow.nodes.values()})
    greeting = convo.greeting
    disposition = run.result.disposition if completed else None
    if convo.screened and greeting is not None:  # a machine or the network answered: hung up, maybe a message
        outcome = Outcome(greeting.answered_by.value)
        disposition = run.result.disposition if convo.voicemail_left else None
    elif completed:
        outcome = Outcome.COMPLETED
    elif convo.closed_by_box:  # the box stopped under the call: said goodbye, tried again as the table says
        outcome = Outcome.INTERRUPTED
    else:
        outcome = Outcome.INTERRUPTED if active.interrupted else Outcome.HUNG_UP
    strength = run.result.intent_strength if completed else run.strength(ended_by="customer")
    return AttemptResult(
        outcome,
        cause=active.end_cause if active.end_cause is not None else dial.cause,
        detail=dial.detail,
        fault="the box stopped during the call" if convo.closed_by_box else active.fault,
        answered=True,
        disposition=disposition,
        voicemail_left=convo.voicemail_left,
        operations=tuple(run.result.operations) if completed else (),
        turns=turns,
        slots=run.result.to_json()["slots"],
        strength=strength.to_dict() if strength is not None else None,
        ended_by="box" if convo.closed_by_box else active.ended_by,
        answered_by=greeting.answered_by.value if greeting is not None and greeting.answered else None,
        screen_why=greeting.why if greeting is not None else "",
        screen_ms=greeting.decided_ms if greeting is not None and greeting.answered else None,
        dial_s=round(answered - started, 3),
        talk_s=round(ended - answered, 3),
        ring_ms=dial.ring_ms,
        total_s=round(ended - started, 3),
        flow_ended=run.finished,
        longest_silence_ms=silence,
    )
