"""Intent matching from example phrases and keywords, with negation and a margin rule."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from appliance.dialog.flow import Intent

NEGATORS = frozenset(
    {"not", "no", "never", "nobody", "noone", "cant", "cannot", "wont", "dont", "isnt", "nope", "neither"}
)
_WORD = re.compile(r"[\w']+")


def normalise(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).lower()
    return [w.replace("'", "") for w in _WORD.findall(text)]


@dataclass(frozen=True)
class IntentMatch:
    intent: str | None
    confidence: float
    scores: dict[str, float]


def match_intent(
    text: str, intents: Iterable[Intent], *, asr_confidence: float = 1.0, min_margin: float = 0.2
) -> IntentMatch:
    """Score each intent; the best wins only with a clear margin over the runner-up."""
    tokens = normalise(text)
    joined = " " + " ".join(tokens) + " "
    scores: dict[str, float] = {}
    for intent in intents:
        negative = bool(set(normalise(" ".join(intent.keywords))) & NEGATORS)
        score = 0.0
        for phrase in intent.examples:
            p = " " + " ".join(normalise(phrase)) + " "
            if p.strip() and p in joined:
                score += 1.0 + 0.5 * len(p.split())
        keywords = {k for kw in intent.keywords for k in normalise(kw)}
        for i, tok in enumerate(tokens):
            if tok not in keywords:
                continue
            negated = any(t in NEGATORS for t in tokens[max(0, i - 3) : i])
            if negated and not negative:
                continue
            score += 1.0
        scores[intent.name] = score
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    if not ranked or ranked[0][1] <= 0:
        return IntentMatch(None, 0.0, scores)
    best, top = ranked[0]
    runner = ranked[1][1] if len(ranked) > 1 else 0.0
    margin = (top - runner) / top
    if margin < min_margin:
        return IntentMatch(None, round(margin, 3), scores)
    return IntentMatch(best, round(margin * max(0.0, min(1.0, asr_confidence)), 3), scores)
