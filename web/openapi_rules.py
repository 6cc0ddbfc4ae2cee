"""The OpenAPI part for the owner's rules and scenarios (``web.rules``); the server's checks are
``appliance.campaign.rules`` and ``appliance.campaign.scenarios``, which a test holds this against."""

from __future__ import annotations

from typing import Any

from web.openapi_parts import JSON, body, error, ref, text
from web.openapi_tasks import SETTINGS

_TEXTS = {"type": "array", "minItems": 1, "maxItems": 200, "items": {"type": "string", "pattern": "\\S",
                                                                      "maxLength": 200}}
_FIELD = ("a ticket field: id, type, subject, description, customer.name, customer.phone, order.id, order.status, "
          "helpdesk_status, or vars.<name>")
_FIELD_TEST = {
    "type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
    "properties": {"equals": {"type": "string", "pattern": "\\S", "maxLength": 300}, "one_of": _TEXTS,
                   "present": {"const": True}, "absent": {"const": True}},
}
_REGEX = {"type": "string", "pattern": "\\S", "maxLength": 500, "description": "a Python regular expression, "
                                                                               "searched case-insensitively"}

RULE: dict[str, Any] = {
    "type": "object",
    "description": "In order, the first rule whose conditions all hold decides; texts compare in lower case",
    "required": ["name", "action"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "\\S", "maxLength": 64},
        "action": {"enum": ["call", "skip"]},
        "scenario": {"type": "string", "pattern": "\\S", "maxLength": 64,
                     "description": "call: the scenario (must exist); without it, the first that covers the "
                                    "ticket's type × order status"},
        "reason": {"type": "string", "pattern": "\\S", "maxLength": 300,
                   "description": "skip (required): the owner's reason, stored with the ticket"},
        "type": _TEXTS, "order_status": _TEXTS, "helpdesk_status": _TEXTS,
        "fields": {"type": "object", "description": f"keys: {_FIELD}", "additionalProperties": _FIELD_TEST},
        "subject_any": _TEXTS, "subject_all": _TEXTS, "description_any": _TEXTS, "description_all": _TEXTS,
        "subject_regex": _REGEX, "description_regex": _REGEX,
        "tags_any": _TEXTS, "tags_all": _TEXTS,
    },
    "examples": [{"name": "delivered", "order_status": ["delivered"], "action": "skip",
                  "reason": "order already delivered"},
                 {"name": "shipped parcels", "type": ["delivery"], "order_status": ["shipped", "out_for_delivery"],
                  "fields": {"vars.carrier": {"absent": True}}, "subject_regex": "parcel|package",
                  "tags_any": ["call-me"], "action": "call", "scenario": "delivery"}],
}
# A scenario's call task settings: the call tasks' own (one check serves both), less what a standing task has not
TASK_SETTINGS: dict[str, Any] = {
    **SETTINGS,
    "description": "the settings of the scenario's standing call task; every key optional; checked as a call "
                   "task's settings are, each problem named (scenarios[0].task.lines)",
    "properties": {k: v for k, v in SETTINGS["properties"].items() if k not in ("broadcast", "valid_until")},
}
SCENARIO: dict[str, Any] = {
    "type": "object",
    "required": ["name", "flow"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9 _.\\-]{0,63}$"},
        "description": {"type": "string", "pattern": "\\S", "maxLength": 1000},
        "covers": {"type": "object", "additionalProperties": False,
                   "description": "the tickets a rule that calls without naming a scenario gets it for",
                   "properties": {"type": _TEXTS, "order_status": _TEXTS}},
        "flow": {"type": "string", "pattern": "\\S", "maxLength": 200, "description": "a published flow's id"},
        "version": {"oneOf": [{"type": "integer", "minimum": 1}, {"const": "latest"}, {"type": "null"}],
                    "description": "a pinned published version; latest (or absent) follows new versions"},
        "variables": {"type": "object", "description": f"flow variable -> {_FIELD}, or shop",
                      "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}$"},
                      "additionalProperties": {"type": "string"}},
        "defaults": {"type": "object", "description": "flow variable -> text said when the ticket has none",
                     "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}$"},
                     "additionalProperties": {"type": "string", "pattern": "\\S", "maxLength": 1000}},
        "task": TASK_SETTINGS,
    },
    "examples": [{"name": "delivery", "covers": {"type": ["delivery"], "order_status": ["shipped"]},
                  "flow": "delivery-confirmation", "version": 1, "variables": {"name": "customer.name"},
                  "defaults": {"carrier": "our courier"},
                  "task": {"max_attempts": 3, "retry": {"no_answer": 30}, "priority": 50, "lines": 1,
                           "valid_days": 7, "hours": {"mon": ["09:00-12:00", "14:00-18:00"]}}}],
}
PROBLEMS: dict[str, Any] = {
    "type": "object", "required": ["error", "message", "problems"],
    "properties": {"error": {"const": "invalid_rules"}, "message": text(),
                   "problems": {"type": "array", "items": {"type": "object", "required": ["path", "message"],
                                                           "properties": {"path": text("rules[2].subject_regex"),
                                                                          "message": text()}}}},
}
DRY_RUN: dict[str, Any] = {
    "type": "object",
    "required": ["decision", "reason", "rule", "rules", "scenario", "flow", "version", "variables", "missing"],
    "properties": {
        "decision": {"enum": ["call", "skip"]},
        "reason": text("what would be stored with the ticket"),
        "rule": {"type": ["string", "null"], "description": "the rule that decided"},
        "rules": {"type": "array", "items": {"type": "object", "properties": {
            "rule": text(), "matched": {"type": "boolean"}, "why_not": {"type": ["string", "null"]}}}},
        "scenario": {"type": ["string", "null"]},
        "flow": {"type": ["string", "null"]},
        "version": {"type": ["integer", "null"]},
        "variables": {"type": "object", "additionalProperties": {"type": "string"},
                      "description": "each variable the flow uses, with the value the call would say"},
        "missing": {"type": "array", "items": {"type": "string"}, "description": "variables with no value: the "
                                                                                    "call would be blocked"},
        "problem": text("the scenario's flow is not published or cannot be read"),
    },
}


