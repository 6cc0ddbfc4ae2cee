"""Intent strength of a whole call: a 0-100 score, a grade A-D and the reasons in plain words.

Public API:

``StrengthTurn(speaker, text, intent=None, confidence=None, node=None, event=None)``
    One turn of the call as this module reads it. ``speaker`` is ``"customer"`` or ``"bot"`` (bot turns
    are ignored); ``event`` is ``"no_input"`` (silence), ``"no_match"`` (speech not understood),
    ``"barge_in"``, ``"kb"`` (a knowledge-base answer), ``"answer"``/``"greeting"`` (what the callee said on
    pick-up, ignored), ``"speech"``, ``"dtmf"`` or ``None``. Intents such as ``"kb:fee"`` or ``"slot:when"``
    (the engine's names for a question answered and a slot given) count as understood answers. A
    customer turn with empty text counts as no input and one with text but no intent as no match,
    whatever its event says. Anything with these attributes will do (``TurnLike``).
``intent_strength(turns, *, disposition, slots_filled=0, slots_required=0, ended_by="flow") -> Strength``
    ``ended_by``: ``"flow"`` (a hang-up node was reached), ``"customer"`` (the customer hung up before
    the end), ``"fallback"`` (the bot gave up after silences or no-matches), ``"error"``.
``Strength(score, grade, reasons)``; ``Strength.to_dict()`` for JSON.

The formula (points add up to 100):

* Outcome, 40: from the disposition (``DISPOSITION_POINTS``): confirmed / rescheduled / callback 40,
  handoff 20, any other disposition reached by the flow 20, wrong_number / do_not_call / no_response 0.
  A call the customer hung up on, or that ended in the fallback or an error, gets 0.
* Clarity, 25: 25 x the mean confidence of the customer's understood answers (0 if none).
* Slots, 15: 15 x slots filled / slots required (15 when none are required).
* Fluency, 20: 20 minus 10 per hesitation (a silence, an answer not understood, a request to repeat),
  down to -15: beyond two hesitations they cost more than the fluency share.
* Caps: a call the customer hung up on, or that ended in wrong_number / do_not_call / no_response, the
  fallback or an error, is at most 45 (grade D).

Grades: A >= 85, B >= 70, C >= 50, D below. So a confirmation at the first answer with confidence 0.9 is
A (40 + 22.5 + 15 + 20 = 97.5); after one answer not understood still A (87.5), after two B
(40 + 22.5 + 15 + 0 = 77.5), after three C (67.5); a confirmation heard with confidence 0.3 is B (82.5);
a customer who hangs up is D.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

DISPOSITION_POINTS: dict[str, float] = {
    "confirmed": 40.0,
    "rescheduled": 40.0,
    "callback": 40.0,
    "handoff": 20.0,
    "wrong_number": 0.0,
    "do_not_call": 0.0,
    "no_response": 0.0,
}
OTHER_DISPOSITION_POINTS = 20.0
NEGATIVE_DISPOSITIONS = frozenset({"wrong_number", "do_not_call", "no_response"})
REPEAT_INTENTS = frozenset({"repeat"})
GREETING_EVENTS = frozenset({"answer", "greeting"})
HESITATION_POINTS = 10.0
FLUENCY_FLOOR = -15.0
CAP_WHEN_LOST = 45.0
GRADES = ((85.0, "A"), (70.0, "B"), (50.0, "C"), (0.0, "D"))
ENDINGS = frozenset({"flow", "customer", "fallback", "error"})


class TurnLike(Protocol):
    @property
    def speaker(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def intent(self) -> str | None: ...
    @property
    def confidence(self) -> float | None: ...
    @property
    def event(self) -> str | None: ...  # no_input, no_match, greeting...; "" or None: an ordinary answer


@dataclass(frozen=True)
class StrengthTurn:
    speaker: str
    text: str
    intent: str | None = None
    confidence: float | None = None
    node: str | None = None
    event: str | None = None


@dataclass(frozen=True)
class Strength:
    score: int
    grade: str
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "grade": self.grade, "reasons": list(self.reasons)}


def grade_for(score: float) -> str:
    return next((g for floor, g in GRADES if score >= floor), GRADES[-1][1])


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def intent_strength(
    turns: Iterable[TurnLike],
    *,
    disposition: str | None,
    slots_filled: int = 0,
    slots_required: int = 0,
    ended_by: str = "flow",
) -> Strength:
    """Grade how clearly and how firmly the customer answered in this call (formula in the module docstring)."""
    if ended_by not in ENDINGS:
        raise ValueError(f"ended_by must be one of {sorted(ENDINGS)}, not {ended_by!r}")
    reasons: list[str] = []
    answers = silences = not_understood = repeats = 0
    first_decision: int | None = None
    confidences: list[float] = []
    for turn in turns:
        if turn.speaker != "customer" or turn.event in GREETING_EVENTS:
            continue
        answers += 1
        text = (turn.text or "").strip()
        event = turn.event
        if not text or event == "no_input":
            silences += 1
        elif turn.intent is None or event == "no_match":
            not_understood += 1
        elif turn.intent in REPEAT_INTENTS:
            repeats += 1
        else:
            confidences.append(max(0.0, min(1.0, turn.confidence if turn.confidence is not None else 0.0)))
            if first_decision is None:
                first_decision = answers

    lost = ended_by != "flow" or (disposition in NEGATIVE_DISPOSITIONS)
    if ended_by == "flow" and disposition is not None:
        outcome = DISPOSITION_POINTS.get(disposition, OTHER_DISPOSITION_POINTS)
        reasons.append(f"the call ended as {disposition.replace('_', ' ')} ({outcome:.0f} of 40 points)")
    else:
        outcome = 0.0
        reasons.append(
            {
                "customer": "the customer hung up before the end",
                "fallback": "the bot gave up after silences or answers it did not understand",
                "error": "the call ended in an error",
            }.get(ended_by, "the call ended without a disposition")
            + " (0 of 40 points)"
        )

    if confidences:
        mean = sum(confidences) / len(confidences)
        clarity = 25.0 * mean
        level = "high" if mean >= 0.8 else "medium" if mean >= 0.5 else "low"
        reasons.append(
            f"{_plural(len(confidences), 'answer')} understood with {level} confidence "
            f"(mean {mean:.2f}, {clarity:.0f} of 25 points)"
        )
    else:
        clarity = 0.0
        reasons.append("no answer was understood (0 of 25 points)")
    if first_decision == 1 and not lost:
        reasons.append("the customer answered clearly at the first question")

    if slots_required > 0:
        filled = max(0, min(slots_filled, slots_required))
        slot_points = 15.0 * filled / slots_required
        reasons.append(
            f"{filled} of {_plural(slots_required, 'required slot')} filled ({slot_points:.0f} of 15 points)"
        )
    else:
        slot_points = 15.0
        reasons.append("no slot was required (15 of 15 points)")

    hesitations = silences + not_understood + repeats
    fluency = max(FLUENCY_FLOOR, 20.0 - HESITATION_POINTS * hesitations)
    if hesitations:
        parts = []
        if silences:
            parts.append(f"stayed silent {_times(silences)}")
        if not_understood:
            parts.append(f"was not understood {_times(not_understood)}")
        if repeats:
            parts.append(f"asked to repeat {_times(repeats)}")
        reasons.append("the customer " + ", ".join(parts) + f" ({fluency:.0f} of 20 points)")
    else:
        reasons.append("no silence, no misunderstanding, no repeat (20 of 20 points)")

    score = outcome + clarity + slot_points + fluency
    if lost and score > CAP_WHEN_LOST:
        score = CAP_WHEN_LOST
        reasons.append(f"capped at {CAP_WHEN_LOST:.0f} because the call did not reach a useful answer")
    final = round(min(100.0, max(0.0, score)))  # fluency's floor is below 0: a call with nothing else is 0, not -15
    return Strength(final, grade_for(final), reasons)
