"""The flow engine: a pure state machine from customer turns to bot prompts.

It knows nothing of audio. The conversation (``conversation.py``) feeds it
what the recogniser heard and plays what it says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from appliance.dialog.flow import Flow, Node
from appliance.dialog.nlu import match_intent


@dataclass(frozen=True)
class Step:
    node: str
    say: str
    listen: bool
    grammar: tuple[str, ...] = ()


@dataclass(frozen=True)
class RenderedOperation:
    op: str
    text: str = ""
    delay_minutes: int = 0


@dataclass
class TurnRecord:
    speaker: str
    text: str
    node: str
    intent: str | None = None
    confidence: float | None = None


@dataclass
class FlowResult:
    disposition: str | None = None
    operations: list[RenderedOperation] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)


class _Vars(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


class FlowRun:
    """One pass through a flow for one call."""

    def __init__(self, flow: Flow, variables: dict[str, Any]) -> None:
        self.flow = flow
        self.vars = _Vars(variables)
        self.turns: list[TurnRecord] = []
        self.result = FlowResult()
        self._node: Node = flow.nodes[flow.start]
        self._retries = 0
        self.finished = False

    def _render(self, template: str) -> str:
        return template.format_map(self.vars)

    def _enter(self, node_id: str, *, say: str | None = None) -> Step:
        node = self.flow.nodes[node_id]
        self._node = node
        self._retries = 0
        text = self._render(say if say is not None else node.say)
        self.turns.append(TurnRecord("bot", text, node.id))
        if node.type == "hangup":
            self.finished = True
            self.result.disposition = node.disposition
            self.result.operations = [
                RenderedOperation(op.op, self._render(op.text), op.delay_minutes) for op in node.operations
            ]
            return Step(node.id, text, listen=False)
        return Step(node.id, text, listen=True, grammar=tuple(self.flow.expected_phrases(node)))

    def start(self) -> Step:
        return self._enter(self.flow.start)

    def note_greeting(self, text: str) -> None:
        """The callee spoke first on answering ("Hello?"): part of the transcript, not of the flow."""
        self.turns.append(TurnRecord("customer", text.strip(), "answer"))

    def hear(self, text: str, *, confidence: float = 1.0) -> Step:
        """The customer said ``text`` (empty: silence until the no-input timeout)."""
        if self.finished:
            raise RuntimeError("the flow has already ended")
        node = self._node
        text = text.strip()
        intents = [self.flow.intents[b.intent] for b in node.branches]
        match = match_intent(text, intents, asr_confidence=confidence) if text else None
        self.turns.append(
            TurnRecord("customer", text, node.id, match.intent if match else None, match.confidence if match else None)
        )
        if match is not None and match.intent is not None:
            self.result.intents.append(match.intent)
            target = next(b.next for b in node.branches if b.intent == match.intent)
            return self._enter(target)
        if self._retries < node.max_retries and node.reprompt:
            self._retries += 1
            say = self._render(node.reprompt)
            self.turns.append(TurnRecord("bot", say, node.id))
            return Step(node.id, say, listen=True, grammar=tuple(self.flow.expected_phrases(node)))
        fallback = node.no_match_next if text else node.no_input_next
        assert fallback is not None
        return self._enter(fallback)
