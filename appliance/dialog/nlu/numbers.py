"""Numbers said in words or digits, English and Chinese, for the slot extractors.

Public API:

``find_numbers(text) -> list[NumberMention]``
    Every number in a text, in order: digits ("3", "3.5", "1,200", full-width "３"), English words
    ("three", "twenty five", "twenty-five", "one hundred and five", "a dozen"), Chinese numerals
    ("三", "十五", "二十五", "一百零五", "两千", "三万五千"), decimals ("two point five", "three and a
    half"). ``NumberMention(value, start, end, text)``
    with ``start``/``end`` in the NFKC-normalised, case-folded text (``fold(text)``).
``parse_chinese_number(s) -> int | None``, ``parse_english_number(words) -> int | None``.
``digits_to_arabic(text) -> str``
    The text with English and Chinese number words replaced by digits, so later patterns only deal with
    digits ("half past four" -> "half past 4", "三点半" -> "3点半"; ordinals become "4th").
``fold(text) -> str``: NFKC + casefold.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20,
    "thirtieth": 30,
}  # fmt: skip
CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
             "八": 8, "九": 9, "幺": 1}  # fmt: skip
CN_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
CN_BIG = {"万": 10_000, "萬": 10_000, "亿": 100_000_000}

_EN_WORD = "|".join(sorted([*UNITS, *TENS, *SCALES, *ORDINALS, "a", "an", "and", "dozen"], key=len, reverse=True))
_EN_RUN = re.compile(rf"\b(?:{_EN_WORD})(?:(?:\s+|-)(?:{_EN_WORD}))*\b")
_CN_RUN = re.compile(r"[零〇一二两兩三四五六七八九十拾百佰千仟万萬亿幺]+")
_DIGITS = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w])|\d+(?:\.\d+)?")
# "一点" after these means "a little", not one o'clock.
_CN_A_LITTLE = re.compile(r"(晚|早|快|慢|好|多|少|大|小|有|高|低)一点")


class NumberMention(NamedTuple):
    value: float | int
    start: int
    end: int
    text: str
    ordinal: bool = False


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def parse_english_number(words: list[str]) -> int | None:
    """ "twenty five" -> 25, "one hundred and five" -> 105, "a dozen" -> 12; None if not a number."""
    total = current = 0
    seen = False
    for i, w in enumerate(words):
        if w in ("and",):
            continue
        if w in ("a", "an"):  # only "a hundred", "a dozen"
            if i + 1 < len(words) and (words[i + 1] in SCALES or words[i + 1] == "dozen"):
                continue
            return None
        if w == "dozen":
            current = (current or 1) * 12
            seen = True
        elif w in UNITS:
            current += UNITS[w]
            seen = True
        elif w in TENS:
            current += TENS[w]
            seen = True
        elif w in ORDINALS:
            current += ORDINALS[w]
            seen = True
        elif w in SCALES:
            scale = SCALES[w]
            current = (current or 1) * scale
            if scale >= 1000:
                total += current
                current = 0
            seen = True
        else:
            return None
    return total + current if seen else None


def parse_chinese_number(s: str) -> int | None:
    """ "十五" -> 15, "二十五" -> 25, "一百零五" -> 105, "三万五千" -> 35000, "一二三" -> 123."""
    if not s:
        return None
    if all(c in CN_DIGITS for c in s):  # digit by digit, as in phone numbers and years
        return int("".join(str(CN_DIGITS[c]) for c in s))
    total = section = digit = 0
    for c in s:
        if c in CN_DIGITS:
            digit = CN_DIGITS[c]
        elif c in CN_UNITS:
            section += (digit or 1) * CN_UNITS[c]
            digit = 0
        elif c in CN_BIG:
            total += (section + digit) * CN_BIG[c]
            section = digit = 0
        else:
            return None
    return total + section + digit


def _starts_new(prev: str, cur: str) -> bool:
    """ "five thirty", "three four", "twenty thirty" are two numbers; "twenty five" is one."""
    if cur not in UNITS and cur not in TENS and cur not in ORDINALS:
        return False
    if prev in UNITS or prev in ORDINALS:
        return True
    return prev in TENS and (cur in TENS or UNITS.get(cur, 0) >= 10 or ORDINALS.get(cur, 0) >= 10)


def _groups(words: list[tuple[str, int, int]]) -> list[list[tuple[str, int, int]]]:
    groups: list[list[tuple[str, int, int]]] = []
    for w in words:
        if groups and groups[-1] and not _starts_new(groups[-1][-1][0], w[0]):
            groups[-1].append(w)
        else:
            groups.append([w])
    return groups


def _english_runs(text: str) -> list[NumberMention]:
    out = []
    for m in _EN_RUN.finditer(text):
        words = [(w.group(0), m.start() + w.start(), m.start() + w.end()) for w in re.finditer(r"[a-z]+", m.group(0))]
        for group in _groups(words):
            names = [w for w, _, _ in group]
            # trim glue words ("a", "and") that are not numbers on their own
            while names and (names[0] == "and" or (names[0] in ("a", "an") and not _scale_next(names))):
                names, group = names[1:], group[1:]
            while names and names[-1] in ("a", "an", "and"):
                names, group = names[:-1], group[:-1]
            if not names:
                continue
            value = parse_english_number(names)
            if value is None:
                continue
            start, end = group[0][1], group[-1][2]
            out.append(NumberMention(value, start, end, text[start:end], names[-1] in ORDINALS))
    return out


def _scale_next(words: list[str]) -> bool:
    return len(words) > 1 and (words[1] in SCALES or words[1] == "dozen")


def find_numbers(text: str) -> list[NumberMention]:
    text = _CN_A_LITTLE.sub(lambda m: m.group(1) + "些", fold(text))
    found: list[NumberMention] = []
    for m in _DIGITS.finditer(text):
        raw = m.group(0).replace(",", "")
        value: float | int = float(raw) if "." in raw else int(raw)
        ordinal = bool(re.match(r"(st|nd|rd|th)\b", text[m.end() : m.end() + 3]))
        found.append(NumberMention(value, m.start(), m.end(), m.group(0), ordinal))
    found += _english_runs(text)
    for m in _CN_RUN.finditer(text):
        cn = parse_chinese_number(m.group(0))
        if cn is not None:
            found.append(NumberMention(cn, m.start(), m.end(), m.group(0)))
    return _decimals(sorted(found, key=lambda n: n.start), text)


_HALF = re.compile(r" and a half\b")


def _decimals(found: list[NumberMention], text: str) -> list[NumberMention]:
    """ "two point five" -> 2.5, "three and a half" -> 3.5."""
    out: list[NumberMention] = []
    i = 0
    while i < len(found):
        n = found[i]
        half = _HALF.match(text, n.end)
        nxt = found[i + 1] if i + 1 < len(found) else None
        if half and not n.ordinal:
            n = NumberMention(n.value + 0.5, n.start, half.end(), text[n.start : half.end()])
        elif (
            nxt is not None
            and text[n.end : nxt.start] == " point "
            and isinstance(n.value, int)
            and isinstance(nxt.value, int)
            and not (n.ordinal or nxt.ordinal)
        ):
            n = NumberMention(float(f"{n.value}.{nxt.value}"), n.start, nxt.end, text[n.start : nxt.end])
            i += 1
        out.append(n)
        i += 1
    return out


def digits_to_arabic(text: str) -> str:
    """Number words replaced by digits (ordinals keep a suffix: "twelfth" -> "12th")."""
    text = _CN_A_LITTLE.sub(lambda m: m.group(1) + "些", fold(text))
    out = []
    last = 0
    for n in find_numbers(text):
        if n.start < last or n.text.isdigit():
            continue
        out.append(text[last : n.start])
        value = int(n.value) if float(n.value).is_integer() else n.value
        out.append(f"{value}th" if n.ordinal and not n.text[-1:].isdigit() else str(value))
        last = n.end
    out.append(text[last:])
    return "".join(out)
