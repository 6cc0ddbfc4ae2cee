"""A call's templated prompts are rendered into the prompt cache while it rings, and played from there.

Real parts: a simulated SIM7600 on ptys (ringing 2.5 s), the real line and modem driver, piper with the joe voice
and a real cache directory, PocketSphinx, the box's built-in flow. What piper synthesised, and when, is read from
its own debug log line ("piper rendered ... of '<text>'").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.campaign.attempt import Outcome
from appliance.campaign.dialing import SpeechKit, place_and_converse
from appliance.dialog.flow.load import load_flow
from appliance.dialog.flow.model import Flow
from appliance.dialog.runtime.ahead import texts_ahead
from appliance.dialog.runtime.conversation import ConversationLimits
from appliance.dialog.runtime.engine import FlowRun
from appliance.sim.customer import CustomerScript
from appliance.sim.families import SimulatedSim7600
from appliance.speech.asr.sphinx import PocketSphinxEngine
from appliance.speech.tts.piper import PiperTts, default_voice
from appliance.speech.tts.prompts import PromptSource
from appliance.speech.tts.sentences import split_sentences
from appliance.speech.vad import Endpointer
from appliance.telephony.line import Line, LineState
from appliance.telephony.modem import Modem, ModemTimeouts
from appliance.telephony.profile import load_profile

REPO = Path(__file__).resolve().parents[2]
FLOW = REPO / "appliance" / "flows" / "delivery-confirmation.en.json"
VARIABLES = {"name": "Priya", "order_id": "B7731", "shop": "Harbour Books"}
FAST = ModemTimeouts(command=2.0, dial_ack=2.0, hangup=1.0, audio_start=2.0, release_settle=0.3)


@pytest.fixture(scope="module")
def flow() -> Flow:
    return load_flow(FLOW)


@pytest.fixture
def source(flow: Flow, tmp_path: Path, piper_tts: PiperTts) -> PromptSource:
    """The flow's prompts as the box makes them: a fresh cache, the fixed prompts prerendered (as on publish)."""
    model, config = default_voice()
    tts = PiperTts(model, config, cache_dir=tmp_path / "cache", loaded=piper_tts.loaded)
    source = PromptSource(tts, templates=flow.prompt_templates())
    source.prerender()
    return source


@pytest.fixture
def line(voices_dir: Path) -> Iterator[Line]:
    def directory(number: str) -> CustomerScript:
        behaviour = "busy" if number.endswith("1") else "answer"
        return CustomerScript(behaviour, replies=[voices_dir / "en_confirm_2.wav"], max_call_s=40,
                              prompt_end_ms=300, reply_gap_ms=200)

    sim = SimulatedSim7600(directory, ring_ms=2500)
    sim.start()
    profile = load_profile("simcom-sim7600")
    line = Line("ahead", Modem(profile, sim.at_port, sim.audio_port, timeouts=FAST))
    try:
        assert line.start() is LineState.READY, line.fault_reason
        yield line
    finally:
        line.stop()
        sim.stop()


