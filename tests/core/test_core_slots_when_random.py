"""Date and time resolution checked on many random clocks and zones (seeded, so a failure repeats)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from appliance.dialog.nlu.when import WEEKDAYS, resolve_when

ZONES = ["UTC", "Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata"]
SPOKEN_HOURS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight",
                9: "nine", 10: "ten", 11: "eleven", 12: "twelve"}  # fmt: skip


def clocks(seed: int, n: int = 150) -> list[tuple[datetime, ZoneInfo]]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        zone = ZoneInfo(rnd.choice(ZONES))
        instant = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rnd.randrange(3 * 365 * 24 * 60))
        out.append((instant.astimezone(zone), zone))
    return out


def test_a_clock_time_is_the_next_one() -> None:
    rnd = random.Random(1)
    for now, zone in clocks(1):
        h, m = rnd.randrange(24), rnd.randrange(60)
        found = resolve_when(f"at {h:02d}:{m:02d}", now=now, tz=zone)
        assert found is not None
        v = found.value
        assert (v.hour, v.minute) == (h, m) or v.fold or (v.hour - h) % 24 == 1, (now, h, m, v)  # DST gap
        assert now < v <= now + timedelta(hours=25), (now, v)
        assert str(v.tzinfo) == str(zone)


def test_an_offset_is_elapsed_time() -> None:
    rnd = random.Random(2)
    for now, zone in clocks(2):
        hours = rnd.randrange(1, 13)
        minutes = rnd.choice([15, 30, 45, 90])
        for text, delta in ((f"in {hours} hours", timedelta(hours=hours)),
                            (f"in {minutes} minutes", timedelta(minutes=minutes)),
                            (f"{hours}个小时后", timedelta(hours=hours))):  # fmt: skip
            found = resolve_when(text, now=now, tz=zone)
            assert found is not None, text
            assert found.value - now.replace(second=0, microsecond=0) == delta, (text, now, found.value)


@pytest.mark.parametrize("seed", [3, 4])
def test_weekdays_are_within_the_coming_week(seed: int) -> None:
    rnd = random.Random(seed)
    for now, zone in clocks(seed, 60):
        name, wd = rnd.choice(list(WEEKDAYS.items()))
        hour = rnd.randrange(1, 13)
        found = resolve_when(f"{name} at {SPOKEN_HOURS[hour]} pm", now=now, tz=zone)
        assert found is not None
        v = found.value
        assert v.weekday() == wd and v.hour == (hour % 12) + 12
        assert now < v <= now + timedelta(days=7, hours=1)
        nxt = resolve_when(f"next {name}", now=now, tz=zone)
        assert nxt is not None and nxt.value.weekday() == wd
        assert 1 <= (nxt.value.date() - now.date()).days <= 7


def test_chinese_tomorrow_afternoon_everywhere() -> None:
    for now, zone in clocks(5, 80):
        found = resolve_when("明天下午三点半", now=now, tz=zone)
        assert found is not None
        assert found.value.date() == now.date() + timedelta(days=1)
        assert (found.value.hour, found.value.minute) == (15, 30)


def test_in_two_hours_across_the_spring_change() -> None:
    london = ZoneInfo("Europe/London")
    now = datetime(2026, 3, 29, 0, 30, tzinfo=london)  # clocks go from 01:00 to 02:00 this night
    found = resolve_when("in two hours", now=now, tz=london)
    assert found is not None
    assert found.value.astimezone(UTC) - now.astimezone(UTC) == timedelta(hours=2)
    assert (found.value.hour, found.value.minute) == (3, 30)
