"""Intent matching from example phrases and keywords: normalisation, negation, fuzzy words, CJK n-grams.

Public API (stable; the flow engine and ``callbox flow try`` call it):

``match_intent(text, intents, *, asr_confidence=1.0, min_margin=0.2, min_quality=0.4) -> IntentMatch``
    ``intents`` are objects with ``name``, ``examples`` and ``keywords`` (``flow.Intent``, or anything
    shaped like :class:`IntentLike`, e.g. knowledge-base questions). Returns
    ``IntentMatch(intent, confidence, scores, candidates)``: ``intent`` is ``None`` when nothing matched
    well enough, when the best two tie, or when the best does not lead the runner-up by ``min_margin``
    (relative: ``(best - runner_up) / best``). ``scores`` maps every intent to its match quality (0..1);
    ``candidates`` are ``Candidate(intent, score)`` best first.
``IntentMatcher(intents)``
    The same, compiled once for a fixed set of intents (``match_intent`` keeps a small cache of these).
``normalise_text(text) -> str``
    NFKC (full-width forms become ASCII), case-folded, typographic apostrophes straightened, English
    contractions expanded (``won't`` -> ``will not``, ``i'll`` -> ``i will``, ``dont`` -> ``do not``).
``units(text) -> list[Unit]``
    What is matched: English words (negators made canonical: ``no``/``nope``/``nah`` -> ``no``;
    ``not``/``never``/``nobody``/``no one``/``nothing`` -> ``not``) and, for Chinese, Japanese and Korean,
    character bigrams and single characters, each flagged ``neg`` when it lies in a negation's scope.
``normalise(text) -> list[str]``
    The old word list (NFKC, lower case, apostrophes dropped), kept for the ASR bench's word counts.

How a match is scored
    Negation scope: ``not``/``never``/``nobody``… negate the next three words of the same clause
    (clauses end at punctuation and at "but", "although", "however", "though", "except"); ``no``/``nope``
    are answers in themselves and negate nothing. In Chinese 不/没/沒/别/別/未 negate the next three
    characters of the run (没 etc. are read as 不); Japanese ない/ません negate the three characters before.
    Example quality: each example unit found in the utterance with the same polarity counts (a word
    that differs by a slip, rapidfuzz ratio >= 75 for words of 4+ letters, counts as its ratio); found with
    the opposite polarity it is a conflict. ``recall * (0.7 + 0.3 * precision) - 0.5 * conflicts / units``
    where recall is the share of the example found and precision the share of the utterance it explains.
    A whole-utterance rapidfuzz ratio >= 80 against an example of the same polarity also counts (x 0.95),
    so merged or split words ("some one will be home") still match.
    Keywords: a keyword found (same polarity) is a hit; ``0.45 + 0.15 * hits`` (at most 0.8) when the
    examples did no better. An intent's quality is ``max(best example, keywords) + 0.05 * hits``
    (at most 1) ``- 0.25 * keyword conflicts``.
    Decision: best quality below ``min_quality`` -> no match; relative margin below ``min_margin``
    (ties included) -> no match. ``confidence = quality * min(1, 0.5 + margin) * asr_confidence``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from rapidfuzz import fuzz, process

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


class Unit(NamedTuple):
    form: str
    neg: bool


# --- normalisation -----------------------------------------------------------------------------------

_CONTRACTIONS = [
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bshan't\b"), "shall not"),
    (re.compile(r"\bain't\b"), "is not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'m\b"), " am"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'d\b"), " would"),
    (re.compile(r"\b(it|that|there|what|who|he|she|here)'s\b"), r"\1 is"),
    (re.compile(r"'s\b"), ""),
    (re.compile(r"\bno one\b"), "noone"),
    (re.compile(r"\bno body\b"), "nobody"),
    (re.compile(r"\bcannot\b"), "can not"),
]
# What ASR writes without the apostrophe.
_BARE = {
    "wont": "will not", "cant": "can not", "dont": "do not", "doesnt": "does not", "didnt": "did not",
    "isnt": "is not", "arent": "are not", "wasnt": "was not", "werent": "were not", "couldnt": "could not",
    "wouldnt": "would not", "shouldnt": "should not", "havent": "have not", "hasnt": "has not",
    "aint": "is not", "im": "i am", "ill": "i will", "ive": "i have", "youre": "you are", "thats": "that is",
}  # fmt: skip
_BARE_RE = re.compile(r"\b(" + "|".join(_BARE) + r")\b")


def normalise_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    for pattern, repl in _CONTRACTIONS:
        text = pattern.sub(repl, text)
    return _BARE_RE.sub(lambda m: _BARE[m.group(1)], text)


# --- units and negation scope ------------------------------------------------------------------------

SCOPED_NEGATORS = frozenset({"not", "never", "nobody", "noone", "nothing", "nowhere", "neither", "nor", "none"})
ANSWER_NEGATORS = frozenset({"no", "nope", "nah", "naw"})
CLAUSE_WORDS = frozenset({"but", "although", "though", "however", "except", "yet"})
FILLERS = frozenset({"uh", "um", "umm", "uhm", "erm", "er", "hmm", "hm", "mm", "ah", "eh", "oh", "呃", "额"})
NEGATION_SCOPE = 3
CJK_NEGATORS = {"不": "不", "没": "不", "沒": "不", "别": "不", "別": "不", "未": "不"}
CJK_CLAUSE = ("但是", "可是", "不过", "但", "然后")
JA_SUFFIX_NEGATORS = ("ません", "ない", "なく")

_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\u1100-\u11ff\u3130-\u318f"
_TOKEN = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+")
_CLAUSE_SPLIT = re.compile(r"[.,;:!?\u3001\u3002\uff0c\uff1b\uff1a\uff01\uff1f\u2026()\[\]\"]+|\s-\s")
_CJK_RUN = re.compile(rf"[{_CJK}]")


def is_cjk(token: str) -> bool:
    return bool(_CJK_RUN.match(token))


def clauses(text: str) -> list[list[str]]:
    """Tokens of a normalised text, split into clauses (punctuation and "but"-like words end a clause)."""
    for word in CJK_CLAUSE:
        text = text.replace(word, ",")
    out: list[list[str]] = []
    for part in _CLAUSE_SPLIT.split(text):
        current: list[str] = []
        for tok in _TOKEN.findall(part):
            if tok in CLAUSE_WORDS:
                out.append(current)
                current = []
            elif tok not in FILLERS:
                current.append(tok)
        out.append(current)
    return [c for c in out if c]


def _cjk_units(run: str, negated_from_before: int) -> tuple[list[Unit], int]:
    chars = [CJK_NEGATORS.get(c, c) for c in run]
    neg = [False] * len(chars)
    left = negated_from_before
    for i, c in enumerate(chars):
        if left > 0 and c != "不":
            neg[i] = True
            left -= 1
        if c == "不":
            left = NEGATION_SCOPE
    joined = "".join(chars)
    for suffix in JA_SUFFIX_NEGATORS:
        at = joined.find(suffix)
        while at >= 0:
            for j in range(max(0, at - NEGATION_SCOPE), at):
                neg[j] = True
            at = joined.find(suffix, at + 1)
    out = [Unit(c, neg[i]) for i, c in enumerate(chars)]
    out += [Unit(chars[i] + chars[i + 1], neg[i + 1]) for i in range(len(chars) - 1)]
    return out, left


def _tokens_units(tokens: list[str]) -> tuple[list[Unit], int]:
    """Units of one clause and its size (words plus CJK characters)."""
    out: list[Unit] = []
    size = 0
    left = 0
    for tok in tokens:
        if is_cjk(tok):
            units, left = _cjk_units(tok, left)
            out += units
            size += len(tok)
            continue
        size += 1
        if tok in SCOPED_NEGATORS:
            out.append(Unit("not", False))
            left = NEGATION_SCOPE
        elif tok in ANSWER_NEGATORS:
            out.append(Unit("no", False))
        else:
            out.append(Unit(tok, left > 0))
            left = max(0, left - 1)
    return out, size


def units(text: str) -> list[Unit]:
    return analyse(text)[0]


def analyse(text: str) -> tuple[list[Unit], int]:
    """Units of a text and its size (words plus CJK characters), negation scoped per clause."""
    out: list[Unit] = []
    size = 0
    for clause in clauses(normalise_text(text)):
        u, n = _tokens_units(clause)
        out += u
        size += n
    return out, size


def _example_units(text: str) -> tuple[tuple[Unit, ...], int]:
    """An example's units: a CJK run of two or more characters is matched by its bigrams only."""
    all_units, size = analyse(text)
    multi = {u.form for u in all_units if len(u.form) == 2 and is_cjk(u.form)}
    covered = {c for form in multi for c in form}
    kept = [u for u in all_units if not (len(u.form) == 1 and is_cjk(u.form) and u.form in covered)]
    return tuple(dict.fromkeys(kept)), size


