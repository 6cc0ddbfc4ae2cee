"""What the flow engine hands out: the next step, the transcript's turns, and the result of a run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from appliance.dialog.nlu.strength import Strength
from appliance.dialog.runtime.slot_fill import filled_json


@dataclass(frozen=True)
class Step:
    node: str
    say: str
    listen: bool
    grammar: tuple[str, ...] = ()
    dtmf: tuple[str, ...] = ()  # keys the node takes
    barge_in: bool = True
    no_input_ms: int = 7000
    long_wait_ms: int = 0  # wait this long for the end of a long answer (0: the usual wait)
    long_wait_when: tuple[str, ...] = ()  # always | slot | unfinished
    event: str = "prompt"  # prompt | no_input | no_match | kb | repeat | barge_in | hangup | ...


@dataclass(frozen=True)
class RenderedOperation:
    op: str
    text: str = ""
    delay_minutes: int = 0
    at: datetime | None = None  # schedule: at this time (a slot's) rather than after delay_minutes

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op}
        if self.text:
            out["text"] = self.text
        if self.op == "schedule":
            out["delay_minutes"] = self.delay_minutes
            out["at"] = self.at.isoformat(timespec="minutes") if self.at else None
        return out


@dataclass
class TurnRecord:
    speaker: str  # bot | customer | system (an API call)
    text: str
    node: str
    intent: str | None = None
    confidence: float | None = None  # the intent's (or slot's) confidence, the recogniser's folded in
    event: str = ""
    asr_confidence: float | None = None  # a spoken turn: the recogniser's own confidence (QA's asr_error)
    margin: float | None = None  # a matched intent's lead over the runner-up (IntentMatch.margin; QA's intent_error)

    def to_json(self) -> dict[str, Any]:
        return {"speaker": self.speaker, "text": self.text, "intent": self.intent, "confidence": self.confidence,
                "node": self.node, "event": self.event}


@dataclass
class FlowResult:
    disposition: str | None = None
    operations: list[RenderedOperation] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)  # name -> value (datetime for a time)
    intent_strength: Strength | None = None  # score, grade, reasons: set when the flow ends
    flow_id: str = ""
    flow_version: int | None = None

    def to_json(self) -> dict[str, Any]:
        strength = self.intent_strength
        return {
            "flow": self.flow_id,
            "flow_version": self.flow_version,
            "disposition": self.disposition,
            "slots": {k: filled_json(v) for k, v in self.slots.items()},
            "intent_strength": None if strength is None else strength.to_dict(),
            "operations": [op.to_json() for op in self.operations],
            "intents": list(self.intents),
        }


def schedule_time(op: RenderedOperation, now: datetime) -> datetime:
    """When a schedule operation wants the next call: its slot's time if later than now, else now + delay."""
    if op.at is not None and op.at > now:
        return op.at
    return now + timedelta(minutes=op.delay_minutes)
