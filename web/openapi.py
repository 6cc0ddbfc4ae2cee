"""The OpenAPI 3.1 document for /api/v1, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from appliance.campaign.attempt import Outcome, TaskState
from web.openapi_helpdesks import FRESHDESK_TICKET, HELPDESK_PATHS, HELPDESK_SECURITY, ZAMMAD_TICKET, ZENDESK_TICKET
from web.openapi_knowledge import KNOWLEDGE_SCHEMAS, knowledge_paths
from web.openapi_parts import JSON, body, error, ref, text
from web.openapi_qa import QA_SCHEMAS, qa_paths
from web.openapi_recordings import RECORDINGS_SCHEMAS, recordings_paths
from web.openapi_rules import RULES_SCHEMAS, rules_paths
from web.openapi_stats import STATS_SCHEMAS, stats_paths
from web.openapi_sync import SYNC_SCHEMAS, sync_paths
from web.openapi_tasks import TASK_SCHEMAS, task_paths

MAX_TEXT = 4000  # appliance.campaign.tickets.MAX_TEXT; a test holds the two together


def _field(description: str = "", *, example: str | int, optional: bool = False) -> dict[str, Any]:
    """A ticket's text field as the intake reads it: a string (or a whole number, taken as its digits), at most
    MAX_TEXT characters, and unless optional not blank."""
    schema: dict[str, Any] = {"type": ["string", "integer", "null"] if optional else ["string", "integer"],
                              "maxLength": MAX_TEXT, "examples": [example]}
    if not optional:
        schema["pattern"] = "\\S"
    if description:
        schema["description"] = description
    return schema


ISO_WITH_ZONE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})$"

TICKET = {
    "type": "object",
    "required": ["id", "type", "subject", "customer", "order"],
    "properties": {
        "id": _field("the ticket's id in the ticketing system", example="T-100"),
        "type": _field("e.g. delivery, repair; trigger rules match on it", example="delivery"),
        "subject": _field(example="Your parcel is on its way"),
        "description": _field("optional; may be empty", example="Shipped today", optional=True),
        "customer": {
            "type": "object",
            "required": ["name", "phone"],
            "properties": {"name": _field(example="Ada Park"),
                           "phone": _field("E.164, or national digits read in [shop] country; separators are "
                                           "ignored", example="+15550100")},
        },
        "order": {
            "type": "object",
            "required": ["id", "status"],
            "properties": {"id": _field(example="A-7731"), "status": _field("e.g. shipped, ready", example="shipped")},
        },
        "vars": {
            "type": ["object", "null"],
            "description": "more flow variables by name ({due_date} in a prompt), each a non-empty text; they "
                           "cannot name the ticket's own fields (name, order_id, order_status, shop, subject)",
            "maxProperties": 50,
            "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}$",
                              "not": {"enum": ["name", "order_id", "order_status", "shop", "subject"]}},
            "additionalProperties": {"type": "string", "pattern": "\\S", "maxLength": MAX_TEXT},
            "examples": [{"due_date": "Friday"}],
        },
        "updated_at": {
            "type": "string", "format": "date-time", "maxLength": 64,
            "pattern": ISO_WITH_ZONE,
            "description": "when the ticketing system last changed the ticket (ISO 8601 with a zone); a delivery "
                           "older than the stored version is acknowledged and ignored",
            "examples": ["2026-12-03T09:30:00+01:00"],
        },
    },
}

ACCEPTED = {
    "type": "object",
    "required": ["ticket", "decision", "reason", "task", "duplicate", "change", "updated", "cancelled_task"],
    "properties": {
        "ticket": text(),
        "decision": {"type": "string", "enum": ["call", "skip"]},
        "reason": text("why the box will or will not call"),
        "task": {"type": ["integer", "null"], "description": "the call task made for it, if any"},
        "duplicate": {"type": "boolean", "description": "this webhook-id was delivered before"},
        "change": {"type": "string", "enum": ["new", "duplicate", "updated", "cancelled", "reopened", "stale"],
                   "description": "what the delivery did: a new ticket; an update of a known one (stored in place; "
                                  "its pending call cancelled; a done ticket reopened with a new call); or a "
                                  "version older than the stored one, ignored (README \"When a ticket changes\")"},
        "updated": {"type": "boolean", "description": "a known ticket's stored fields took this delivery"},
        "cancelled_task": {"type": ["integer", "null"],
                           "description": "the pending call task this update cancelled (the call is pointless now)"},
    },
}

_WHEN = {"type": ["string", "null"], "format": "date-time"}

CALL = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "ticket_id": text(),
        "task_id": {"type": "integer"},
        "attempt": {"type": ["integer", "null"], "description": "this call was attempt N of its task's max_attempts"},
        "max_attempts": {"type": ["integer", "null"]},
        "phone": text("E.164"),
        "customer_name": text(),
        "line": text(),
        "started_at": {"type": "string", "format": "date-time"},
        "outcome": {"type": "string", "description": "a terminal attempt state, or dialing/ringing/answered while "
                                                      "the call is on the line"},
        "cause": {"type": ["integer", "string", "null"]},
        "disposition": {"type": ["string", "null"]},
        "duration_s": {"type": ["number", "null"]},
        "remark": {"type": ["string", "null"]},
        "flow": text("flow id and version, e.g. delivery v3"),
        "turns": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"speaker": {"type": "string", "enum": ["bot", "customer"]}, "text": text(),
                               "node": {"type": ["string", "null"], "description": "the flow node it was said at"}},
            },
        },
        "has_recording": {"type": "boolean"},
        "recording_url": text("where the WAV is served (bearer token or session); only when has_recording"),
        "tags": {"type": "array", "items": ref("QaTag"), "description": "the call's QA tags (in its detail)"},
        "review": ref("QaReview"),
        "reanalysis": {"$ref": "#/components/schemas/Reanalysis"},
    },
}

# The latest re-analysis of a call's recording (`callbox recordings reanalyse`), beside the original values
REANALYSIS = {
    "type": ["object", "null"],
    "description": "the recording heard again (callbox recordings reanalyse), its latest run, beside the call's own "
                   "values, which stay as they were; null: never re-analysed. Only in one call's detail",
    "properties": {
        "run": {"type": "integer"},
        "recogniser": {"type": "string", "enum": ["hybrid", "whisper", "grammar"]},
        "analysed_at": {"type": "string", "format": "date-time"},
        "intent": {"type": ["string", "null"], "description": "the call's intent: its last customer intent"},
        "original_intent": {"type": ["string", "null"], "description": "the same, from the stored turns"},
        "changed": {"type": "boolean", "description": "a customer turn's intent differs from the stored one"},
        "slots": {"type": "object"},
        "intent_strength": {"type": "object", "properties": {
            "score": {"type": "integer"}, "grade": {"type": "string", "enum": ["A", "B", "C", "D"]},
            "reasons": {"type": "array", "items": {"type": "string"}}}},
        "turns": {"type": "array", "description": "the customer's turns", "items": {"type": "object", "properties": {
            "seq": {"type": "integer", "description": "the stored turn's place in the transcript"},
            "text": {"type": "string"}, "intent": {"type": ["string", "null"]},
            "confidence": {"type": ["number", "null"]}, "event": {"type": "string"},
            "heard_again": {"type": "boolean", "description": "false: kept as stored (keys, silence, greeting, "
                                                             "or no speech found in the recording)"},
            "original_text": {"type": ["string", "null"]}, "original_intent": {"type": ["string", "null"]}}}},
    },
}

OUTBOX_ITEM = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "ticket": {"type": ["string", "null"]},
        "operation": {"type": ["string", "null"], "description": "remark, close, schedule, do_not_call, sms"},
        "created_at": {"type": "string", "format": "date-time"},
        "attempts": {"type": "integer"},
        "next_try_at": {"type": ["string", "null"], "format": "date-time", "description": "null when failed"},
        "last_error": {"type": ["string", "null"]},
        "state": {"type": "string", "enum": ["pending", "failed"],
                  "description": "pending: retried with backoff (5 s doubling, at most 10 min); failed: the "
                                 "ticketing system refused it (a 4xx other than 408/429), not retried"},
    },
}

OUTBOX = {
    "type": "object",
    "required": ["backlog", "failed", "oldest_age_s", "last_error", "items", "total", "limit", "offset"],
    "properties": {
        "backlog": {"type": "integer", "description": "operations waiting to be delivered"},
        "failed": {"type": "integer", "description": "operations given up"},
        "oldest_age_s": {"type": ["number", "null"], "description": "age of the oldest waiting operation"},
        "last_error": {"type": ["object", "null"],
                       "properties": {"item": {"type": "integer"}, "error": text()}},
        "items": {"type": "array", "items": ref("OutboxItem"), "description": "undelivered, oldest first"},
        "total": {"type": "integer", "description": "undelivered items in all pages"},
        "limit": {"type": "integer"},
        "offset": {"type": "integer"},
    },
}

TASK = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "ticket_id": text(),
        "flow_id": text(),
        "state": {"type": "string", "enum": [s.value for s in TaskState]},
        "attempts": {"type": "integer", "description": "attempts made (counted when a call is placed)"},
        "max_attempts": {"type": "integer"},
        "next_attempt_at": {**_WHEN, "description": "when the next attempt is due; null once the task has ended"},
        "last_outcome": {"type": ["string", "null"]},
        "call_task_id": {"type": ["integer", "null"], "description": "the call task it belongs to"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}

TICKET_RECORD = {
    "type": "object",
    "properties": {
        **{name: text() for name in ("id", "type", "subject", "customer_name", "phone", "order_id",
                                      "order_status", "decision", "reason")},
        "status": text("open, calling, scheduled, closed, unreachable, skipped"),
        "flow_id": {"type": ["string", "null"]},
        "next_call_at": _WHEN,
        "vars": {"type": "object", "additionalProperties": {"type": "string"}},
        "operations": {"type": "array", "items": {"type": "object", "properties": {
            "kind": text("remark, close, schedule, sms, do_not_call, ..."), "detail": text(),
            "call_id": {"type": ["integer", "null"]}, "at": {"type": "string", "format": "date-time"}}}},
        "tasks": {"type": "array", "items": ref("Task")},
        "calls": {"type": "array", "items": ref("Call"), "description": "oldest first"},
    },
}


def _page_of(key: str, item: str) -> dict[str, Any]:
    return {"type": "object", "required": [key, "next"], "properties": {
        key: {"type": "array", "items": ref(item)},
        "next": {"type": ["string", "null"], "description": "the next page's URL (same filters), null on the last"}}}


ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": text("a code: bad_signature, malformed_json, invalid_ticket, missing_delivery_id, not_connected, "
                        "storage_unavailable, unauthorized, not_found, invalid_parameter, invalid_task, "
                        "illegal_transition, conflict, invalid_rules, ..."),
        "message": text(),
        "field": text("for invalid_ticket and invalid_task: the offending field, dotted (customer.phone, "
                      "settings.lines)"),
        "problems": {"type": "array", "description": "for invalid_task: every problem found, the first being "
                     "`field` and `message` (settings are checked whole)",
                     "items": {"type": "object", "required": ["field", "message"],
                               "properties": {"field": text(), "message": text()}}},
        "state": text("for illegal_transition: the call task's state"),
        "action": text("for illegal_transition: the action refused"),
        "parameter": text("for invalid_parameter: the offending query parameter"),
    },
}

LIMIT = {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


PAGING = [
    _query("before", {"type": "integer", "minimum": 1}, "the cursor: only items with a smaller id (a page's "
                                                        "next URL sets it)"),
    _query("limit", LIMIT, "items per page"),
]
CALL_FILTERS = [
    _query("phone", {"type": "string"}, "the customer's number in any form the box reads (400 if it is not one)"),
    _query("since", {"type": "string", "format": "date-time"}, "calls started at or after (ISO 8601; UTC "
                                                               "without an offset)"),
    _query("until", {"type": "string", "format": "date-time"}, "calls started before (ISO 8601)"),
    _query("outcome", {"type": "string", "enum": [o.value for o in Outcome]}, "how the call ended"),
    _query("task", {"type": "integer", "minimum": 1}, "the task's id"),
    *PAGING,
]
CALL_ID = {"name": "call_id", "in": "path", "required": True, "schema": {"type": "integer"}}

SIGNATURE_HEADERS = [
    {"name": name, "in": "header", "required": True, "schema": {"type": "string"}, "description": about}
    for name, about in (
        ("webhook-id", "unique per message; a redelivery reuses it"),
        ("webhook-timestamp", "Unix seconds; rejected when more than 5 minutes off"),
        ("webhook-signature", "v1,<base64 HMAC-SHA256 of id.timestamp.body> (Standard Webhooks)"),
    )
]


def openapi_document(version: str) -> dict[str, Any]:
    read_security: list[dict[str, list[str]]] = [{"bearer": []}, {"session": []}]
    return {
        "openapi": "3.1.0",
        "info": {"title": "Callbox API", "version": version},
        "paths": {
            "/api/v1/tickets": {
                "post": {
                    "summary": "Receive a ticket from the ticketing system (Standard Webhooks signed)",
                    "parameters": SIGNATURE_HEADERS,
                    "requestBody": {"required": True, "content": {JSON: {"schema": ref("Ticket")}}},
                    "responses": {
                        "202": body("stored and decided", ref("Accepted")),
                        "400": error("body is not a JSON object (malformed_json)"),
                        "401": error("missing or wrong signature, or stale timestamp (bad_signature)"),
                        "413": error("body over 64 KiB"),
                        "422": error("a field is missing or invalid (invalid_ticket, names the field)"),
                        "503": error("the ticket could not be stored; retry later (storage_unavailable)"),
                    },
                }
            },
            **HELPDESK_PATHS,
            "/api/v1/calls": {
                "get": {
                    "summary": "Calls, newest first, filtered, a page at a time",
                    "security": read_security,
                    "parameters": CALL_FILTERS,
                    "responses": {
                        "200": body("a page of calls", _page_of("calls", "Call")),
                        "400": error("a query parameter is not usable (invalid_parameter, names it)"),
                        "401": error("no session and no valid bearer token"),
                    },
                }
            },
            "/api/v1/calls/{call_id}": {
                "get": {
                    "summary": "One call with its transcript, task, attempt number and recording URL",
                    "security": read_security,
                    "parameters": [CALL_ID],
                    "responses": {
                        "200": body("the call", ref("Call")),
                        "401": error("no session and no valid bearer token"),
                        "404": error("no such call"),
                    },
                }
            },
            "/api/v1/calls/{call_id}/recording.wav": {
                "get": {
                    "summary": "The call's recording: stereo WAV, customer left, bot right",
                    "security": read_security,
                    "parameters": [CALL_ID],
                    "responses": {
                        "200": {"description": "the WAV file", "content": {"audio/wav": {}}},
                        "401": error("no session and no valid bearer token"),
                        "404": error("no such call, or it has no recording"),
                    },
                }
            },
            "/api/v1/tickets/{ticket_id}": {
                "get": {
                    "summary": "One ticket: status, decision, operations with their times, tasks, calls",
                    "security": read_security,
                    "parameters": [{"name": "ticket_id", "in": "path", "required": True,
                                    "schema": {"type": "string"}}],
                    "responses": {
                        "200": body("the ticket", ref("TicketRecord")),
                        "401": error("no session and no valid bearer token"),
                        "404": error("no such ticket"),
                    },
                }
            },
            **task_paths(read_security, PAGING, _query),
            "/api/v1/outbox": {
                "get": {
                    "summary": "Ticket operations not yet delivered to the ticketing system",
                    "security": read_security,
                    "parameters": [
                        {"name": "limit", "in": "query",
                         "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
                        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
                    ],
                    "responses": {
                        "200": body("the backlog", ref("Outbox")),
                        "400": error("limit or offset is not usable (invalid_parameter, names it)"),
                        "401": error("no session and no valid bearer token"),
                    },
                }
            },
            **rules_paths(read_security),
            **knowledge_paths(read_security),
            **sync_paths(read_security),
            **recordings_paths(read_security, _query, LIMIT),
            **qa_paths(read_security),
            **stats_paths(read_security, _query),
            "/api/v1/openapi.json": {
                "get": {"summary": "This document", "security": read_security,
                        "responses": {"200": {"description": "OpenAPI 3.1"},
                                      "401": error("no session and no valid bearer token")}}
            },
            "/api/v1/flow-schema": {
                "get": {"summary": "The JSON Schema of a flow document", "security": read_security,
                        "responses": {"200": {"description": "JSON Schema (draft 2020-12)"},
                                      "401": error("no session and no valid bearer token")}}
            },
        },
        "components": {
            "schemas": {"Ticket": TICKET, "Accepted": ACCEPTED, "Call": CALL, "Error": ERROR, "Task": TASK,
                        "TicketRecord": TICKET_RECORD, "Outbox": OUTBOX, "OutboxItem": OUTBOX_ITEM,
                        "ZendeskTicket": ZENDESK_TICKET, "ZammadTicket": ZAMMAD_TICKET,
                        "FreshdeskTicket": FRESHDESK_TICKET, **TASK_SCHEMAS, **RULES_SCHEMAS, **KNOWLEDGE_SCHEMAS,
                        **SYNC_SCHEMAS, **RECORDINGS_SCHEMAS, **QA_SCHEMAS, **STATS_SCHEMAS,
                        "Reanalysis": REANALYSIS},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "CALLBOX_API_TOKEN, or a token made on the panel's Users page"},
                "session": {"type": "apiKey", "in": "cookie", "name": "callbox_session",
                            "description": "a logged-in panel session"},
                **HELPDESK_SECURITY,
            },
        },
    }
