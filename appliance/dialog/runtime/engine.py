"""The flow engine: a pure state machine from customer turns to bot prompts.

It knows nothing of audio. The conversation (``conversation.py``) feeds it what the recogniser heard (``hear``),
silence (``no_input``), key presses (``dtmf``) and interruptions (``interrupted``), and plays what it says. API
nodes run inside it through an injected HTTP client; time comes from an injected clock, so a run is repeatable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

from appliance.dialog.flow.model import Flow, Intent, Node, Slot
from appliance.dialog.nlu.intents import match_intent
from appliance.dialog.nlu.strength import Strength, intent_strength
from appliance.dialog.runtime.api_client import HttpClient, urllib_client
from appliance.dialog.runtime.api_node import run_api_node
from appliance.dialog.runtime.slot_fill import fill_slot
from appliance.dialog.runtime.steps import FlowResult, RenderedOperation, Step, TurnRecord, schedule_time
from appliance.errors import FlowError

__all__ = ["VOICEMAIL_LEFT", "FlowResult", "FlowRun", "RenderedOperation", "Step", "TurnRecord", "schedule_time"]

log = logging.getLogger(__name__)

VOICEMAIL_LEFT = "voicemail_left"  # the disposition of a call that left the flow's message on a machine
MAX_HOPS = 32  # nodes passed without listening (API nodes, filled slots) before the flow is called a loop


class _Vars(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def _escalate(prompts: tuple[str, ...], count: int) -> str | None:
    return prompts[min(count, len(prompts)) - 1] if prompts else None


class FlowRun:
    """One pass through a flow for one call."""

    def __init__(self, flow: Flow, variables: dict[str, Any], *, version: int | None = None,
                 http: HttpClient | None = None, clock: Callable[[], datetime] | None = None,
                 tz: tzinfo | None = None) -> None:
        self.flow = flow
        self.vars = _Vars(flow.declared.values(variables))  # the flow's defaults under what was given
        self.turns: list[TurnRecord] = []
        self.result = FlowResult(flow_id=flow.id, flow_version=version)
        self.http = http or urllib_client
        self.clock = clock or (lambda: datetime.now(UTC))
        self.tz = tz or datetime.now().astimezone().tzinfo or UTC
        self._node: Node = flow.nodes[flow.start]
        self._no_input = 0
        self._no_match = 0
        self._question = ""  # what the node asked last: said again on "repeat", after a KB answer
        self._asking: Slot | None = None
        self._last: Step | None = None
        self._visited: dict[str, None] = {}  # dialogue nodes entered, in order
        self._fell_back = False
        self.finished = False

    @property
    def node(self) -> Node:
        return self._node

    # -- rendering and steps ---------------------------------------------------
    def _render(self, template: str) -> str:
        self.vars["question"] = self._question
        return template.format_map(self.vars).strip()

    def _bot(self, text: str, event: str) -> None:
        if text:
            self.turns.append(TurnRecord("bot", text, self._node.id, event=event))

    def _listen_step(self, say: str, event: str) -> Step:
        node, vui = self._node, self._node.vui
        lu = vui.long_utterance
        long_ms = 0
        if lu.enabled and ("always" in lu.when or "unfinished" in lu.when
                           or ("slot" in lu.when and self._asking is not None)):
            long_ms = lu.wait_ms
        free = self.flow.listens_free_form(node) or (node.listen is not None and node.listen.free_form)
        self._bot(say, event)
        step = Step(node.id, say, True, () if free else tuple(self.flow.expected_phrases(node)),
                    dtmf=tuple(d.digit for d in node.dtmf) if node.dtmf else self._digit_slot_keys(node),
                    barge_in=vui.barge_in, no_input_ms=vui.no_input_ms, long_wait_ms=long_ms,
                    long_wait_when=lu.when if long_ms else (), event=event)
        self._last = step
        return step

    @staticmethod
    def _digit_slot_keys(node: Node) -> tuple[str, ...]:
        return tuple("0123456789*#") if any(s.type in ("number", "phone", "enum") for s in node.slots) else ()

    def _join(self, *parts: str) -> str:
        sep = "" if self.flow.language.split("-")[0] in ("zh", "ja") else " "  # no spaces between sentences
        return sep.join(p for p in parts if p)

    # -- moving between nodes --------------------------------------------------
    def _enter(self, node_id: str, *, prefix: str = "", event: str = "prompt") -> Step:
        said = [prefix] if prefix else []
        for _ in range(MAX_HOPS):
            node = self.flow.nodes[node_id]
            self._node, self._no_input, self._no_match, self._asking = node, 0, 0, None
            if node.type == "api":
                if node.say:
                    said.append(self._render(node.say))
                node_id, what, api_event = run_api_node(node, self.vars, self._render, self.http)
                self.turns.append(TurnRecord("system", what, node.id, event=api_event))
                continue
            if node.type == "hangup":
                return self._hang_up(node, self._join(*said, self._render(node.say)))
            missing = self._missing(node)
            if any(s.required for s in node.slots) and not missing and node.next:
                self.turns.append(TurnRecord("system", "slots already filled", node.id, event="slots_filled"))
                self._visited[node.id] = None  # its slots count for the call's strength, filled early
                node_id = node.next
                continue
            self._visited[node.id] = None
            unfilled = [s for s in node.slots if s.name not in self.result.slots]
            self._asking = missing[0] if missing else (unfilled[0] if unfilled else None)
            question = self._render(node.say) if node.say else ""
            if not question and self._asking is not None:
                question = self._render(self._asking.ask)
            self._question = question
            return self._listen_step(self._join(*said, question), event)
        raise FlowError(f"more than {MAX_HOPS} nodes passed without listening (a loop?)", node=node_id)

    def _hang_up(self, node: Node, text: str) -> Step:
        self.finished = True
        self._bot(text, "hangup")
        result = self.result
        result.disposition = node.disposition
        ops = []
        for op in node.operations:
            at = None
            if op.op == "schedule" and op.at_slot is not None:
                value = result.slots.get(op.at_slot)
                at = value if isinstance(value, datetime) else None
            ops.append(RenderedOperation(op.op, self._render(op.text), op.delay_minutes, at))
        if node.disposition == "do_not_call" and not any(o.op == "do_not_call" for o in ops):
            ops.append(RenderedOperation("do_not_call", "the customer asked not to be called again"))
        result.operations = ops
        result.intent_strength = self.strength()
        return Step(node.id, text, listen=False, event="hangup")

    def strength(self, *, ended_by: str | None = None) -> Strength:
        """The call's intent strength (score, grade, reasons); ``ended_by`` "customer" when they hung up first."""
        asked = [s for nid in self._visited for s in self.flow.nodes[nid].slots if s.required]
        return intent_strength(
            self.turns,
            disposition=self.result.disposition if self.finished else None,
            slots_filled=sum(1 for s in asked if s.name in self.result.slots),
            slots_required=len(asked),
            ended_by=ended_by or ("fallback" if self._fell_back else "flow"),
        )

    def _missing(self, node: Node) -> list[Slot]:
        return [s for s in node.slots if s.required and s.name not in self.result.slots]

    # -- the customer's turns ---------------------------------------------------
    def start(self) -> Step:
        return self._enter(self.flow.start)

    def stand_at(self, node_id: str) -> Step:
        """Re-analysis (:mod:`appliance.dialog.runtime.rehearing`): stand at dialogue node ``node_id`` as if its
        question had just been asked, wherever the run was, and return its listening step (the grammar heard
        there). A recorded call is heard again turn by turn at the nodes it went through, whatever a new reading
        of an earlier turn would have done."""
        node = self.flow.nodes.get(node_id)
        if node is None or node.type != "dialogue":
            raise FlowError("not a dialogue node of this flow version", node=node_id)
        self.finished = False
        self._node, self._no_input, self._no_match = node, 0, 0
        self._visited[node.id] = None
        missing = self._missing(node)
        unfilled = [s for s in node.slots if s.name not in self.result.slots]
        self._asking = missing[0] if missing else (unfilled[0] if unfilled else None)
        self._question = self._render(node.say) if node.say else ""
        return self._listen_step(self._question, "stand_at")

    def note_greeting(self, text: str) -> None:
        """The callee spoke first on answering ("Hello?"): part of the transcript, not of the flow."""
        self.turns.append(TurnRecord("customer", text.strip(), "answer", event="greeting"))

    def voicemail(self) -> Step | None:
        """An answering machine took the call: the flow's voicemail message, filled in (None: the flow has no
        voicemail node, so no message is left). The run ends there, its disposition ``voicemail_left``."""
        node = self.flow.voicemail
        if node is None:
            return None
        self._check_live()
        self._node = node
        text = self._render(node.say)
        self.finished = True
        self._bot(text, "voicemail")
        self.result.disposition = VOICEMAIL_LEFT
        return Step(node.id, text, listen=False, barge_in=False, event="voicemail")

    def _check_live(self) -> None:
        if self.finished:
            raise RuntimeError("the flow has already ended")

    def hear(self, text: str, *, confidence: float = 1.0, alternatives: tuple[str, ...] = ()) -> Step:
        """The customer said ``text`` (empty: silence until the no-input timeout).

        ``alternatives`` are other readings of the same turn (``Utterance.alternatives``): when ``text``
        decides nothing at this node (no intent, no slot, no knowledge-base answer) and an alternative
        does, the alternative is what was said (the hybrid recogniser's grammar phrase beside Whisper's
        misheard words: "work time" / "what time")."""
        self._check_live()
        text = text.strip()
        if not text:
            return self.no_input()
        node = self._node
        if alternatives and not self._understands(node, text, confidence):
            for alternative in alternatives:
                if alternative.strip() and self._understands(node, alternative, confidence):
                    log.debug("heard %r decides nothing at %s; the alternative %r does", text, node.id, alternative)
                    text = alternative.strip()
                    break
        filled = self._fill(node.slots, text)
        candidates = self._candidates(node)
        match = match_intent(text, candidates, asr_confidence=confidence) if candidates else None
        intent = match.intent if match is not None else None
        self.turns.append(TurnRecord("customer", text, node.id, intent, match.confidence if match else None,
                                     event="speech", asr_confidence=round(confidence, 4),
                                     margin=match.margin if match is not None and intent is not None else None))
        if match is not None and intent is not None:
            self.result.confidences.append(match.confidence)
        text_slot_only = bool(filled) and all(s.type == "text" for s in node.slots if s.name in filled)
        if filled and not (intent is not None and text_slot_only):
            self._note_slots(filled)
            return self._after_slots(node)
        for name in filled:  # free text that was an intent ("stop calling me") is not the slot's value
            self.result.slots.pop(name, None)
            self.vars.pop(name, None)
        if node.kb and self.flow.knowledge_base:
            # A question the knowledge base knows better than any intent: answer it, then ask again.
            entries = [Intent(e.id, e.questions, e.keywords) for e in self.flow.knowledge_base]
            kb = match_intent(text, entries, asr_confidence=confidence)
            if kb.intent is not None and (match is None or intent is None or kb.confidence > match.confidence):
                if intent is not None:
                    self.result.confidences.pop()
                entry = next(e for e in self.flow.knowledge_base if e.id == kb.intent)
                self.turns[-1].intent, self.turns[-1].confidence = f"kb:{entry.id}", kb.confidence
                self.turns[-1].event, self.turns[-1].margin = "kb", kb.margin
                return self._listen_step(self._join(self._render(entry.answer), self._question), "kb")
        if intent is not None:
            return self._take_intent(node, intent, text)
        self.turns[-1].event = "no_match"
        return self._no_match_step()

    def dtmf(self, digits: str) -> Step:
        """The customer pressed keys."""
        self._check_live()
        node = self._node
        option = next((d for d in node.dtmf if d.digit == digits), None)
        intent = option.intent if option is not None else None
        self.turns.append(TurnRecord("customer", digits, node.id, intent, 1.0 if option else None, event="dtmf"))
        if option is not None:
            if option.next is not None:
                return self._enter(option.next, prefix=self._render(option.reply))
            assert option.intent is not None
            self.result.confidences.append(1.0)
            return self._take_intent(node, option.intent, "", reply=option.reply)
        keyed = [s for s in node.slots if s.type in ("number", "phone", "enum", "regex", "text")]
        filled = self._fill(keyed, digits) if keyed else {}
        if filled:
            self._note_slots(filled)
            return self._after_slots(node)
        self.turns[-1].event = "no_match"
        return self._no_match_step()

    def no_input(self) -> Step:
        """The customer said nothing before the node's no-input time."""
        self._check_live()
        node, vui = self._node, self._node.vui
        self.turns.append(TurnRecord("customer", "", node.id, event="no_input"))
        self._no_input += 1
        if self._asking is not None and not self._asking.required and node.next:
            return self._enter(node.next)  # an optional answer (a comment) left out
        if self._no_input > vui.max_no_input:
            return self._fallback(node.no_input_next)
        prompt = _escalate(vui.no_input_prompts, self._no_input)
        return self._listen_step(self._render(prompt) if prompt else self._question, "no_input")

    def talked_over(self) -> None:
        """The customer talked over the prompt and said something (it follows with :meth:`hear`): the bot's
        turn was cut short, kept as a ``barge_in`` turn as :meth:`interrupted` keeps one."""
        self._check_live()
        self.turns.append(TurnRecord("bot", "(interrupted)", self._node.id, event="barge_in"))

    def box_stopping(self, text: str) -> Step:
        """The box stops under the call (SIGTERM): the bot says ``text`` (a short goodbye) and the call ends.
        The flow does not finish: its result and operations are not taken (the attempt ends ``interrupted``)."""
        node = self._node
        self.turns.append(TurnRecord("bot", text, node.id, event="box_stopping"))
        return Step(node.id, text, listen=False, barge_in=False, event="box_stopping")

    def interrupted(self) -> Step:
        """The customer talked over the prompt (barge-in): say the node's barge-in prompt and listen."""
        self._check_live()
        node = self._node
        self.turns.append(TurnRecord("bot", "(interrupted)", node.id, event="barge_in"))
        return self._listen_step(self._render(node.vui.barge_in_prompt), "after_barge_in")

    # -- helpers for the turns -------------------------------------------------
    def _understands(self, node: Node, text: str, confidence: float) -> bool:
        """Whether ``text`` decides something at ``node`` (an intent, a slot, a knowledge-base answer); no
        side effects."""
        candidates = self._candidates(node)
        if candidates and match_intent(text, candidates, asr_confidence=confidence).intent is not None:
            return True
        for slot in filter(self._fillable, node.slots):
            if fill_slot(slot, text, language=self.flow.language, now=self.clock(), tz=self.tz) is not None:
                return True
        if node.kb and self.flow.knowledge_base:
            entries = [Intent(e.id, e.questions, e.keywords) for e in self.flow.knowledge_base]
            return match_intent(text, entries, asr_confidence=confidence).intent is not None
        return False

    def _candidates(self, node: Node) -> list[Intent]:
        names = [b.intent for b in node.branches] + [g.intent for g in self.flow.global_intents]
        return [self.flow.intents[n] for n in dict.fromkeys(names)]

    def _fillable(self, slot: Slot) -> bool:
        """A slot this turn may fill: not filled yet (or the one being asked for again); free text only when
        it is what the node asked for."""
        if slot is self._asking:
            return True
        return slot.name not in self.result.slots and slot.type != "text"

    def _fill(self, slots: tuple[Slot, ...] | list[Slot], text: str) -> dict[str, float]:
        """Fill what the text gives of these slots; the filled names with their confidence."""
        got: dict[str, float] = {}
        for slot in filter(self._fillable, slots):
            found = fill_slot(slot, text, language=self.flow.language, now=self.clock(), tz=self.tz)
            if found is not None:
                got[slot.name] = found.confidence
                self.result.slots[slot.name] = found.value
                self.vars[slot.name] = found.text
        return got

    def _note_slots(self, filled: dict[str, float]) -> None:
        """The customer's turn gave slots: that is what it meant (the intent strength reads it so)."""
        turn = self.turns[-1]
        turn.intent = "slot:" + ",".join(filled)
        turn.confidence = round(min(filled.values()), 3)
        turn.margin = None  # no intent was chosen over another
        self.result.confidences.append(turn.confidence)

    def _after_slots(self, node: Node) -> Step:
        missing = self._missing(node)
        if not missing:
            assert node.next is not None
            return self._enter(node.next)
        self._asking = missing[0]
        self._no_match = 0
        self._question = self._render(missing[0].ask)
        return self._listen_step(self._question, "ask_slot")

    def _take_intent(self, node: Node, intent: str, text: str, *, reply: str = "") -> Step:
        self.result.intents.append(intent)
        branch = next((b for b in node.branches if b.intent == intent), None)
        if branch is not None:
            target = self.flow.nodes[branch.next]
            if text and target.type == "dialogue":
                self._fill(target.slots, text)  # "not tomorrow, call me Friday at 3": the next node's slot
            return self._enter(branch.next, prefix=self._render(reply or branch.reply))
        glob = next(g for g in self.flow.global_intents if g.intent == intent)
        if glob.action == "repeat":
            last = self._question or (self._last.say if self._last else "")
            return self._listen_step(self._join(self._render(glob.reply), last), "repeat")
        assert glob.next is not None
        target = self.flow.nodes[glob.next]
        if text and target.type == "dialogue":
            self._fill(target.slots, text)
        return self._enter(glob.next, prefix=self._render(reply or glob.reply), event="global")

    def _no_match_step(self) -> Step:
        node, vui = self._node, self._node.vui
        self._no_match += 1
        if self._no_match > vui.max_no_match:
            return self._fallback(node.no_match_next)
        prompts = self._asking.reask if self._asking is not None and self._asking.reask else vui.no_match_prompts
        prompt = _escalate(prompts, self._no_match)
        return self._listen_step(self._render(prompt) if prompt else self._question, "no_match")

    def _fallback(self, target: str | None) -> Step:
        node = self._node
        target = target or node.vui.fallback_node
        if target is None:
            raise FlowError("no fallback node", node=node.id, field="vui.fallback_node")
        self._fell_back = True
        return self._enter(target, prefix=self._render(node.vui.fallback_prompt), event="fallback")

    # -- API nodes -------------------------------------------------------------
