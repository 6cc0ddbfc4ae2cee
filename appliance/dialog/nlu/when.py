"""Dates and times said by a customer, resolved to an aware datetime in the box's time zone.

Public API:

``resolve_when(text, *, now, tz) -> When | None``
    ``When(value, text, confidence, has_date, has_time)``: ``value`` is an aware ``datetime`` in ``tz``
    (a ``zoneinfo.ZoneInfo`` or a zone name); ``now`` may be naive (read in ``tz``) or aware. English and
    Chinese are both understood whatever the flow's language.

What is understood
    Days: today, tonight, tomorrow, (the) day after tomorrow, weekdays (bare, "this", "next", "coming",
    "<day> next week"), next week, (this) weekend, "the 12th", "March 12", "12 March", "12th of March",
    "in 3 days"; 今天 明天 后天 大后天 今晚 明早 明晚, 周五/星期五/礼拜五 (下周五, 这周五, 本周五), 12号/12日,
    3月12号. Times: "at 3", "3 pm", "3:30", "15:30", "half past four", "quarter past/to 5", "ten past 3",
    "3 o'clock", noon, midnight; 三点, 三点半, 三点一刻, 三点十五(分), 15:30. Offsets: "in two hours",
    "in half an hour", "in 30 minutes", "2 hours from now"; 两个小时后, 半小时后, 30分钟以后, 3天后.

Defaults (documented behaviour)
    Part of day alone: morning 10:00 (早上/早晨 09:00, 上午 10:00), noon/中午 12:00, afternoon/下午 15:00,
    evening/傍晚 18:00, night/tonight/晚上 20:00. A day alone: 10:00 (``DAY_DEFAULT``); today alone when
    10:00 has passed: the next full hour. An hour without am/pm or part of day: 1-7 is afternoon
    (3 -> 15:00), 8-11 morning, 12 noon. A time alone earlier than now means tomorrow. A bare weekday
    is the next such day, today included while the time is still ahead; "next Friday" is the first Friday
    after today; "Friday next week" and 下周五 the Friday of next (Monday-based) week. "The 12th" is the
    next 12th (this month or the next that has one); "March 12" this year or next.

Negation
    A mention negated before ("not tomorrow", "can't do Friday", 不是明天) or after ("tomorrow doesn't
    work", "tomorrow I'm busy", 明天不行, 明天没空, 明天不在家) is dropped, so "not tomorrow, call me
    Friday at 3" is Friday 15:00. Of what is left, the last day mentioned wins, with the time nearest it.

Confidence: 0.95, less 0.1 when the hour's half of the day was guessed, 0.1 when the time came from a
part of day, 0.2 when only a day was said, 0.05 when only a time was said, 0.15 when other days were
also mentioned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from appliance.dialog.nlu.intents import normalise_text
from appliance.dialog.nlu.numbers import digits_to_arabic

DAY_DEFAULT = time(10, 0)
MAX_AHEAD = timedelta(days=400)  # "in 99999 days" is not a time to call back
PARTS = {
    "morning": 10, "noon": 12, "midday": 12, "lunchtime": 12, "afternoon": 15, "evening": 18, "night": 20,
    "tonight": 20, "早上": 9, "早晨": 9, "上午": 10, "中午": 12, "下午": 15, "傍晚": 18, "晚上": 20, "夜里": 21,
    "今晚": 20, "明晚": 20, "明早": 9, "凌晨": 5,
}  # fmt: skip
PM_PARTS = {"afternoon", "evening", "night", "tonight", "下午", "傍晚", "晚上", "夜里", "今晚", "明晚"}
WEEKDAYS = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6}
MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5,
    "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip
CN_WEEKDAY = {"1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6, "日": 6, "天": 6}
RELATIVE_DAYS = {
    "today": 0, "tonight": 0, "tomorrow": 1, "day after tomorrow": 2, "今天": 0, "今日": 0, "今晚": 0,
    "明天": 1, "明日": 1, "明早": 1, "明晚": 1, "后天": 2, "後天": 2, "大后天": 3, "大後天": 3,
}  # fmt: skip

_WD = "|".join(WEEKDAYS)
_MON = "|".join(sorted(MONTHS, key=len, reverse=True))
_ORD = r"(\d{1,2})(?:st|nd|rd|th)?"
_DAY_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("rel", re.compile(r"\b(?:the )?(day after tomorrow|today|tonight|tomorrow)\b")),
    ("rel", re.compile(r"(大后天|大後天|今天|今日|今晚|明天|明日|明早|明晚|后天|後天)")),
    ("wd_next_week", re.compile(rf"\b({_WD}) next week\b|\bnext week on ({_WD})\b")),
    ("wd", re.compile(rf"\b(?:(this|next|coming|on) )?({_WD})\b")),
    ("cn_wd", re.compile(r"(下下|下个|下|这个|这|本|上)?(?:周|星期|礼拜|禮拜)([1-7日天])")),
    ("next_week", re.compile(r"\bnext week\b|下周|下星期|下个星期|下礼拜")),
    ("weekend", re.compile(r"\b(?:this )?weekend\b|周末")),
    ("month_day", re.compile(rf"\b({_MON}) (?:the )?{_ORD}\b")),
    ("day_month", re.compile(rf"\b(?:the )?{_ORD}(?: of)? ({_MON})\b")),
    ("cn_month_day", re.compile(r"(\d{1,2})月(\d{1,2})[号號日]")),
    ("iso", re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")),
    ("cn_day", re.compile(r"(\d{1,2})[号號日]")),
    ("nth", re.compile(r"\b(?:on )?the (\d{1,2})(?:st|nd|rd|th)\b|\b(\d{1,2})(?:st|nd|rd|th)\b")),
    ("in_days", re.compile(r"\bin (\d+|a|an) (day|week)s?\b|(\d+)\s*(天|个星期|周)(?:以?后|之后)")),
]
_TIME_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("hm", re.compile(r"\b(\d{1,2})[:.](\d{2})\s*(am|pm|a\.m\.|p\.m\.)?")),
    ("half_past", re.compile(r"\bhalf past (\d{1,2})\b")),
    ("quarter", re.compile(r"\b(?:a )?quarter (past|to) (\d{1,2})\b")),
    ("min_past", re.compile(r"\b(\d{1,2}) (?:minutes )?(past|to) (\d{1,2})\b")),
    ("h_ampm", re.compile(r"\b(\d{1,2})\s*(am|pm|a\.m\.|p\.m\.|o'clock|oclock)")),
    ("noon", re.compile(r"\b(noon|midday|midnight)\b")),
    ("cn_h", re.compile(r"(\d{1,2})\s*[点點时時](?:钟)?(半|(\d{1,2})\s*分?)?")),
    ("at_h", re.compile(r"\b(?:at|by|around|about|after|from|before|until|till) (\d{1,2})(?: (\d{2}))?\b")),
]
_PART = re.compile(
    r"\b(morning|afternoon|evening|night|tonight|noon|midday|lunchtime)\b|(早上|早晨|上午|中午|下午|傍晚|晚上|夜里|凌晨)"
)
_OFFSET = re.compile(
    r"\bin (\d+(?:\.\d+)?|an|a|half an|a half) ?(hours?|minutes?|mins?)\b(?: and a half\b)?"
    r"|\b(\d+(?:\.\d+)?) (hours?|minutes?) from now\b"
    r"|(\d+|半)(?:个)?(?:半)?(小时|钟头|分钟)(?:以?后|之后)"
)
_PRE_NEG = re.compile(
    r"(?:\bnot|\bnever|\bno)"
    r"(?: (?:on|at|in|the|this|next|be|home|there|available|free|do|until|before|around|by|coming))* ?$"
    r"|(?:不是|不要|别|不)$"
)
_POST_NEG = re.compile(
    r"^(?: ?,)? ?(?:(?:is|does|will|would|can|that|i am|i will|i can|we are|we will|i|we) )*(?:not (?:work|good|suit|"
    r"possible|ok|okay|fine|available|home|around|free|be (?:home|there|in|around|available|good|possible|ok|okay|"
    r"fine))|no good|bad|busy|out)\b"
    r"|^[我都也就的]{0,2}(?:不行|不可以|不方便|没空|沒空|没时间|不空|不时间|不在|不能|不好|不太)"
)


@dataclass(frozen=True)
class When:
    value: datetime
    text: str
    confidence: float
    has_date: bool
    has_time: bool


@dataclass(frozen=True)
class _Mention:
    kind: str  # day, time, part, offset
    start: int
    end: int
    match: re.Match[str]
    sub: str


def _fold(text: str) -> str:
    text = normalise_text(text).replace("一刻", "15分").replace("三刻", "45分")
    text = digits_to_arabic(text)
    text = re.sub(r"(\d+)点钟", r"\1点", text)
    return re.sub(r"\s+", " ", text.replace("\u2019", "'"))


def _mentions(text: str) -> list[_Mention]:
    found: list[_Mention] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, sub: str, m: re.Match[str]) -> None:
        if any(m.start() < e and s < m.end() for s, e in taken):
            return
        taken.append((m.start(), m.end()))
        found.append(_Mention(kind, m.start(), m.end(), m, sub))

    for pattern in (_OFFSET,):
        for m in pattern.finditer(text):
            add("offset", "offset", m)
    for sub, pattern in _TIME_PATTERNS:
        for m in pattern.finditer(text):
            add("time", sub, m)
    for sub, pattern in _DAY_PATTERNS:
        for m in pattern.finditer(text):
            add("day", sub, m)
    for m in _PART.finditer(text):
        if not any(m.start() >= s and m.end() <= e for s, e in taken) or m.group(0) in ("今晚", "明晚", "明早"):
            found.append(_Mention("part", m.start(), m.end(), m, m.group(0)))
    for key in ("今晚", "明晚", "明早", "tonight"):
        for m in re.finditer(key, text):
            found.append(_Mention("part", m.start(), m.end(), m, key))
    return sorted(found, key=lambda x: x.start)


def _negated(text: str, m: _Mention, others: list[_Mention]) -> bool:
    before = text[max(0, m.start - 40) : m.start]
    cut = max((o.end - max(0, m.start - 40) for o in others if o.end <= m.start), default=0)
    before = before[max(0, cut) :]
    if "," in before or "，" in before:
        before = re.split(r"[,，]", before)[-1]
    if _PRE_NEG.search(before):
        return True
    after = text[m.end : m.end + 40]
    nxt = min((o.start - m.end for o in others if o.start >= m.end and o.kind == "day"), default=40)
    return bool(_POST_NEG.match(after[:nxt]))


def _hour(h: int, minute: int, ampm: str | None, part: str | None) -> tuple[int, int, bool]:
    """24-hour clock and whether the half of the day was guessed."""
    if ampm in ("pm", "p.m.") and h < 12:
        return h + 12, minute, False
    if ampm in ("am", "a.m.") and h == 12:
        return 0, minute, False
    if ampm in ("am", "a.m.", "24h") or h >= 13 or h == 0:
        return h, minute, False
    if part is not None:
        if part in PM_PARTS and h < 12 and not (part in ("night", "tonight", "晚上", "夜里") and h < 5):
            return h + 12, minute, False
        return h, minute, False
    if 1 <= h <= 7:
        return h + 12, minute, True
    return h, minute, h != 12


def _time_of(m: _Mention, part: str | None) -> tuple[int, int, bool] | None:
    found = _clock_of(m, part)
    if found is None or not (0 <= found[0] <= 24 and 0 <= found[1] <= 59):
        return None  # "24:61", "13:99": not a time
    return found[0] % 24, found[1], found[2]


def _clock_of(m: _Mention, part: str | None) -> tuple[int, int, bool] | None:
    g = m.match.groups()
    if m.sub == "hm":  # "04:30" is a 24-hour clock; "4:30" may be either
        return _hour(int(g[0]), int(g[1]), "24h" if g[0].startswith("0") else g[2], part)
    if m.sub == "half_past":
        return _hour(int(g[0]), 30, None, part)
    if m.sub == "quarter":
        h = int(g[1])
        return _hour(h, 15, None, part) if g[0] == "past" else _hour((h - 1) or 12, 45, None, part)
    if m.sub == "min_past":
        mins, h = int(g[0]), int(g[2])
        if mins >= 60:
            return None
        return _hour(h, mins, None, part) if g[1] == "past" else _hour((h - 1) or 12, 60 - mins, None, part)
    if m.sub == "h_ampm":
        ampm = g[1] if g[1] in ("am", "pm", "a.m.", "p.m.") else None
        return _hour(int(g[0]), 0, ampm, part)
    if m.sub == "noon":
        return (0, 0, False) if g[0] == "midnight" else (12, 0, False)
    if m.sub == "cn_h":
        minute = 30 if g[1] == "半" else int(g[2]) if g[2] else 0
        return _hour(int(g[0]), minute, None, part)
    if m.sub == "at_h":
        return _hour(int(g[0]), int(g[1]) if g[1] else 0, None, part)
    return None


def _next_weekday(today: date, wd: int, *, strictly_after: bool) -> date:
    ahead = (wd - today.weekday()) % 7
    if ahead == 0 and strictly_after:
        ahead = 7
    return today + timedelta(days=ahead)


def _next_nth(today: date, day: int) -> date | None:
    y, mo = today.year, today.month
    for _ in range(13):
        try:
            d = date(y, mo, day)
        except ValueError:
            d = None
        if d is not None and d >= today:
            return d
        y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)
    return None


def _day_of(m: _Mention, today: date) -> tuple[date | None, bool]:
    """The date and whether it may roll a week/month/year when the time has already passed today."""
    g = m.match.groups()
    if m.sub == "rel":
        return today + timedelta(days=RELATIVE_DAYS[g[0]]), False
    if m.sub in ("wd_next_week",):
        wd = WEEKDAYS[g[0] or g[1]]
        return today - timedelta(days=today.weekday()) + timedelta(days=7 + wd), False
    if m.sub == "wd":
        return _next_weekday(today, WEEKDAYS[g[1]], strictly_after=g[0] in ("next",)), g[0] != "next"
    if m.sub == "cn_wd":
        wd = CN_WEEKDAY[g[1]]
        monday = today - timedelta(days=today.weekday())
        weeks = {"下": 1, "下个": 1, "下下": 2, "上": -1}.get(g[0] or "", 0)
        if weeks or g[0] in ("这", "这个", "本"):
            return monday + timedelta(days=7 * weeks + wd), False
        return _next_weekday(today, wd, strictly_after=False), True
    if m.sub == "next_week":
        return today - timedelta(days=today.weekday()) + timedelta(days=7), False
    if m.sub == "weekend":
        return _next_weekday(today, 5, strictly_after=False), False
    if m.sub in ("month_day", "day_month", "cn_month_day", "iso"):
        if m.sub == "iso":
            y, mo, d = int(g[0]), int(g[1]), int(g[2])
        else:
            mo, d = (MONTHS[g[0]], int(g[1])) if m.sub == "month_day" else (
                (MONTHS[g[1]], int(g[0])) if m.sub == "day_month" else (int(g[0]), int(g[1]))
            )
            y = today.year
        try:
            found = date(y, mo, d)
            if m.sub != "iso" and found < today:
                found = date(y + 1, mo, d)
        except ValueError:
            return None, False
        return found, False
    if m.sub in ("cn_day", "nth"):
        nth = int(next(x for x in g if x))
        return (_next_nth(today, nth) if 1 <= nth <= 31 else None), True
    if m.sub == "in_days":
        n = g[0] or g[2]
        count = 1 if n in ("a", "an") else int(n)
        week = (g[1] or "") == "week" or (g[3] or "") in ("个星期", "周")
        days = count * (7 if week else 1)
        return (today + timedelta(days=days) if days <= MAX_AHEAD.days else None), False
    return None, False


def _offset(m: _Mention) -> timedelta:
    g = m.match.groups()
    raw, unit = (g[0], g[1]) if g[1] else (g[2], g[3]) if g[3] else (g[4], g[5])
    if raw in ("half an", "半"):
        amount = 0.5
    elif raw in ("a", "an"):
        amount = 1.0
    else:
        amount = float(raw)
    if "个半" in m.match.group(0) or raw == "a half" or m.match.group(0).endswith("and a half"):
        amount += 0.5
    minutes = amount if unit.startswith("min") or unit == "分钟" else amount * 60
    return timedelta(minutes=min(minutes, 1e7))  # absurd offsets stay representable (and are dropped)


def resolve_when(text: str, *, now: datetime, tz: tzinfo | str) -> When | None:
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    now = now.replace(tzinfo=zone) if now.tzinfo is None else now.astimezone(zone)
    folded = _fold(text)
    all_mentions = _mentions(folded)
    live = [m for m in all_mentions if not _negated(folded, m, [o for o in all_mentions if o is not m])]
    if not live:
        return None
    days = [m for m in live if m.kind == "day"]
    offsets = [m for m in live if m.kind == "offset"]
    times = [m for m in live if m.kind == "time"]
    parts = [m for m in live if m.kind == "part"]
    confidence = 0.95
    offsets = [m for m in offsets if _offset(m) <= MAX_AHEAD]
    if not days and not times and offsets:
        m = offsets[-1]
        # elapsed time, not wall-clock time: "in two hours" across a DST change is still two hours
        value = (now.astimezone(UTC) + _offset(m)).astimezone(zone).replace(second=0, microsecond=0)
        return When(value, folded[m.start : m.end], confidence, False, True)
    if not days and not times and not parts:
        return None
    anchor = days[-1] if days else None
    if anchor is not None and len({d.match.group(0) for d in days}) > 1:
        confidence -= 0.15

    def near(ms: list[_Mention]) -> _Mention | None:
        if not ms:
            return None
        if anchor is None:
            return ms[-1]
        return min(ms, key=lambda x: abs(x.start - anchor.start))

    tm, pm = near(times), near(parts)
    part = pm.sub if pm is not None else None
    today = now.date()
    day, may_roll = _day_of(anchor, today) if anchor is not None else (None, True)
    if anchor is not None and day is None:
        return None
    if tm is not None and (hm := _time_of(tm, part)) is not None:
        h, minute, guessed = hm
        clock = time(h % 24, minute)
        confidence -= 0.1 if guessed else 0.0
    elif part is not None:
        clock = time(PARTS[part], 0)
        confidence -= 0.1
    else:
        clock = DAY_DEFAULT
        confidence -= 0.2
    if day is None:
        confidence -= 0.05
        value = datetime.combine(today, clock, tzinfo=zone)
        if value <= now:
            value += timedelta(days=1)
    else:
        value = datetime.combine(day, clock, tzinfo=zone)
        if value <= now and day == today:
            if tm is None and part is None:
                value = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
            elif may_roll and anchor is not None and anchor.sub in ("wd", "cn_wd"):
                value += timedelta(days=7)
            elif may_roll and anchor is not None and anchor.sub in ("nth", "cn_day"):
                nxt = _next_nth(today + timedelta(days=1), day.day)
                value = datetime.combine(nxt, clock, tzinfo=zone) if nxt else value
    used = [m for m in (anchor, tm, pm) if m is not None]
    span = folded[min(m.start for m in used) : max(m.end for m in used)]
    return When(value, span, round(max(0.05, confidence), 3), day is not None, tm is not None or part is not None)
