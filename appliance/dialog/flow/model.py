"""The flow document model: frozen dataclasses, the constants they use, and where the JSON Schema is.

A flow is a graph of nodes of three types: ``dialogue`` (say a prompt, listen, branch on the customer's intent,
fill slots, take DTMF), ``api`` (call the shop's system over HTTP, map the answer to variables, branch on it) and
``hangup`` (say a closing prompt, end with a disposition and ticket operations). Global intents, a knowledge base
and VUI rules (silence, no-match, barge-in, long answers) apply to every dialogue node. The published JSON Schema
is ``flow.schema.json`` beside this module. Reading a document into these classes is
:mod:`appliance.dialog.flow.parse` (``check_flow`` lists every problem) and :mod:`appliance.dialog.flow.load`
(``parse_flow`` raises the first, naming its node and field); this module imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.dialog.flow.variables import Variables

DISPOSITIONS = ("confirmed", "rescheduled", "callback", "wrong_number", "handoff", "do_not_call", "no_response")
OPERATIONS = ("close", "schedule", "remark", "do_not_call")
SLOT_TYPES = ("enum", "number", "datetime", "date", "time", "phone", "text", "regex")
NODE_TYPES = ("dialogue", "api", "hangup", "voicemail")
SCHEMA_PATH = Path(__file__).resolve().parent / "flow.schema.json"


@dataclass(frozen=True)
class Intent:
    name: str
    examples: tuple[str, ...]
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Branch:
    intent: str
    next: str
    reply: str = ""  # said before the next node's prompt


@dataclass(frozen=True)
class Operation:
    op: str
    text: str = ""
    delay_minutes: int = 0
    at_slot: str | None = None  # schedule: at this (datetime) slot's time; delay_minutes when it is not filled


@dataclass(frozen=True)
class Slot:
    """A value a dialogue node collects: ``ask`` when missing, ``reask`` (escalating) when not understood."""

    name: str
    type: str
    ask: str = ""
    reask: tuple[str, ...] = ()
    required: bool = True
    values: tuple[tuple[str, tuple[str, ...]], ...] = ()  # enum: canonical value -> synonyms
    pattern: str = ""  # regex
    minimum: float | None = None  # number
    maximum: float | None = None


@dataclass(frozen=True)
class DtmfOption:
    """A key press: the branch of an intent of the node (or a global one), or straight to a node."""

    digit: str
    intent: str | None = None
    next: str | None = None
    reply: str = ""


@dataclass(frozen=True)
class LongUtterance:
    """Wait ``wait_ms`` instead of the usual end-of-utterance silence, ``when``: always, on a slot question,
    or when the words so far look unfinished."""

    enabled: bool = False
    wait_ms: int = 2000
    when: tuple[str, ...] = ("always",)


LONG_WHEN = ("always", "slot", "unfinished")


@dataclass(frozen=True)
class Vui:
    """Voice-interface rules: flow defaults, overridden per dialogue node."""

    no_input_ms: int = 7000
    no_input_prompts: tuple[str, ...] = ()  # escalating; empty: repeat the question
    max_no_input: int = 2  # silences re-prompted before the fallback
    no_match_prompts: tuple[str, ...] = ()
    max_no_match: int = 2
    fallback_prompt: str = ""
    fallback_node: str | None = None  # a hangup node
    barge_in: bool = True
    barge_in_prompt: str = ""
    long_utterance: LongUtterance = field(default_factory=LongUtterance)


@dataclass(frozen=True)
class ApiBranch:
    """Where an API node goes on an HTTP status (``"404"``, ``"4xx"``) or a variable's value."""

    next: str
    status: str | None = None
    var: str | None = None
    equals: Any = None


@dataclass(frozen=True)
class ApiCall:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: Any = None  # JSON value; strings in it are templates
    timeout_ms: int = 5000
    retries: int = 0
    save: tuple[tuple[str, str], ...] = ()  # variable <- response path like data.slot.time
    branches: tuple[ApiBranch, ...] = ()
    failure: str = ""  # node on timeout, connection error, or a status no branch takes


@dataclass(frozen=True)
class GlobalIntent:
    """An intent heard at any dialogue node: go to ``next`` (after ``reply``) or ``repeat`` the last prompt."""

    intent: str
    next: str | None = None
    action: str = "goto"  # goto | repeat
    reply: str = ""


@dataclass(frozen=True)
class KbEntry:
    id: str
    questions: tuple[str, ...]
    answer: str
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Listen:
    """A dialogue node's ``"listen"`` settings: ``long_answer`` waits longer for the end of the answer
    (an address, a time); ``free_form`` recognises without the node's phrase list as a grammar."""

    long_answer: bool = False
    free_form: bool = False