# --- matching -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Example:
    units: tuple[Unit, ...]
    size: int
    text: str
    negative: bool


@dataclass(frozen=True)
class _CompiledIntent:
    name: str
    examples: tuple[_Example, ...]
    keywords: tuple[_Example, ...]


def _compile(text: str) -> _Example:
    u, size = _example_units(text)
    return _Example(u, size, " ".join(t for c in clauses(normalise_text(text)) for t in c), _has_negation(u))


def _has_negation(us: Iterable[Unit]) -> bool:
    return any(u.form in ("not", "no", "不") or u.neg for u in us)


FUZZY_WORD_MIN = 75.0
FUZZY_WORD_LEN = 4
FUZZY_PHRASE_MIN = 80.0


class IntentMatcher:
    """Intents compiled once; ``match`` scores one utterance against all of them."""

    def __init__(self, intents: Iterable[IntentLike]) -> None:
        self.intents = tuple(
            _CompiledIntent(
                i.name,
                tuple(e for e in (_compile(x) for x in i.examples) if e.units),
                tuple(k for k in (_compile(x) for x in i.keywords) if k.units),
            )
            for i in intents
        )
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

    def _present(self, utt: list[Unit]) -> dict[str, dict[bool, float]]:
        present: dict[str, dict[bool, float]] = {}
        for u in utt:
            present.setdefault(u.form, {})[u.neg] = 1.0
        for u in utt:
            if len(u.form) < FUZZY_WORD_LEN or is_cjk(u.form) or u.form in self._vocab:
                continue
            for word, sim, _ in process.extract(
                u.form, self._vocab, scorer=fuzz.ratio, score_cutoff=FUZZY_WORD_MIN, limit=None
            ):
                slot = present.setdefault(word, {})
                slot[u.neg] = max(slot.get(u.neg, 0.0), sim / 100.0)
        return present

    @staticmethod
    def _score(ex: _Example, present: dict[str, dict[bool, float]], size: int) -> tuple[float, int]:
        got = 0.0
        conflicts = 0
        for form, neg in ex.units:
            seen = present.get(form)
            if not seen:
                continue
            s = seen.get(neg, 0.0)
            if s:
                got += s
            elif seen.get(not neg):
                conflicts += 1
        n = len(ex.units)
        recall = got / n
        precision = min(1.0, ex.size * recall / max(1, size))
        return recall * (0.7 + 0.3 * precision) - 0.5 * conflicts / n, conflicts

    def qualities(self, text: str) -> dict[str, float]:
        utt, size = analyse(text)
        scores = {i.name: 0.0 for i in self.intents}
        if not utt:
            return scores
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
            hits = conflicts = 0
            for kw in intent.keywords:
                q, c = self._score(kw, present, kw.size)
                if c:
                    conflicts += 1
                elif q >= 0.75 * 0.7:
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


def matcher_for(intents: Iterable[IntentLike]) -> IntentMatcher:
    items = tuple(intents)
    try:
        key = tuple((i.name, tuple(i.examples), tuple(i.keywords)) for i in items)
    except TypeError:
        return IntentMatcher(items)
    found = _CACHE.get(key)
    if found is None:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        found = _CACHE[key] = IntentMatcher(items)
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
