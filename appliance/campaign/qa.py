"""Automatic QA tags, decided at the end of a call as a pure function: no I/O, no clock.

``tag_call(facts, settings) -> list[Tag]`` reads :class:`CallFacts` (the call's turns as they are stored, its
outcome and disposition, whether the flow reached a hang-up node, the longest customer silence when it is known)
against ``[qa]`` (:class:`~appliance.config.QaConfig`) and gives each tag a short reason in words. Turns are
counted from 1 in the call's transcript (the stored ``seq`` + 1). ``conclude`` tags each conversation and the
records store writes the tags in the transaction that ends the call (``appliance.records.qa``).

- ``asr_error``: a spoken customer turn heard with a recognition confidence below ``min_asr_confidence``.
- ``intent_error``: an intent chosen with a lead over the runner-up below ``min_intent_margin``; or a decision the
  customer contradicted later: two different intents at one question (a yes, then a no when it was asked again), or
  the second of a pair of ``opposite_intents`` after the first.
- ``intent_not_triggered``: the customer spoke and nothing matched (a spoken ``no_match`` turn).
- ``long_silence``: the customer was silent for ``long_silence_s`` or longer (``longest_silence_ms``).
- ``barge_in``: the customer talked over the bot (a bot turn ``barge_in``).
- ``fallback_used``: the flow took its fallback path (a bot turn ``fallback``: no-input or no-match past the node's
  limit), ended with its fallback disposition ``no_response``, handed the customer to a person (``handoff``) after
  turns it did not understand, or a question (where, what, ...) got no answer (no intent, no knowledge-base entry).
- ``hung_up_mid_flow``: the customer (not the box, nor a line fault) hung up before the flow reached a hang-up node.

The dispositions and events are the flow engine's names (``appliance.dialog.flow.model.DISPOSITIONS``,
``appliance.dialog.runtime.engine``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from appliance.config import QaConfig
from appliance.records.conclusion import Turn

__all__ = ["CallFacts", "Tag", "silence_from_no_input", "tag_call"]

FALLBACK_DISPOSITION = "no_response"  # the example flows' fallback node ends so
HANDOFF_DISPOSITION = "handoff"
NOT_UNDERSTOOD = ("no_match", "no_input")
SPOKEN_EVENTS = ("speech", "no_match", "kb", "")  # customer turns the recogniser heard ('': stored before events)
NOT_DECISIONS = ("kb:", "slot:")  # a knowledge-base answer, a slot's value: no intent chosen over another
QUESTION_WORDS = frozenset({"what", "where", "when", "why", "who", "whose", "which", "how"})
QUESTION_OPENERS = (("can", "you"), ("could", "you"), ("do", "you"), ("is", "there"), ("are", "you"))
QUESTION_MARKS_CJK = ("吗", "什么", "哪", "怎么", "多少", "为什么", "谁")
KEYPAD = frozenset("0123456789*#ABCD")
SHOWN = 3  # turns named in one reason; more are counted


@dataclass(frozen=True)
class Tag:
    name: str
    reason: str


@dataclass(frozen=True)
class CallFacts:
    """What a call produced, as QA reads it. ``longest_silence_ms``: the customer's longest silence, measured or
    worked out from the no-input turns (:func:`silence_from_no_input`); None when unknown. ``ended_by``: who ended
    the call on the line (the line's words: ``remote`` is the customer, ``bot`` the box, e.g. when the call ran out
    of time); None when unknown."""

    turns: tuple[Turn, ...]
    outcome: str
    disposition: str | None = None
    flow_ended: bool = False
    longest_silence_ms: int | None = None
    ended_by: str | None = None


def silence_from_no_input(turns: Sequence[Turn], timeout_ms: Mapping[str, int]) -> int | None:
    """The longest customer silence the no-input turns show: a no-input turn means the customer said nothing for
    its node's no-input time (``timeout_ms``: node -> ms); no-input turns with no customer word between them are
    one silence (the re-prompts between them are the bot's), so their times add up (a lower bound: the re-prompts
    are not counted). None when the call has no no-input turn."""
    longest: int | None = None
    run = 0
    for t in turns:
        if t.speaker != "customer":
            continue
        if t.event == "no_input":
            run += timeout_ms.get(t.node or "", 0)
            longest = max(longest or 0, run)
        else:
            run = 0
    return longest


def _quote(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _listed(found: Sequence[str]) -> str:
    shown = "; ".join(found[:SHOWN])
    return shown if len(found) <= SHOWN else f"{shown} (and {len(found) - SHOWN} more)"


def _spoken(t: Turn) -> bool:
    """A customer turn of speech (not keys: a key that matched nothing is a ``no_match`` turn of its digits)."""
    return (t.speaker == "customer" and bool(t.text) and t.event in SPOKEN_EVENTS
            and not set(t.text) <= KEYPAD)


def _asr_error(facts: CallFacts, qa: QaConfig) -> Tag | None:
    found = [f"turn {i + 1} {_quote(t.text)} heard with confidence {t.asr_confidence:.2f} < "
             f"{qa.min_asr_confidence:.2f}"
             for i, t in enumerate(facts.turns)
             if _spoken(t) and t.asr_confidence is not None and t.asr_confidence < qa.min_asr_confidence]
    return Tag("asr_error", _listed(found)) if found else None


def _decisions(turns: Sequence[Turn]) -> list[tuple[int, Turn]]:
    """The customer turns that chose an intent (by voice or key), without the ones that asked the bot to repeat
    itself (the bot's next turn is a ``repeat``)."""
    out = []
    for i, t in enumerate(turns):
        if t.speaker != "customer" or not t.intent or t.intent.startswith(NOT_DECISIONS):
            continue
        reply = next((n for n in turns[i + 1:] if n.speaker == "bot"), None)
        if reply is not None and reply.event == "repeat":
            continue
        out.append((i, t))
    return out


def _intent_error(facts: CallFacts, qa: QaConfig) -> Tag | None:
    found = [f"turn {i + 1} {_quote(t.text)} taken as {t.intent} with a lead of {t.margin:.2f} < "
             f"{qa.min_intent_margin:.2f} over the runner-up"
             for i, t in enumerate(facts.turns)
             if t.speaker == "customer" and t.intent and t.margin is not None and t.margin < qa.min_intent_margin]
    opposite = {frozenset(pair) for pair in qa.opposite_intents}
    decisions = _decisions(facts.turns)
    for n, (i, first) in enumerate(decisions):
        for j, later in decisions[n + 1:]:
            if later.intent == first.intent:
                continue
            if later.node == first.node:
                found.append(f"turn {i + 1} said {first.intent} and turn {j + 1} {later.intent} at {first.node}")
            elif frozenset((first.intent, later.intent)) in opposite:
                found.append(f"turn {j + 1} {later.intent} (at {later.node}) contradicts turn {i + 1} "
                             f"{first.intent} (at {first.node})")
    return Tag("intent_error", _listed(found)) if found else None


def _intent_not_triggered(facts: CallFacts, qa: QaConfig) -> Tag | None:
    found = [f"turn {i + 1} {_quote(t.text)} matched nothing at {t.node}"
             for i, t in enumerate(facts.turns) if _spoken(t) and t.event == "no_match"]
    return Tag("intent_not_triggered", _listed(found)) if found else None


def _long_silence(facts: CallFacts, qa: QaConfig) -> Tag | None:
    ms = facts.longest_silence_ms
    if ms is None or ms < qa.long_silence_s * 1000:
        return None
    return Tag("long_silence", f"the customer was silent for {ms / 1000:.1f} s >= {qa.long_silence_s:g} s")


def _barge_in(facts: CallFacts, qa: QaConfig) -> Tag | None:
    found = [f"turn {i + 1} at {t.node}" for i, t in enumerate(facts.turns)
             if t.speaker == "bot" and t.event == "barge_in"]
    if not found:
        return None
    times = "once" if len(found) == 1 else f"{len(found)} times"
    return Tag("barge_in", f"the customer talked over the bot {times}: {_listed(found)}")


def _is_question(text: str) -> bool:
    words = text.lower().replace("?", " ").split()
    if any(mark in text for mark in QUESTION_MARKS_CJK):
        return True
    return bool(words) and (words[0] in QUESTION_WORDS or tuple(words[:2]) in QUESTION_OPENERS)


def _fallback_used(facts: CallFacts, qa: QaConfig) -> Tag | None:
    found = [f"turn {i + 1}: the flow's fallback path at {t.node}"
             for i, t in enumerate(facts.turns) if t.speaker == "bot" and t.event == "fallback"]
    found += [f"turn {i + 1} {_quote(t.text)} is a question the bot had no answer for"
              for i, t in enumerate(facts.turns) if _spoken(t) and t.event == "no_match" and _is_question(t.text)]
    if facts.disposition == FALLBACK_DISPOSITION and not found:
        found.append(f"the call ended {FALLBACK_DISPOSITION}, the flow's fallback")
    missed = sum(1 for t in facts.turns if t.speaker == "customer" and t.event in NOT_UNDERSTOOD)
    if facts.disposition == HANDOFF_DISPOSITION and missed:
        found.append(f"handed to a person after {missed} turn(s) the bot did not understand")
    return Tag("fallback_used", _listed(found)) if found else None


def _hung_up_mid_flow(facts: CallFacts, qa: QaConfig) -> Tag | None:
    if facts.outcome != "hung_up" or facts.flow_ended or facts.ended_by not in (None, "remote"):
        return None  # finished, or not the customer's doing (the box hung up when the call ran out of time)
    node = next((t.node for t in reversed(facts.turns) if t.node and t.node != "answer"), None)
    where = f" at {node}" if node else ""
    return Tag("hung_up_mid_flow", f"the customer hung up{where} before the flow ended")


# tag -> (switch, rule), in the order tags are listed
RULES: tuple[tuple[str, Callable[[QaConfig], bool], Callable[[CallFacts, QaConfig], Tag | None]], ...] = (
    ("asr_error", lambda qa: qa.asr_error, _asr_error),
    ("intent_error", lambda qa: qa.intent_error, _intent_error),
    ("intent_not_triggered", lambda qa: qa.intent_not_triggered, _intent_not_triggered),
    ("long_silence", lambda qa: qa.long_silence, _long_silence),
    ("barge_in", lambda qa: qa.barge_in, _barge_in),
    ("fallback_used", lambda qa: qa.fallback_used, _fallback_used),
    ("hung_up_mid_flow", lambda qa: qa.hung_up_mid_flow, _hung_up_mid_flow),
)


def tag_call(facts: CallFacts, settings: QaConfig) -> list[Tag]:
    """The automatic tags the call earns under ``settings``, each once, in :data:`RULES` order."""
    tags: Iterable[Tag | None] = (rule(facts, settings) for _, on, rule in RULES if on(settings))
    return [t for t in tags if t is not None]