@dataclass(frozen=True)
class Node:
    id: str
    type: str
    say: str
    branches: tuple[Branch, ...] = ()
    reprompt: str = ""
    max_retries: int = 1
    no_input_next: str | None = None
    no_match_next: str | None = None
    disposition: str | None = None
    operations: tuple[Operation, ...] = ()
    listen: Listen | None = None  # dialogue nodes: how to listen (None: the defaults)
    name: str = ""
    description: str = ""
    slots: tuple[Slot, ...] = ()
    next: str | None = None  # dialogue: once its required slots are filled; api: on success
    dtmf: tuple[DtmfOption, ...] = ()
    vui: Vui = field(default_factory=Vui)  # the flow's rules with this node's overrides
    kb: bool = True  # dialogue: answer knowledge-base questions here
    api: ApiCall | None = None


@dataclass(frozen=True)
class FlowVoice:
    """A flow's ``"voice"``: which piper voice speaks it and how (``None``: the box's default)."""

    name: str | None = None
    speaker: int | str | None = None
    length_scale: float | None = None
    volume: float | None = None


BROADCAST_MODES = ("tts", "recorded", "mixed")


@dataclass(frozen=True)
class Flow:
    id: str
    name: str
    language: str
    start: str
    variables: tuple[str, ...]
    intents: dict[str, Intent]
    nodes: dict[str, Node]
    document: dict[str, Any]
    voice: FlowVoice | None = None  # None: the box's configured voice and settings
    broadcast: str = "tts"  # tts | recorded | mixed (recorded prompts where a node has one)
    description: str = ""
    global_intents: tuple[GlobalIntent, ...] = ()
    knowledge_base: tuple[KbEntry, ...] = ()
    vui: Vui = field(default_factory=Vui)
    declared: Variables = field(default_factory=Variables)  # where each of ``variables`` comes from

    def prompt_templates(self) -> dict[tuple[str, str], str]:
        """Every text the flow can say, as templates, by (node id, kind): kinds ``say``, ``reprompt``,
        ``ask.<slot>``, ``reask.<slot>.<n>``, ``reply.<intent>``, ``dtmf.<digit>``, ``no_input.<n>``,
        ``no_match.<n>``, ``fallback``, ``barge_in``; global intents' replies under node ``_global``
        (kind ``reply.<intent>``) and knowledge-base answers under ``_kb`` (kind ``answer.<entry>``).
        The speech layer prerenders these and finds recorded prompts by these keys."""
        out: dict[tuple[str, str], str] = {}

        def add(node_id: str, kind: str, text: str) -> None:
            if text.strip():
                out[(node_id, kind)] = text

        for node in self.nodes.values():
            add(node.id, "say", node.say)
            add(node.id, "reprompt", node.reprompt)
            for slot in node.slots:
                add(node.id, f"ask.{slot.name}", slot.ask)
                for i, text in enumerate(slot.reask, start=1):
                    add(node.id, f"reask.{slot.name}.{i}", text)
            for branch in node.branches:
                add(node.id, f"reply.{branch.intent}", branch.reply)
            for option in node.dtmf:
                add(node.id, f"dtmf.{option.digit}", option.reply)
            if node.type == "dialogue":
                for i, text in enumerate(node.vui.no_input_prompts, start=1):
                    add(node.id, f"no_input.{i}", text)
                for i, text in enumerate(node.vui.no_match_prompts, start=1):
                    add(node.id, f"no_match.{i}", text)
                add(node.id, "fallback", node.vui.fallback_prompt)
                add(node.id, "barge_in", node.vui.barge_in_prompt)
        for glob in self.global_intents:
            add("_global", f"reply.{glob.intent}", glob.reply)
        for entry in self.knowledge_base:
            add("_kb", f"answer.{entry.id}", entry.answer)
        return out

    @property
    def voicemail(self) -> Node | None:
        """The flow's voicemail node: the message left on an answering machine (None: no message is left)."""
        return next((n for n in self.nodes.values() if n.type == "voicemail"), None)

    def slot(self, name: str) -> Slot | None:
        return next((s for n in self.nodes.values() for s in n.slots if s.name == name), None)

    def listens_free_form(self, node: Node) -> bool:
        """True where the answer is open (a time, a number, a phone number, free text): no phrase list."""
        return any(s.type not in ("enum",) for s in node.slots)

    def expected_phrases(self, node: Node) -> list[str]:
        """The closed set of answers a node listens for (used as an ASR grammar)."""
        # Example phrases only: a recogniser held to a grammar forces what it hears onto the grammar's words,
        # and single keywords in it let a mixed answer through ("yes no i will be home").
        phrases: list[str] = []
        names = [b.intent for b in node.branches] + [g.intent for g in self.global_intents]
        for name in dict.fromkeys(names):
            intent = self.intents[name]
            phrases.extend(intent.examples or intent.keywords)
        for slot in node.slots:
            for canonical, synonyms in slot.values:
                phrases.extend((canonical, *synonyms))
        if node.kb:
            for entry in self.knowledge_base:
                phrases.extend(entry.questions)
        return sorted({p.lower() for p in phrases})
