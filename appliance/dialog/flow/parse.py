"""The flow parser: a flow document into a ``Flow``, with every problem listed (node and field named).

``check_flow`` never stops at the first problem: it parses what it can with defaults and carries on, then checks
the graph (missing targets, unreachable nodes, nodes with no way to a hang-up) and the templates (unknown
variables). ``parse_flow`` in :mod:`appliance.dialog.flow.load` raises the first of them.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from appliance.dialog.flow.fields import Problems, template_value
from appliance.dialog.flow.fields import get as _get
from appliance.dialog.flow.fields import get_int as _int
from appliance.dialog.flow.fields import get_object as _object
from appliance.dialog.flow.fields import get_strings as _strings
from appliance.dialog.flow.fields import keys as _keys
from appliance.dialog.flow.graph import graph_problems
from appliance.dialog.flow.model import (
    BROADCAST_MODES,
    DISPOSITIONS,
    OPERATIONS,
    SLOT_TYPES,
    ApiBranch,
    ApiCall,
    Branch,
    DtmfOption,
    Flow,
    GlobalIntent,
    Intent,
    KbEntry,
    Node,
    Operation,
    Slot,
    Vui,
)
from appliance.dialog.flow.settings import parse_listen, parse_voice, parse_vui
from appliance.dialog.flow.variables import parse_variables
from appliance.errors import FlowError

TOP_KEYS = {"$schema", "id", "name", "language", "description", "start", "variables", "intents", "nodes",
            "unreachable_text", "voice", "broadcast", "global_intents", "knowledge_base", "vui"}
NODE_KEYS = {
    "dialogue": {"type", "name", "description", "say", "intents", "reprompt", "max_retries", "no_input", "no_match",
                 "listen", "slots", "next", "dtmf", "vui", "kb"},
    "api": {"type", "name", "description", "say", "request", "timeout_ms", "retries", "save", "branches", "next",
            "failure"},
    "hangup": {"type", "name", "description", "say", "disposition", "operations"},
    # the message left on an answering machine after its beep; no edges: only a machine's answer leads there
    "voicemail": {"type", "name", "description", "say"},
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
DTMF_KEYS = re.compile(r"^[0-9*#]$")
STATUS = re.compile(r"^[1-5]([0-9]{2}|xx)$")
PATH = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")
SLOT_KEYS = {"name", "type", "ask", "reask", "required", "values", "pattern", "min", "max"}
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _parse_intents(doc: dict[str, Any], p: Problems) -> dict[str, Intent]:
    intents: dict[str, Intent] = {}
    for name, spec in _get(doc, "intents", dict, {}, p, None, required=True).items():
        obj = _object(spec, p, None, f"intents.{name}", allowed={"examples", "keywords", "description"})
        if obj is None:
            continue
        examples = _strings(obj, "examples", p, None, f"intents.{name}")
        keywords = _strings(obj, "keywords", p, None, f"intents.{name}")
        if not examples and not keywords:
            p.add("needs examples or keywords", field=f"intents.{name}")
        intents[name] = Intent(name, examples, keywords)
    return intents


def _parse_globals(doc: dict[str, Any], intents: dict[str, Intent], p: Problems) -> tuple[GlobalIntent, ...]:
    out = []
    for name, spec in _get(doc, "global_intents", dict, {}, p, None).items():
        where = f"global_intents.{name}"
        if name not in intents:
            p.add(f"unknown intent {name!r}", field=where)
        if isinstance(spec, str):
            spec = {"next": spec}
        obj = _object(spec, p, None, where, allowed={"next", "action", "reply"})
        if obj is None:
            continue
        action = _get(obj, "action", str, "goto", p, None, where)
        if action not in ("goto", "repeat"):
            p.add("must be goto or repeat", field=f"{where}.action")
        target = _get(obj, "next", str, None, p, None, where, required=action == "goto")
        reply = p.template(_get(obj, "reply", str, "", p, None, where), None, f"{where}.reply")
        out.append(GlobalIntent(name, target, action, reply))
    return tuple(out)


def _parse_kb(doc: dict[str, Any], p: Problems) -> tuple[KbEntry, ...]:
    out = []
    for i, spec in enumerate(_get(doc, "knowledge_base", list, [], p, None)):
        where = f"knowledge_base[{i}]"
        obj = _object(spec, p, None, where, allowed={"id", "questions", "keywords", "answer"})
        if obj is None:
            continue
        entry_id = _get(obj, "id", str, f"kb{i}", p, None, where, required=True)
        questions = _strings(obj, "questions", p, None, where)
        if not questions:
            p.add("needs at least one question", field=f"{where}.questions")
        answer = p.template(_get(obj, "answer", str, "", p, None, where, required=True), None, f"{where}.answer")
        out.append(KbEntry(entry_id, questions, answer, _strings(obj, "keywords", p, None, where)))
    return tuple(out)


def _parse_slots(spec: dict[str, Any], nid: str, p: Problems) -> tuple[Slot, ...]:
    out = []
    for i, raw in enumerate(_get(spec, "slots", list, [], p, nid)):
        where = f"slots[{i}]"
        obj = _object(raw, p, nid, where, allowed=SLOT_KEYS)
        if obj is None:
            continue
        name = _get(obj, "name", str, f"slot{i}", p, nid, where, required=True)
        if not NAME.match(name):
            p.add("must be a name (letters, digits, _)", node=nid, field=f"{where}.name")
        kind = _get(obj, "type", str, "text", p, nid, where, required=True)
        if kind not in SLOT_TYPES:
            p.add(f"must be one of {', '.join(SLOT_TYPES)}", node=nid, field=f"{where}.type")
        values: list[tuple[str, tuple[str, ...]]] = []
        raw_values = obj.get("values", [])
        if isinstance(raw_values, list) and all(isinstance(v, str) for v in raw_values):
            values = [(v, ()) for v in raw_values]
        elif isinstance(raw_values, dict) and all(
            isinstance(v, list) and all(isinstance(s, str) for s in v) for v in raw_values.values()
        ):
            values = [(k, tuple(v)) for k, v in raw_values.items()]
        else:
            p.add("must be a list of values or an object of value -> synonyms", node=nid, field=f"{where}.values")
        if kind == "enum" and not values:
            p.add("an enum slot needs values", node=nid, field=f"{where}.values")
        pattern = _get(obj, "pattern", str, "", p, nid, where, required=kind == "regex")
        if pattern:
            try:
                re.compile(pattern)
            except re.error as exc:
                p.add(f"bad regular expression: {exc}", node=nid, field=f"{where}.pattern")
                pattern = ""
        low = _get(obj, "min", (int, float), None, p, nid, where)
        high = _get(obj, "max", (int, float), None, p, nid, where)
        out.append(Slot(
            name, kind,
            ask=p.template(_get(obj, "ask", str, "", p, nid, where, required=True), nid, f"{where}.ask"),
            reask=_strings(obj, "reask", p, nid, where, templates=True),
            required=_get(obj, "required", bool, True, p, nid, where),
            values=tuple(values), pattern=pattern,
            minimum=float(low) if low is not None else None, maximum=float(high) if high is not None else None,
        ))
    return tuple(out)


def _parse_dialogue(spec: dict[str, Any], nid: str, say: str, flow_vui: Vui, intents: dict[str, Intent],
                    p: Problems) -> Node:
    branches = []
    for name, target in _get(spec, "intents", dict, {}, p, nid).items():
        if name not in intents:
            p.add(f"unknown intent {name!r}", node=nid, field=f"intents.{name}")
        reply = ""
        if isinstance(target, dict):
            _keys(target, {"next", "reply"}, p, nid, f"intents.{name}")
            reply = p.template(_get(target, "reply", str, "", p, nid, f"intents.{name}"), nid, f"intents.{name}.reply")
            target = _get(target, "next", str, "", p, nid, f"intents.{name}", required=True)
        elif not isinstance(target, str):
            p.add("must be a node id or an object with next and reply", node=nid, field=f"intents.{name}")
            target = ""
        branches.append(Branch(name, target, reply))
    dtmf = []
    for digit, option in _get(spec, "dtmf", dict, {}, p, nid).items():
        where = f"dtmf.{digit}"
        if not DTMF_KEYS.match(digit):
            p.add("a DTMF key is one of 0-9, * or #", node=nid, field=where)
        if isinstance(option, str):
            option = {"intent": option}
        obj = _object(option, p, nid, where, allowed={"intent", "next", "reply"})
        if obj is None:
            continue
        intent = _get(obj, "intent", str, None, p, nid, where)
        target = _get(obj, "next", str, None, p, nid, where)
        if (intent is None) == (target is None):
            p.add("needs exactly one of intent or next", node=nid, field=where)
        elif intent is not None and intent not in intents:
            p.add(f"unknown intent {intent!r}", node=nid, field=f"{where}.intent")
        reply = p.template(_get(obj, "reply", str, "", p, nid, where), nid, f"{where}.reply")
        dtmf.append(DtmfOption(digit, intent, target, reply))
    reprompt = p.template(_get(spec, "reprompt", str, "", p, nid), nid, "reprompt")
    max_retries = _int(spec, "max_retries", 1, p, nid, low=0, high=10)
    vui = parse_vui(spec["vui"], flow_vui, p, nid) if "vui" in spec else flow_vui
    if "reprompt" in spec or "max_retries" in spec:  # the first format: one reprompt, max_retries times
        count = max_retries if reprompt else 0
        prompts = (reprompt,) if reprompt else ()
        vui = dataclasses.replace(vui, no_input_prompts=prompts, no_match_prompts=prompts,
                                  max_no_input=count, max_no_match=count)
    return Node(
        nid, "dialogue", say, tuple(branches), reprompt=reprompt, max_retries=max_retries,
        no_input_next=_get(spec, "no_input", str, None, p, nid),
        no_match_next=_get(spec, "no_match", str, None, p, nid),
        listen=_listen(spec, nid, p),
        name=_get(spec, "name", str, "", p, nid), description=_get(spec, "description", str, "", p, nid),
        slots=_parse_slots(spec, nid, p), next=_get(spec, "next", str, None, p, nid), dtmf=tuple(dtmf), vui=vui,
        kb=_get(spec, "kb", bool, True, p, nid),
    )


def _listen(spec: dict[str, Any], nid: str, p: Problems) -> Any:
    if "listen" not in spec:
        return None
    try:
        return parse_listen(spec["listen"], nid)
    except FlowError as exc:
        p.items.append(exc)
        return None


def _parse_api(spec: dict[str, Any], nid: str, say: str, p: Problems) -> Node:
    req = _object(spec.get("request"), p, nid, "request", allowed={"method", "url", "headers", "body"}) or {}
    method = _get(req, "method", str, "GET", p, nid, "request").upper()
    if method not in METHODS:
        p.add(f"must be one of {', '.join(METHODS)}", node=nid, field="request.method")
    url = p.template(_get(req, "url", str, "", p, nid, "request", required=True), nid, "request.url")
    if url and not url.startswith(("http://", "https://", "{")):
        p.add("must start with http:// or https://", node=nid, field="request.url")
    headers = []
    for key, value in _get(req, "headers", dict, {}, p, nid, "request").items():
        if not isinstance(value, str):
            p.add("must be a string", node=nid, field=f"request.headers.{key}")
            continue
        headers.append((key, p.template(value, nid, f"request.headers.{key}")))
    body = template_value(req["body"], p, nid, "request.body") if "body" in req else None
    save = []
    for var, path in _get(spec, "save", dict, {}, p, nid).items():
        if not NAME.match(var):
            p.add("must be a variable name (letters, digits, _)", node=nid, field=f"save.{var}")
        if not isinstance(path, str) or not PATH.match(path):
            p.add("must be a path like data.slot.time", node=nid, field=f"save.{var}")
            continue
        save.append((var, path))
    branches = []
    for i, raw in enumerate(_get(spec, "branches", list, [], p, nid)):
        where = f"branches[{i}]"
        obj = _object(raw, p, nid, where, allowed={"status", "var", "equals", "next"})
        if obj is None:
            continue
        status = obj.get("status")
        if status is not None:
            status = str(status)
            if not STATUS.match(status):
                p.add("must be an HTTP status like 404 or 4xx", node=nid, field=f"{where}.status")
        var = _get(obj, "var", str, None, p, nid, where)
        if (status is None) == (var is None):
            p.add("needs exactly one of status or var", node=nid, field=where)
        if var is not None and "equals" not in obj:
            p.add("a value branch needs equals", node=nid, field=where)
        branches.append(ApiBranch(_get(obj, "next", str, "", p, nid, where, required=True), status, var,
                                  obj.get("equals")))
    call = ApiCall(
        method, url, tuple(headers), body,
        timeout_ms=_int(spec, "timeout_ms", 5000, p, nid, low=100, high=30000),
        retries=_int(spec, "retries", 0, p, nid, low=0, high=5),
        save=tuple(save), branches=tuple(branches),
        failure=_get(spec, "failure", str, "", p, nid, required=True),
    )
    return Node(nid, "api", say, name=_get(spec, "name", str, "", p, nid),
                description=_get(spec, "description", str, "", p, nid), next=_get(spec, "next", str, None, p, nid),
                api=call)


def _parse_hangup(spec: dict[str, Any], nid: str, say: str, p: Problems) -> Node:
    disposition = _get(spec, "disposition", str, "no_response", p, nid, required=True)
    if disposition not in DISPOSITIONS:
        p.add(f"unknown disposition {disposition!r} (one of {', '.join(DISPOSITIONS)})", node=nid,
              field="disposition")
    ops = []
    for i, op in enumerate(_get(spec, "operations", list, [], p, nid)):
        where = f"operations[{i}]"
        if not isinstance(op, dict) or op.get("op") not in OPERATIONS:
            p.add(f"must be one of {', '.join(OPERATIONS)}", node=nid, field=where)
            continue
        _keys(op, {"op", "text", "delay_minutes", "at_slot"}, p, nid, where)
        text = p.template(_get(op, "text", str, "", p, nid, where), nid, f"{where}.text")
        delay = _int(op, "delay_minutes", 0, p, nid, where, low=0, high=60 * 24 * 90)
        at_slot = _get(op, "at_slot", str, None, p, nid, where)
        if op["op"] == "schedule" and not delay and at_slot is None:
            p.add("schedule needs delay_minutes or at_slot", node=nid, field=where)
        ops.append(Operation(op["op"], text, delay, at_slot))
    return Node(nid, "hangup", say, disposition=disposition, operations=tuple(ops),
                name=_get(spec, "name", str, "", p, nid), description=_get(spec, "description", str, "", p, nid))


def check_flow(doc: Any) -> tuple[Flow | None, list[FlowError]]:
    """Parse a flow document; the Flow (None if it is not an object) and every problem found."""
    p = Problems()
    if not isinstance(doc, dict):
        p.add("a flow must be a JSON object")
        return None, p.items
    _keys(doc, TOP_KEYS, p, None, None)
    flow_id = _get(doc, "id", str, "", p, None, required=True)
    start = _get(doc, "start", str, "", p, None, required=True)
    declared, variable_problems = parse_variables(doc)
    for where, message in variable_problems:
        p.add(message, field=where)
    if "unreachable_text" in doc:  # the text sent after the last failed attempt ("" = none for this flow)
        p.template(_get(doc, "unreachable_text", str, "", p, None), None, "unreachable_text")
    intents = _parse_intents(doc, p)
    vui = parse_vui(doc["vui"], Vui(), p, None) if "vui" in doc else Vui()
    nodes: dict[str, Node] = {}
    for nid, spec in _get(doc, "nodes", dict, {}, p, None, required=True).items():
        obj = _object(spec, p, nid, None)
        if obj is None:
            continue
        kind = _get(obj, "type", str, "", p, nid, required=True)
        if kind not in NODE_KEYS:
            if kind:
                p.add(f"unknown node type {kind!r} (one of {', '.join(NODE_KEYS)})", node=nid, field="type")
            continue
        _keys(obj, NODE_KEYS[kind], p, nid, None)
        say = p.template(_get(obj, "say", str, "", p, nid, required=kind != "api"), nid, "say")
        if kind == "dialogue":
            nodes[nid] = _parse_dialogue(obj, nid, say, vui, intents, p)
        elif kind == "api":
            nodes[nid] = _parse_api(obj, nid, say, p)
        elif kind == "voicemail":
            if not say.strip():
                p.add("a voicemail node needs the message to leave", node=nid, field="say")
            nodes[nid] = Node(nid, "voicemail", say, name=_get(obj, "name", str, "", p, nid),
                              description=_get(obj, "description", str, "", p, nid))
        else:
            nodes[nid] = _parse_hangup(obj, nid, say, p)
    global_intents = _parse_globals(doc, intents, p)
    kb = _parse_kb(doc, p)
    voice = None
    if "voice" in doc:
        try:
            voice = parse_voice(doc["voice"])
        except FlowError as exc:
            p.items.append(exc)
    broadcast = doc.get("broadcast", "tts")
    if broadcast not in BROADCAST_MODES:
        p.add(f"must be one of {', '.join(BROADCAST_MODES)}", field="broadcast")
        broadcast = "tts"
    flow = Flow(
        flow_id, str(doc.get("name", flow_id)), str(doc.get("language", "en")), start, declared.names, intents, nodes,
        doc, declared=declared,
        voice=voice, broadcast=broadcast, description=str(doc.get("description", "")),
        global_intents=global_intents, knowledge_base=kb, vui=vui,
    )
    p.items.extend(graph_problems(flow, p.templates))
    return flow, p.items
