"""Filling a flow's slots from what the customer said: the flow's ``Slot`` to the NLU's slot extraction.

The extraction itself (dates and times, numbers, phone numbers, enums with synonyms, regexes) lives in
``slots.py``; this module adapts a flow slot to it and gives the engine a value and the words to say it with.
Where ``slots.py`` cannot be imported a small built-in extractor stands in (English weekdays and hours, digits).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from appliance.dialog.flow import Slot


@dataclass(frozen=True)
class Filled:
    value: Any  # str, float/int, datetime
    text: str  # how a prompt says it
    confidence: float = 1.0


def filled_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    return value


def say_value(value: Any, language: str = "en") -> str:
    if isinstance(value, datetime):
        if language.startswith("zh"):
            return f"{value.month}月{value.day}日{value.hour}点" + (f"{value.minute}分" if value.minute else "")
        return f"{value:%A %d %B} at {value:%H:%M}"
    if isinstance(value, date):
        return f"{value.month}月{value.day}日" if language.startswith("zh") else f"{value:%A %d %B}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def fill_slot(slot: Slot, text: str, *, language: str, now: datetime, tz: tzinfo) -> Filled | None:
    try:
        slots = importlib.import_module("appliance.dialog.slots")
    except ImportError:
        value = _basic(slot, text, now=now.astimezone(tz))
        confidence = 1.0
    else:
        spec = slots.SlotSpec(slot.name, slot.type, slot.required,
                              values={k: list(v) for k, v in slot.values} or None, pattern=slot.pattern or None)
        found = slots.extract_slot(spec, text, language=language, now=now, tz=tz)
        value = None if found is None else found.value
        confidence = 1.0 if found is None else float(found.confidence)
    if value is None:
        return None
    if slot.type == "number" and isinstance(value, int | float):
        if (slot.minimum is not None and value < slot.minimum) or (slot.maximum is not None and value > slot.maximum):
            return None
    return Filled(value, say_value(value, language), confidence)


_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _basic(slot: Slot, text: str, *, now: datetime) -> Any:
    low = text.lower()
    words = re.findall(r"[\w']+", low)
    if slot.type == "text":
        return text.strip() or None
    if slot.type == "regex":
        m = re.search(slot.pattern, text, re.IGNORECASE)
        return m.group(0) if m else None
    if slot.type == "enum":
        for canonical, synonyms in slot.values:
            for phrase in (canonical, *synonyms):
                if re.search(rf"\b{re.escape(phrase.lower())}\b", low):
                    return canonical
        return None
    if slot.type == "phone":
        digits = re.sub(r"[^\d+]", "", text)
        return digits if len(digits.lstrip("+")) >= 6 else None
    if slot.type == "number":
        m = re.search(r"-?\d+(\.\d+)?", low)
        if m:
            return float(m.group(0)) if "." in m.group(0) else int(m.group(0))
        return next((_NUMBER_WORDS[w] for w in words if w in _NUMBER_WORDS), None)
    return _basic_datetime(words, now)


def _basic_datetime(words: list[str], now: datetime) -> datetime | None:
    day: datetime | None = None
    for i, w in enumerate(words):
        if w == "tomorrow" and not (i and words[i - 1] == "not"):
            day = now + timedelta(days=1)
        elif w == "today":
            day = now
        elif w in _WEEKDAYS:
            ahead = (_WEEKDAYS.index(w) - now.weekday()) % 7 or 7
            day = now + timedelta(days=ahead)
    hour = None
    for i, w in enumerate(words):
        if w == "at" and i + 1 < len(words):
            nxt = words[i + 1]
            hour = int(nxt) if nxt.isdigit() else _NUMBER_WORDS.get(nxt)
    if hour is None and "afternoon" in words:
        hour = 15
    if hour is None and "morning" in words:
        hour = 10
    if day is None and hour is None:
        return None
    day = day or now
    hour = 10 if hour is None else hour
    if hour < 8 and "am" not in words and "morning" not in words:
        hour += 12
    return day.replace(hour=hour % 24, minute=0, second=0, microsecond=0)
