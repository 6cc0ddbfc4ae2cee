"""Slot values taken from what the customer said: enums, numbers, dates and times, phones, free text, regexes.

Public API (the flow engine calls it; pure functions, no I/O):

``SLOT_TYPES = ("enum", "number", "datetime", "date", "time", "phone", "text", "regex")``
``SlotSpec(name, type, required=True, values=None, pattern=None, region=None)``
    ``values``: for ``enum``, canonical value -> synonyms (the canonical value is a synonym too).
    ``pattern``: for ``regex``; the value is the named group called like the slot, else the group
    ``value``, else the only named group, else the whole match. ``region``: for ``phone``, the default
    region of numbers said without a country code (ISO 3166 code, e.g. ``"GB"``); without it ``"CN"``
    for Chinese and ``"US"`` otherwise. A spec that cannot work raises ``FlowError(field=...)``.
``extract_slot(spec, text, *, language="en", now=None, tz="UTC") -> SlotValue | None``
    ``SlotValue(name, value, text, confidence)``; ``text`` is the part of the utterance it came from
    (normalised: NFKC, lower case, number words as digits). Value types: ``enum`` -> canonical ``str``;
    ``number`` -> ``int`` or ``float``; ``datetime``/``time`` -> aware ``datetime`` in ``tz`` (see
    ``when.py`` for the grammar and the documented defaults, e.g. "afternoon" = 15:00; a ``time`` slot
    needs a time of day or a part of day to have been said, a ``datetime`` slot takes a day alone at
    10:00); ``date`` -> ``datetime.date`` (needs a day); ``phone`` -> E.164 ``str``; ``text`` -> the
    utterance stripped; ``regex`` -> ``str``.
    ``now`` is the box's clock (naive = in ``tz``; default: the current time); ``tz`` a ZoneInfo or name.
``extract_slots(specs, text, *, language="en", now=None, tz="UTC") -> dict[str, SlotValue]``
    Every slot found in one utterance (a customer may give several at once).
``missing_slots(specs, filled) -> list[SlotSpec]``: the required ones not yet filled, in order.

Negation: an enum value or number right after "not"/"no"/不/没/别 ("not the red one", 不要红色) is
skipped; when a customer corrects themselves ("three, no, four"; "actually") the last one wins.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo

import phonenumbers
from rapidfuzz import fuzz

from appliance.dialog.nlu.intents import is_cjk, normalise_text
from appliance.dialog.nlu.numbers import CN_DIGITS, UNITS, find_numbers
from appliance.dialog.nlu.when import resolve_when
from appliance.errors import FlowError

SLOT_TYPES = ("enum", "number", "datetime", "date", "time", "phone", "text", "regex")
_NEG_BEFORE = re.compile(
    r"(?:\b(?:not|no|never|except)(?: (?:the|a|an|that|this|one|really))*|不要|不是|不|没有|没|别)\s*$"
)
_PRONOUN_ONE = re.compile(r"\b(?:the|that|this|which|another|any|each|every|some|a|no) (?:\w+ )?$")
_CORRECTION = re.compile(r"\b(?:no|not|actually|sorry|i mean|rather|make that|or)\b|不对|不是|我是说|应该是|改成")


@dataclass(frozen=True)
class SlotSpec:
    name: str
    type: str
    required: bool = True
    values: dict[str, list[str]] | None = None
    pattern: str | None = None
    region: str | None = None

    def __post_init__(self) -> None:
        if self.type not in SLOT_TYPES:
            raise FlowError(f"slot type must be one of {', '.join(SLOT_TYPES)}", field=f"slots.{self.name}.type")
        if self.type == "enum" and not self.values:
            raise FlowError("an enum slot needs values", field=f"slots.{self.name}.values")
        if self.type == "regex":
            if not self.pattern:
                raise FlowError("a regex slot needs a pattern", field=f"slots.{self.name}.pattern")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise FlowError(f"bad pattern: {exc}", field=f"slots.{self.name}.pattern") from exc
        if self.region is not None and self.region.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise FlowError(f"unknown phone region {self.region!r}", field=f"slots.{self.name}.region")


@dataclass(frozen=True)
class SlotValue:
    name: str
    value: object
    text: str
    confidence: float


def _negated(text: str, start: int) -> bool:
    before = re.split(r"[,.;!?，。；！？]", text[max(0, start - 30) : start])[-1]
    return bool(_NEG_BEFORE.search(before))


def _pick(hits: list[tuple[int, int, object, float]], text: str) -> tuple[int, int, object, float] | None:
    """One hit among several: drop negated ones; a correction between them makes the last one win."""
    live = [h for h in hits if not _negated(text, h[0])]
    if not live:
        return None
    if len({repr(h[2]) for h in live}) == 1:
        return live[0]
    first, last = live[0], live[-1]
    corrected = bool(_CORRECTION.search(text[first[1] : last[0]]))
    chosen = last if corrected else first
    return chosen[0], chosen[1], chosen[2], round(chosen[3] * (0.95 if corrected else 0.7), 3)


def _enum(spec: SlotSpec, text: str) -> SlotValue | None:
    assert spec.values is not None
    hits: list[tuple[int, int, object, float]] = []
    fuzzy: list[tuple[float, str, str]] = []
    for canonical, synonyms in spec.values.items():
        for phrase in dict.fromkeys([canonical, *synonyms]):
            p = normalise_text(phrase).strip()
            if not p:
                continue
            cjk = any(is_cjk(c) for c in p)
            pattern = re.escape(p) if cjk else rf"(?<!\w){re.escape(p)}(?!\w)"
            found = list(re.finditer(pattern, text))
            hits += [(m.start(), m.end(), canonical, 0.95) for m in found]
            if not found and not cjk and len(p) >= 4:
                fuzzy.append((fuzz.partial_ratio(p, text), canonical, p))
    # A longer synonym covering a shorter one ("dark blue" over "blue") wins the overlap.
    hits.sort(key=lambda h: (h[0], -(h[1] - h[0])))
    kept: list[tuple[int, int, object, float]] = []
    for h in hits:
        if kept and h[0] < kept[-1][1]:
            continue
        kept.append(h)
    chosen = _pick(kept, text)
    if chosen is not None:
        return SlotValue(spec.name, chosen[2], text[chosen[0] : chosen[1]], chosen[3])
    if kept:  # every mention was negated
        return None
    best = max(fuzzy, default=None)
    if best is not None and best[0] >= 85:
        return SlotValue(spec.name, best[1], best[2], round(0.9 * best[0] / 100, 3))
    return None


def _number(spec: SlotSpec, text: str) -> SlotValue | None:
    hits: list[tuple[int, int, object, float]] = []
    for n in find_numbers(text):
        if n.text == "one" and _PRONOUN_ONE.search(text[max(0, n.start - 30) : n.start]):
            continue  # "no one", "the red one", "that one"
        value = int(n.value) if float(n.value).is_integer() else n.value
        hits.append((n.start, n.end, value, 0.95 if n.text[:1].isdigit() else 0.9))
    chosen = _pick(hits, text)
    return SlotValue(spec.name, chosen[2], text[chosen[0] : chosen[1]], chosen[3]) if chosen else None


_SPOKEN = {**{k: v for k, v in UNITS.items() if v < 10}, "oh": 0, "o": 0}
_REPEAT = {"double": 2, "triple": 3}


def _spoken_digits(text: str) -> str:
    """ "oh seven seven double nine" -> "07799"; 一三八 -> "138"; other words break the run."""
    runs: list[str] = []
    current = ""
    repeat = 1
    for tok in re.findall(r"\+|\d+|[^\W\d_]+", text):
        if is_cjk(tok) and all(c in CN_DIGITS for c in tok):
            current += "".join(str(CN_DIGITS[c]) for c in tok)
        elif tok.isdigit() or tok == "+":
            current += tok
        elif tok in _SPOKEN:
            current += str(_SPOKEN[tok]) * repeat
            repeat = 1
        elif tok in _REPEAT:
            repeat = _REPEAT[tok]
        elif tok in ("plus",):
            current += "+"
        elif tok in ("dash", "and", "then"):
            continue
        else:
            if current:
                runs.append(current)
            current = ""
            repeat = 1
    if current:
        runs.append(current)
    return max(runs, key=len, default="")


def _phone(spec: SlotSpec, text: str, language: str) -> SlotValue | None:
    region = (spec.region or ("CN" if language.lower().startswith("zh") else "US")).upper()
    for match in phonenumbers.PhoneNumberMatcher(text, region):
        if phonenumbers.is_valid_number(match.number):
            e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            return SlotValue(spec.name, e164, match.raw_string, 0.95)
    spoken = _spoken_digits(text)
    if len(spoken.lstrip("+")) < 5:
        return None
    try:
        number = phonenumbers.parse(spoken, region)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_valid_number(number):
        confidence = 0.85
    elif phonenumbers.is_possible_number(number):
        confidence = 0.5
    else:
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return SlotValue(spec.name, e164, spoken, confidence)


def _regex(spec: SlotSpec, text: str) -> SlotValue | None:
    assert spec.pattern is not None
    m = re.search(spec.pattern, text, re.IGNORECASE)
    if m is None:
        return None
    names = list(m.re.groupindex)
    group = spec.name if spec.name in names else "value" if "value" in names else names[0] if len(names) == 1 else 0
    value = m.group(group)
    if value is None:
        return None
    return SlotValue(spec.name, value, m.group(0), 0.95)


def extract_slot(
    spec: SlotSpec, text: str, *, language: str = "en", now: datetime | None = None, tz: tzinfo | str = "UTC"
) -> SlotValue | None:
    """The value of one slot in an utterance, or None if it is not there (or only negated)."""
    raw = unicodedata.normalize("NFKC", text).strip()
    if not raw:
        return None
    if spec.type == "text":
        return SlotValue(spec.name, raw, raw, 1.0)
    if spec.type == "regex":
        return _regex(spec, raw)
    if spec.type == "phone":
        return _phone(spec, normalise_text(raw), language)
    if spec.type in ("datetime", "date", "time"):
        zone = ZoneInfo(tz) if isinstance(tz, str) else tz
        when = resolve_when(raw, now=now or datetime.now(zone), tz=zone)
        if when is None or (spec.type == "time" and not when.has_time) or (spec.type == "date" and not when.has_date):
            return None
        value: datetime | date = when.value.date() if spec.type == "date" else when.value
        return SlotValue(spec.name, value, when.text, when.confidence)
    folded = normalise_text(raw)
    if spec.type == "enum":
        return _enum(spec, folded)
    return _number(spec, folded)


def extract_slots(
    specs: Iterable[SlotSpec],
    text: str,
    *,
    language: str = "en",
    now: datetime | None = None,
    tz: tzinfo | str = "UTC",
) -> dict[str, SlotValue]:
    out: dict[str, SlotValue] = {}
    for spec in specs:
        found = extract_slot(spec, text, language=language, now=now, tz=tz)
        if found is not None:
            out[spec.name] = found
    return out


def missing_slots(specs: Iterable[SlotSpec], filled: Iterable[str]) -> list[SlotSpec]:
    have = set(filled)
    return [s for s in specs if s.required and s.name not in have]