def _list_of(key: str, item: str) -> dict[str, Any]:
    return {"type": "object", "required": [key], "additionalProperties": False,
            "properties": {key: {"type": "array", "maxItems": 200, "items": ref(item)}}}


def _document(key: str, item: str, summary: str, security: list[dict[str, list[str]]]) -> dict[str, Any]:
    unauthorized = error("no session and no valid bearer token")
    return {
        "get": {"summary": f"The {key}", "security": security,
                "responses": {"200": body(f"the {key}", _list_of(key, item)), "401": unauthorized}},
        "put": {"summary": summary, "security": security,
                "requestBody": {"required": True, "content": {JSON: {"schema": _list_of(key, item)}}},
                "responses": {"200": body(f"stored: the {key}", _list_of(key, item)),
                              "400": error("body is not a JSON object (malformed_json)"),
                              "401": error("no valid bearer token (a session must send X-CSRF-Token)"),
                              "413": error("body over 64 KiB"),
                              "422": body("refused whole, nothing changed: every problem with its path",
                                          ref("RulesProblems")),
                              "503": error("could not be stored; nothing changed (storage_unavailable)")}},
    }


def rules_paths(security: list[dict[str, list[str]]]) -> dict[str, Any]:
    return {
        "/api/v1/rules": _document("rules", "Rule", "Replace the rules, whole (in order; the first match decides)",
                                   security),
        "/api/v1/scenarios": _document("scenarios", "Scenario", "Replace the scenarios, whole; a scenario's flow "
                                       "must be published and every variable it uses supplied", security),
        "/api/v1/rules/test": {
            "post": {"summary": "Dry-run a ticket through the stored rules; changes nothing", "security": security,
                     "requestBody": {"required": True, "content": {JSON: {"schema": ref("Ticket")}}},
                     "responses": {"200": body("what the rules would do", ref("RulesDryRun")),
                                   "400": error("body is not a JSON object (malformed_json)"),
                                   "401": error("no session and no valid bearer token"),
                                   "422": error("the ticket is invalid (invalid_ticket, names the field)")}},
        },
    }


RULES_SCHEMAS = {"Rule": RULE, "Scenario": SCENARIO, "ScenarioTaskSettings": TASK_SETTINGS, "RulesProblems": PROBLEMS,
                 "RulesDryRun": DRY_RUN}
