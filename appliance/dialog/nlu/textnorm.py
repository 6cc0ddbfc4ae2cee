"""What the customer said, normalised into the units the intent matcher compares.

Public API (``nlu.py`` re-exports these):

``normalise_text(text) -> str``
    NFKC (full-width forms become ASCII), Traditional Chinese characters folded to Simplified (``hanzi.py``),
    case-folded, typographic apostrophes straightened, English
    contractions expanded (``won't`` -> ``will not``, ``i'll`` -> ``i will``; apostrophe-less ASR forms
    too: ``dont`` -> ``do not``), and a few everyday equivalents folded to one word, the same way in
    examples and utterances: ``ok``/``alright``/``all right`` -> ``okay``; ``yep``/``yup``/``yea`` ->
    ``yeah``; ``definitely``/``certainly``/``absolutely``/``of course`` -> ``sure`` (but ``absolutely
    not`` -> ``no``); ``no problem``/``no worries``/``not a problem`` -> ``fine``; ``somebody``/``anyone``/
    ``anybody`` -> ``someone``, ``anything`` -> ``something``; ``gonna``/``wanna`` -> ``going to``/``want to``.
``clauses(text) -> list[list[str]]``: tokens of a normalised text per clause.
``analyse(text) -> (list[Unit], size)``, ``units(text) -> list[Unit]``
    ``Unit(form, neg)``: English words (negators made canonical: ``no``/``nope``/``nah`` -> ``no``;
    ``not``/``never``/``neither``/``nor``/``none`` -> ``not``; ``nobody``/``no one`` -> ``not someone``,
    ``nothing`` -> ``not something``, ``nowhere`` -> ``not somewhere``) and, for Chinese, Japanese and
    Korean, single characters and character bigrams; ``size`` is words plus CJK characters.
``last_point(text) -> str | None``: what follows "but" or an opening bare yes/no.
``is_cjk(token) -> bool``; ``STOPWORDS``: words that weigh less in a match and do not use up a scope.

Negation scope: ``not``/``never``/``nobody``... negate the next three content words of the same clause
(stopwords in between are negated too but do not count; clauses end at punctuation and at "but",
"although", "however", "though", "except"); ``no``/``nope`` are answers in themselves and negate nothing.
In Chinese 不/没/沒/别/別/未/不要/没有 negate the next three characters of the run (and are all read as
不; a few spoken variants are folded too: 晚一点 -> 晚点, 等一下 -> 等会);
Japanese ない/ません/なく negate the three characters before them. Korean 안/못 as words negate the next
word; a word starting 않 (받지 않아요) negates the word before it.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

from appliance.dialog.nlu.hanzi import to_simplified


class Unit(NamedTuple):
    form: str
    neg: bool


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
    (re.compile(r"\b(it|that|there|what|who|he|she|here|where|when|how)'s\b"), r"\1 is"),
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
    "gonna": "going to", "wanna": "want to", "gotta": "got to",
}  # fmt: skip
_BARE_RE = re.compile(r"\b(" + "|".join(_BARE) + r")\b")
_FOLDS = [
    (re.compile(r"\b(?:absolutely|certainly|definitely|of course|sure) not\b"), "no"),
    (re.compile(r"\b(?:unfortunately|sadly|(?:i am )?afraid|i guess|i think|probably|sorry),? not\b"), "no"),
    (re.compile(r"^not really\b|\bi do not think so\b"), "no"),
    (re.compile(r"\bno (?:problem|problems|worries|bother)\b|\bnot a problem\b"), "fine"),
    (re.compile(r"\b(?:sounds good|sounds great|perfect|great|excellent|lovely|brilliant)\b"), "fine"),
    (re.compile(r"\b(?:all right|alright|okey dokey|okey|ok)\b"), "okay"),
    (re.compile(r"\b(?:yep|yup|yea)\b"), "yeah"),
    (re.compile(r"\b(?:definitely|certainly|absolutely|of course)\b"), "sure"),
    (re.compile(r"\b(?:somebody|anybody|anyone)\b"), "someone"),
    (re.compile(r"\banything\b"), "something"),
]


def normalise_text(text: str) -> str:
    text = to_simplified(unicodedata.normalize("NFKC", text).casefold())  # Whisper may write Traditional
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    for pattern, repl in _CONTRACTIONS:
        text = pattern.sub(repl, text)
    text = _BARE_RE.sub(lambda m: _BARE[m.group(1)], text)
    for pattern, repl in _FOLDS:
        text = pattern.sub(repl, text)
    for word, repl in CJK_FOLDS.items():
        text = text.replace(word, repl)
    return text


SCOPED_NEGATORS = {
    "not": (), "never": (), "neither": (), "nor": (), "none": (),
    "nobody": ("someone",), "noone": ("someone",), "nothing": ("something",), "nowhere": ("somewhere",),
}  # fmt: skip
ANSWER_NEGATORS = frozenset({"no", "nope", "nah", "naw"})
CLAUSE_WORDS = frozenset({"but", "although", "though", "however", "except", "yet"})
FILLERS = frozenset({"uh", "um", "umm", "uhm", "erm", "er", "hmm", "hm", "mm", "ah", "eh", "oh", "呃", "额"})
STOPWORDS = frozenset(
    "i me my mine we us our you your it its is am are was were be been being will would shall should can could "
    "do does did to the a an of for in on at by with from that this these those there and or so just have has "
    "had please going got get really very quite all even any some one".split()
)
NEGATION_SCOPE = 3
CJK_NEGATORS = {"不": "不", "没": "不", "沒": "不", "别": "不", "別": "不", "未": "不"}
CJK_FOLDS = {
    "不要": "不", "没有": "不", "沒有": "不", "晚一点": "晚点", "晚一些": "晚点", "等一下": "等会", "等一会": "等会",
    "一会儿": "一会", "稍等": "等会",
}  # fmt: skip
CJK_CLAUSE = ("但是", "可是", "不过", "但", "然后")
JA_SUFFIX_NEGATORS = ("ません", "ない", "なく")
KO_NEGATORS = frozenset({"안", "못"})
KO_SUFFIX_NEGATORS = ("않", "못해")

_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\u1100-\u11ff\u3130-\u318f"
_TOKEN = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+")
_CLAUSE_SPLIT = re.compile(r"[.,;:!?\u3001\u3002\uff0c\uff1b\uff1a\uff01\uff1f\u2026()\[\]\"]+|\s-\s")
_CJK_CHAR = re.compile(rf"[{_CJK}]")


def is_cjk(token: str) -> bool:
    return bool(_CJK_CHAR.match(token))


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


def _clause_units(tokens: list[str]) -> tuple[list[Unit], int]:
    out: list[Unit] = []
    size = 0
    left = 0
    prev_start = 0
    for tok in tokens:
        if tok in KO_NEGATORS:  # 안 돼요, 못 받아요
            out.append(Unit("不", False))
            left = NEGATION_SCOPE
            size += 1
            continue
        if tok.startswith(KO_SUFFIX_NEGATORS) and out:  # 받지 않아요: the word before is negated
            out[prev_start:] = [Unit(u.form, True) for u in out[prev_start:]]
            out.append(Unit("不", False))
            size += 1
            continue
        prev_start = len(out)
        if is_cjk(tok):
            units_, left = _cjk_units(tok, left)
            out += units_
            size += len(tok)
            continue
        size += 1
        if tok in SCOPED_NEGATORS:
            out.append(Unit("not", False))
            out += [Unit(w, True) for w in SCOPED_NEGATORS[tok]]
            left = NEGATION_SCOPE - len(SCOPED_NEGATORS[tok])
        elif tok in ANSWER_NEGATORS:
            out.append(Unit("no", False))
        else:
            out.append(Unit(tok, left > 0))
            if tok not in STOPWORDS:
                left = max(0, left - 1)
    return out, size


def analyse(text: str) -> tuple[list[Unit], int]:
    """Units of a text and its size (words plus CJK characters), negation scoped per clause."""
    out: list[Unit] = []
    size = 0
    for clause in clauses(normalise_text(text)):
        u, n = _clause_units(clause)
        out += u
        size += n
    return out, size


def units(text: str) -> list[Unit]:
    return analyse(text)[0]


ANSWER_WORDS = frozenset({"yes", "yeah", "no", "nope", "nah", "okay", "sure", "fine", "well", "right"})
_CONTRAST = re.compile(r"\b(?:but|however|though|although|except)\b|但是|可是|不过")


def last_point(text: str) -> str | None:
    """What follows a contrast ("yes but not tomorrow" -> "not tomorrow") or a bare yes/no that opens the
    answer ("no, call me later" -> "call me later"): the part that carries the answer. None if neither."""
    text = normalise_text(text)
    found = list(_CONTRAST.finditer(text))
    if found:
        rest = text[found[-1].end() :]
        return rest if _TOKEN.search(rest) else None
    tokens = _TOKEN.findall(text)
    lead = 0
    while lead < len(tokens) and (tokens[lead] in ANSWER_WORDS or tokens[lead] in FILLERS):
        lead += 1
    if 0 < lead < len(tokens):
        return " ".join(tokens[lead:])
    return None
