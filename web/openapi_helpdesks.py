"""The helpdesk routes of the OpenAPI document: each helpdesk's request body, headers and security scheme."""

from __future__ import annotations

from typing import Any

from web.openapi_parts import JSON, body, error, ref, text

ZENDESK_TICKET = {
    "type": "object",
    "required": ["ticket"],
    "description": "a trigger's JSON body in the shape of the Tickets API's ticket (README, Helpdesks)",
    "properties": {"ticket": {
        "type": "object",
        "required": ["id", "subject", "requester", "custom_fields"],
        "properties": {
            "id": {"type": ["string", "integer"]},
            "type": text("question, incident, problem, task (or type_field / default_type)"),
            "status": text(),
            "subject": text(),
            "description": text(),
            "requester": {"type": "object", "required": ["name", "phone"],
                          "properties": {"name": text(), "phone": text()}},
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
                "number": text(),
                "title": text(),
                "state": {"type": ["string", "object"]},
                "type": {"type": ["string", "object"]},
                "customer": {"type": "object", "description": "firstname/lastname, and mobile or phone",
                             "properties": {name: text() for name in ("firstname", "lastname", "mobile",
                                                                        "phone")}},
                "order_id": {"description": "the attribute named by order_id_field"},
                "order_status": {"description": "the attribute named by order_status_field"},
            },
        },
        "article": {"type": "object", "properties": {"body": text(), "content_type": text()}},
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
            **{name: text() for name in ("ticket_subject", "ticket_description", "ticket_status",
                                          "ticket_ticket_type", "ticket_contact_name", "ticket_contact_phone",
                                          "ticket_contact_mobile")},
            "ticket_cf_order_id": {"description": "ticket_<order_id_field>"},
            "ticket_cf_order_status": {"description": "ticket_<order_status_field>"},
        },
    }},
}


def _helpdesk_route(name: str, summary: str, schema_name: str, security: str,
                    headers: list[tuple[str, str]]) -> dict[str, Any]:
    return {"post": {
        "summary": summary,
        "security": [{security: []}],
        "parameters": [{"name": header, "in": "header", "required": True, "schema": {"type": "string"},
                        "description": about} for header, about in headers],
        "requestBody": {"required": True, "content": {JSON: {"schema": ref(schema_name)}}},
        "responses": {
            "202": body("mapped, stored and decided", ref("Accepted")),
            "400": error("body is not a JSON object, or no delivery id (malformed_json, missing_delivery_id)"),
            "401": error("missing or wrong signature or token (bad_signature)"),
            "404": error(f"no secret configured in [helpdesks.{name}] (not_connected)"),
            "413": error("body over 64 KiB"),
            "422": error("a field is missing or cannot be mapped (invalid_ticket, names the helpdesk's field)"),
            "503": error("the ticket could not be stored; retried later (storage_unavailable)"),
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
