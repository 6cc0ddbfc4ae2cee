"""The OpenAPI part for VUI presets and the knowledge bases (``web.knowledge_pages``; the checks are
``appliance.panel.knowledge``)."""

from __future__ import annotations

from typing import Any

from web.openapi_parts import JSON, body, error, ref, text

_NAME = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9 _.\\-]{0,63}$"}
PRESET_VUI: dict[str, Any] = {
    "type": "object", "minProperties": 1, "additionalProperties": False,
    "description": "a flow's VUI rules (the flow document's \"vui\", without fallback_node, which names one flow's "
                   "node); checked as a flow's are",
    "properties": {
        "no_input_ms": {"type": "integer", "minimum": 500, "maximum": 60000},
        "max_no_input": {"type": "integer", "minimum": 0, "maximum": 10},
        "max_no_match": {"type": "integer", "minimum": 0, "maximum": 10},
        "no_input_prompts": {"type": "array", "items": {"type": "string"}},
        "no_match_prompts": {"type": "array", "items": {"type": "string"}},
        "fallback_prompt": {"type": "string"}, "barge_in": {"type": "boolean"}, "barge_in_prompt": {"type": "string"},
        "long_utterance": {"type": "object", "additionalProperties": False,
                           "properties": {"enabled": {"type": "boolean"},
                                          "wait_ms": {"type": "integer", "minimum": 200, "maximum": 10000},
                                          "when": {"type": "array", "items": {"type": "string"}}}},
    },
}
PRESET: dict[str, Any] = {
    "type": "object", "required": ["name", "vui"], "additionalProperties": False,
    "properties": {"name": _NAME, "description": {"type": "string", "maxLength": 300}, "vui": ref("PresetVui"),
                   "flows": {"type": "array", "items": {"type": "string"}, "readOnly": True,
                             "description": "(answers only) published flows whose latest VUI rules hold the preset"}},
}
PRESETS: dict[str, Any] = {"type": "object", "required": ["presets"], "additionalProperties": False,
                           "properties": {"presets": {"type": "array", "maxItems": 50, "items": ref("VuiPreset")}}}
PROBLEMS: dict[str, Any] = {
    "type": "object", "required": ["error", "message", "problems"],
    "properties": {"error": text(), "message": text(),
                   "problems": {"type": "array", "items": {"type": "object", "required": ["path", "message"],
                                                           "properties": {"path": text(), "message": text()}}}},
}
KNOWLEDGE: dict[str, Any] = {
    "type": "object", "required": ["flows"],
    "properties": {"flows": {"type": "array", "items": {
        "type": "object", "required": ["flow", "name", "version", "entries"],
        "properties": {"flow": text(), "name": text(), "language": {"type": ["string", "null"]},
                       "version": {"type": "integer"},
                       "entries": {"type": "array", "items": {
                           "type": "object", "properties": {
                               "id": text(), "questions": {"type": "array", "items": {"type": "string"}},
                               "keywords": {"type": "array", "items": {"type": "string"}}, "answer": text()}}}}}}},
}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 500, "pattern": "\\S"}
QUESTION: dict[str, Any] = {"type": "object", "required": ["flow", "question"], "additionalProperties": False,
                            "properties": {"flow": _TEXT, "question": _TEXT}}
ANSWER: dict[str, Any] = {
    "type": "object", "required": ["flow", "version", "question", "answer", "candidates"],
    "properties": {
        "flow": text(), "version": {"type": "integer"}, "question": text(),
        "answer": {"type": ["object", "null"], "description": "null: no entry is sure enough (the bot would not "
                                                              "understand)",
                   "properties": {"entry": text(), "text": text(), "confidence": {"type": "number"},
                                  "margin": {"type": ["number", "null"]}}},
        "candidates": {"type": "array", "items": {"type": "object", "properties": {
            "entry": text(), "score": {"type": "number"}}}},
        "problem": text("the flow cannot be read"),
    },
}
APPLY: dict[str, Any] = {"type": "object", "required": ["preset", "flow"], "additionalProperties": False,
                         "properties": {"preset": _TEXT, "flow": _TEXT}}


def knowledge_paths(security: list[dict[str, list[str]]]) -> dict[str, Any]:
    no_auth = error("no session and no valid bearer token")
    no_admin = error("no valid bearer token (a session must send X-CSRF-Token)")
    malformed = error("body is not a JSON object (malformed_json)")
    return {
        "/api/v1/vui-presets": {
            "get": {"summary": "The VUI presets, each with the flows that use it", "security": security,
                    "responses": {"200": body("the presets", ref("VuiPresets")), "401": no_auth}},
            "put": {"summary": "Replace the VUI presets, whole", "security": security,
                    "requestBody": {"required": True, "content": {JSON: {"schema": ref("VuiPresets")}}},
                    "responses": {"200": body("stored: the presets", ref("VuiPresets")), "400": malformed,
                                  "401": no_admin, "413": error("body over 64 KiB"),
                                  "422": body("refused whole, nothing changed (invalid_presets): every problem "
                                              "with its path", ref("PresetProblems")),
                                  "503": error("could not be stored; nothing changed (storage_unavailable)")}},
        },
        "/api/v1/vui-presets/apply": {
            "post": {"summary": "Publish a new version of a flow with a preset over its VUI rules",
                     "security": security,
                     "requestBody": {"required": True, "content": {JSON: {"schema": ref("ApplyPreset")}}},
                     "responses": {"200": body("published", {"type": "object", "properties": {
                         "flow": text(), "version": {"type": "integer"}}}),
                                   "400": malformed, "401": no_admin,
                                   "404": error("no such preset or published flow"),
                                   "422": body("a field is missing (invalid_body, names it), or the flow cannot "
                                               "take the preset (flow_rejected, every problem)",
                                               ref("PresetProblems"))}},
        },
        "/api/v1/knowledge": {
            "get": {"summary": "Each published flow's knowledge base", "security": security,
                    "responses": {"200": body("the knowledge bases", ref("KnowledgeBases")), "401": no_auth}},
        },
        "/api/v1/knowledge/test": {
            "post": {"summary": "Which knowledge-base entry of a flow answers a question, as a call would choose "
                                "it; changes nothing", "security": security,
                     "requestBody": {"required": True, "content": {JSON: {"schema": ref("KnowledgeQuestion")}}},
                     "responses": {"200": body("the answer", ref("KnowledgeAnswer")), "400": malformed,
                                   "401": no_auth, "404": error("the flow is not published"),
                                   "422": error("flow or question missing or too long (invalid_body, names the "
                                                "field)")}},
        },
    }


KNOWLEDGE_SCHEMAS = {"PresetVui": PRESET_VUI, "VuiPreset": PRESET, "VuiPresets": PRESETS,
                     "PresetProblems": PROBLEMS, "ApplyPreset": APPLY, "KnowledgeBases": KNOWLEDGE,
                     "KnowledgeQuestion": QUESTION, "KnowledgeAnswer": ANSWER}
