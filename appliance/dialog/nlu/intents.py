"""Intent matching from example phrases and keywords: normalisation, negation, fuzzy words, CJK n-grams.

Public API (stable; the flow engine and ``callbox flow try`` call it):

``match_intent(text, intents, *, asr_confidence=1.0, min_margin=0.2, min_quality=0.4) -> IntentMatch``
    ``intents`` are objects with ``name``, ``examples`` and ``keywords`` (``flow.Intent``, or anything
    shaped like :class:`IntentLike`, e.g. knowledge-base questions). Returns
    ``IntentMatch(intent, confidence, scores, candidates)``: ``intent`` is ``None`` when nothing matched
    well enough, when the best two tie, or when the best does not lead the runner-up by ``min_margin``
    (relative: ``(best - runner_up) / best``). ``scores`` maps every intent to its match quality (0..1);
    ``candidates`` are ``Candidate(intent, score)`` best first; ``margin`` is that relative lead of the best.
``IntentMatcher(intents)``
    The same, compiled once for a fixed set of intents (``match_intent`` keeps a small cache of these).
``normalise_text``, ``units``, ``analyse``, ``clauses``, ``Unit``: re-exported from ``textnorm.py`` (NFKC,
    case folding, contractions, everyday equivalents, negation scope, CJK n-grams: see there).
``normalise(text) -> list[str]``
    The old word list (NFKC, lower case, apostrophes dropped), kept for the ASR bench's word counts.

How a match is scored
    Units (words; CJK characters and bigrams) carry a polarity: inside a negation's scope or not.
    Each unit weighs ``idf * (0.4 if a stopword else 1)`` where ``idf = log(1 + N / df) / log(1 + N)``
    over the N intents being compared (a word every intent uses tells little).
    Example quality: a unit found in the utterance with the same polarity counts its weight (a word that
    differs by a slip, rapidfuzz ratio >= 75 for words of 4+ letters, counts in proportion); found with the
    opposite polarity it is a conflict. ``recall * (0.7 + 0.3 * precision) - 0.5 * conflicts`` where
    recall is the weighted share of the example found, precision the weighted share of the utterance it
    explains and conflicts the weighted share of the example said the other way round.
    A whole-utterance rapidfuzz ratio >= 80 against an example of the same polarity also counts (x 0.95),
    so merged or split words ("some one will be home") still match. Keyword phrases of two or more
    content words count as examples too.
    Keywords: a keyword all of whose units are found (same polarity) is a hit; ``0.45 + 0.15 * hits``
    (at most 0.8) when the examples did no better. An intent's quality is ``max(best example, keywords)
    + 0.05 * hits`` (at most 1) ``- 0.25 * keywords said the other way round``. A keyword with no
    negation of its own takes its polarity from the intent's examples that use the word ("home" in "I
    will be home"; 骚扰 in 不要骚扰我, so 别骚扰我 hits); a word no example uses counts either way.
    The point of the answer: when the utterance has a contrast ("yes but not tomorrow") or opens with a
    bare yes/no ("no, call me later"), the part after it is scored alone too and each intent keeps
    ``max(0.8 * whole, part)``.
    Decision: best quality below ``min_quality`` -> no match; relative margin ``(best - runner_up) / best``
    below ``min_margin`` (ties included) -> no match. ``confidence = quality * min(1, 0.5 + margin) *
    asr_confidence``.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from rapidfuzz import fuzz, process

from appliance.dialog.nlu.textnorm import (
    STOPWORDS,
    Unit,
    analyse,
    clauses,
    is_cjk,
    last_point,
    normalise_text,
    units,
)

__all__ = [
    "Candidate",
    "IntentLike",
    "IntentMatch",
    "IntentMatcher",
    "Unit",
    "analyse",
    "clauses",
    "is_cjk",
    "match_intent",
    "matcher_for",
    "normalise",
    "normalise_text",
    "units",
]

_WORD = re.compile(r"[\w']+")


def normalise(text: str) -> list[str]:
    """The old word list: NFKC, lower case, apostrophes dropped (used for word counts)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return [w.replace("'", "") for w in _WORD.findall(text)]


class IntentLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def examples(self) -> Sequence[str]: ...
    @property
    def keywords(self) -> Sequence[str]: ...


class Candidate(NamedTuple):
    intent: str
    score: float


@dataclass(frozen=True)
class IntentMatch:
    intent: str | None
    confidence: float
    scores: dict[str, float]
    candidates: tuple[Candidate, ...] = ()

    @property
    def margin(self) -> float | None:
        """The best candidate's lead over the runner-up, ``(best - runner_up) / best`` as the decision weighed it
        (1.0 with no runner-up); None when nothing scored. QA reads a small one as a doubtful intent."""
        if not self.candidates or self.candidates[0].score <= 0:
            return None
        top = self.candidates[0].score
        runner = self.candidates[1].score if len(self.candidates) > 1 else 0.0
        return round((top - runner) / top, 4)


def _example_units(text: str) -> tuple[tuple[Unit, ...], list[Unit]]:
    """An example's units (a CJK run of two or more characters is matched by its bigrams only) and all units."""
    all_units, _ = analyse(text)
    multi = {u.form for u in all_units if len(u.form) == 2 and is_cjk(u.form)}
    covered = {c for form in multi for c in form}
    kept = [u for u in all_units if not (len(u.form) == 1 and is_cjk(u.form) and u.form in covered)]
    return tuple(dict.fromkeys(kept)), all_units


@dataclass(frozen=True)
class _Example:
    units: tuple[Unit, ...]
    weights: tuple[float, ...]
    total: float  # sum of weights
    size: float  # weighted size, for precision
    text: str
    negative: bool


@dataclass(frozen=True)
class _Keyword:
    units: tuple[tuple[str, frozenset[bool]], ...]  # form and the polarities that count
    weights: tuple[float, ...]


@dataclass(frozen=True)
class _CompiledIntent:
    name: str
    examples: tuple[_Example, ...]
    keywords: tuple[_Example, ...]
    rules: tuple[_Keyword, ...]


def _keyword_rules(examples: tuple[_Example, ...], keywords: tuple[_Example, ...]) -> tuple[_Keyword, ...]:
    """A keyword with no negation of its own takes its polarity from the examples that use the word
    ("home" in "I will be home": not negated; 骚扰 in 不要骚扰我: negated); a word no example uses counts
    either way ("afford" for "I can't afford it")."""
    seen: dict[str, set[bool]] = {}
    for e in examples:
        for u in e.units:
            seen.setdefault(u.form, set()).add(u.neg)
    both = frozenset({False, True})
    out = []
    for kw in keywords:
        if kw.negative:
            rule = tuple((u.form, frozenset({u.neg})) for u in kw.units)
        else:
            rule = tuple((u.form, frozenset(seen[u.form]) if u.form in seen else both) for u in kw.units)
        out.append(_Keyword(rule, kw.weights))
    return tuple(out)

def _unique(examples: Iterable[_Example]) -> tuple[_Example, ...]:
    """Examples or keywords that read the same once normalised ("no", "nope") count once."""
    seen: dict[tuple[Unit, ...], _Example] = {}
    for e in examples:
        seen.setdefault(e.units, e)
    return tuple(seen.values())


def _has_negation(us: Iterable[Unit]) -> bool:
    return any(u.form in ("not", "no", "不") or u.neg for u in us)


FUZZY_WORD_MIN = 75.0
FUZZY_WORD_LEN = 4
FUZZY_PHRASE_MIN = 80.0
STOPWORD_WEIGHT = 0.4
PRECISION_SHARE = 0.3
WHOLE_SHARE = 0.8


