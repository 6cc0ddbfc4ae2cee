"""Turn taking: end-of-utterance silence per answer, barge-in, the echo guard, no-input, early endpoint.

The pure decisions run on synthetic frames; the timing claims run on real calls: the simulated E1550 on
ptys, the real audio pump (the modem is the clock), PocketSphinx and piper, scripted customers from
``tests/fixtures/make_turn_fixtures.sh``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from appliance.dialog.flow.load import parse_flow
from appliance.dialog.runtime.conversation import Conversation, ConversationLimits
from appliance.dialog.runtime.engine import FlowRun
from appliance.errors import FlowError
from appliance.events import FRAME_BYTES, LINE_RATE, DialOutcome
from appliance.sim.customer import CustomerScript, frame_rms
from appliance.sim.families import simulated_modem
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.speech.audio import frames
from appliance.speech.tts.player import Prompt, SynthesizedPrompts
from appliance.speech.vad import (
    EchoGuard,
    Endpointer,
    EndpointEvent,
    EndpointState,
    is_complete_answer,
    looks_unfinished,
)
from appliance.telephony.line import Line
from appliance.telephony.modem import Modem, ModemTimeouts
from appliance.telephony.profile import load_profile

SILENCE = bytes(FRAME_BYTES)
VOICED_RMS = 300.0


def voiced(ms: int, *, level: float = 0.3, start: int = 0) -> list[bytes]:
    """A buzzy vowel-like sound: harmonics of 150 Hz, 20 ms frames."""
    n = np.arange(start, start + LINE_RATE * ms // 1000)
    signal = sum(level / k * np.sin(2 * np.pi * 150 * k * n / LINE_RATE) for k in range(1, 15))
    return list(frames((np.asarray(signal) * 32767).astype("<i2").tobytes()))


def attenuate(chunks: list[bytes], db: float) -> list[bytes]:
    gain = 10 ** (db / 20)
    return [(np.frombuffer(f, dtype="<i2") * gain).astype("<i2").tobytes() for f in chunks]


def mix(a: bytes, b: bytes) -> bytes:
    total = np.frombuffer(a, dtype="<i2").astype(np.int32) + np.frombuffer(b, dtype="<i2")
    return np.clip(total, -32768, 32767).astype("<i2").tobytes()


# -- pure decisions ------------------------------------------------------------


def test_speech_turns_unfinished_and_complete_answers():
    assert looks_unfinished("I live on") and looks_unfinished("friday and") and looks_unfinished("at the")
    assert not looks_unfinished("I live on baker street") and not looks_unfinished("")
    assert is_complete_answer("Yes.", ["yes", "no"]) and is_complete_answer("friday", ["Friday"])
    assert not is_complete_answer("yes but", ["yes", "no"]) and not is_complete_answer("", ["yes"])


def test_speech_turns_end_silence_follows_the_partial_transcript():
    ep = Endpointer(end_silence_ms=700, long_utterance_wait_ms=1500, complete_answer_silence_ms=300)
    ep.reset()
    assert ep.end_silence_for("yes", ["yes", "no"]) == 300
    assert ep.end_silence_for("i live on", ["yes", "no"]) == 1500
    assert ep.end_silence_for("maybe", ["yes", "no"]) == 700
    ep.reset(long_answer=True)
    assert ep.end_silence_ms == 1500 and ep.end_silence_for("baker street") == 1500
    assert ep.end_silence_for("yes", ["yes"]) == 300  # a closed answer still ends early


def test_speech_turns_shorter_silence_ends_an_utterance_already_that_quiet():
    ep = Endpointer(end_silence_ms=700)
    ep.reset()
    events = [ep.feed(f) for f in voiced(400) + [SILENCE] * 15]
    assert events.count(EndpointEvent.SPEECH_START) == 1 and EndpointEvent.SPEECH_END not in events
    assert ep.silence_ms == 300
    assert ep.set_end_silence(1500) is None  # extended: not yet
    assert ep.set_end_silence(300) is EndpointEvent.SPEECH_END  # the closed answer is complete
    assert ep.state is EndpointState.DONE and ep.speech_end_ms == 400


def test_speech_turns_extension_lasts_only_for_that_pause():
    ep = Endpointer(end_silence_ms=700)
    ep.reset()
    for f in voiced(300):
        ep.feed(f)
    for _ in range(5):
        ep.feed(SILENCE)
    ep.set_end_silence(1500)
    for _ in range(40):  # 800 ms more of silence: still within the extended wait
        assert ep.feed(SILENCE) is None
    for f in voiced(300, start=2400):  # the customer goes on: the next pause is judged afresh
        ep.feed(f)
    assert ep.end_silence_ms == 700
    assert [ep.feed(SILENCE) for _ in range(35)][-1] is EndpointEvent.SPEECH_END


def test_speech_turns_per_turn_overrides_do_not_stick():
    ep = Endpointer(end_silence_ms=700, long_utterance_wait_ms=1500, silence_timeout_ms=7000)
    ep.reset(long_answer=True, long_wait_ms=2500, silence_timeout_ms=400)
    assert ep.end_silence_ms == 2500 and ep.end_silence_for("and") == 2500
    assert [ep.feed(SILENCE) for _ in range(20)][-1] is EndpointEvent.NO_INPUT  # 400 ms
    ep.reset()
    assert ep.end_silence_ms == 700 and ep.end_silence_for("and") == 1500
    assert not any(ep.feed(SILENCE) for _ in range(349)) and ep.feed(SILENCE) is EndpointEvent.NO_INPUT


def test_speech_turns_a_one_second_pause_splits_an_address_without_the_long_wait(fixtures_dir):
    from appliance.speech.audio import read_wav_line

    pcm = read_wav_line(fixtures_dir / "audio" / "turn_address_pause.wav")
    chunks = list(frames(pcm))
    ep = Endpointer(end_silence_ms=700)
    ep.reset()
    ends = [i for i, f in enumerate(chunks) if ep.feed(f) is EndpointEvent.SPEECH_END]
    assert ends and ends[0] * 20 < 2200  # ends in the pause, before "the High Street" (from 2.0 s)
    ep.reset(long_answer=True)
    ends = [i for i, f in enumerate([*chunks, *[SILENCE] * 100]) if ep.feed(f) is EndpointEvent.SPEECH_END]
    assert ends and ends[0] * 20 > len(chunks) * 20 - 150  # one utterance, to the end of "Street"


def test_speech_turns_echo_guard_rejects_the_bots_echo_and_hears_the_customer_over_it():
    prompt = voiced(2000, level=0.3)
    echo = [SILENCE] * 3 + attenuate(prompt, -12.0)[:-3]  # -12 dB, 60 ms late
    ep = Endpointer(barge_in_min_ms=300)
    ep.begin_prompt()
    assert not any(ep.barge_in(e, p) for e, p in zip(echo, prompt, strict=True))
    open_ep = Endpointer(barge_in_min_ms=300, echo_margin_db=-200.0)  # no guard: the echo alone barges in
    open_ep.begin_prompt()
    assert any(open_ep.barge_in(e, p) for e, p in zip(echo, prompt, strict=True))
    customer = attenuate(voiced(1000, level=0.3, start=12345), -3.0)  # talking over the prompt
    heard = [mix(e, c) for e, c in zip(echo[50:], customer, strict=False)]
    ep.begin_prompt()
    hits = [ep.barge_in(h, p) for h, p in zip(heard, prompt[50:], strict=False)]
    assert hits.index(True) == 14  # 300 ms of speech: the 15th frame


def test_speech_turns_echo_guard_margin_and_gaps():
    guard = EchoGuard(window_ms=100, margin_db=6.0)
    loud = voiced(20, level=0.5)[0]
    guard.played(loud)
    assert not guard.allows(attenuate([loud], -12.0)[0]) and guard.allows(loud)
    for _ in range(5):
        guard.played(SILENCE)  # the window has passed: anything counts again
    assert guard.allows(attenuate([loud], -30.0)[0])
    ep = Endpointer(barge_in_min_ms=300)
    ep.begin_prompt()
    speech = voiced(200)
    for f in speech + [SILENCE] * 4 + speech[:4]:  # a 80 ms gap is bridged
        ep.barge_in(f)
    assert ep.barge_in_ms == 360
    for f in [SILENCE] * 6:  # a 120 ms gap is not
        ep.barge_in(f)
    assert ep.barge_in_ms == 0


def test_speech_turns_flow_listen_settings():
    doc = flow_doc(listen={"long_answer": True, "free_form": True})
    node = parse_flow(doc).nodes["ask"]
    assert node.listen is not None and node.listen.long_answer and node.listen.free_form
    assert parse_flow(flow_doc()).nodes["ask"].listen is None
    with pytest.raises(FlowError, match="listen"):
        parse_flow(flow_doc(listen={"long": True}))
    with pytest.raises(FlowError, match=r"listen\.long_answer"):
        parse_flow(flow_doc(listen={"long_answer": "yes"}))


# -- real calls on the simulated modem -------------------------------------------

PROMPT = "Hello, this is the shop calling about your order. Will someone be home tomorrow to receive it?"


def flow_doc(*, say: str = "Will someone be home tomorrow?", listen: dict[str, Any] | None = None,
             phrases: tuple[str, ...] = ("yes", "no"), vui: dict[str, Any] | None = None,
             dtmf: dict[str, str] | None = None) -> dict[str, Any]:
    ask: dict[str, Any] = {
        "type": "dialogue", "say": say, "intents": {"answer": "bye"}, "no_input": "bye", "no_match": "bye",
        "max_retries": 0,
    }  # fmt: skip
    if listen is not None:
        ask["listen"] = listen
    if vui is not None:
        ask["vui"] = vui
    if dtmf is not None:
        ask["dtmf"] = dtmf
    return {
        "id": "turns", "language": "en", "start": "ask", "variables": [],
        "intents": {"answer": {"examples": list(phrases)}},
        "nodes": {"ask": ask, "bye": {"type": "hangup", "say": "Goodbye.", "disposition": "confirmed"}},
    }  # fmt: skip


@dataclass
class CallLog:
    """What the pump wrote and read, tick by tick: (time.monotonic(), inbound frame, outbound frame)."""

    ticks: list[tuple[float, bytes, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def tap(self, inbound: bytes, outbound: bytes) -> None:
        with self.lock:
            self.ticks.append((time.monotonic(), inbound, outbound))

    def voiced(self, side: int) -> list[float]:
        return [t[0] for t in self.ticks if frame_rms(t[side]) > VOICED_RMS]


@dataclass
class Outcome:
    completed: bool
    convo: Conversation
    run: FlowRun
    log: CallLog
    said: list[str]

    def mark(self, what: str) -> float:
        found = [t for w, t, _ in self.convo.marks if w == what]
        assert found, (what, self.convo.marks)
        return found[0]

    def customer_turns(self) -> list[str]:
        return [t.text for t in self.run.turns if t.speaker == "customer"]


@pytest.fixture
def sim_call(pocketsphinx_engine, piper_tts) -> Iterator[Any]:
    sims: list[SimulatedHuaweiModem] = []
    lines: list[Line] = []

    def call(script: CustomerScript, doc: dict[str, Any], endpointer: Endpointer,
             profile: str = "huawei-e1550", tts: Any = None) -> Outcome:
        sim = simulated_modem(profile, lambda n: script, ring_ms=100)
        sim.start()
        sims.append(sim)
        timeouts = ModemTimeouts(command=2.0, dial_ack=2.0, hangup=1.0)
        line = Line("turns", Modem(load_profile(profile), sim.at_port, sim.audio_port, timeouts=timeouts))
        lines.append(line)
        line.start()
        log = CallLog()
        result, active = line.place_call("5550100", ring_timeout=3, tap=log.tap)
        assert result.outcome is DialOutcome.ANSWERED and active is not None
        run = FlowRun(parse_flow(doc), {})
        limits = ConversationLimits(max_call_s=25, greeting_wait_ms=200)
        prompts = tts or SynthesizedPrompts(piper_tts)
        convo = Conversation(run, active.audio, pocketsphinx_engine, prompts, endpointer, ended=active.ended,
                             limits=limits, call_id="turns", keys=active.read_dtmf)
        try:
            completed = convo.execute()
        finally:
            active.hangup()
        assert sim.calls[-1].ended.wait(2)
        return Outcome(completed, convo, run, log, list(sim.calls[-1].said))

    yield call
    for line in lines:
        line.stop()
    for sim in sims:
        sim.stop()


def test_speech_turns_barge_in_stops_the_prompt_within_a_frame_and_hears_the_answer(sim_call, fixtures_dir):
    yes = fixtures_dir / "audio" / "turn_yes.wav"
    script = CustomerScript("answer", replies=[yes], barge_in_ms=800)
    out = sim_call(script, flow_doc(say=PROMPT), Endpointer(barge_in_min_ms=300))
    detected = out.mark("barge_in")
    started = min(out.log.voiced(2))  # the bot's first voiced frame on the line
    assert detected - started < 2.0  # the prompt alone is about 5 s
    bot_after = [t for t in out.log.voiced(2) if detected <= t < out.mark("endpoint")]
    assert all(t - detected <= 0.020 for t in bot_after), [round((t - detected) * 1000, 1) for t in bot_after]
    assert len(bot_after) <= 1
    # the answer was heard whole, its start from the frames heard during the barge-in
    assert out.customer_turns() == ["yes"] and out.run.result.intents == ["answer"] and out.completed


class SlowSecondSentence:
    """piper, but a prompt's second sentence takes 2 s to render (a busy box): the bot must keep
    listening meanwhile, or a customer who talks over the first sentence is not heard until it renders."""

    def __init__(self, tts: Any) -> None:
        self.tts = tts
        self.second_ready: list[float] = []  # when each two-sentence prompt's second sentence was ready

    def render_prompt(self, prompt: Prompt) -> bytes:
        return bytes(self.tts.render(prompt.text))

    def prompt_parts(self, prompt: Prompt) -> Iterator[bytes]:
        text = prompt.text
        first, _, rest = text.partition(". ")
        if not rest:
            yield self.tts.render(text)
            return
        yield self.tts.render(first + ".")
        time.sleep(2.0)
        self.second_ready.append(time.monotonic())
        yield self.tts.render(rest)


def test_speech_turns_barge_in_is_heard_while_the_next_sentence_renders(sim_call, fixtures_dir, piper_tts):
    yes = fixtures_dir / "audio" / "turn_yes.wav"
    slow = SlowSecondSentence(piper_tts)
    script = CustomerScript("answer", replies=[yes], barge_in_ms=600)
    out = sim_call(script, flow_doc(say=PROMPT), Endpointer(barge_in_min_ms=300), tts=slow)
    detected = out.mark("barge_in")
    assert detected - out.mark("prompt_start") < 1.9  # heard while the second sentence was still rendering
    assert not slow.second_ready or detected < slow.second_ready[0]
    assert out.customer_turns() == ["yes"] and out.completed


def test_speech_turns_echo_is_not_barge_in_and_no_input_counts_from_the_prompts_end(sim_call):
    script = CustomerScript("silent", echo_db=-12.0, echo_delay_ms=60)
    out = sim_call(script, flow_doc(say=PROMPT), Endpointer(silence_timeout_ms=1000, barge_in_min_ms=300))
    ticks = out.log.ticks
    echo = [i for i, (_, inbound, _) in enumerate(ticks) if frame_rms(inbound) > VOICED_RMS]
    assert len(echo) > 100  # the echo really came back during the prompt
    assert not [m for m in out.convo.marks if m[0] == "barge_in"]
    waited = out.mark("no_input") - out.mark("prompt_end")
    assert 0.95 <= waited <= 1.35, waited  # upper bound loose: a busy CI machine delays the mark, not the rule
    last_bot = max(t for t, _, outbound in ticks if any(outbound) and t < out.mark("no_input"))
    assert -0.03 <= out.mark("prompt_end") - last_bot <= 0.08  # the prompt's end is its last frame on the line
    assert out.customer_turns() == [""]
    # without the guard the same line audio barges in
    bare = Endpointer(barge_in_min_ms=300, echo_margin_db=-200.0)
    bare.begin_prompt()
    assert any(bare.barge_in(inbound, outbound) for _, inbound, outbound in ticks)


LONG_VUI = {"long_utterance": {"enabled": True, "wait_ms": 1500, "when": ["always"]}}


@pytest.mark.parametrize(("listen", "vui"), [({"long_answer": True}, None), (None, None), (None, LONG_VUI)],
                         ids=["long_answer_node", "unfinished_partial", "flow_vui_long_utterance"])
def test_speech_turns_address_with_a_pause_stays_one_turn(sim_call, fixtures_dir, listen, vui):
    address = fixtures_dir / "audio" / "turn_address_pause.wav"
    script = CustomerScript("answer", replies=[address], prompt_end_ms=300, reply_gap_ms=100)
    doc = flow_doc(say="Where do you live?", listen=listen, phrases=("i live on the high street", "yes", "no"),
                   vui=vui)
    out = sim_call(script, doc, Endpointer(end_silence_ms=700, long_utterance_wait_ms=1500))
    assert out.customer_turns() == ["i live on the high street"]
    assert [w for w, _, _ in out.convo.marks].count("endpoint") == 1
    endpoint = out.mark("endpoint")
    waited = endpoint - max(t for t in out.log.voiced(1) if t < endpoint)
    if listen is None and vui is None:  # only the pause after "on" was lengthened; the whole address is
        assert 0.28 <= waited <= 0.6, waited  # one of the node's phrases, so its end comes early (not 700 ms)
    else:  # the node expects a long answer: the whole turn waits the long wait
        assert 1.4 <= waited <= 2.2, waited


def test_speech_turns_early_endpoint_on_a_closed_answer(sim_call, fixtures_dir):
    yes = fixtures_dir / "audio" / "turn_yes.wav"
    script = CustomerScript("answer", replies=[yes], prompt_end_ms=300, reply_gap_ms=100)
    out = sim_call(script, flow_doc(), Endpointer(end_silence_ms=700, complete_answer_silence_ms=300))
    endpoint = out.mark("endpoint")
    last_voice = max(t for t in out.log.voiced(1) if t < endpoint)
    assert 0.28 <= endpoint - last_voice <= 0.6, endpoint - last_voice  # not the full 700 ms
    assert out.customer_turns() == ["yes"]


def test_speech_turns_fixture_script_is_committed(fixtures_dir):
    script = Path(fixtures_dir / "make_turn_fixtures.sh").read_text(encoding="utf-8")
    for name in ("turn_address_pause.wav", "turn_yes.wav"):
        assert name in script and (fixtures_dir / "audio" / name).exists()


def test_speech_turns_settings_come_from_the_vui_config():
    from appliance.config import parse_config
    from appliance.errors import ConfigError

    vui = parse_config({"vui": {"long_utterance_wait_ms": 2000, "complete_answer_silence_ms": 250,
                                "barge_in_min_ms": 400, "echo_margin_db": 9}}).vui
    assert (vui.end_silence_ms, vui.long_utterance_wait_ms, vui.complete_answer_silence_ms) == (700, 2000, 250)
    assert vui.barge_in_min_ms == 400 and vui.echo_margin_db == 9.0 and vui.silence_timeout_ms == 7000
    with pytest.raises(ConfigError, match="barge_in_ms"):
        parse_config({"vui": {"barge_in_ms": 300}})


def test_speech_turns_a_key_pressed_over_the_prompt_stops_it_and_answers(sim_call):
    script = CustomerScript("answer", replies=[Path("dtmf:1")], barge_in_ms=800)
    out = sim_call(script, flow_doc(say=PROMPT, dtmf={"1": "answer"}), Endpointer(), profile="quectel-ec25")
    pressed = out.mark("keys")
    assert pressed - min(out.log.voiced(2)) < 2.5  # well before the 5 s prompt's end
    assert not [m for m in out.convo.marks if m[0] == "prompt_end" and m[2] == "ask"]
    turn = next(t for t in out.run.turns if t.speaker == "customer")
    assert (turn.text, turn.intent) == ("1", "answer") and out.completed
