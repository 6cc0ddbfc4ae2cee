"""Whisper tiny.en and the hybrid recogniser on the real models (no mocks): what they hear in the committed
fixtures, the early decode and its throwing away, the bounded decode queue, the fallback without Whisper."""

from __future__ import annotations

import threading
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from appliance.config import parse_config
from appliance.dialog.flow.load import load_flow
from appliance.dialog.nlu.intents import match_intent
from appliance.dialog.runtime.engine import FlowRun
from appliance.errors import ConfigError, SpeechError
from appliance.speech.asr.factory import load_engine
from appliance.speech.asr.hybrid import HybridEngine
from appliance.speech.asr.sphinx import PocketSphinxEngine
from appliance.speech.asr.whisper import PROMPT_MAX_WORDS, WhisperEngine, packaged_model_dir, whisper_prompt
from appliance.speech.models.packaged import TINY_EN_SHA256, find_packaged

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "asr"
BUILT_IN_FLOW = Path(__file__).resolve().parents[2] / "appliance" / "flows" / "delivery-confirmation.en.json"


def pcm_of(path: Path) -> bytes:
    with wave.open(str(path)) as w:
        assert w.getframerate() == 8000 and w.getsampwidth() == 2 and w.getnchannels() == 1
        return w.readframes(w.getnframes())


def feed(session: Any, pcm: bytes) -> None:
    for i in range(0, len(pcm) - len(pcm) % 320, 320):
        session.accept(pcm[i : i + 320])


def first_question(flow_path: Path) -> tuple[list[str], list[Any]]:
    """The first node's grammar phrases and intents, as a call listens to them."""
    flow = load_flow(flow_path)
    node = flow.nodes[flow.start]
    return list(flow.expected_phrases(node)), [flow.intents[b.intent] for b in node.branches]


@pytest.fixture(scope="module")
def hybrid(pocketsphinx_engine: PocketSphinxEngine, whisper_engine: WhisperEngine) -> HybridEngine:
    return HybridEngine(pocketsphinx_engine, whisper_engine)


def test_whisper_hears_a_committed_answer(whisper_engine: WhisperEngine) -> None:
    session = whisper_engine.open_session()
    feed(session, pcm_of(FIXTURES / "en" / "en_call_later_04.wav"))  # "Call me back in an hour."
    heard = session.finish()
    assert heard.text.startswith("call me back"), heard
    assert "hour" in heard.text.split()
    assert 0.5 < heard.confidence <= 1.0
    assert [w.word for w in heard.words] == heard.text.split()
    fed_ms = len(pcm_of(FIXTURES / "en" / "en_call_later_04.wav")) / 16
    assert heard.duration_ms == pytest.approx(fed_ms, abs=20)  # whole frames fed
    with pytest.raises(SpeechError):
        session.finish()


def test_whisper_hears_nothing_in_silence_and_line_hiss(whisper_engine: WhisperEngine) -> None:
    rng = np.random.default_rng(7)
    for audio in (np.zeros(16000, dtype="<i2"), (rng.standard_normal(24000) * 60).astype("<i2")):
        session = whisper_engine.open_session(["yes", "no"])
        feed(session, audio.tobytes())
        heard = session.finish()
        assert heard.text == "" and heard.confidence == 0.0, heard


def test_a_closed_answer_decodes_in_a_short_window_at_a_third_of_the_cost(whisper_engine: WhisperEngine) -> None:
    phrases, intents = first_question(FIXTURES / "flow.en.json")
    pcm = pcm_of(FIXTURES / "en" / "en_call_later_01.wav")  # "Call me later."
    prompt = whisper_prompt(phrases)
    whisper_engine.decode(pcm, prompt)  # warm: the first decodes allocate
    started = time.process_time()
    closed = [whisper_engine.decode(pcm, prompt) for _ in range(3)]
    closed_cpu = time.process_time() - started
    started = time.process_time()
    free = [whisper_engine.decode(pcm, None) for _ in range(3)]  # free-form: faster-whisper's 30 s window
    free_cpu = time.process_time() - started
    assert {u.text for u in closed} == {"call me later"}, closed
    assert match_intent(free[0].text, intents).intent == "call_later", free
    assert closed_cpu < 0.6 * free_cpu, (closed_cpu, free_cpu)
    with pytest.raises(SpeechError, match="5-30 s"):
        WhisperEngine("en", window_s=40)


def test_the_prompt_lists_the_nodes_answers() -> None:
    assert whisper_prompt(["yes", "Call me later!", "yes"]) == "Yes. Call me later."
    assert whisper_prompt(None) is None and whisper_prompt([]) is None


def test_the_prompt_covers_every_answer_of_a_long_grammar_within_its_budget() -> None:
    phrases, intents = first_question(BUILT_IN_FLOW)  # 80-odd phrases, sorted: far over the prompt's budget
    prompt = whisper_prompt(phrases)
    assert prompt is not None and len(prompt.split()) <= PROMPT_MAX_WORDS
    said = {w.strip(".,").lower() for w in prompt.split()}
    # the late ones alphabetically too (taking phrases in order kept none of these)
    for word in ("yes", "wrong", "repeat", "unsubscribe", "nobody"):
        assert word in said, (word, prompt)
    # every intent the node hears has a word of its own in the prompt
    for intent in intents:
        assert any(w in said for e in intent.examples for w in e.lower().split()), intent.name
    # the phrases that are kept are the grammar's own, in its order
    kept = [p.rstrip(".").lower() for p in prompt.split(". ")]
    assert kept == [p for p in phrases if p in kept]


