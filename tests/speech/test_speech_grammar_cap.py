"""The hybrid's grammar decoders are capped (each PocketSphinx decoder is its own ~97 MB copy of the model):
the cap holds under concurrent sessions on real decoders, in this process and in worker processes; a turn
that finds them all busy is heard by Whisper alone; the grammar recogniser alone is never capped."""

from __future__ import annotations

import threading
import wave
from pathlib import Path
from typing import Any

import pytest

from appliance.config import parse_config
from appliance.errors import ConfigError, SpeechError
from appliance.speech.asr.base import DecodersBusy
from appliance.speech.asr.factory import grammar_decoder_layout
from appliance.speech.asr.hybrid import HybridEngine
from appliance.speech.asr.sphinx import PocketSphinxEngine
from appliance.speech.asr.whisper import WhisperEngine
from appliance.speech.asr.worker import EngineSpec, WorkerEngine

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "asr"
GRAMMAR = ["yes", "no", "call me later", "not a good time"]


def pcm_of(name: str) -> bytes:
    with wave.open(str(FIXTURES / "en" / name)) as w:
        return w.readframes(w.getnframes())


def feed(session: Any, pcm: bytes) -> None:
    for i in range(0, len(pcm) - len(pcm) % 320, 320):
        session.accept(pcm[i : i + 320])


@pytest.fixture(scope="module")
def capped() -> PocketSphinxEngine:
    return PocketSphinxEngine("en", max_decoders=2)


def test_the_pool_never_exceeds_its_cap_under_concurrent_sessions(capped: PocketSphinxEngine) -> None:
    audio = pcm_of("en_call_later_03.wav")  # "Not a good time."
    opened = threading.Barrier(6)  # every round, all six turns try to open before any finishes
    heard: list[str] = []
    busy: list[int] = []
    lock = threading.Lock()

    def turn() -> None:
        for _ in range(3):
            try:
                session: Any = capped.open_session(GRAMMAR)
            except DecodersBusy:
                session = None
            opened.wait(30)
            if session is None:
                with lock:
                    busy.append(1)
            else:
                feed(session, audio)
                text = session.finish().text
                with lock:
                    heard.append(text)
            opened.wait(30)

    threads = [threading.Thread(target=turn, name=f"cap-turn-{i}") for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert len(heard) == 6 and len(busy) == 12  # two turns heard per round, four refused
    assert set(heard) == {"not a good time"}
    assert capped.peak_decoders == 2 and capped.decoders == 2  # never a third decoder, none lost


def test_a_full_pool_refuses_at_once_and_a_finished_or_dropped_session_frees_its_decoder(
        capped: PocketSphinxEngine) -> None:
    first, second = capped.open_session(GRAMMAR), capped.open_session(None)
    with pytest.raises(DecodersBusy):
        capped.open_session(GRAMMAR)
    first.cancel()
    third = capped.open_session(GRAMMAR)
    del second  # dropped without finish (a hang-up): its decoder comes back
    fourth = capped.open_session(None)
    feed(third, pcm_of("en_confirm_01.wav"))  # "Yes."
    assert third.finish().text == "yes"
    fourth.cancel()
    assert capped.decoders == 2


def test_the_grammar_recogniser_alone_is_not_capped(pocketsphinx_engine: PocketSphinxEngine) -> None:
    assert pocketsphinx_engine.max_decoders is None
    sessions = [pocketsphinx_engine.open_session(GRAMMAR) for _ in range(3)]  # one more than its idle pool
    assert pocketsphinx_engine.decoders >= 3
    for s in sessions:
        s.cancel()


def test_worker_processes_hold_at_most_their_share() -> None:
    engine = WorkerEngine(EngineSpec("pocketsphinx", "en", max_decoders=1), workers=2)
    try:
        a, b = engine.open_session(GRAMMAR), engine.open_session(GRAMMAR)
        with pytest.raises(DecodersBusy):  # refused in this process: no worker is asked
            engine.open_session(GRAMMAR)
        a.cancel()
        c = engine.open_session(GRAMMAR)  # the cancel reached the worker before this open
        feed(c, pcm_of("en_confirm_01.wav"))
        assert c.finish().text == "yes"
        b.cancel()
    finally:
        engine.close()


def test_a_worker_whose_own_pool_is_full_says_busy_in_the_same_terms() -> None:
    # two sessions on one worker whose engine holds one decoder: the parent allows two, the child refuses
    engine = WorkerEngine(EngineSpec("pocketsphinx", "en", max_decoders=1), workers=1)
    try:
        engine.spec = EngineSpec("pocketsphinx", "en", max_decoders=2)  # the parent's cap only
        first = engine.open_session(GRAMMAR)
        with pytest.raises(DecodersBusy):
            engine.open_session(GRAMMAR)
        feed(first, pcm_of("en_confirm_01.wav"))
        assert first.finish().text == "yes"
    finally:
        engine.close()


def test_hybrid_hears_a_turn_with_whisper_alone_when_every_grammar_decoder_is_busy(
        whisper_engine: WhisperEngine) -> None:
    grammar = PocketSphinxEngine("en", max_decoders=1)
    hybrid = HybridEngine(grammar, whisper_engine)  # not closed: the Whisper engine is the session's
    holding = hybrid.open_session(GRAMMAR)
    alone = hybrid.open_session(GRAMMAR)
    assert hybrid.decisions["grammar_busy"] == 1
    feed(alone, pcm_of("en_call_later_03.wav"))
    heard = alone.finish()
    assert alone.decided_by == "whisper" and "good time" in heard.text, heard
    holding.cancel()
    again = hybrid.open_session(GRAMMAR)  # the decoder is free again: the grammar hears this turn
    feed(again, pcm_of("en_call_later_03.wav"))
    assert again.finish().text == "not a good time" and again.decided_by == "grammar"
    assert hybrid.decisions["grammar_busy"] == 1 and grammar.peak_decoders == 1


def test_the_cap_is_spread_over_the_worker_processes() -> None:
    assert grammar_decoder_layout(2, 2) == (2, 1)
    assert grammar_decoder_layout(2, 3) == (2, 2)
    assert grammar_decoder_layout(4, 2) == (2, 1)  # a worker beyond the cap would hold an idle model
    assert grammar_decoder_layout(0, 3) == (0, 3)  # in this process
    with pytest.raises(SpeechError):
        grammar_decoder_layout(2, 0)


def test_the_grammar_decoders_setting_is_checked() -> None:
    assert parse_config({}).speech.grammar_decoders == 2
    assert parse_config({"speech": {"grammar_decoders": 4}}).speech.grammar_decoders == 4
    for bad in (0, -1, "2", 1.5):
        with pytest.raises(ConfigError) as caught:
            parse_config({"speech": {"grammar_decoders": bad}})
        assert "speech.grammar_decoders" in str(caught.value)
