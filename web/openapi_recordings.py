"""The OpenAPI part for ``/api/v1/recordings``: browse, download (a side), delete a range (``web.recordings``)."""

from __future__ import annotations

from typing import Any

from web.openapi_parts import body, error, ref, text
from web.recordings import CHANNELS

RECORDING: dict[str, Any] = {
    "type": "object",
    "required": ["call_id", "ticket_id", "phone", "started_at", "bytes", "url"],
    "properties": {
        "call_id": {"type": "integer"},
        "ticket_id": text(),
        "phone": text("E.164"),
        "customer_name": text(),
        "started_at": {"type": "string", "format": "date-time"},
        "duration_s": {"type": ["number", "null"], "description": "from the answer to the end"},
        "outcome": {"type": ["string", "null"]},
        "bytes": {"type": ["integer", "null"], "description": "the WAV file's size"},
        "url": text("where the WAV is served (add ?channel=customer|bot for one side)"),
    },
}

RECORDINGS: dict[str, Any] = {
    "type": "object",
    "required": ["recordings", "total", "bytes", "limit", "offset"],
    "properties": {
        "recordings": {"type": "array", "items": ref("Recording"), "description": "newest first"},
        "total": {"type": "integer", "description": "recordings that match, in all pages"},
        "bytes": {"type": "integer", "description": "their size, in all pages"},
        "limit": {"type": "integer"},
        "offset": {"type": "integer"},
    },
}

DELETED: dict[str, Any] = {
    "type": "object",
    "required": ["deleted", "freed_bytes", "kept_by_law", "in_progress"],
    "properties": {
        "deleted": {"type": "integer", "description": "recordings deleted (marked `owner`, files removed)"},
        "freed_bytes": {"type": "integer"},
        "kept_by_law": {"type": "integer", "description": "kept: younger than the calling preset's legal minimum "
                                                          "(README \"Calling hours and compliance\")"},
        "in_progress": {"type": "integer", "description": "kept: their calls are still on the line"},
    },
}

RECORDINGS_SCHEMAS = {"Recording": RECORDING, "Recordings": RECORDINGS, "RecordingsDeleted": DELETED}


def recordings_paths(read_security: list[dict[str, list[str]]], query: Any, limit: dict[str, Any]) -> dict[str, Any]:
    admin: list[dict[str, list[str]]] = [{"bearer": []}, {"session": []}]
    selection = [
        query("phone", {"type": "string"}, "the customer's number in any form the box reads (400 if it is not one)"),
        query("since", {"type": "string", "format": "date-time"}, "calls started at or after (ISO 8601; UTC "
                                                                  "without an offset)"),
        query("until", {"type": "string", "format": "date-time"}, "calls started before (ISO 8601; after since)"),
    ]
    bad = error("a query parameter is not usable (invalid_parameter, names it)")
    return {
        "/api/v1/recordings": {
            "get": {
                "summary": "The kept recordings of ended calls, newest first, by customer and time range",
                "security": read_security,
                "parameters": [*selection, query("limit", limit, "recordings per page"),
                               query("offset", {"type": "integer", "minimum": 0, "default": 0},
                                     "recordings to skip (pages: offset + limit)")],
                "responses": {"200": body("a page of recordings", ref("Recordings")), "400": bad,
                              "401": error("no session and no valid bearer token")},
            },
            "delete": {
                "summary": "Delete the recordings of a customer and/or a time range (at least one of phone, since, "
                           "until); those younger than the legal minimum, and calls on the line, stay",
                "security": admin,
                "parameters": selection,
                "responses": {"200": body("what was deleted and what stayed", ref("RecordingsDeleted")),
                              "400": error("no range given, or a parameter is not usable (invalid_parameter)"),
                              "401": error("no valid bearer token (a session must send X-CSRF-Token)"),
                              "503": error("the box could not do it now; try again (unavailable)")},
            },
        },
        "/api/v1/recordings/{call_id}": {
            "get": {
                "summary": "A call's recording: stereo WAV (customer left, bot right), or one side as mono WAV",
                "security": read_security,
                "parameters": [
                    {"name": "call_id", "in": "path", "required": True, "schema": {"type": "integer"}},
                    query("channel", {"type": "string", "enum": list(CHANNELS)},
                          "one side only: the customer (left) or the bot (right), as mono WAV"),
                ],
                "responses": {"200": {"description": "the WAV file", "content": {"audio/wav": {}}}, "400": bad,
                              "401": error("no session and no valid bearer token"),
                              "404": error("no such call, no recording, deleted, or the call is on the line")},
            }
        },
    }
