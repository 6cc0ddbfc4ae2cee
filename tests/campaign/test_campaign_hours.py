"""Calling hours across time zones and daylight-saving days, as properties (hypothesis): the allowed-check and
the next allowed time always agree, in every zone a number may ring in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from appliance.campaign.compliance import PRESETS
from appliance.campaign.hours import (
    WeeklyHours,
    Window,
    allowed,
    callee_zones,
    every_day,
    hours_text,
    next_allowed,
    parse_hours,
    weekdays,
)

ZONE_NAMES = ("Europe/Paris", "America/New_York", "Asia/Shanghai", "Australia/Lord_Howe", "America/Santiago",
              "Asia/Kolkata", "Europe/London", "America/St_Johns", "Pacific/Chatham", "Asia/Tehran",
              "America/Havana", "Australia/Sydney", "UTC")
ZONES = tuple(ZoneInfo(n) for n in ZONE_NAMES)


def _dst_days() -> list[tuple[ZoneInfo, date]]:
    """Every day in 2024–2030 on which one of the zones changes its clock (gaps, folds, midnight changes)."""
    found = []
    for zone in ZONES:
        day = date(2024, 1, 1)
        while day.year < 2031:
            start = datetime(day.year, day.month, day.day, tzinfo=zone)
            if start.utcoffset() != (start + timedelta(hours=23, minutes=59)).utcoffset():
                found.append((zone, day))
            day += timedelta(days=1)
    return found


DST_DAYS = _dst_days()

spans = st.builds(lambda a, b: f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}",
                  st.integers(0, 1439), st.integers(0, 1439))
weekly = st.one_of(
    st.sampled_from([p.hours for p in PRESETS.values()]),
    st.lists(spans, min_size=1, max_size=3).map(lambda s: every_day(*s)),
    st.lists(spans, min_size=1, max_size=2).map(lambda s: weekdays(*s)),
)
zone_sets = st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True).map(tuple)
anywhen = st.datetimes(datetime(2000, 1, 1), datetime(2037, 12, 31), timezones=st.just(UTC))
around_dst = st.builds(
    lambda day, minutes, seconds: (datetime(day[1].year, day[1].month, day[1].day, tzinfo=day[0])
                                   + timedelta(minutes=minutes - 600, seconds=seconds)).astimezone(UTC),
    st.sampled_from(DST_DAYS), st.integers(0, 2 * 24 * 60), st.integers(0, 59))
instants = st.one_of(anywhen, around_dst)


def _no_opening_between(start: datetime, end: datetime, hours: WeeklyHours, zones: tuple[tzinfo, ...]) -> bool:
    """The oracle: every whole minute strictly between (the hours change only on whole minutes)."""
    t = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while t < end:
        if allowed(t, hours, zones):
            return False
        t += timedelta(minutes=1)
    return True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(at=instants, hours=weekly, zones=zone_sets)
@example(at=datetime(2026, 3, 29, 0, 30, tzinfo=UTC), hours=every_day("02:30-03:30"),
         zones=(ZoneInfo("Europe/Paris"),))  # the window opens inside the spring-forward gap
@example(at=datetime(2026, 10, 25, 0, 59, tzinfo=UTC), hours=every_day("02:00-02:30"),
         zones=(ZoneInfo("Europe/Paris"),))  # the autumn hour that happens twice
@example(at=datetime(2026, 3, 8, 6, 59, tzinfo=UTC), hours=every_day("02:00-03:00"),
         zones=(ZoneInfo("America/New_York"),))  # a window wholly inside the gap: opens the day after
@example(at=datetime(2024, 4, 6, 15, 10, 13, tzinfo=UTC), hours=every_day("01:00-02:10"),
         zones=(ZoneInfo("Australia/Sydney"),))  # closed at 02:10 AEDT, open again when 03:00 turns back to 02:00
@example(at=datetime(2026, 11, 27, 19, 30, tzinfo=UTC), hours=PRESETS["fr"].hours,
         zones=(ZoneInfo("Europe/Paris"),))  # Friday evening: Monday 10:00
def test_next_allowed_is_allowed_and_nothing_allowed_comes_before_it(
        at: datetime, hours: WeeklyHours, zones: tuple[tzinfo, ...]) -> None:
    opens = next_allowed(at, hours, zones)
    assert (opens == at) is allowed(at, hours, zones)
    if opens is None:  # the zones' hours never meet within the horizon
        assert _no_opening_between(at, at + timedelta(days=15), hours, zones)
        return
    assert opens >= at and allowed(opens, hours, zones)
    assert _no_opening_between(at, opens, hours, zones)
    for zone in zones:  # inside the hours on every zone's own wall clock
        local = opens.astimezone(zone)
        assert any(local.hour * 60 + local.minute in w for w in hours[local.weekday()])


def test_daylight_saving_days_in_paris_and_new_york() -> None:
    paris, new_york = (ZoneInfo("Europe/Paris"),), (ZoneInfo("America/New_York"),)
    us = PRESETS["us"].hours
    # 2026-03-08, New York springs forward at 02:00: 08:00 EDT is 12:00 UTC, not 13:00
    assert next_allowed(datetime(2026, 3, 8, 5, 0, tzinfo=UTC), us, new_york) == datetime(2026, 3, 8, 12, 0,
                                                                                          tzinfo=UTC)
    # 2026-11-01, back to EST: 21:00 local is 02:00 UTC on the 2nd; 01:30 UTC is still 20:30 EST... allowed
    assert allowed(datetime(2026, 11, 2, 1, 30, tzinfo=UTC), us, new_york)
    assert not allowed(datetime(2026, 11, 2, 2, 0, tzinfo=UTC), us, new_york)
    # a window inside Paris's spring gap opens when the clock jumps (03:00 CEST = 01:00 UTC)
    assert next_allowed(datetime(2026, 3, 29, 0, 0, tzinfo=UTC), every_day("02:30-04:00"), paris) == \
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_a_number_in_several_zones_is_called_only_when_all_are_open() -> None:
    russia = callee_zones("+79123456789", UTC)
    assert len(russia) > 5
    opens = next_allowed(datetime(2026, 6, 1, 12, 0, tzinfo=UTC), PRESETS["us"].hours, russia)
    assert opens is not None
    for zone in russia:
        assert 8 <= opens.astimezone(zone).hour < 21
    apart = (ZoneInfo("UTC"), ZoneInfo("Pacific/Kiritimati"))  # UTC+14: 09:00-10:00 never meets
    assert next_allowed(datetime(2026, 6, 1, tzinfo=UTC), every_day("09:00-10:00"), apart) is None


def test_callee_zones_come_from_the_number_or_the_fallback() -> None:
    shop = ZoneInfo("Europe/Berlin")
    assert callee_zones("+33612345678", shop) == (ZoneInfo("Europe/Paris"),)
    assert callee_zones("+12125551234", shop) == (ZoneInfo("America/New_York"),)
    assert callee_zones("+15550100", shop) == (shop,)  # no area the data knows: the shop's zone
    assert callee_zones("not a number", shop) == (shop,)


def test_hours_spans_all_day_wrapping_and_text() -> None:
    assert parse_hours("00:00-00:00") == (Window(0, 1440),)  # all day means always
    assert all(allowed(datetime(2026, 1, 1, h, tzinfo=UTC), every_day("00:00-00:00"), (UTC,)) for h in range(24))
    assert parse_hours("21:00-06:00") == (Window(0, 360), Window(1260, 1440))
    assert parse_hours("09:00-24:00") == (Window(540, 1440),)
    assert hours_text(PRESETS["fr"].hours) == "Mon–Fri 10:00–13:00, 14:00–20:00; Sat–Sun none"
    for bad in ("nine to five", "25:00-26:00", "09:60-10:00", "0900-1000"):
        try:
            parse_hours(bad)
        except ValueError as exc:
            assert str(exc)
        else:
            raise AssertionError(f"{bad!r} was accepted")
