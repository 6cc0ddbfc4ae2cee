"""VUI presets and the knowledge bases, for the panel and the API.

A **VUI preset** is a named set of a flow's VUI rules (``"vui"`` in a flow document: silence before no-input,
how many silences and misunderstandings before the fallback, barge-in, waiting for long answers, and optionally
the prompts). The owner keeps presets here (in the config store, replaced whole and refused whole with every
problem's path) and applies one to a flow: a new version of the flow is published with the preset's keys over the
flow's own ``vui`` (so a flow keeps its fallback node), checked as any publish is.

A **knowledge base** is a flow's ``knowledge_base`` (questions, keywords, an answer). "Test a question" runs the
same matcher a call runs when a customer asks something no intent of the node takes
(``appliance.dialog.runtime.engine``), and says which entry would answer, with its confidence and the
runners-up; nothing is stored.
"""

from __future__ import annotations

import re
from typing import Any

from appliance.dialog.flow.fields import Problems
from appliance.dialog.flow.load import parse_flow
from appliance.dialog.flow.model import Intent, Vui
from appliance.dialog.flow.settings import parse_vui
from appliance.dialog.nlu.intents import match_intent
from appliance.errors import CallboxError, PresetsInvalid
from appliance.panel.flows import problem_dict
from appliance.records.config_store import ConfigStore

__all__ = ["BUILT_IN_PRESETS", "KnowledgeAdmin"]

SETTING = "vui_presets"
MAX_PRESETS = 50
MAX_QUESTION = 500
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,63}$")
FLOW_ONLY = ("fallback_node",)  # names one flow's node: not a preset's
BUILT_IN_PRESETS: list[dict[str, Any]] = [
    {"name": "standard", "description": "the box's defaults: 7 s of silence, two chances each",
     "vui": {"no_input_ms": 7000, "max_no_input": 2, "max_no_match": 2, "barge_in": True}},
    {"name": "patient", "description": "older customers, noisy places: 10 s of silence, three chances each, "
                                       "waits for long answers",
     "vui": {"no_input_ms": 10000, "max_no_input": 3, "max_no_match": 3, "barge_in": True,
             "long_utterance": {"enabled": True, "wait_ms": 1500}}},
    {"name": "brisk", "description": "short confirmations: 5 s of silence, one more chance each",
     "vui": {"no_input_ms": 5000, "max_no_input": 1, "max_no_match": 1, "barge_in": True}},
]


def check_presets(document: Any) -> list[dict[str, Any]]:
    """The presets of ``document`` (a list, or ``{"presets": [...]}``), or PresetsInvalid naming every problem."""
    if isinstance(document, dict):
        extra = sorted(str(k)[:40] for k in document if k != "presets")
        if extra:
            raise PresetsInvalid([(extra[0], "is not a known key (the document holds only 'presets')")])
        document = document.get("presets")
    if not isinstance(document, list):
        raise PresetsInvalid([("presets", "must be a list")])
    if len(document) > MAX_PRESETS:
        raise PresetsInvalid([("presets", f"at most {MAX_PRESETS} presets")])
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i, item in enumerate(document):
        where = f"presets[{i}]"
        if not isinstance(item, dict):
            problems.append((where, "must be an object"))
            continue
        for key in sorted(str(k)[:40] for k in item if k not in ("name", "description", "vui")):
            problems.append((f"{where}.{key}", "is not a known key (name, description, vui)"))
        name = item.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            problems.append((f"{where}.name", "must be 1-64 letters, digits, spaces, _ . - (starting with a letter "
                                              "or digit)"))
        elif name.lower() in seen:
            problems.append((f"{where}.name", f"{name!r} is named twice"))
        else:
            seen.add(name.lower())
        description = item.get("description", "")
        if not isinstance(description, str) or len(description) > 300:
            problems.append((f"{where}.description", "must be a text of at most 300 characters"))
        vui = item.get("vui")
        if not isinstance(vui, dict) or not vui:
            problems.append((f"{where}.vui", "must be an object with at least one VUI rule"))
            continue
        for key in FLOW_ONLY:
            if key in vui:
                problems.append((f"{where}.vui.{key}", "names a node of one flow: set it in the flow, not a preset"))
        p = Problems()
        parse_vui({k: v for k, v in vui.items() if k not in FLOW_ONLY}, Vui(), p, None)
        for problem in map(problem_dict, p.items):
            problems.append((f"{where}.{problem['field'] or 'vui'}", problem["message"]))
    if problems:
        raise PresetsInvalid(problems)
    return [dict(item) for item in document]


