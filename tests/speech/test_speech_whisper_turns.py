"""Whisper in a real conversation over a simulated modem: the conversation tells the session when the customer
pauses, Whisper starts decoding then, and a decode started in a pause the customer talks on after is thrown
away (the turn's text is the whole answer, not its first half)."""

from __future__ import annotations

from typing import Any

from appliance.dialog.flow.load import parse_flow
from appliance.dialog.runtime.conversation import Conversation, ConversationLimits
from appliance.dialog.runtime.engine import FlowRun
from appliance.events import DialOutcome
from appliance.sim.customer import CustomerScript
from appliance.sim.families import simulated_modem
from appliance.speech.asr.whisper import WhisperEngine
from appliance.speech.tts.player import SynthesizedPrompts
from appliance.speech.vad import Endpointer
from appliance.telephony.line import Line
from appliance.telephony.modem import Modem, ModemTimeouts
from appliance.telephony.profile import load_profile


def flow(say: str) -> dict[str, Any]:
    return {
        "id": "turns", "language": "en", "start": "ask", "variables": [],
        "intents": {"answer": {"examples": ["yes"]}},
        "nodes": {
            "ask": {"type": "dialogue", "say": say, "intents": {"answer": "bye"}, "no_input": "bye",
                    "no_match": "bye", "max_retries": 0, "listen": {"free_form": True, "long_answer": True}},
            "bye": {"type": "hangup", "say": "Goodbye.", "disposition": "confirmed"},
        },
    }  # fmt: skip


def converse(engine: WhisperEngine, piper_tts: Any, reply: Any) -> tuple[Conversation, FlowRun]:
    sim = simulated_modem("huawei-e1550", lambda n: CustomerScript("answer", replies=[reply], prompt_end_ms=300,
                                                                   reply_gap_ms=100), ring_ms=100)
    sim.start()
    line = Line("whisper-turns", Modem(load_profile("huawei-e1550"), sim.at_port, sim.audio_port,
                                       timeouts=ModemTimeouts(command=2.0, dial_ack=2.0, hangup=1.0)))
    line.start()
    try:
        result, active = line.place_call("5550100", ring_timeout=3)
        assert result.outcome is DialOutcome.ANSWERED and active is not None
        run = FlowRun(parse_flow(flow("Where do you live?")), {})
        convo = Conversation(run, active.audio, engine, SynthesizedPrompts(piper_tts),
                             Endpointer(end_silence_ms=700, long_utterance_wait_ms=1500), ended=active.ended,
                             limits=ConversationLimits(max_call_s=25, greeting_wait_ms=200), call_id="whisper")
        try:
            assert convo.execute()
        finally:
            active.hangup()
        return convo, run
    finally:
        line.stop()
        sim.stop()


def test_a_pause_starts_whisper_and_talking_on_throws_that_decode_away(whisper_engine: WhisperEngine,
                                                                      piper_tts: Any, fixtures_dir: Any) -> None:
    queue = whisper_engine.queue
    seen = len(queue.started)
    # "I live on ... the high street": a pause of about a second after "on", long enough for an early decode;
    # the node expects a long answer (1500 ms), so the pause does not end the turn
    convo, run = converse(whisper_engine, piper_tts, fixtures_dir / "audio" / "turn_address_pause.wav")
    said = [t.text for t in run.turns if t.speaker == "customer"]
    assert len(said) == 1 and "street" in said[0].split() and "live" in said[0].split(), said
    assert [what for what, _, _ in convo.marks].count("endpoint") == 1  # one turn, though it paused
    started = list(queue.started)[seen:]
    early = [label for label in started if label.endswith("-early")]
    # one early decode in the mid-answer pause (thrown away: the text has the words after it), one at the end
    assert len(early) >= 2, started
    turn = early[-1].removesuffix("-early")
    assert turn not in started  # the last early decode was the turn's answer: no decode after the endpoint
