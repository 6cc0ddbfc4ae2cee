"""Intent strength of a call: score, grade and the reasons a person reads."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from appliance.dialog.nlu.strength import Strength, StrengthTurn, grade_for, intent_strength


def bot(text: str = "Will someone be home?") -> StrengthTurn:
    return StrengthTurn("bot", text, node="greet")


def said(
    text: str, intent: str | None = None, confidence: float | None = None, event: str | None = None
) -> StrengthTurn:
    return StrengthTurn("customer", text, intent, confidence, "greet", event)


SILENCE = said("", event="no_input")
MUMBLE = said("banana", event="no_match")


@pytest.mark.parametrize(
    ("turns", "kwargs", "grade", "low", "high"),
    [
        # confirmed at the first answer with high confidence
        ([bot(), said("yes", "confirm", 0.95)], {"disposition": "confirmed"}, "A", 95, 100),
        # confirmed after two answers not understood
        ([bot(), MUMBLE, bot(), MUMBLE, bot(), said("yes", "confirm", 0.9)], {"disposition": "confirmed"}, "B", 75, 80),
        ([bot(), MUMBLE, bot(), said("yes", "confirm", 0.9)], {"disposition": "confirmed"}, "A", 85, 90),
        # ... after three hesitations
        ([bot(), SILENCE, MUMBLE, said("what", "repeat", 0.8), said("yes", "confirm", 0.9)],
         {"disposition": "confirmed"}, "C", 55, 69),
        # confirmed but barely understood
        ([bot(), said("yeh", "confirm", 0.3)], {"disposition": "confirmed"}, "B", 80, 84),
        ([bot(), said("yeh", "confirm", 0.3), MUMBLE], {"disposition": "confirmed"}, "B", 70, 84),
        # rescheduled with the time slot given
        ([bot(), said("call me friday at 3", "call_later", 0.8)],
         {"disposition": "rescheduled", "slots_filled": 1, "slots_required": 1}, "A", 90, 95),
        # rescheduled but the time was never given
        ([bot(), said("later", "call_later", 0.8), bot(), SILENCE, SILENCE],
         {"disposition": "rescheduled", "slots_filled": 0, "slots_required": 1}, "C", 50, 69),
        # handed to a person
        ([bot(), said("a human please", "human", 0.9)], {"disposition": "handoff"}, "B", 70, 84),
        # hung up
        ([bot(), said("yes", "confirm", 0.95)], {"disposition": None, "ended_by": "customer"}, "D", 0, 45),
        ([bot(), MUMBLE], {"disposition": None, "ended_by": "customer"}, "D", 0, 45),
        # the bot gave up
        ([bot(), SILENCE, SILENCE, SILENCE], {"disposition": "no_response", "ended_by": "fallback"}, "D", 0, 20),
        ([bot(), SILENCE, SILENCE], {"disposition": "no_response"}, "D", 0, 45),
        # nothing at all: no answer, the slot never given, silences past fluency's floor: 0, not below
        ([bot(), SILENCE, SILENCE, SILENCE, MUMBLE],
         {"disposition": None, "slots_filled": 0, "slots_required": 1, "ended_by": "fallback"}, "D", 0, 0),
        # negative outcomes the customer stated clearly are still D for this call's purpose
        ([bot(), said("wrong number", "wrong_number", 0.95)], {"disposition": "wrong_number"}, "D", 45, 45),
        ([bot(), said("stop calling", "stop", 0.95)], {"disposition": "do_not_call"}, "D", 45, 45),
    ],
)
def test_grades(turns: list[StrengthTurn], kwargs: dict[str, object], grade: str, low: int, high: int) -> None:
    s = intent_strength(turns, **kwargs)  # type: ignore[arg-type]
    assert s.grade == grade, s
    assert low <= s.score <= high, s
    assert s.grade == grade_for(s.score)


def test_reasons_say_why_in_plain_words() -> None:
    a = intent_strength([bot(), said("yes", "confirm", 0.95)], disposition="confirmed")
    text = " | ".join(a.reasons)
    assert "ended as confirmed" in text
    assert "first question" in text
    assert "high confidence" in text and "0.95" in text
    assert "no silence" in text
    b = intent_strength([bot(), SILENCE, MUMBLE, MUMBLE, said("yes", "confirm", 0.6)], disposition="confirmed")
    text = " | ".join(b.reasons)
    assert "stayed silent once" in text and "was not understood twice" in text
    assert "medium confidence" in text and "first question" not in text
    d = intent_strength([bot(), said("yes", "confirm", 0.9)], disposition=None, ended_by="customer")
    assert any("hung up" in r for r in d.reasons) and any("capped" in r for r in d.reasons)


def test_score_adds_up_to_the_documented_formula() -> None:
    s = intent_strength(
        [bot(), said("yes", "confirm", 0.8), said("what", "repeat", 0.9), said("ok", "confirm", 0.6)],
        disposition="confirmed",
        slots_filled=1,
        slots_required=2,
    )
    # 40 outcome + 25 * mean(0.8, 0.6) + 15 * 1/2 + (20 - 10 * 1 repeat)
    assert s.score == round(40 + 25 * 0.7 + 7.5 + 10)


def test_turn_events_and_plain_text_are_read_alike() -> None:
    by_event = intent_strength([said("huh", event="no_match"), said("", event="no_input")], disposition="confirmed")
    by_text = intent_strength([said("huh"), said("")], disposition="confirmed")
    assert by_event == by_text
    for event in ("answer", "greeting"):
        greeting = intent_strength([said("hello?", event=event), said("yes", "confirm", 1.0)], disposition="confirmed")
        assert greeting.score == 100
    slot_and_kb = [said("is it free?", "kb:fee", 0.9), said("friday at 3", "slot:when", 0.9)]
    assert intent_strength(slot_and_kb, disposition="rescheduled", slots_filled=1, slots_required=1).grade == "A"


def test_any_turn_shaped_object_will_do() -> None:
    @dataclass
    class EngineTurn:  # shaped like engine.TurnRecord (event "" for an ordinary answer), not a StrengthTurn
        speaker: str
        text: str
        node: str
        intent: str | None = None
        confidence: float | None = None
        event: str = ""

    s = intent_strength([EngineTurn("bot", "hi", "greet"), EngineTurn("customer", "yes", "greet", "confirm", 1.0)],
                        disposition="confirmed")  # fmt: skip
    assert s == Strength(100, "A", s.reasons)
    assert s.to_dict() == {"score": 100, "grade": "A", "reasons": s.reasons}


def test_unknown_ending_is_refused() -> None:
    with pytest.raises(ValueError, match="ended_by"):
        intent_strength([], disposition=None, ended_by="aliens")
