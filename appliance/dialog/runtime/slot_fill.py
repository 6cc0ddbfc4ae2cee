"""Filling a flow's slots from what the customer said: the flow's ``Slot`` to the NLU's slot extraction.

The extraction itself (dates and times, numbers, phone numbers, enums with synonyms, regexes) lives in
``slots.py``; this module adapts a flow slot to it, applies a number slot's bounds, and gives the engine a value
and the words to say it with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from appliance.dialog.flow.model import Slot
from appliance.dialog.nlu.slots import SlotSpec, extract_slot


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
    spec = SlotSpec(slot.name, slot.type, slot.required, values={k: list(v) for k, v in slot.values} or None,
                    pattern=slot.pattern or None)
    found = extract_slot(spec, text, language=language, now=now, tz=tz)
    if found is None:
        return None
    value: Any = found.value
    if slot.type == "number" and isinstance(value, int | float):
        if (slot.minimum is not None and value < slot.minimum) or (slot.maximum is not None and value > slot.maximum):
            return None
    return Filled(value, say_value(value, language), float(found.confidence))