class KnowledgeAdmin:
    def __init__(self, configs: ConfigStore) -> None:
        self.configs = configs

    # -- VUI presets ----------------------------------------------------------------
    def vui_presets(self) -> list[dict[str, Any]]:
        """The stored presets (the built-in ones until the owner stores a list), each with ``flows``: the
        published flows whose latest version's VUI rules hold every key of the preset."""
        stored = self.configs.setting(SETTING)
        presets = [dict(p) for p in (stored if isinstance(stored, list) else BUILT_IN_PRESETS)]
        flows = self._latest()
        for preset in presets:
            vui = preset.get("vui") or {}
            preset["flows"] = [fid for fid, (_v, doc) in flows.items()
                               if all((doc.get("vui") or {}).get(k) == v for k, v in vui.items())]
        return presets

    def set_vui_presets(self, document: Any) -> list[dict[str, Any]]:
        """Replace the presets whole; PresetsInvalid (every problem's path) and nothing changed otherwise."""
        presets = check_presets(document)
        self.configs.set_setting(SETTING, presets)
        return self.vui_presets()

    def preset_document(self, name: str, flow_id: str) -> dict[str, Any] | None:
        """The latest version of ``flow_id`` with the preset ``name`` over its VUI rules (to publish), or None
        when either is unknown."""
        preset = next((p for p in self.vui_presets() if p.get("name") == name), None)
        found = self.configs.flow(flow_id)
        if preset is None or found is None:
            return None
        document = dict(found[1])
        document["vui"] = {**(document.get("vui") or {}), **preset["vui"]}
        return document

    def flow_vui(self) -> list[dict[str, Any]]:
        """Each published flow's latest VUI rules: ``{flow, name, version, vui}``."""
        return [{"flow": fid, "name": doc.get("name") or fid, "version": version, "vui": doc.get("vui") or {}}
                for fid, (version, doc) in self._latest().items()]

    # -- knowledge bases -------------------------------------------------------------
    def knowledge(self) -> list[dict[str, Any]]:
        """Each published flow's knowledge base: ``{flow, name, language, version, entries: [{id, questions,
        keywords, answer}]}``."""
        out = []
        for fid, (version, doc) in self._latest().items():
            entries = [{"id": e.get("id"), "questions": list(e.get("questions") or []),
                        "keywords": list(e.get("keywords") or []), "answer": e.get("answer", "")}
                       for e in doc.get("knowledge_base") or [] if isinstance(e, dict)]
            out.append({"flow": fid, "name": doc.get("name") or fid, "language": doc.get("language"),
                        "version": version, "entries": entries})
        return out

    def ask(self, flow_id: str, question: str) -> dict[str, Any] | None:
        """Which knowledge-base entry of the flow's latest version answers ``question``, as a call would choose
        it: ``{flow, version, question, answer: {entry, text, confidence, margin} | None, candidates: [{entry,
        score}]}``; None when the flow is not published."""
        found = self.configs.flow(flow_id)
        if found is None:
            return None
        version, document = found
        try:
            flow = parse_flow(document)
        except CallboxError:
            return {"flow": flow_id, "version": version, "question": question, "answer": None, "candidates": [],
                    "problem": "the flow cannot be read"}
        entries = [Intent(e.id, e.questions, e.keywords) for e in flow.knowledge_base]
        result: dict[str, Any] = {"flow": flow_id, "version": version, "question": question, "answer": None,
                                  "candidates": []}
        if not entries or not question.strip():
            return result
        match = match_intent(question, entries)
        result["candidates"] = [{"entry": c.intent, "score": round(c.score, 4)} for c in match.candidates[:5]]
        if match.intent is not None:
            entry = next(e for e in flow.knowledge_base if e.id == match.intent)
            result["answer"] = {"entry": entry.id, "text": entry.answer, "confidence": round(match.confidence, 4),
                                "margin": match.margin}
        return result

    def _latest(self) -> dict[str, tuple[int, dict[str, Any]]]:
        out: dict[str, tuple[int, dict[str, Any]]] = {}
        for fid in self.configs.flow_ids():
            found = self.configs.flow(fid)
            if found is not None:
                out[fid] = found
        return out
