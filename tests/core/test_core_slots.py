"""Slot extraction: enums with synonyms, numbers, phones, free text, regexes, several slots at once."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from appliance.dialog.flow.model import Intent
from appliance.dialog.nlu.intents import match_intent
from appliance.dialog.nlu.numbers import digits_to_arabic, find_numbers, parse_chinese_number, parse_english_number
from appliance.dialog.nlu.slots import SLOT_TYPES, SlotSpec, extract_slot, extract_slots, missing_slots
from appliance.errors import FlowError

COLOUR = SlotSpec("colour", "enum", values={"red": ["crimson", "红色", "红的"], "blue": ["navy", "dark blue", "蓝色"]})
PLACE = SlotSpec(
    "place", "enum", values={"door": ["front door", "doorstep", "门口"], "neighbour": ["next door", "邻居"]}
)
NUMBER = SlotSpec("n", "number")


@pytest.mark.parametrize(
    ("spec", "text", "value"),
    [
        (COLOUR, "red", "red"),
        (COLOUR, "RED please", "red"),
        (COLOUR, "crimson", "red"),
        (COLOUR, "the dark blue one", "blue"),
        (COLOUR, "not the red one, the navy one", "blue"),
        (COLOUR, "red, no, blue", "blue"),
        (COLOUR, "I said blue, not red", "blue"),
        (COLOUR, "not red", None),
        (COLOUR, "green", None),
        (COLOUR, "crimsen", "red"),  # a slip
        (COLOUR, "要红色的", "red"),
        (COLOUR, "不要红色，要蓝色", "blue"),
        (COLOUR, "不要红色", None),
        (PLACE, "leave it at the front door", "door"),
        (PLACE, "give it to the neighbour next door", "neighbour"),
        (PLACE, "放门口就行", "door"),
        (PLACE, "交给邻居", "neighbour"),
    ],
)
def test_enum_slots(spec: SlotSpec, text: str, value: str | None) -> None:
    found = extract_slot(spec, text)
    assert (found.value if found else None) == value, (text, found)
    if found:
        assert 0 < found.confidence <= 1 and found.text


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        ("three", 3),
        ("Three.", 3),
        ("twenty five", 25),
        ("twenty-five", 25),
        ("one hundred and five", 105),
        ("a dozen", 12),
        ("about 1,200", 1200),
        ("2.5 please", 2.5),
        ("３", 3),
        ("三", 3),
        ("十五", 15),
        ("二十五个", 25),
        ("一百零五", 105),
        ("两个", 2),
        ("三万五千", 35000),
        ("three, no, four", 4),
        ("not three", None),
        ("the red one", None),
        ("no one", None),
        ("none", None),
        ("i'd give it a five", 5),
        ("我给五分", 5),
        ("two point five", 2.5),
        ("three and a half", 3.5),
        ("4 point 5 stars", 4.5),
    ],
)
def test_number_slots(text: str, value: float | None) -> None:
    found = extract_slot(NUMBER, text)
    assert (found.value if found else None) == value, (text, found)
    if found is not None:
        assert type(found.value) is type(value)


@pytest.mark.parametrize(
    ("words", "value"),
    [("twenty five".split(), 25), ("two thousand three hundred".split(), 2300), (["banana"], None), ([], None)],
)
def test_english_number_words(words: list[str], value: int | None) -> None:
    assert parse_english_number(words) == value


@pytest.mark.parametrize(("text", "value"), [("十", 10), ("十一", 11), ("一二三", 123), ("两百", 200), ("零", 0)])
def test_chinese_numerals(text: str, value: int) -> None:
    assert parse_chinese_number(text) == value


def test_digits_to_arabic_keeps_the_rest() -> None:
    assert digits_to_arabic("half past four on the twelfth") == "half past 4 on the 12th"
    assert digits_to_arabic("三点半") == "3点半"
    assert digits_to_arabic("晚一点") == "晚些"
    assert [n.value for n in find_numbers("someone phoned at 3 or four")] == [3, 4]
    assert digits_to_arabic("at five thirty") == "at 5 30"  # a time, not 35
    assert [n.value for n in find_numbers("three four five, twenty five")] == [3, 4, 5, 25]
    assert [n.value for n in find_numbers("a hundred and twenty three")] == [123]


@pytest.mark.parametrize(
    ("region", "language", "text", "value"),
    [
        ("GB", "en", "+44 7911 123456", "+447911123456"),
        ("GB", "en", "it's 07911 123456", "+447911123456"),
        ("GB", "en", "oh seven nine one one, one two three four five six", "+447911123456"),
        ("GB", "en", "zero seven nine double one one two three four five six", "+447911123456"),
        ("US", "en", "my number is (201) 555-0123", "+12015550123"),
        ("US", "en", "two oh one five five five oh one two three", "+12015550123"),
        (None, "zh", "我的电话是13912345678", "+8613912345678"),
        (None, "zh", "一三九一二三四五六七八", "+8613912345678"),
        (None, "zh", "幺三九 幺二三四 五六七八", "+8613912345678"),
        (None, "en", "+86 139 1234 5678", "+8613912345678"),
        ("GB", "en", "yes please", None),
        ("GB", "en", "one two three", None),
    ],
)
def test_phone_slots(region: str | None, language: str, text: str, value: str | None) -> None:
    found = extract_slot(SlotSpec("phone", "phone", region=region), text, language=language)
    assert (found.value if found else None) == value, (text, found)


@pytest.mark.parametrize(
    ("pattern", "text", "value"),
    [
        (r"order (?P<order>[a-z]-?\d+)", "it's about order A-7", "A-7"),
        (r"(?P<value>\d{4})", "the code is 4711", "4711"),
        (r"(?P<postcode>[a-z]{1,2}\d[a-z\d]? ?\d[a-z]{2})", "SW1A 1AA", "SW1A 1AA"),
        (r"\b[a-z]{2}\d{6}\b", "tracking ab123456 please", "ab123456"),
        (r"(?P<order>\d+)", "no digits here", None),
    ],
)
def test_regex_slots(pattern: str, text: str, value: str | None) -> None:
    spec = SlotSpec("order", "regex", pattern=pattern)
    found = extract_slot(spec, text)
    assert (found.value if found else None) == value


def test_free_text_slot_is_the_whole_answer() -> None:
    spec = SlotSpec("note", "text", required=False)
    found = extract_slot(spec, "  Leave it with the Ｃafé downstairs ")
    assert found is not None and found.value == "Leave it with the Café downstairs" and found.confidence == 1.0
    assert extract_slot(spec, "   ") is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"type": "colour"}, "slots.s.type"),
        ({"type": "enum"}, "slots.s.values"),
        ({"type": "regex"}, "slots.s.pattern"),
        ({"type": "regex", "pattern": "(unclosed"}, "slots.s.pattern"),
        ({"type": "phone", "region": "XX"}, "slots.s.region"),
    ],
)
def test_bad_specs_name_the_field(kwargs: dict[str, str], field: str) -> None:
    with pytest.raises(FlowError) as err:
        SlotSpec("s", **kwargs)  # type: ignore[arg-type]
    assert err.value.field == field
    assert set(SLOT_TYPES) >= {"enum", "number", "datetime", "phone", "text", "regex"}


def test_the_issue_example_gives_intent_and_slot_in_one_answer() -> None:
    intents = [
        Intent("confirm", ("yes", "someone will be home", "that's fine"), ("yes", "home")),
        Intent("call_later", ("call me later", "call me tomorrow", "not tomorrow", "call me on friday"), ("call",)),
    ]
    text = "not tomorrow, call me Friday at 3"
    assert match_intent(text, intents).intent == "call_later"
    tz = ZoneInfo("Europe/London")
    slots = extract_slots([SlotSpec("callback_at", "datetime")], text, now=datetime(2026, 11, 24, 9, 30), tz=tz)
    assert slots["callback_at"].value == datetime(2026, 11, 27, 15, 0, tzinfo=tz)
    assert slots["callback_at"].text == "friday at 3"


def test_several_slots_in_one_answer_and_what_is_missing() -> None:
    specs = [
        COLOUR,
        SlotSpec("n", "number"),
        SlotSpec("when", "datetime"),
        SlotSpec("phone", "phone", region="GB", required=False),
    ]
    now = datetime(2026, 11, 24, 9, 0)
    found = extract_slots(specs, "three navy ones tomorrow afternoon", now=now, tz="Europe/London")
    assert set(found) == {"colour", "n", "when"}
    assert found["colour"].value == "blue" and found["n"].value == 3 and found["when"].value.hour == 15
    assert [s.name for s in missing_slots(specs, ["colour"])] == ["n", "when"]
    assert missing_slots(specs, found) == []
