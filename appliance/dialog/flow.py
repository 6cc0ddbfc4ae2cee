"""Flow documents: load and validate a JSON flow into frozen dataclasses.

A flow is a graph of nodes. This first version knows two node types:
``dialogue`` (say a prompt, listen, branch on the customer's intent) and
``hangup`` (say a closing prompt, end with a disposition and ticket operations).
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.errors import FlowError

DISPOSITIONS = ("confirmed", "rescheduled", "callback", "wrong_number", "handoff", "do_not_call", "no_response")
OPERATIONS = ("close", "schedule", "remark")


@dataclass(frozen=True)
class Intent:
    name: str
    examples: tuple[str, ...]
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Branch:
    intent: str
    next: str


@dataclass(frozen=True)
class Operation:
    op: str
    text: str = ""
    delay_minutes: int = 0


@dataclass(frozen=True)
class Listen:
    """A dialogue node's ``"listen"`` settings: ``long_answer`` waits longer for the end of the answer
    (an address, a time); ``free_form`` recognises without the node's phrase list as a grammar."""

    long_answer: bool = False
    free_form: bool = False


_LISTEN_KEYS = {"long_answer", "free_form"}


def _parse_listen(spec: Any, node_id: str) -> Listen:
    if not isinstance(spec, dict):
        raise FlowError("must be an object", node=node_id, field="listen")
    extra = set(spec) - _LISTEN_KEYS
    if extra:
        raise FlowError(f"unknown key(s) {', '.join(sorted(extra))}", node=node_id, field="listen")
    for key, value in spec.items():
        if not isinstance(value, bool):
            raise FlowError("must be true or false", node=node_id, field=f"listen.{key}")
    return Listen(**spec)


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


@dataclass(frozen=True)
class FlowVoice:
    """A flow's ``"voice"``: which piper voice speaks it and how (``None``: the box's default)."""

    name: str | None = None
    speaker: int | str | None = None
    length_scale: float | None = None
    volume: float | None = None


BROADCAST_MODES = ("tts", "recorded", "mixed")


def _parse_voice(spec: Any) -> FlowVoice:
    if not isinstance(spec, dict):
        raise FlowError("must be an object", field="voice")
    extra = set(spec) - {"name", "speaker", "length_scale", "volume"}
    if extra:
        raise FlowError(f"unknown key(s) {', '.join(sorted(extra))}", field="voice")
    name = spec.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise FlowError("must be a voice name", field="voice.name")
    speaker = spec.get("speaker")
    if speaker is not None and (isinstance(speaker, bool) or not isinstance(speaker, int | str)
                                or (isinstance(speaker, int) and speaker < 0)):
        raise FlowError("must be a speaker number (0 or more) or name", field="voice.speaker")
    numbers: dict[str, float | None] = {}
    for key, low, high in (("length_scale", 0.25, 4.0), ("volume", 0.0, 2.0)):
        value = spec.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or not low < value <= high):
            raise FlowError(f"must be a number above {low} and at most {high}", field=f"voice.{key}")
        numbers[key] = float(value) if value is not None else None
    return FlowVoice(name, speaker, numbers["length_scale"], numbers["volume"])


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

    def prompt_templates(self) -> dict[tuple[str, str], str]:
        """Every prompt the flow can say, by (node id, "say" | "reprompt"), as templates."""
        out: dict[tuple[str, str], str] = {}
        for node in self.nodes.values():
            out[(node.id, "say")] = node.say
            if node.reprompt:
                out[(node.id, "reprompt")] = node.reprompt
        return out

    def expected_phrases(self, node: Node) -> list[str]:
        """The closed set of answers a node listens for (used as an ASR grammar)."""
        # Example phrases only: a recogniser held to a grammar forces what it hears onto the grammar's words,
        # and single keywords in it let a mixed answer through ("yes no i will be home").
        phrases: list[str] = []
        for b in node.branches:
            intent = self.intents[b.intent]
            phrases.extend(intent.examples or intent.keywords)
        return sorted({p.lower() for p in phrases})


_NODE_KEYS = {
    "dialogue": {"type", "say", "intents", "reprompt", "max_retries", "no_input", "no_match", "listen"},
    "hangup": {"type", "say", "disposition", "operations"},
}


def _req(doc: dict[str, Any], key: str, kind: type, *, node: str | None = None) -> Any:
    if key not in doc:
        raise FlowError("is required", node=node, field=key)
    value = doc[key]
    if not isinstance(value, kind):
        raise FlowError(f"must be a {kind.__name__}", node=node, field=key)
    return value


def _template_fields(text: str) -> set[str]:
    try:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}
    except ValueError as exc:
        raise FlowError(f"bad template: {exc}") from exc


