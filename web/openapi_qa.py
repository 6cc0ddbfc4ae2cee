"""The OpenAPI part for QA (``web.qa``): a reviewer's tags on a call, marking it reviewed, the review queue and tag
counts over time."""

from __future__ import annotations

from typing import Any

from web.openapi_parts import JSON, body, error, ref, text

AUTO_TAGS = ["asr_error", "intent_error", "intent_not_triggered", "long_silence", "barge_in", "fallback_used",
             "hung_up_mid_flow"]  # appliance.records.qa.AUTO_TAGS; a test holds the two together

QA_TAG: dict[str, Any] = {
    "type": "object",
    "required": ["id", "tag", "source", "note", "reviewer", "created_at"],
    "properties": {
        "id": {"type": "integer", "description": "the tag's id (DELETE /api/v1/calls/{call_id}/tags/{tag_id})"},
        "tag": text("an automatic tag (" + ", ".join(AUTO_TAGS) + ") or a reviewer's own name"),
        "source": {"type": "string", "enum": ["auto", "manual"]},
        "note": text("an automatic tag's reason in words (e.g. \"turn 3 'not tomorrow' heard with confidence "
                     "0.28 < 0.45\"), or the reviewer's note"),
        "reviewer": {"type": ["string", "null"], "description": "who set a manual tag; null for automatic ones"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}

REVIEW: dict[str, Any] = {
    "type": ["object", "null"],
    "description": "when and by whom the call was marked reviewed; null: not yet",
    "required": ["reviewed_at", "reviewer"],
    "properties": {"reviewed_at": {"type": "string", "format": "date-time"}, "reviewer": text()},
}

NEW_TAG: dict[str, Any] = {
    "type": "object",
    "required": ["tag"],
    "properties": {
        "tag": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,39}$", "examples": ["wrong_promise"]},
        "note": {"type": "string", "maxLength": 2000, "description": "what the reviewer noticed"},
        "reviewer": {"type": "string", "maxLength": 100,
                     "description": "with a bearer token: who tags (default \"api\"); a panel session tags in its "
                                    "user's name"},
    },
}

QUEUE_ITEM: dict[str, Any] = {
    "type": "object",
    "required": ["call_id", "started_at", "phone", "customer_name", "outcome", "disposition", "grade", "score",
                 "severity", "tags"],
    "properties": {
        "call_id": {"type": "integer"},
        "started_at": {"type": "string", "format": "date-time"},
        "phone": text("E.164"),
        "customer_name": {"type": ["string", "null"]},
        "outcome": text(),
        "disposition": {"type": ["string", "null"]},
        "grade": {"type": ["string", "null"], "enum": ["A", "B", "C", "D", None],
                  "description": "the intent strength's grade"},
        "score": {"type": ["integer", "null"]},
        "severity": {"type": "integer", "description": "the worst tag's rank: a reviewer's tag 8, intent_error 7, "
                                                       "hung_up_mid_flow 6, fallback_used 5, asr_error 4, "
                                                       "intent_not_triggered 3, long_silence 2, barge_in 1"},
        "tags": {"type": "array", "items": ref("QaTag")},
    },
}

QUEUE: dict[str, Any] = {
    "type": "object",
    "required": ["items", "total", "limit", "offset"],
    "properties": {
        "items": {"type": "array", "items": ref("QaQueueItem"),
                  "description": "worst first: the worst tag, then the number of tags, then the grade (D first, "
                                 "none last), then the newest"},
        "total": {"type": "integer", "description": "calls waiting for review (with the filters)"},
        "limit": {"type": "integer"},
        "offset": {"type": "integer"},
    },
}

COUNTS: dict[str, Any] = {
    "type": "object",
    "required": ["by", "zone", "since", "until", "buckets", "totals"],
    "properties": {
        "by": {"type": "string", "enum": ["day", "hour"]},
        "zone": text("the shop's time zone: the days and hours are its"),
        "since": {"type": "string", "format": "date-time"},
        "until": {"type": "string", "format": "date-time"},
        "buckets": {"type": "array", "description": "every day (hour) of the range, oldest first", "items": {
            "type": "object", "required": ["start", "counts", "total"],
            "properties": {"start": text("2024-05-01, or 2024-05-01T14:00+02:00 by hour"),
                           "counts": {"type": "object", "additionalProperties": {"type": "integer"},
                                      "description": "tag -> tags set in it"},
                           "total": {"type": "integer"}}}},
        "totals": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
}

QA_SCHEMAS = {"QaTag": QA_TAG, "QaReview": REVIEW, "QaNewTag": NEW_TAG, "QaQueueItem": QUEUE_ITEM,
              "QaQueue": QUEUE, "QaCounts": COUNTS}

_CALL_ID = {"name": "call_id", "in": "path", "required": True, "schema": {"type": "integer"}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def qa_paths(read_security: list[dict[str, list[str]]]) -> dict[str, Any]:
    admin_security: list[dict[str, list[str]]] = [{"bearer": []}, {"session": []}]  # a session sends X-CSRF-Token
    unauthorized = error("no valid bearer token (or a session without X-CSRF-Token)")
    return {
        "/api/v1/calls/{call_id}/tags": {
            "post": {
                "summary": "A reviewer's tag with a note on a call",
                "security": admin_security,
                "parameters": [_CALL_ID],
                "requestBody": {"required": True, "content": {JSON: {"schema": ref("QaNewTag")}}},
                "responses": {
                    "201": body("the tag stored", ref("QaTag")),
                    "400": error("not a JSON object (malformed_json), or a tag, note or reviewer that cannot be "
                                 "stored (invalid_tag, names the field)"),
                    "401": unauthorized,
                    "404": error("no such call"),
                },
            }
        },
        "/api/v1/calls/{call_id}/tags/{tag_id}": {
            "delete": {
                "summary": "Take a tag off a call (a reviewer's, or an automatic one judged wrong)",
                "security": admin_security,
                "parameters": [_CALL_ID, {"name": "tag_id", "in": "path", "required": True,
                                          "schema": {"type": "integer"}}],
                "responses": {
                    "200": body("removed", {"type": "object", "properties": {
                        "deleted": {"type": "integer"}, "call_id": {"type": "integer"}}}),
                    "401": unauthorized,
                    "404": error("no such call, or it has no such tag"),
                },
            }
        },
        "/api/v1/calls/{call_id}/reviewed": {
            "post": {
                "summary": "Mark a call reviewed: it leaves the review queue (again: a new time and reviewer)",
                "security": admin_security,
                "parameters": [_CALL_ID],
                "requestBody": {"required": False, "content": {JSON: {"schema": {
                    "type": "object", "properties": {"reviewer": NEW_TAG["properties"]["reviewer"]}}}}},
                "responses": {
                    "200": body("the review", {"type": "object", "required": ["call_id", "reviewed_at", "reviewer"],
                                               "properties": {"call_id": {"type": "integer"},
                                                              "reviewed_at": {"type": "string",
                                                                              "format": "date-time"},
                                                              "reviewer": text()}}),
                    "400": error("not a JSON object (malformed_json), or a reviewer that is not a name "
                                 "(invalid_tag)"),
                    "401": unauthorized,
                    "404": error("no such call"),
                },
            }
        },
        "/api/v1/qa/queue": {
            "get": {
                "summary": "The review queue: tagged calls not reviewed yet, worst first",
                "security": read_security,
                "parameters": [
                    _query("tag", {"type": "string", "maxLength": 40}, "only calls with this tag"),
                    _query("grade", {"type": "string", "enum": ["A", "B", "C", "D"]},
                           "only calls of this intent-strength grade"),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "calls per page"),
                    _query("offset", {"type": "integer", "minimum": 0, "default": 0}, "calls to skip"),
                ],
                "responses": {
                    "200": body("a page of the queue", ref("QaQueue")),
                    "400": error("a query parameter is not usable (invalid_parameter, names it)"),
                    "401": error("no session and no valid bearer token"),
                },
            }
        },
        "/api/v1/qa/counts": {
            "get": {
                "summary": "QA tags set per day (or hour) of the shop",
                "security": read_security,
                "parameters": [
                    _query("since", {"type": "string", "format": "date-time"},
                           "from (ISO 8601; UTC without an offset); default: 30 days (by hour: 2 days) before until"),
                    _query("until", {"type": "string", "format": "date-time"}, "to, exclusive; default: now"),
                    _query("by", {"type": "string", "enum": ["day", "hour"], "default": "day"},
                           "bucket size (at most 3660 days or 2208 hours)"),
                ],
                "responses": {
                    "200": body("the counts", ref("QaCounts")),
                    "400": error("a query parameter is not usable, or the range is empty or too long "
                                 "(invalid_parameter, names it)"),
                    "401": error("no session and no valid bearer token"),
                },
            }
        },
    }
