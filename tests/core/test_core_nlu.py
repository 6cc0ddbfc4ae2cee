"""Intent matching: normalisation, negation, fuzzy slips, CJK n-grams, margins and confidence."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from appliance.dialog.flow.load import parse_flow
from appliance.dialog.flow.model import Intent
from appliance.dialog.nlu.intents import IntentMatcher, analyse, match_intent, normalise, normalise_text, units
from appliance.dialog.nlu.textnorm import last_point


def _i(name: str, examples: list[str], keywords: list[str] | None = None) -> Intent:
    return Intent(name, tuple(examples), tuple(keywords or ()))


EN = [
    _i("confirm", ["yes", "yeah", "sure", "okay", "someone will be home", "i will be home", "that's fine",
                   "that works", "sure thing", "correct"],
       ["yes", "yeah", "yep", "sure", "ok", "okay", "fine", "home"]),
    _i("not_home", ["not home", "nobody will be home", "i won't be home", "i am out", "i'm at work",
                    "no one is home"], ["away", "out", "work"]),
    _i("call_later", ["call me later", "call me back", "call me tomorrow", "not now", "i'm busy", "another time",
                      "call me on friday"], ["later", "busy", "back", "call"]),
    _i("wrong_number", ["wrong number", "you have the wrong person", "who is that", "i didn't order anything"],
       ["wrong"]),
    _i("human", ["let me talk to a person", "a human please", "operator", "speak to someone", "real person"],
       ["human", "person", "agent", "operator"]),
    _i("repeat", ["repeat that", "say that again", "pardon", "what did you say", "sorry what"],
       ["repeat", "again", "pardon"]),
    _i("stop", ["stop calling me", "don't call me again", "remove my number", "take me off your list"],
       ["stop", "remove"]),
]  # fmt: skip
ZH = [
    _i("confirm", ["是的", "可以", "好的", "有人在家", "我在家", "没问题", "行"], ["好", "可以", "在家", "行", "对"]),
    _i("not_home", ["不在家", "家里没人", "我不在", "我在上班"], ["不在", "没人", "上班"]),
    _i("call_later", ["晚点再打", "等会儿打给我", "明天再打", "我现在忙", "改天"], ["晚点", "再打", "忙", "改天"]),
    _i("wrong_number", ["打错了", "你打错电话了"], ["打错"]),
    _i("human", ["转人工", "我要找人工客服"], ["人工", "客服"]),
]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("yes", "confirm"),
        ("Yes.", "confirm"),
        ("ＹＥＳ！", "confirm"),
        ("yeah sure thing", "confirm"),
        ("yes i'll be hone", "confirm"),
        ("yes I’ll be home", "confirm"),
        ("sure, I'll be there", "confirm"),
        ("some one will be home", "confirm"),
        ("uh, yeah, that works", "confirm"),
        ("correct", "confirm"),
        ("I won't be home", "not_home"),
        ("i wont be home", "not_home"),
        ("not home", "not_home"),
        ("nobody's home", "not_home"),
        ("no one will be home", "not_home"),
        ("I'm not home tomorrow", "not_home"),
        ("sorry I'm at work", "not_home"),
        ("call me later please", "call_later"),
        ("can you call back tomorrow", "call_later"),
        ("not now, I'm driving", "call_later"),
        ("not tomorrow, call me Friday at 3", "call_later"),
        ("I'm busy right now", "call_later"),
        ("you have the wrong number", "wrong_number"),
        ("wrong numbr", "wrong_number"),
        ("i want to speak to a real person", "human"),
        ("can I talk to a human", "human"),
        ("sorry, what did you say", "repeat"),
        ("could you repeat that", "repeat"),
        ("stop calling me", "stop"),
        ("please don't call me again", "stop"),
        ("hmm", None),
        ("banana", None),
        ("", None),
        ("...", None),
        ("i am not sure", None),
    ],
)
def test_english_intents(text: str, intent: str | None) -> None:
    m = match_intent(text, EN)
    assert m.intent == intent, (text, m.candidates[:3])
    if intent is None:
        assert m.confidence == 0.0
    else:
        assert 0.4 < m.confidence <= 1.0
        assert m.candidates[0].intent == intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("是的", "confirm"),
        ("好的没问题", "confirm"),
        ("可以可以", "confirm"),
        ("嗯，有人在家", "confirm"),
        ("我不在家", "not_home"),
        ("我没在家", "not_home"),
        ("家里没人", "not_home"),
        ("没人在家", "not_home"),
        ("我现在有点忙，晚点再打吧", "call_later"),
        ("明天下午三点再打给我", "call_later"),
        ("你打错了", "wrong_number"),
        ("转人工", "human"),
        ("我要人工客服", "human"),
        ("不行", None),
        ("嗯", None),
        ("香蕉", None),
    ],
)
def test_chinese_intents_without_a_tokenizer(text: str, intent: str | None) -> None:
    m = match_intent(text, ZH)
    assert m.intent == intent, (text, m.candidates[:3])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＨＥＬＬＯ，Ｗｏｒｌｄ", "hello,world"),
        ("I won't", "i will not"),
        ("I can't", "i can not"),
        ("they don't", "they do not"),
        ("i'll", "i will"),
        ("I’m", "i am"),
        ("it's fine", "it is fine"),
        ("cannot", "can not"),
        ("dont", "do not"),
        ("no one", "noone"),
        ("All right, OK", "okay, okay"),
        ("yep", "yeah"),
        ("no problem", "fine"),
        ("absolutely not", "no"),
        ("of course", "sure"),
        ("I'm afraid not", "no"),
        ("gonna", "going to"),
        ("Straße", "strasse"),
    ],
)
def test_normalise_text(text: str, expected: str) -> None:
    assert normalise_text(text) == expected


def test_old_word_list_is_kept_for_the_asr_bench() -> None:
    assert normalise("Yes, I'll be HOME.") == ["yes", "ill", "be", "home"]


@pytest.mark.parametrize(
    ("text", "negated", "plain"),
    [
        ("I won't be home", {"be", "home"}, {"i", "will"}),
        ("not home, but my wife is", {"home"}, {"my", "wife", "is"}),
        ("no, I will be home", set(), {"i", "will", "be", "home"}),
        ("nobody will be home, call today", {"someone", "will", "be", "home"}, {"call", "today"}),
        ("I'm not going to be home", {"going", "to", "be", "home"}, {"i", "am"}),
        ("never call this number again", {"call", "this", "number", "again"}, set()),
        ("我不在家", {"在", "家", "在家"}, {"我"}),
        ("我明天不在家，但是后天可以", {"在家"}, {"后天", "可以"}),
        ("家にいない", {"家", "に"}, set()),
        ("못 받아요", {"받아"}, set()),
        ("집에서 받지 않아요", {"받지"}, {"집에"}),
        ("안녕하세요", set(), {"안녕"}),
    ],
)
def test_negation_scope(text: str, negated: set[str], plain: set[str]) -> None:
    us = units(text)
    assert negated <= {u.form for u in us if u.neg}
    assert plain <= {u.form for u in us if not u.neg}
    assert not (plain & {u.form for u in us if u.neg})


def test_negators_are_canonical_and_fillers_dropped() -> None:
    forms = [u.form for u in units("um, nope, uh, never")]
    assert forms == ["no", "not"]
    assert analyse("")[0] == [] and analyse("嗯")[1] == 1


def test_negation_flips_a_positive_example() -> None:
    m = match_intent("i will not be home", EN)
    assert m.intent == "not_home"
    assert m.scores["confirm"] < 0.4


def test_tie_is_no_match_and_candidates_are_ranked() -> None:
    intents = [_i("a", ["okay"]), _i("b", ["okay"]), _i("c", ["banana"])]
    m = match_intent("okay", intents)
    assert m.intent is None and m.confidence == 0.0
    assert {c.intent for c in m.candidates[:2]} == {"a", "b"}
    assert m.candidates[0].score == m.candidates[1].score > m.candidates[2].score
    assert [c.score for c in m.candidates] == sorted((c.score for c in m.candidates), reverse=True)


def test_low_margin_is_no_match_and_margin_is_a_parameter() -> None:
    intents = [_i("reschedule", ["call me tomorrow"]), _i("later", ["call me later"])]
    loose = match_intent("call me", intents, min_margin=0.0)
    strict = match_intent("call me tomorrow", intents, min_margin=0.99)
    assert loose.intent is None  # an exact tie even with no margin required
    assert strict.intent is None
    assert match_intent("call me tomorrow", intents).intent == "reschedule"


def test_min_quality_rejects_weak_matches() -> None:
    intents = [_i("human", ["let me talk to a real person now please"])]
    weak = match_intent("person", intents)
    assert weak.intent is None and 0 < weak.scores["human"] < 0.4
    assert match_intent("person", intents, min_quality=0.1).intent == "human"


def test_confidence_combines_quality_margin_and_asr() -> None:
    full = match_intent("yes", EN)
    half = match_intent("yes", EN, asr_confidence=0.5)
    assert full.confidence == pytest.approx(1.0)
    assert half.confidence == pytest.approx(0.5)
    assert match_intent("yes", EN, asr_confidence=7.0).confidence <= 1.0
    slipped = match_intent("yes i'll be hone", EN)
    assert slipped.confidence < full.confidence
    close = match_intent("busy, not home", EN)  # call_later is a fair runner-up
    assert close.intent == "not_home"
    margin = (close.candidates[0].score - close.candidates[1].score) / close.candidates[0].score
    assert margin < 0.5
    assert close.confidence == pytest.approx(close.scores["not_home"] * (0.5 + margin), abs=0.002)


def test_knowledge_base_questions_match_like_intents() -> None:
    kb = [
        _i("fee", ["is there a delivery fee", "how much is delivery", "do I have to pay"]),
        _i("where", ["where is my parcel", "where is the package now"]),
        _i("hours", ["when are you open", "what are your opening hours"]),
    ]
    assert match_intent("how much do I pay for the delivery", kb).intent == "fee"
    assert match_intent("where's my parcel right now", kb).intent == "where"
    assert match_intent("what time do you open", kb).intent == "hours"
    assert match_intent("yes", kb).intent is None


def test_korean_bench_flow_still_matches() -> None:
    doc = json.loads((Path(__file__).parents[1] / "fixtures/asr/flow.ko.json").read_text())
    intents = parse_flow(doc).intents.values()
    for text, intent in [("네", "confirm"), ("집에 없어요", "not_home"), ("내일 와 주세요", "reschedule"),
                         ("나중에 전화해 주세요", "call_later"), ("누구 세요", "question")]:  # fmt: skip
        assert match_intent(text, intents).intent == intent, text


def test_matcher_is_compiled_once_and_fast() -> None:
    intents = [
        _i(f"intent{n}", [f"phrase {n} number {k} about delivery {k * n}" for k in range(10)], [f"key{n}"])
        for n in range(10)
    ]
    matcher = IntentMatcher(intents)
    assert matcher.match("phrase 3 number 4 about delivery 12").candidates[0].intent == "intent3"
    texts = ["yes please deliver it tomorrow afternoon", "phrase 7 number 2 about delivery", "我明天不在家"] * 20
    started = time.perf_counter()
    for t in texts:
        matcher.match(t)
    per_turn = (time.perf_counter() - started) / len(texts)
    assert per_turn < 0.005, per_turn


@pytest.mark.parametrize(
    ("text", "point"),
    [
        ("yes but not tomorrow", " not tomorrow"),
        ("no, call me later", "call me later"),
        ("um yeah sure thing", "thing"),
        ("yes", None),
        ("call me later", None),
        ("好的，但是明天不行", "明天不行"),
    ],
)
def test_the_point_of_the_answer(text: str, point: str | None) -> None:
    assert last_point(text) == point


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("yes but not tomorrow", "not_home"),
        ("no, call me later", "call_later"),
        ("no, I will be home", "confirm"),
        ("sure, no problem", "confirm"),
        ("no problem at all", "confirm"),
        ("I'm afraid not", "not_home"),
        ("absolutely", "confirm"),
        ("absolutely not", "not_home"),
        ("alright", "confirm"),
        ("I'm not gonna be home", "not_home"),
        ("never call this number again", "stop"),
    ],
)
def test_contrast_answers_and_everyday_equivalents(text: str, intent: str) -> None:
    intents = [
        _i("confirm", ["yes", "okay", "sure", "that's fine", "i will be home"], ["yes", "home", "fine"]),
        _i("not_home", ["no", "not tomorrow", "i won't be home"], ["nobody"]),
        _i("call_later", ["call me later", "call me back"], ["later"]),
        _i("stop", ["stop calling me", "never call me again"], ["stop calling"]),
    ]
    m = match_intent(text, intents)
    assert m.intent == intent, (text, m.candidates[:3])


def test_negated_intents_take_their_keywords_either_way() -> None:
    intents = [
        _i("stop", ["别再打了", "不要骚扰我", "以后别打了"], ["骚扰"]),
        _i("confirm", ["好的", "可以"], ["好"]),
    ]
    assert match_intent("别骚扰我", intents).intent == "stop"
    positive = [_i("complain", ["你们骚扰我"], ["骚扰"]), _i("confirm", ["好的"])]
    assert match_intent("你们别骚扰我", positive).scores["complain"] < match_intent("骚扰", positive).scores["complain"]


def test_spoken_chinese_variants_are_folded() -> None:
    intents = [_i("call_later", ["晚点再打"], ["晚点", "等会"]), _i("confirm", ["好的"])]
    assert match_intent("你晚一点打过来", intents).intent == "call_later"
    assert match_intent("等一下再打", intents).intent == "call_later"
    assert [u.form for u in units("没有人")][:1] == ["不"]


def test_keywords_that_read_the_same_count_once() -> None:
    once = IntentMatcher([_i("no", ["nah"], ["no"]), _i("other", ["maybe"])]).qualities("no, call me")
    twice = IntentMatcher([_i("no", ["nah"], ["no", "nope", "nah"]), _i("other", ["maybe"])]).qualities("no, call me")
    assert once == twice


def test_keyword_polarity_comes_from_the_examples() -> None:
    intents = [
        _i("will_pay", ["yes I will pay", "I can pay"], ["pay", "yes"]),
        _i("cannot_pay", ["I can't pay", "I need more time"], ["afford", "instalments"]),
    ]
    # "afford" is in no example: said negated ("can't afford") it still counts
    assert match_intent("I can't afford it", intents).intent == "cannot_pay"
    # "pay" is plain in will_pay's examples: negated it speaks against will_pay
    m = match_intent("I will not pay", intents)
    assert m.scores["will_pay"] < 0.4 and m.intent == "cannot_pay"


def test_matching_from_many_threads_at_once() -> None:
    import threading

    errors: list[BaseException] = []
    results: list[str | None] = []

    def worker(n: int) -> None:
        try:
            for k in range(40):  # more distinct intent sets than the cache holds
                intents = [_i(f"yes{n}_{k}", ["yes", "sure"]), _i(f"no{n}_{k}", ["no", "not home"])]
                results.append(match_intent("yes please", intents).intent)
        except BaseException as exc:  # any error fails the test below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,), name=f"nlu-{n}") for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and len(results) == 160
    assert all(r is not None and r.startswith("yes") for r in results)
