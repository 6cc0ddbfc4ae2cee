"""Dates and times resolved in the box's time zone (appliance/dialog/nlu/when.py via slots.extract_slot)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from appliance.dialog.nlu.slots import SlotSpec, extract_slot
from appliance.dialog.nlu.when import resolve_when

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 24, 10, 0)  # a Tuesday, 10:00 in the box's zone


def at(day: int, hour: int, minute: int = 0, month: int = 11, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the examples
        ("not tomorrow, call me Friday at 3", at(27, 15)),
        ("明天下午三点", at(25, 15)),
        ("tomorrow afternoon", at(25, 15)),
        ("Friday at 3", at(27, 15)),
        ("next Monday morning", at(30, 10)),
        ("in two hours", at(24, 12)),
        ("at half past four", at(24, 16, 30)),
        ("the 12th", at(12, 10, month=12)),
        ("周五上午", at(27, 10)),
        # English
        ("not tomorrow call me friday at 3", at(27, 15)),
        ("tomorrow doesn't work, friday is fine", at(27, 10)),
        ("tomorrow I'm busy, how about thursday evening", at(26, 18)),
        ("I can't do Friday, Saturday at 10 works", at(28, 10)),
        ("call me tomorrow, not today", at(25, 10)),
        ("afternoon", at(24, 15)),
        ("this evening", at(24, 18)),
        ("tonight", at(24, 20)),
        ("at 9", at(25, 9)),  # 9:00 has passed today: tomorrow
        ("at 11", at(24, 11)),
        ("at 3", at(24, 15)),  # 1-7 without am/pm: afternoon
        ("3 am", at(25, 3)),
        ("3pm", at(24, 15)),
        ("15:30", at(24, 15, 30)),
        ("at 4:30", at(24, 16, 30)),
        ("at 04:30", at(25, 4, 30)),  # a leading zero is a 24-hour clock
        ("any time after 5", at(24, 17)),
        ("tomorrow from 2", at(25, 14)),
        ("tomorrow at five thirty", at(25, 17, 30)),
        ("7.45 pm", at(24, 19, 45)),
        ("quarter to five", at(24, 16, 45)),
        ("a quarter past two tomorrow", at(25, 14, 15)),
        ("ten past three tomorrow", at(25, 15, 10)),
        ("noon tomorrow", at(25, 12)),
        ("the day after tomorrow at noon", at(26, 12)),
        ("today", at(24, 11)),  # 10:00 passed: the next full hour
        ("tomorrow", at(25, 10)),
        ("Tuesday at 9", at(1, 9, month=12)),  # today's 9:00 has passed: next week
        ("Tuesday at 4", at(24, 16)),  # later today
        ("next Tuesday", at(1, 10, month=12)),
        ("friday next week", at(4, 10, month=12)),
        ("next week", at(30, 10)),
        ("this weekend", at(28, 10)),
        ("call me on the 30th at 11 am", at(30, 11)),
        ("the twenty fourth at 4", at(24, 16)),
        ("the 24th at 9", at(24, 9, month=12)),  # passed today: next month's 24th
        ("March 12", at(12, 10, month=3, year=2027)),
        ("12th of december at 2pm", at(12, 14, month=12)),
        ("december 1st in the afternoon", at(1, 15, month=12)),
        ("in half an hour", at(24, 10, 30)),
        ("in 45 minutes", at(24, 10, 45)),
        ("in an hour", at(24, 11)),
        ("in an hour and a half", at(24, 11, 30)),
        ("in two and a half hours", at(24, 12, 30)),
        ("in 1.5 hours", at(24, 11, 30)),
        ("2 hours from now", at(24, 12)),
        ("in 3 days", at(27, 10)),
        ("in a week", at(1, 10, month=12)),
        ("2026-12-03 at 4 pm", at(3, 16, month=12)),
        # Chinese
        ("下周一上午十点", at(30, 10)),
        ("这周五下午三点半", at(27, 15, 30)),
        ("三点一刻", at(24, 15, 15)),
        ("晚上八点", at(24, 20)),
        ("明天不行，后天下午吧", at(26, 15)),
        ("不是明天，是周五", at(27, 10)),
        ("两个小时后", at(24, 12)),
        ("半小时后", at(24, 10, 30)),
        ("一个半小时以后", at(24, 11, 30)),
        ("30分钟以后", at(24, 10, 30)),
        ("3天后", at(27, 10)),
        ("12号下午", at(12, 15, month=12)),
        ("12月3号上午9点", at(3, 9, month=12)),
        ("今晚", at(24, 20)),
        ("明早", at(25, 9)),
        ("星期天中午", at(29, 12)),
        ("礼拜六上午十点半", at(28, 10, 30)),
        ("下午", at(24, 15)),
        ("大后天", at(27, 10)),
        ("十点钟", at(25, 10)),
        ("明天晚一点再打", at(25, 10)),  # 晚一点 is "a bit later", not one o'clock
    ],
)
def test_resolved_datetimes(text: str, expected: datetime) -> None:
    found = resolve_when(text, now=NOW, tz=SH)
    assert found is not None, text
    assert found.value == expected, (text, found)
    assert found.value.tzinfo is not None and found.value.utcoffset() == timedelta(hours=8)
    assert 0 < found.confidence <= 1


@pytest.mark.parametrize(
    "text",
    ["call me later", "I won't be home tomorrow", "明天不在家", "明天没空", "not tomorrow", "yes", "", "one moment"],
)
def test_no_usable_time(text: str) -> None:
    assert resolve_when(text, now=NOW, tz=SH) is None


def test_confidence_says_what_was_guessed() -> None:
    def conf(t: str) -> float:
        found = resolve_when(t, now=NOW, tz=SH)
        assert found is not None
        return found.confidence

    assert conf("tomorrow at 3 pm") > conf("tomorrow at 3") > conf("tomorrow")
    assert conf("tomorrow afternoon") > conf("tomorrow")
    assert conf("明天下午三点") == 0.95


def test_daylight_saving_day_keeps_wall_time() -> None:
    ny = ZoneInfo("America/New_York")
    now = datetime(2026, 3, 7, 12, 0, tzinfo=ny)  # the night before clocks go forward
    found = resolve_when("tomorrow at 3 pm", now=now, tz=ny)
    assert found is not None
    assert found.value == datetime(2026, 3, 8, 15, 0, tzinfo=ny)
    assert found.value.utcoffset() == timedelta(hours=-4)
    assert now.utcoffset() == timedelta(hours=-5)


def test_aware_now_is_read_in_the_box_zone() -> None:
    now = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)  # already the 25th, 04:00, in Shanghai
    found = resolve_when("tomorrow", now=now, tz="Asia/Shanghai")
    assert found is not None and found.value == at(26, 10)


@pytest.mark.parametrize(
    ("slot_type", "text", "expected"),
    [
        ("datetime", "Friday at 3", at(27, 15)),
        ("date", "Friday at 3", date(2026, 11, 27)),
        ("time", "at half past four", at(24, 16, 30)),
        ("time", "tomorrow", None),  # a time slot needs a time of day
        ("date", "at 9", None),  # a date slot needs a day
        ("datetime", "no idea", None),
    ],
)
def test_date_and_time_slot_types(slot_type: str, text: str, expected: object) -> None:
    found = extract_slot(SlotSpec("when", slot_type), text, now=NOW, tz=SH)
    assert (found.value if found else None) == expected


def test_now_defaults_to_the_clock() -> None:
    found = extract_slot(SlotSpec("when", "datetime"), "in two hours", tz="Europe/Paris")
    assert found is not None
    expected = datetime.now(ZoneInfo("Europe/Paris")) + timedelta(hours=2)
    assert abs((found.value - expected).total_seconds()) < 120
