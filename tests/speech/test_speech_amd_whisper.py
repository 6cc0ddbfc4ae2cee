"""The callee's greeting heard by Whisper tiny.en (alone, and as the hybrid hears it: Whisper free-form, the
grammar decoder not asked), as on a call: every AMD fixture (tests/fixtures/amd) decided right, announcements
without tones included (their words: ``invalid_number``, never retried); no person's greeting taken for a machine.
``bench/amd.py --recogniser whisper|hybrid`` reports the same figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bench_loader import load_bench

from appliance.dialog.runtime.greeting import AnsweredBy, is_announcement, is_voicemail
from appliance.speech.asr.hybrid import HybridEngine

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "amd"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))
bench_amd = load_bench("amd")

# A person: from the answer to the decision, the decode waited for included (one decode; generous, the machine
# is shared). A machine or the network: the audio heard by the decision (the decodes' waits depend on the load).
HUMAN_WITHIN_MS = 6000
HEARD_WITHIN_MS = {"invalid_number": 5500, "machine": 9000}


@pytest.fixture(scope="module")
def hybrid(pocketsphinx_engine: Any, whisper_engine: Any) -> HybridEngine:
    return HybridEngine(pocketsphinx_engine, whisper_engine)  # not closed here: the engines are the session's


@pytest.mark.parametrize("item", MANIFEST, ids=[m["file"] for m in MANIFEST])
def test_whisper_decides_each_fixture_right(item: dict[str, Any], whisper_engine: Any) -> None:
    heard, _ = bench_amd.decide(whisper_engine, bench_amd.read_pcm(FIXTURES / item["file"]))
    assert heard.answered and heard.answered_by.value == item["label"], heard
    if item["label"] == "human":
        assert heard.decided_ms <= HUMAN_WITHIN_MS, heard
    else:
        assert heard.screen is not None and heard.screen.elapsed_ms <= HEARD_WITHIN_MS[item["label"]], heard
    if item["label"] == "invalid_number" and not item["sit"]:
        assert heard.why.startswith("an operator announcement"), heard  # its words, not its length


@pytest.mark.parametrize("name", ["ann_subscriber.wav", "vm_gb_slow_nobeep.wav", "human_yes_hello_who.wav"])
def test_the_hybrid_hears_the_greeting_with_whisper_alone(name: str, hybrid: HybridEngine) -> None:
    item = next(m for m in MANIFEST if m["file"] == name)
    before = sum(hybrid.decisions.values())
    heard, _ = bench_amd.decide(hybrid, bench_amd.read_pcm(FIXTURES / name))
    assert heard.answered_by.value == item["label"], heard
    assert sum(hybrid.decisions.values()) == before  # no hybrid turn: the greeting went to Whisper itself


def test_a_long_announcement_is_told_by_its_words_while_it_plays(whisper_engine: Any) -> None:
    # "The subscriber you are calling cannot be reached at the moment. Please try again later." runs ~5 s;
    # its words are heard from the first look (2.8 s of speech), before it ends
    pcm = bench_amd.read_pcm(FIXTURES / "ann_subscriber.wav")
    heard, _ = bench_amd.decide(whisper_engine, pcm)
    assert heard.answered_by is AnsweredBy.INVALID_NUMBER and "subscriber" in heard.text, heard
    assert heard.screen is not None and heard.screen.elapsed_ms < heard.screen.speech_span_ms + 2000


@pytest.mark.parametrize("said", [
    "Hello?", "Hi, this is Anna speaking.", "Yes, who is it?", "Yes, hello, who is this?", "Good afternoon, Smith "
    "residence.", "Hello, Anna Clarke speaking.", "Sorry, I can't talk now, I'm driving.", "Who's calling?",
    "Hi, Tom here, what number did you call?", "I'm not available right now, call me later", "Speaking.",
    "Yes? I was just about to leave.", "Hello, who gave you this number?", "Hey, it's me.",
])
def test_no_person_s_greeting_has_a_machine_s_words(said: str) -> None:
    assert not is_announcement(said) and not is_voicemail(said), said


@pytest.mark.parametrize(("said", "announcement"), [
    ("The number you have dialed is not in service.", True),
    ("This number has been disconnected.", True),
    ("The person you are calling cannot be reached.", True),
    ("The mobile you are calling is switched off.", True),
    ("The number you called does not exist, please check the number.", True),
    ("This number is no longer in service.", True),
    ("The subscriber is not reachable at the moment.", True),
    ("Please leave a message after the tone.", False),
    ("You have reached the voicemail of Sam.", False),
    ("The mailbox of Peter is full.", False),
    ("I'm not available to take your call right now.", False),
])
def test_machine_words(said: str, announcement: bool) -> None:
    assert is_announcement(said) is announcement and is_voicemail(said) is not announcement, said