class IntentMatcher:
    """Intents compiled once; ``match`` scores one utterance against all of them."""

    def __init__(self, intents: Iterable[IntentLike]) -> None:
        raw = [
            (i.name, [(x, *_example_units(x)) for x in i.examples], [(x, *_example_units(x)) for x in i.keywords])
            for i in intents
        ]
        df: dict[str, int] = {}
        for _, exs, kws in raw:
            for form in {u.form for _, us, _ in exs + kws for u in us}:
                df[form] = df.get(form, 0) + 1
        n = len(raw)
        self._idf = {f: math.log(1 + n / d) / math.log(1 + n) for f, d in df.items()} if n > 1 else {}
        compiled = []
        for name, exs, kws in raw:
            examples = _unique(self._compile(x, us, all_us) for x, us, all_us in exs if us)
            keywords = _unique(self._compile(x, us, all_us) for x, us, all_us in kws if us)
            compiled.append(_CompiledIntent(name, examples, keywords, _keyword_rules(examples, keywords)))
        self.intents = tuple(compiled)
        vocab = {
            u.form
            for i in self.intents
            for e in i.examples + i.keywords
            for u in e.units
            if len(u.form) >= FUZZY_WORD_LEN and not is_cjk(u.form)
        }
        self._vocab = sorted(vocab)
        self._phrases = [(i.name, e) for i in self.intents for e in i.examples]
        self._phrase_texts = [e.text for _, e in self._phrases]

    def weight(self, form: str) -> float:
        base = STOPWORD_WEIGHT if form in STOPWORDS else 1.0
        return base * self._idf.get(form, 1.0)

    def _size(self, all_units: Iterable[Unit]) -> float:
        """Weighted size: each word by its weight, each CJK character as 1 (bigrams are not counted)."""
        return sum(
            (1.0 if len(u.form) == 1 else 0.0) if is_cjk(u.form) else self.weight(u.form) for u in all_units
        )

    def _compile(self, text: str, us: tuple[Unit, ...], all_units: list[Unit]) -> _Example:
        weights = tuple(self.weight(u.form) for u in us)
        joined = " ".join(t for c in clauses(normalise_text(text)) for t in c)
        return _Example(us, weights, sum(weights), self._size(all_units), joined, _has_negation(us))

    def _present(self, utt: list[Unit]) -> dict[str, dict[bool, float]]:
        present: dict[str, dict[bool, float]] = {}
        for u in utt:
            present.setdefault(u.form, {})[u.neg] = 1.0
        for u in utt:
            if len(u.form) < FUZZY_WORD_LEN or is_cjk(u.form) or u.form in self._idf:
                continue
            for word, sim, _ in process.extract(
                u.form, self._vocab, scorer=fuzz.ratio, score_cutoff=FUZZY_WORD_MIN, limit=None
            ):
                slot = present.setdefault(word, {})
                slot[u.neg] = max(slot.get(u.neg, 0.0), sim / 100.0)
        return present

    @staticmethod
    def _score(ex: _Example, present: dict[str, dict[bool, float]], size: float) -> tuple[float, float, bool]:
        """Quality, weighted share of conflicts, and whether every unit was found."""
        got = conflict = 0.0
        missing = False
        for (form, neg), w in zip(ex.units, ex.weights, strict=True):
            seen = present.get(form)
            s = seen.get(neg, 0.0) if seen else 0.0
            if s:
                got += w * s
            else:
                missing = True
                if seen and seen.get(not neg):
                    conflict += w
        recall = got / ex.total
        precision = min(1.0, ex.size * recall / max(size, 1e-9))
        conflicts = conflict / ex.total
        return recall * (1 - PRECISION_SHARE + PRECISION_SHARE * precision) - 0.5 * conflicts, conflicts, not missing

    def qualities(self, text: str) -> dict[str, float]:
        """Each intent's match quality; what follows "but" or an opening yes/no counts most."""
        scores = self._qualities(text)
        point = last_point(text)
        if point is None:
            return scores
        focused = self._qualities(point)
        return {k: round(max(WHOLE_SHARE * v, focused[k]), 4) for k, v in scores.items()}

    def _qualities(self, text: str) -> dict[str, float]:
        utt, _ = analyse(text)
        scores = {i.name: 0.0 for i in self.intents}
        if not utt:
            return scores
        size = self._size(utt)
        present = self._present(utt)
        phrase_best: dict[str, float] = {}
        utt_negative = _has_negation(utt)
        joined = " ".join(t for c in clauses(normalise_text(text)) for t in c)
        for _, sim, idx in process.extract(
            joined, self._phrase_texts, scorer=fuzz.ratio, score_cutoff=FUZZY_PHRASE_MIN, limit=None
        ):
            name, ex = self._phrases[idx]
            if ex.negative == utt_negative:
                phrase_best[name] = max(phrase_best.get(name, 0.0), 0.95 * sim / 100.0)
        for intent in self.intents:
            best = phrase_best.get(intent.name, 0.0)
            for ex in intent.examples:
                best = max(best, self._score(ex, present, size)[0])
            for kw in intent.keywords:  # a keyword phrase of two or more words counts as an example too
                if sum(1 for u in kw.units if u.form not in STOPWORDS) >= 2:
                    best = max(best, self._score(kw, present, size)[0])
            hits = 0
            conflicts = 0.0
            for rule in intent.rules:
                found = conflict = 0.0
                for (form, allowed), w in zip(rule.units, rule.weights, strict=True):
                    said = present.get(form)
                    if said and any(said.get(p) for p in allowed):
                        found += w
                    elif said:
                        conflict += w
                total = sum(rule.weights)
                if conflict >= 0.5 * total:
                    conflicts += 1
                elif found >= total - 1e-9:
                    hits += 1
            kw_q = min(0.8, 0.45 + 0.15 * hits) if hits else 0.0
            quality = min(1.0, max(best, kw_q) + 0.05 * hits) - 0.25 * conflicts
            scores[intent.name] = round(max(0.0, quality), 4)
        return scores

    def match(
        self, text: str, *, asr_confidence: float = 1.0, min_margin: float = 0.2, min_quality: float = 0.4
    ) -> IntentMatch:
        scores = self.qualities(text)
        ranked = tuple(Candidate(n, s) for n, s in sorted(scores.items(), key=lambda kv: -kv[1]))
        if not ranked or ranked[0].score < min_quality or ranked[0].score <= 0:
            return IntentMatch(None, 0.0, scores, ranked)
        top = ranked[0].score
        runner = ranked[1].score if len(ranked) > 1 else 0.0
        margin = (top - runner) / top
        if margin < min_margin or margin <= 0:
            return IntentMatch(None, 0.0, scores, ranked)
        asr = max(0.0, min(1.0, asr_confidence))
        return IntentMatch(ranked[0].intent, round(top * min(1.0, 0.5 + margin) * asr, 3), scores, ranked)


_CACHE: dict[tuple[object, ...], IntentMatcher] = {}
_CACHE_SIZE = 64
_CACHE_LOCK = threading.Lock()


def matcher_for(intents: Iterable[IntentLike]) -> IntentMatcher:
    items = tuple(intents)
    try:
        key = tuple((i.name, tuple(i.examples), tuple(i.keywords)) for i in items)
    except TypeError:
        return IntentMatcher(items)
    with _CACHE_LOCK:  # conversations on several lines match at once
        found = _CACHE.get(key)
    if found is None:
        found = IntentMatcher(items)
        with _CACHE_LOCK:
            while len(_CACHE) >= _CACHE_SIZE:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[key] = found
    return found


def match_intent(
    text: str,
    intents: Iterable[IntentLike],
    *,
    asr_confidence: float = 1.0,
    min_margin: float = 0.2,
    min_quality: float = 0.4,
) -> IntentMatch:
    """Score each intent; the best wins only with enough quality and a clear margin over the runner-up."""
    return matcher_for(intents).match(
        text, asr_confidence=asr_confidence, min_margin=min_margin, min_quality=min_quality
    )
