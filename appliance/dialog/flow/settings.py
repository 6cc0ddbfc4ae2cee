"""Parsers for a flow's settings objects: the VUI rules (the flow's, and a dialogue node's overrides), the
flow's voice, and a dialogue node's ``listen``."""

from __future__ import annotations

import dataclasses
from typing import Any

from appliance.dialog.flow.fields import Problems
from appliance.dialog.flow.fields import get as _get
from appliance.dialog.flow.fields import get_int as _int
from appliance.dialog.flow.fields import get_object as _object
from appliance.dialog.flow.fields import get_strings as _strings
from appliance.dialog.flow.model import LONG_WHEN, FlowVoice, Listen, LongUtterance, Vui
from appliance.errors import FlowError

VUI_KEYS = {"no_input_ms", "no_input_prompts", "max_no_input", "no_match_prompts", "max_no_match", "fallback_prompt",
            "fallback_node", "barge_in", "barge_in_prompt", "long_utterance"}


def parse_vui(spec: Any, base: Vui, p: Problems, node: str | None, field: str = "vui") -> Vui:
    obj = _object(spec, p, node, field, allowed=VUI_KEYS)
    if obj is None:
        return base
    changes: dict[str, Any] = {}
    for key in ("no_input_ms",):
        if key in obj:
            changes[key] = _int(obj, key, getattr(base, key), p, node, field, low=500, high=60000)
    for key in ("max_no_input", "max_no_match"):
        if key in obj:
            changes[key] = _int(obj, key, getattr(base, key), p, node, field, low=0, high=10)
    for key in ("no_input_prompts", "no_match_prompts"):
        if key in obj:
            changes[key] = _strings(obj, key, p, node, field, templates=True)
    for key in ("fallback_prompt", "barge_in_prompt"):
        if key in obj:
            changes[key] = p.template(_get(obj, key, str, "", p, node, field), node, f"{field}.{key}")
    if "fallback_node" in obj:
        changes["fallback_node"] = _get(obj, "fallback_node", str, None, p, node, field)
    if "barge_in" in obj:
        changes["barge_in"] = _get(obj, "barge_in", bool, base.barge_in, p, node, field)
    if "long_utterance" in obj:
        where = f"{field}.long_utterance"
        lu = _object(obj["long_utterance"], p, node, where, allowed={"enabled", "wait_ms", "when"})
        if lu is not None:
            when = _strings(lu, "when", p, node, where) if "when" in lu else base.long_utterance.when
            for w in when:
                if w not in LONG_WHEN:
                    p.add(f"{w!r} is not one of {', '.join(LONG_WHEN)}", node=node, field=f"{where}.when")
            changes["long_utterance"] = LongUtterance(
                _get(lu, "enabled", bool, base.long_utterance.enabled, p, node, where),
                _int(lu, "wait_ms", base.long_utterance.wait_ms, p, node, where, low=200, high=10000),
                tuple(w for w in when if w in LONG_WHEN),
            )
    return dataclasses.replace(base, **changes)


_LISTEN_KEYS = {"long_answer", "free_form"}


def parse_listen(spec: Any, node_id: str) -> Listen:
    if not isinstance(spec, dict):
        raise FlowError("must be an object", node=node_id, field="listen")
    extra = set(spec) - _LISTEN_KEYS
    if extra:
        raise FlowError(f"unknown key(s) {', '.join(sorted(extra))}", node=node_id, field="listen")
    for key, value in spec.items():
        if not isinstance(value, bool):
            raise FlowError("must be true or false", node=node_id, field=f"listen.{key}")
    return Listen(**spec)


def parse_voice(spec: Any) -> FlowVoice:
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
    # volume above 1.0 only clips: piper scales to full range first
    for key, low, high in (("length_scale", 0.25, 4.0), ("volume", 0.0, 1.0)):
        value = spec.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or not low < value <= high):
            raise FlowError(f"must be a number above {low} and at most {high}", field=f"voice.{key}")
        numbers[key] = float(value) if value is not None else None
    return FlowVoice(name, speaker, numbers["length_scale"], numbers["volume"])