class PiperRuns(logging.Handler):
    """The texts piper synthesised, with when (from piper's own debug line)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.runs: list[tuple[float, str]] = []
        self.runs_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("piper rendered"):
            with self.runs_lock:
                self.runs.append((time.monotonic(), str(record.args[1])))  # type: ignore[index]


@pytest.fixture
def piper_runs() -> Iterator[PiperRuns]:
    handler = PiperRuns()
    logger = logging.getLogger("appliance.speech.tts.piper")
    old = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)


def test_the_texts_ahead_are_the_calls_templated_prompts_greeting_first(flow: Flow) -> None:
    texts = texts_ahead(flow, VARIABLES)
    first = FlowRun(flow, dict(VARIABLES)).start().say
    assert texts[0] == first  # exactly what the conversation says first
    assert "Thank you, Priya. Your parcel arrives tomorrow. Goodbye." in texts  # the confirmed node, one hop on
    assert any("B7731" in t and "depot" in t for t in texts)  # a knowledge-base answer with the order number
    assert not any("{" in t or "}" in t for t in texts)
    assert not any("We will call you again on" in t for t in texts)  # {next_call}: a slot, not known yet
    fixed = {t for t in flow.prompt_templates().values() if "{" not in t}
    assert not fixed & set(texts)  # the fixed prompts are the publish-time prerender's
    # a value with braces in it is said as it is, never taken for a field
    assert texts_ahead(flow, {**VARIABLES, "name": "{shop}"})[0].startswith("Hello {shop}, this is Harbour Books")
    # with a variable missing (and no default) the prompts that need it wait
    assert not any("Priya" in t for t in texts_ahead(flow, {"order_id": "B7731", "shop": "X"}))


def test_a_ringing_call_renders_its_greeting_and_plays_it_from_the_cache(
    flow: Flow, source: PromptSource, line: Line, pocketsphinx_engine: PocketSphinxEngine, piper_runs: PiperRuns
) -> None:
    tts = source.tts
    greeting = FlowRun(flow, dict(VARIABLES)).start().say
    assert not tts.has_cached(greeting)
    seen: dict[str, object] = {}

    def on_answered() -> None:
        seen["at"] = time.monotonic()
        seen["greeting_cached"] = tts.has_cached(greeting)
        seen["sentences_cached"] = [tts.has_cached(s) for s in split_sentences(greeting)]

    kit = SpeechKit(asr=pocketsphinx_engine, tts=tts, endpointer=lambda: Endpointer(silence_timeout_ms=6000))
    result = place_and_converse(line, "5550", flow, dict(VARIABLES), kit, voice=source, ring_timeout=10,
                                limits=ConversationLimits(max_call_s=40), call_id="ahead-1", on_answered=on_answered)
    assert result.outcome is Outcome.COMPLETED, (result.turns, result.disposition, result.talk_s)
    assert result.dial_s >= 2.0  # it did ring
    assert seen["greeting_cached"] is True and all(seen["sentences_cached"])  # type: ignore[arg-type]
    answered = float(seen["at"])  # type: ignore[arg-type]
    rendered_before = [text for at, text in piper_runs.runs if at < answered]
    rendered_after = [text for at, text in piper_runs.runs if at >= answered]
    assert "Hello Priya, this is Harbour Books calling about your order B7731." in rendered_before
    # the greeting took the cached path: not one of its sentences was synthesised once the call was answered
    assert not set(split_sentences(greeting)) & set(rendered_after), rendered_after
    assert result.disposition == "confirmed"
    assert next(t.text for t in result.turns if t.speaker == "bot") == greeting
    # the call is over: its own entries left the cache, the flow's fixed prompts stayed
    deadline = time.monotonic() + 10
    while tts.has_cached(greeting) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not tts.has_cached(greeting)
    assert not tts.has_cached("Hello Priya, this is Harbour Books calling about your order B7731.")
    assert tts.has_cached("It will be delivered tomorrow.")
    assert not [t for t in threading.enumerate() if t.name.startswith("render-ahead-")]


def test_a_call_that_is_not_answered_stops_rendering_and_leaves_nothing_behind(
    flow: Flow, source: PromptSource, line: Line, pocketsphinx_engine: PocketSphinxEngine
) -> None:
    tts = source.tts
    before = sorted(p.name for p in tts.cache_dir.iterdir())  # type: ignore[union-attr]
    kit = SpeechKit(asr=pocketsphinx_engine, tts=tts, endpointer=lambda: Endpointer(silence_timeout_ms=6000))
    result = place_and_converse(line, "5551", flow, dict(VARIABLES), kit, voice=source, ring_timeout=10,
                                limits=ConversationLimits(max_call_s=40), call_id="ahead-2")
    assert result.outcome is Outcome.BUSY
    deadline = time.monotonic() + 10
    while [t for t in threading.enumerate() if t.name == "render-ahead-ahead-2"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [t for t in threading.enumerate() if t.name == "render-ahead-ahead-2"]
    assert sorted(p.name for p in tts.cache_dir.iterdir()) == before  # type: ignore[union-attr]


def test_render_ahead_needs_a_cache_and_nothing_is_rendered_for_recorded_prompts(
    flow: Flow, source: PromptSource, tmp_path: Path
) -> None:
    from appliance.speech.tts.player import SynthesizedPrompts

    no_cache = source.tts.with_settings()
    no_cache.cache_dir = None
    assert SynthesizedPrompts(no_cache).render_ahead(["Hello Priya."]) is None
    assert source.render_ahead([]) is None
    from appliance.speech.tts.recorded import RecordedPrompts

    recorded = PromptSource(source.tts, templates=flow.prompt_templates(), mode="recorded",
                            recordings=RecordedPrompts(tmp_path / "rec"), flow_id=flow.id)
    assert recorded.render_ahead(texts_ahead(flow, VARIABLES)) is None
