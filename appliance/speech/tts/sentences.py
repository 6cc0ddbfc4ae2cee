"""Cutting prompt text for streaming: sentences, and where to cut a long first sentence.

Pure functions over text; :mod:`appliance.speech.tts.piper` uses them to decide what
one piper run renders.
"""

from __future__ import annotations

import re

__all__ = ["MAX_CLAUSE_PAUSE_S", "QUICK_START_WORDS", "SECONDS_PER_CHAR", "quick_start_split", "split_sentences"]

QUICK_START_WORDS = 6  # stream: a longer uncached first sentence is cut at a comma (see quick_start_split)
SECONDS_PER_CHAR = 0.055  # how long piper's voices take to say one character, roughly (length scale 1)
MAX_CLAUSE_PAUSE_S = 0.3  # quick start: longest wait at the cut for the rest of the sentence
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])\s*")  # Chinese and Japanese: no space needed
_CLAUSE_END = re.compile(r"(?<=,)\s+")


def _spoken_seconds(text: str, seconds_per_char: float) -> float:
    """A rough length of ``text`` spoken: numbers are read out ("4471": "four thousand four hundred
    seventy-one"), so a digit counts as eight characters."""
    return seconds_per_char * (len(text) + 7 * sum(ch.isdigit() for ch in text))


def quick_start_split(sentence: str, rtf: float, *, seconds_per_char: float = SECONDS_PER_CHAR,
                      max_gap_s: float = MAX_CLAUSE_PAUSE_S) -> tuple[str, str] | None:
    """Where to cut a long first sentence so that its head plays while its tail renders.

    At the first comma where the tail, rendered at real-time factor ``rtf``, is
    ready no more than ``max_gap_s`` after the head has played (a slightly long
    pause at a comma is heard as a pause; a late start is heard as a bot that
    hesitates); failing that, at the comma with the shortest wait. None for a
    sentence of :data:`QUICK_START_WORDS` words or fewer, or without a comma.
    """
    if len(sentence.split()) <= QUICK_START_WORDS:
        return None
    best: tuple[float, str, str] | None = None
    for match in _CLAUSE_END.finditer(sentence):
        head, tail = sentence[: match.start()], sentence[match.end() :]
        if not tail.strip():
            continue
        gap = rtf * _spoken_seconds(tail, seconds_per_char) - _spoken_seconds(head, seconds_per_char)
        if gap <= max_gap_s:
            return head, tail
        if best is None or gap < best[0]:
            best = (gap, head, tail)
    return (best[1], best[2]) if best is not None else None


def split_sentences(text: str) -> list[str]:
    """``text`` cut after ``.``, ``!``, ``?`` followed by white space, and after ``。！？``;
    empty pieces dropped."""
    return [s for s in (p.strip() for p in _SENTENCE_END.split(text.strip())) if s]
