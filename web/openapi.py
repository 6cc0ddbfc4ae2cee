"""The OpenAPI 3.1 document for /api/v1, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

JSON = "application/json"


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _body(description, _ref("Error"))


def _text(description: str = "") -> dict[str, Any]:
    return {"type": "string", "description": description} if description else {"type": "string"}


TICKET = {
    "type": "object",
    "required": ["id", "type", "subject", "customer", "order"],
    "properties": {
        "id": _text("the ticket's id in the ticketing system"),
        "type": _text("e.g. delivery, repair; trigger rules match on it"),
        "subject": _text(),
        "description": _text(),
        "customer": {
            "type": "object",
            "required": ["name", "phone"],
            "properties": {"name": _text(), "phone": _text("E.164 or local digits; separators are ignored")},
        },
        "order": {
            "type": "object",
            "required": ["id", "status"],
            "properties": {"id": _text(), "status": _text("e.g. shipped, ready")},
        },
        "vars": {
            "type": "object",
            "description": "more flow variables by name ({due_date} in a prompt), each a non-empty text; they "
                           "cannot name the ticket's own fields (name, order_id, order_status, shop, subject)",
            "maxProperties": 50,
            "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}$"},
            "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 4000},
        },
        "updated_at": {
            "type": "string", "format": "date-time",
            "description": "when the ticketing system last changed the ticket (ISO 8601 with a zone); a delivery "
                           "older than the stored version is acknowledged and ignored",
        },
    },
}

ACCEPTED = {
    "type": "object",
    "required": ["ticket", "decision", "reason", "task", "duplicate", "change", "updated", "cancelled_task"],
    "properties": {
        "ticket": _text(),
        "decision": {"type": "string", "enum": ["call", "skip"]},
        "reason": _text("why the box will or will not call"),
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

CALL = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "ticket_id": _text(),
        "phone": _text(),
        "customer_name": _text(),
        "started_at": {"type": "string", "format": "date-time"},
        "outcome": _text("completed, busy, no_answer, rejected, failed, interrupted, ..."),
        "disposition": {"type": ["string", "null"]},
        "duration_s": {"type": ["number", "null"]},
        "remark": {"type": ["string", "null"]},
        "turns": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"speaker": {"type": "string", "enum": ["bot", "customer"]}, "text": _text()},
            },
        },
        "has_recording": {"type": "boolean"},
    },
}

ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": _text("a code: bad_signature, malformed_json, invalid_ticket, missing_delivery_id, not_connected, "
                        "storage_unavailable, unauthorized, not_found, ..."),
        "message": _text(),
        "field": _text("for invalid_ticket: the offending field, dotted (customer.phone)"),
    },
}

LIMIT = {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}

SIGNATURE_HEADERS = [
    {"name": name, "in": "header", "required": True, "schema": {"type": "string"}, "description": text}
    for name, text in (
        ("webhook-id", "unique per message; a redelivery reuses it"),
        ("webhook-timestamp", "Unix seconds; rejected when more than 5 minutes off"),
        ("webhook-signature", "v1,<base64 HMAC-SHA256 of id.timestamp.body> (Standard Webhooks)"),
    )
]


ZENDESK_TICKET = {
    "type": "object",
    "required": ["ticket"],
    "description": "a trigger's JSON body in the shape of the Tickets API's ticket (README, Helpdesks)",
    "properties": {"ticket": {
        "type": "object",
        "required": ["id", "subject", "requester", "custom_fields"],
        "properties": {
            "id": {"type": ["string", "integer"]},
            "type": _text("question, incident, problem, task (or type_field / default_type)"),
            "status": _text(),
            "subject": _text(),
            "description": _text(),
            "requester": {"type": "object", "required": ["name", "phone"],
                          "properties": {"name": _text(), "phone": _text()}},
            "custom_fields": {"type": "array", "description": "order_id_field and order_status_field by id",
                              "items": {"type": "object", "required": ["id"],
                                        "properties": {"id": {"type": ["string", "integer"]}, "value": {}}}},
        },
    }},
}

ZAMMAD_TICKET = {
    "type": "object",
    "required": ["ticket"],
    "description": "Zammad's default webhook payload; custom attributes sit on the ticket",
    "properties": {
        "ticket": {
            "type": "object",
            "required": ["id", "title", "customer"],
            "properties": {
                "id": {"type": ["string", "integer"]},
                "number": _text(),
                "title": _text(),
                "state": {"type": ["string", "object"]},
                "type": {"type": ["string", "object"]},
                "customer": {"type": "object", "description": "firstname/lastname, and mobile or phone",
                             "properties": {name: _text() for name in ("firstname", "lastname", "mobile",
                                                                        "phone")}},
                "order_id": {"description": "the attribute named by order_id_field"},
                "order_status": {"description": "the attribute named by order_status_field"},
            },
        },
        "article": {"type": "object", "properties": {"body": _text(), "content_type": _text()}},
    },
}

FRESHDESK_TICKET = {
    "type": "object",
    "required": ["freshdesk_webhook"],
    "description": "the JSON content of a Freshdesk 'Trigger webhook' action",
    "properties": {"freshdesk_webhook": {
        "type": "object",
        "required": ["ticket_id", "ticket_subject", "ticket_contact_name"],
        "properties": {
            "ticket_id": {"type": ["string", "integer"]},
            **{name: _text() for name in ("ticket_subject", "ticket_description", "ticket_status",
                                          "ticket_ticket_type", "ticket_contact_name", "ticket_contact_phone",
                                          "ticket_contact_mobile")},
            "ticket_cf_order_id": {"description": "ticket_<order_id_field>"},
            "ticket_cf_order_status": {"description": "ticket_<order_status_field>"},
        },
    }},
}


def _helpdesk_route(name: str, summary: str, body: str, security: str,
                    headers: list[tuple[str, str]]) -> dict[str, Any]:
    return {"post": {
        "summary": summary,
        "security": [{security: []}],
        "parameters": [{"name": header, "in": "header", "required": True, "schema": {"type": "string"},
                        "description": text} for header, text in headers],
        "requestBody": {"required": True, "content": {JSON: {"schema": _ref(body)}}},
        "responses": {
            "202": _body("mapped, stored and decided", _ref("Accepted")),
            "400": _error("body is not a JSON object, or no delivery id (malformed_json, missing_delivery_id)"),
            "401": _error("missing or wrong signature or token (bad_signature)"),
            "404": _error(f"no secret configured in [helpdesks.{name}] (not_connected)"),
            "413": _error("body over 64 KiB"),
            "422": _error("a field is missing or cannot be mapped (invalid_ticket, names the helpdesk's field)"),
            "503": _error("the ticket could not be stored; retried later (storage_unavailable)"),
        },
    }}


HELPDESK_PATHS = {
    "/api/v1/tickets/zendesk": _helpdesk_route(
        "zendesk", "Receive a ticket from a Zendesk trigger's webhook", "ZendeskTicket", "zendeskSignature",
        [("X-Zendesk-Webhook-Signature-Timestamp", "ISO 8601; rejected when more than 5 minutes off"),
         ("X-Zendesk-Webhook-Invocation-Id", "deduplicates redeliveries")]),
    "/api/v1/tickets/zammad": _helpdesk_route(
        "zammad", "Receive a ticket from a Zammad trigger's webhook", "ZammadTicket", "zammadSignature",
        [("X-Zammad-Delivery", "deduplicates redeliveries")]),
    "/api/v1/tickets/freshdesk": _helpdesk_route(
        "freshdesk", "Receive a ticket from a Freshdesk automation's webhook (deduplicated by the body's SHA-256)",
        "FreshdeskTicket", "freshdeskToken", []),
}

HELPDESK_SECURITY = {
    "zendeskSignature": {"type": "apiKey", "in": "header", "name": "X-Zendesk-Webhook-Signature",
                         "description": "base64(HMAC-SHA256(signing secret, timestamp + body))"},
    "zammadSignature": {"type": "apiKey", "in": "header", "name": "X-Hub-Signature",
                        "description": "sha1=<hex HMAC-SHA1(token, body)>"},
    "freshdeskToken": {"type": "apiKey", "in": "header", "name": "X-Callbox-Token",
                       "description": "the configured token, compared in constant time"},
}


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
                    "requestBody": {"required": True, "content": {JSON: {"schema": _ref("Ticket")}}},
                    "responses": {
                        "202": _body("stored and decided", _ref("Accepted")),
                        "400": _error("body is not a JSON object (malformed_json)"),
                        "401": _error("missing or wrong signature, or stale timestamp (bad_signature)"),
                        "413": _error("body over 64 KiB"),
                        "422": _error("a field is missing or invalid (invalid_ticket, names the field)"),
                        "503": _error("the ticket could not be stored; retry later (storage_unavailable)"),
                    },
                }
            },
            **HELPDESK_PATHS,
            "/api/v1/calls": {
                "get": {
                    "summary": "Calls, newest first",
                    "security": read_security,
                    "parameters": [{"name": "limit", "in": "query", "schema": LIMIT}],
                    "responses": {
                        "200": _body("calls", {"type": "object", "properties": {
                            "calls": {"type": "array", "items": _ref("Call")}}}),
                        "401": _error("no session and no valid bearer token"),
                    },
                }
            },
            "/api/v1/calls/{call_id}": {
                "get": {
                    "summary": "One call with its transcript",
                    "security": read_security,
                    "parameters": [{"name": "call_id", "in": "path", "required": True,
                                    "schema": {"type": "integer"}}],
                    "responses": {
                        "200": _body("the call", _ref("Call")),
                        "401": _error("no session and no valid bearer token"),
                        "404": _error("no such call"),
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}
            },
            "/api/v1/flow-schema": {
                "get": {"summary": "The JSON Schema of a flow document",
                        "responses": {"200": {"description": "JSON Schema (draft 2020-12)"}}}
            },
        },
        "components": {
            "schemas": {"Ticket": TICKET, "Accepted": ACCEPTED, "Call": CALL, "Error": ERROR,
                        "ZendeskTicket": ZENDESK_TICKET, "ZammadTicket": ZAMMAD_TICKET,
                        "FreshdeskTicket": FRESHDESK_TICKET},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "the configured API token"},
                "session": {"type": "apiKey", "in": "cookie", "name": "callbox_session",
                            "description": "a logged-in panel session"},
                **HELPDESK_SECURITY,
            },
        },
    }