def test_hybrid_answers_from_the_grammar_when_both_agree(hybrid: HybridEngine) -> None:
    phrases, intents = first_question(FIXTURES / "flow.en.json")
    session = hybrid.open_session(phrases)
    feed(session, pcm_of(FIXTURES / "en" / "en_call_later_03.wav"))  # "Not a good time." (in the grammar)
    heard = session.finish()
    assert session.decided_by == "grammar"
    assert heard.text == "not a good time"
    assert match_intent(heard.text, intents).intent == "call_later"


@pytest.mark.parametrize(("stem", "intent", "word"), [("out_of_town", "not_home", "month"),
                                                      ("around_all_day", "confirm", "around")])
def test_hybrid_follows_a_paraphrase_through_whisper(hybrid: HybridEngine, stem: str, intent: str,
                                                     word: str) -> None:
    phrases, intents = first_question(BUILT_IN_FLOW)
    assert not any(word in p.split() for p in phrases)  # the flow's phrases never say it: the grammar cannot
    session = hybrid.open_session(phrases)
    feed(session, pcm_of(FIXTURES.parent / "paraphrase" / f"{stem}.wav"))
    heard = session.finish()
    assert session.decided_by == "whisper", heard
    assert word in heard.text.split(), heard
    assert match_intent(heard.text, intents).intent == intent, heard


def test_hybrid_offers_the_grammars_phrase_when_whisper_mishears(hybrid: HybridEngine) -> None:
    phrases, _ = first_question(FIXTURES / "flow.en.json")
    session = hybrid.open_session(phrases)
    feed(session, pcm_of(FIXTURES / "en" / "en_confirm_04.wav"))  # "Sure, someone will be home." (espeak-ng)
    heard = session.finish()
    # Whisper's words answer (they are more than the grammar's phrase), misheard: "sure time when we'll be home"
    assert session.decided_by == "whisper" and heard.text.startswith("sure ") and heard.text != "sure", heard
    # the grammar's phrase shares "sure" with them: the reading the dialog tries when they decide nothing
    # (FlowRun.hear, tests/core/test_core_engine_alternatives.py)
    assert heard.alternatives == ("sure",), heard
    run = FlowRun(load_flow(FIXTURES / "flow.en.json"), {})
    run.start()
    run.hear("sure time when", confidence=heard.confidence, alternatives=heard.alternatives)
    assert run.result.intents == ["confirm"], run.turns


def test_hybrid_offers_no_phrase_that_shares_no_word_with_whisper(hybrid: HybridEngine) -> None:
    session = hybrid.open_session(["who is calling", "what time"])  # neither is anything like the answer
    feed(session, pcm_of(FIXTURES / "en" / "en_call_later_04.wav"))  # "Call me back in an hour."
    heard = session.finish()
    assert session.decided_by == "whisper" and "hour" in heard.text.split(), heard
    assert heard.alternatives == ()


def test_the_early_decode_answers_when_the_customer_stays_silent(whisper_engine: WhisperEngine) -> None:
    session = whisper_engine.open_session(["call me later"])
    feed(session, pcm_of(FIXTURES / "en" / "en_call_later_01.wav"))  # "Call me later."
    session.pause()
    deadline = time.monotonic() + 20
    while not session.partial() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert session.partial() == "call me later"  # ready before the turn ends
    feed(session, bytes(320 * 10))  # the end-of-turn silence
    started = time.perf_counter()
    heard = session.finish()
    assert time.perf_counter() - started < 0.1  # nothing left to decode
    assert session.used_speculation and heard.text == "call me later"


def test_the_early_decode_is_thrown_away_when_the_customer_goes_on(whisper_engine: WhisperEngine) -> None:
    session = whisper_engine.open_session()
    feed(session, pcm_of(FIXTURES / "en" / "en_not_home_01.wav"))  # "No."
    session.pause()
    feed(session, bytes(320 * 5))
    session.resume()  # ... and then goes on
    feed(session, pcm_of(FIXTURES / "en" / "en_call_later_04.wav"))  # "Call me back in an hour."
    assert session.partial() == ""
    heard = session.finish()
    assert not session.used_speculation and session.speculations == 1
    assert "call" in heard.text.split() and "hour" in heard.text.split(), heard


