"""The OpenAPI part for ``GET /api/v1/sync``: the outbox's backlog per target (``appliance.records.outbox``)."""

from __future__ import annotations

from typing import Any

from web.openapi_parts import body, error, ref, text

SYNC_TARGET: dict[str, Any] = {
    "type": "object",
    "required": ["configured", "pending", "failed", "oldest_pending_age_s", "last_error", "last_success"],
    "properties": {
        "configured": {"type": "boolean", "description": "the target has somewhere to send to (ticket: "
                                                         "[web] callback_url or a helpdesk API; upstream: "
                                                         "[upstream] url)"},
        "pending": {"type": "integer", "description": "rows waiting to be delivered (they will be tried)"},
        "failed": {"type": "integer", "description": "rows given up (the receiver refused them for good)"},
        "oldest_pending_age_s": {"type": ["number", "null"], "description": "age of the oldest waiting row"},
        "last_error": {"type": ["object", "null"], "description": "the newest undelivered row that failed",
                       "properties": {"item": {"type": "integer"}, "error": text()}},
        "last_success": {"type": ["string", "null"], "description": "when a row was last delivered (UTC)"},
    },
}

SYNC: dict[str, Any] = {
    "type": "object",
    "required": ["targets"],
    "properties": {"targets": {"type": "object", "required": ["ticket", "upstream"],
                               "additionalProperties": ref("SyncTarget")}},
}

SYNC_SCHEMAS = {"Sync": SYNC, "SyncTarget": SYNC_TARGET}


def sync_paths(read_security: list[dict[str, list[str]]]) -> dict[str, Any]:
    return {
        "/api/v1/sync": {
            "get": {
                "summary": "What waits to leave the box, per target: ticket operations and upstream call records",
                "security": read_security,
                "responses": {
                    "200": body("the backlog per target", ref("Sync")),
                    "401": error("no session and no valid bearer token"),
                },
            }
        },
    }