def parse_flow(doc: Any) -> Flow:
    """Validate a flow document; every problem names the node and field."""
    if not isinstance(doc, dict):
        raise FlowError("a flow must be a JSON object")
    known = {"id", "name", "language", "start", "variables", "intents", "nodes", "description", "unreachable_text",
             "voice", "broadcast"}
    unknown = set(doc) - known
    if unknown:
        raise FlowError(f"unknown key(s): {', '.join(sorted(unknown))}")
    flow_id = _req(doc, "id", str)
    start = _req(doc, "start", str)
    variables = tuple(_req(doc, "variables", list))
    if "unreachable_text" in doc:  # the text sent after the last failed attempt ("" = none for this flow)
        bad = _template_fields(_req(doc, "unreachable_text", str)) - set(variables)
        if bad:
            raise FlowError(f"unknown variable(s) {', '.join(sorted(bad))}", field="unreachable_text")
    intents: dict[str, Intent] = {}
    for name, spec in _req(doc, "intents", dict).items():
        if not isinstance(spec, dict):
            raise FlowError("must be an object", field=f"intents.{name}")
        examples = tuple(str(x) for x in spec.get("examples", []))
        keywords = tuple(str(x) for x in spec.get("keywords", []))
        if not examples and not keywords:
            raise FlowError("needs examples or keywords", field=f"intents.{name}")
        intents[name] = Intent(name, examples, keywords)
    raw_nodes = _req(doc, "nodes", dict)
    nodes: dict[str, Node] = {}
    for node_id, spec in raw_nodes.items():
        if not isinstance(spec, dict):
            raise FlowError("must be an object", node=node_id)
        kind = _req(spec, "type", str, node=node_id)
        if kind not in _NODE_KEYS:
            raise FlowError(f"unknown node type {kind!r}", node=node_id, field="type")
        extra = set(spec) - _NODE_KEYS[kind]
        if extra:
            raise FlowError(f"unknown key(s) {', '.join(sorted(extra))}", node=node_id)
        say = _req(spec, "say", str, node=node_id)
        unknown_vars = _template_fields(say) - set(variables)
        if unknown_vars:
            raise FlowError(f"unknown variable(s) {', '.join(sorted(unknown_vars))}", node=node_id, field="say")
        if kind == "dialogue":
            branches = []
            for intent, target in _req(spec, "intents", dict, node=node_id).items():
                if intent not in intents:
                    raise FlowError(f"unknown intent {intent!r}", node=node_id, field="intents")
                branches.append(Branch(intent, str(target)))
            nodes[node_id] = Node(
                node_id,
                kind,
                say,
                tuple(branches),
                reprompt=str(spec.get("reprompt", "")),
                max_retries=int(spec.get("max_retries", 1)),
                no_input_next=spec.get("no_input"),
                no_match_next=spec.get("no_match"),
                listen=_parse_listen(spec["listen"], node_id) if "listen" in spec else None,
            )
        else:
            disposition = _req(spec, "disposition", str, node=node_id)
            if disposition not in DISPOSITIONS:
                raise FlowError(f"unknown disposition {disposition!r}", node=node_id, field="disposition")
            ops = []
            for i, op in enumerate(spec.get("operations", [])):
                if not isinstance(op, dict) or op.get("op") not in OPERATIONS:
                    raise FlowError(f"must be one of {', '.join(OPERATIONS)}", node=node_id, field=f"operations[{i}]")
                text = str(op.get("text", ""))
                bad = _template_fields(text) - set(variables)
                if bad:
                    raise FlowError(
                        f"unknown variable(s) {', '.join(sorted(bad))}", node=node_id, field=f"operations[{i}].text"
                    )
                ops.append(Operation(op["op"], text, int(op.get("delay_minutes", 0))))
            nodes[node_id] = Node(node_id, kind, say, disposition=disposition, operations=tuple(ops))
    if start not in nodes:
        raise FlowError(f"start node {start!r} does not exist", field="start")
    for node in nodes.values():
        targets = [b.next for b in node.branches] + [t for t in (node.no_input_next, node.no_match_next) if t]
        for target in targets:
            if target not in nodes:
                raise FlowError(f"points to missing node {target!r}", node=node.id)
        if node.type == "dialogue" and not (node.no_input_next and node.no_match_next):
            raise FlowError("a dialogue node needs no_input and no_match targets", node=node.id)
    voice = _parse_voice(doc["voice"]) if "voice" in doc else None
    broadcast = doc.get("broadcast", "tts")
    if broadcast not in BROADCAST_MODES:
        raise FlowError(f"must be one of {', '.join(BROADCAST_MODES)}", field="broadcast")
    return Flow(
        flow_id, str(doc.get("name", flow_id)), str(doc.get("language", "en")), start, variables, intents, nodes, doc,
        voice=voice, broadcast=broadcast,
    )


def load_flow(path: Path) -> Flow:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise FlowError(f"{path}: {exc}") from exc
    return parse_flow(doc)


def builtin_flow_path(name: str) -> Path:
    return Path(__file__).resolve().parent.parent / "flows" / f"{name}.json"