def test_decodes_are_bounded_and_the_longest_waiting_goes_first(whisper_engine: WhisperEngine) -> None:
    limit = whisper_engine.workers
    assert limit == 2
    pcm = pcm_of(FIXTURES / "en" / "en_question_03.wav")  # "What is this about?"
    sessions = []
    for _ in range(limit + 2):
        session = whisper_engine.open_session()
        feed(session, pcm)
        sessions.append(session)
    results: dict[int, str] = {}

    def finish(i: int) -> None:
        results[i] = sessions[i].finish().text

    threads = []
    for i in range(len(sessions)):  # they finish in this order, while the first decodes still run
        t = threading.Thread(target=finish, args=(i,), name=f"turn-{i}")
        t.start()
        threads.append(t)
        time.sleep(0.1)  # a decode takes 0.3-0.5 s: the first ones still run when the last are asked for
    for t in threads:
        t.join(30)
    labels = [s.label for s in sessions]
    order = [label for label in whisper_engine.queue.started if label in labels]
    assert order == labels  # first come, first decoded
    assert whisper_engine.queue.peak == limit  # never more than the limit at once, and the limit was reached
    assert all(results[i] == "what is this about" for i in range(len(sessions))), results


def test_without_the_model_the_grammar_decoder_answers_and_says_why(tmp_path: Path) -> None:
    engine = load_engine(vosk_model_dir=None, language="en", recogniser="hybrid", whisper_model_dir=tmp_path)
    try:
        assert isinstance(engine, PocketSphinxEngine)
        assert engine.fallback_reason is not None
        assert "Whisper is not used" in engine.fallback_reason and "model.bin" in engine.fallback_reason
    finally:
        engine.close()
    with pytest.raises(SpeechError, match="unknown recogniser"):
        load_engine(vosk_model_dir=None, language="en", recogniser="best")


def test_whisper_refuses_a_language_tiny_en_does_not_speak() -> None:
    with pytest.raises(SpeechError, match="English only"):
        WhisperEngine(language="ko")


def test_the_packaged_model_is_the_pinned_tiny_en() -> None:
    import hashlib

    model_dir = packaged_model_dir()
    assert model_dir is not None
    digest = hashlib.sha256((model_dir / "model.bin").read_bytes()).hexdigest()
    assert digest == TINY_EN_SHA256
    packaged = find_packaged("whisper-tiny.en")
    assert packaged is not None and packaged.path == model_dir and packaged.check() is None


def test_the_recogniser_setting_is_checked() -> None:
    cfg = parse_config({"speech": {"recogniser": "whisper", "whisper_decodes": 3, "whisper_window_s": 30}})
    assert cfg.speech.recogniser == "whisper" and cfg.speech.whisper_decodes == 3
    assert cfg.speech.whisper_window_s == 30
    assert parse_config({}).speech.recogniser == "hybrid" and parse_config({}).speech.whisper_window_s == 10
    for bad, key in (({"recogniser": "best"}, "speech.recogniser"),
                     ({"whisper_window_s": 2}, "speech.whisper_window_s"),
                     ({"whisper_window_s": 31}, "speech.whisper_window_s"),
                     ({"whisper_window_s": "long"}, "speech.whisper_window_s"),
                     ({"whisper_decodes": 0}, "speech.whisper_decodes"),
                     ({"whisper_threads": 0}, "speech.whisper_threads"),
                     ({"whisper_workers": 2}, "speech.whisper_workers"),  # unknown key
                     ({"recogniser": 1}, "speech.recogniser")):
        with pytest.raises(ConfigError) as caught:
            parse_config({"speech": bad})
        assert key in str(caught.value), caught.value


def test_models_check_verifies_the_pinned_hash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from appliance.cli import main
    from appliance.speech.models.packaged import PackagedModel

    base = ["--state-dir", str(tmp_path / "state")]
    assert main([*base, "models", "check"]) == 0
    assert capsys.readouterr().out == f"whisper-tiny.en: sha256 {TINY_EN_SHA256} ok\n"
    assert main([*base, "models", "check", "whisper-base"]) == 2
    assert "no packaged model named 'whisper-base'" in capsys.readouterr().err
    damaged = tmp_path / "model"
    damaged.mkdir()
    (damaged / "model.bin").write_bytes(b"not the weights")
    problem = PackagedModel("x", "whisper", "en", "pkg", damaged, "model.bin", TINY_EN_SHA256).check()
    assert problem is not None and "expected " + TINY_EN_SHA256 in problem
    assert main([*base, "models", "list", "--json"]) == 0
    import json

    listed = json.loads(capsys.readouterr().out)
    assert [(m["name"], m["used_by"]) for m in listed["packaged"]] == [
        ("whisper-tiny.en", 'speech.recogniser = "hybrid", language en')]


def test_doctor_says_which_recogniser_each_language_gets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from appliance.cli import main
    from appliance.config import StatePaths
    from appliance.records.config_store import ConfigStore

    state = tmp_path / "state"
    state.mkdir()
    store = ConfigStore(StatePaths(state).configs)
    store.publish_flow({"id": "korean", "language": "ko"})
    store.close()
    main(["--state-dir", str(state), "doctor"])
    out = capsys.readouterr().out
    assert "speech recognition: hybrid (en)" in out
    assert "ok    recogniser for en: hybrid: PocketSphinx (bundled en-us) grammar + Whisper tiny.en\n" in out
    assert ("warn  recogniser for ko: none (PocketSphinx knows English only) "
            "(no Whisper: whisper-tiny.en is English only)") in out
