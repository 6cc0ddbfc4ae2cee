"""Calling hours as data, judged on the callee's wall clock.

A week of hours is seven tuples of :class:`Window` (Monday first), minutes after local midnight, so a preset such
as France's "Mon–Fri 10:00–13:00 and 14:00–20:00" is a table, not code. :func:`allowed` asks whether an instant
falls inside the hours in *every* one of the callee's zones (a number that maps to several zones is called only
when it is a decent hour in all of them); :func:`next_allowed` finds the first such instant. Both read the
local wall clock through ``zoneinfo``, so daylight-saving days are handled where they happen: a window that
opens inside a spring-forward gap opens when the clock jumps, and an hour repeated in autumn is inside or
outside the window twice, as the wall clock says.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as number_zones

__all__ = [
    "DAY_NAMES",
    "WeeklyHours",
    "Window",
    "allowed",
    "box_zone",
    "callee_zones",
    "every_day",
    "hours_text",
    "next_allowed",
    "parse_hours",
    "weekdays",
]

DAY = 24 * 60
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# No zone's clock jumps by more than this at once (DST shifts are 30 min to 2 h); next_allowed skips ahead by the
# wall-clock wait less this much, then walks minute by minute, so it never steps over an opening.
MAX_CLOCK_JUMP = timedelta(hours=2)
MINUTE = timedelta(minutes=1)
HORIZON = timedelta(days=15)  # no opening within this: the hours never meet (zones too far apart)


@dataclass(frozen=True, order=True)
class Window:
    start: int  # minutes after local midnight, 0..1439
    end: int  # 1..1440 (1440: midnight at the end of the day); start < end

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= DAY:
            raise ValueError(f"not a window within one day: {self.start}-{self.end} minutes")

    def __contains__(self, minute: int) -> bool:
        return self.start <= minute < self.end

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}–{_hhmm(self.end)}"


WeeklyHours = tuple[tuple[Window, ...], ...]  # seven days, Monday first


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(text: str) -> int:
    hh, sep, mm = text.strip().partition(":")
    if not sep or not hh.isdigit() or not mm.isdigit() or len(mm) != 2 or int(hh) > 24 or int(mm) > 59:
        raise ValueError(f"{text.strip()!r} is not a time of day (HH:MM)")
    value = int(hh) * 60 + int(mm)
    if value > DAY:
        raise ValueError(f"{text.strip()!r} is after midnight")
    return value


def parse_hours(span: str) -> tuple[Window, ...]:
    """``"09:00-20:00"`` as the windows of one day. A span that wraps past midnight (``"21:00-06:00"``) is two
    windows; ``"00:00-00:00"`` (start equal to end) is the whole day."""
    start_text, sep, end_text = span.partition("-")
    if not sep:
        raise ValueError(f"must look like 09:00-20:00, not {span!r}")
    start, end = _minutes(start_text) % DAY, _minutes(end_text)
    if start == end % DAY:
        return (Window(0, DAY),)
    if start < end:
        return (Window(start, end),)
    return tuple(Window(a, b) for a, b in ((0, end), (start, DAY)) if a < b)  # "21:00-00:00": no morning part


def every_day(*spans: str) -> WeeklyHours:
    day = tuple(sorted(w for span in spans for w in parse_hours(span)))
    return (day,) * 7


def weekdays(*spans: str) -> WeeklyHours:
    """Monday to Friday; no calls at the weekend."""
    return (*every_day(*spans)[:5], (), ())


def hours_text(hours: WeeklyHours) -> str:
    """One line for people: ``Mon–Fri 10:00–13:00, 14:00–20:00; Sat–Sun none``."""
    parts: list[str] = []
    day = 0
    while day < 7:
        last = day
        while last + 1 < 7 and hours[last + 1] == hours[day]:
            last += 1
        days = DAY_NAMES[day] if last == day else f"{DAY_NAMES[day]}–{DAY_NAMES[last]}"
        windows = ", ".join(str(w) for w in hours[day]) or "none"
        parts.append(f"{days} {windows}")
        day = last + 1
    return "; ".join(parts)


def _open_in(local: datetime, hours: WeeklyHours) -> bool:
    minute = local.hour * 60 + local.minute
    return any(minute in w for w in hours[local.weekday()])


def allowed(at: datetime, hours: WeeklyHours, zones: tuple[tzinfo, ...]) -> bool:
    """Is ``at`` (an aware instant) inside the hours on the wall clock of every zone?"""
    return all(_open_in(at.astimezone(zone), hours) for zone in zones)


def _wall_wait(local: datetime, hours: WeeklyHours) -> timedelta | None:
    """Wall-clock time from ``local`` to the next opening of the hours (zero if open now); None: never open."""
    minute = local.hour * 60 + local.minute
    into_minute = timedelta(seconds=local.second, microseconds=local.microsecond)
    for ahead in range(8):
        for w in hours[(local.weekday() + ahead) % 7]:
            if ahead == 0 and minute in w:
                return timedelta(0)
            if ahead > 0 or w.start > minute:
                return timedelta(minutes=ahead * DAY + w.start - minute) - into_minute
    return None


def next_allowed(at: datetime, hours: WeeklyHours, zones: tuple[tzinfo, ...],
                 horizon: timedelta = HORIZON) -> datetime | None:
    """The first instant at or after ``at`` that :func:`allowed` accepts, or None if there is none within
    ``horizon`` (hours that are never open, or zones whose hours never overlap)."""
    if allowed(at, hours, zones):
        return at
    t = at.astimezone(UTC)
    t = t.replace(second=0, microsecond=0) + timedelta(minutes=1)  # openings fall on whole minutes
    limit = at + horizon
    while t <= limit:
        waits = [_wall_wait(t.astimezone(zone), hours) for zone in zones]
        if any(w is None for w in waits):
            return None
        longest = max(w for w in waits if w is not None)
        if longest == timedelta(0):
            return t.astimezone(at.tzinfo)
        skip = longest - MAX_CLOCK_JUMP
        t = _no_further_than_a_clock_change(t, t + max(MINUTE, MINUTE * (skip // MINUTE)), zones)
    return None


def _offsets(t: datetime, zones: tuple[tzinfo, ...]) -> list[timedelta | None]:
    return [t.astimezone(zone).utcoffset() for zone in zones]


def _no_further_than_a_clock_change(t: datetime, to: datetime, zones: tuple[tzinfo, ...]) -> datetime:
    """``to``, or the first whole minute after ``t`` at which a zone's clock has changed, if one changes first.

    The skip from ``t`` trusts the wall clock to run forward (by at most ``MAX_CLOCK_JUMP`` more); a clock set
    back (Sydney at 03:00 on the first Sunday of April) runs an hour of wall time again, and that hour may be
    open: the search resumes where it starts."""
    before = _offsets(t, zones)
    if to - t <= MINUTE or _offsets(to, zones) == before:
        return to
    lo, hi = t, to  # the change lies in (lo, hi]
    while hi - lo > MINUTE:
        mid = lo + MINUTE * ((hi - lo) // MINUTE // 2)
        if _offsets(mid, zones) == before:
            lo = mid
        else:
            hi = mid
    return hi


def callee_zones(phone: str, fallback: tzinfo) -> tuple[tzinfo, ...]:
    """The zones a number (E.164) may ring in, from its country and area (libphonenumber's data); ``fallback``
    (the shop's zone, else the box's) when the data does not say."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return (fallback,)
    zones: list[tzinfo] = []
    for name in number_zones.time_zones_for_number(number):
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):  # "Etc/Unknown": the data has no zone for it
            continue
    return tuple(zones) or (fallback,)


def box_zone() -> tzinfo:
    """The box's own zone (``TZ``, else ``/etc/localtime``), with its daylight-saving rules where it has them."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        with open("/etc/localtime", "rb") as f:
            return ZoneInfo.from_file(f, key="localtime")
    except (OSError, ValueError):
        zone = datetime.now().astimezone().tzinfo
        return zone if zone is not None else UTC
