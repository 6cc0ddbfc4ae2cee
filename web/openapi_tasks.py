"""The call tasks' part of the OpenAPI document: list, preview, create, one task, pause/resume/cancel; timers:
list, enable/disable, delete."""

from __future__ import annotations

from typing import Any

from web.openapi_parts import JSON, body, error, ref, text

STATES = ["pending", "running", "paused", "completed", "expired", "cancelled"]
SOURCES = ["trigger", "cron", "manual", "csv"]
RETRIED = ["busy", "no_answer", "rejected", "failed", "interrupted"]
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun",
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_WHEN = {"type": ["string", "null"], "format": "date-time"}

SETTINGS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "every key optional; refused whole, naming every problem (settings.lines)",
    "properties": {
        "broadcast": {"type": "boolean", "default": False,
                      "description": "call every customer once; else until resolved, by the retry table"},
        "lines": {"type": "integer", "minimum": 1, "maximum": 64, "description": "lines it may use at once"},
        "max_attempts": {"type": "integer", "minimum": 1, "maximum": 20},
        "retry": {"type": "object", "propertyNames": {"enum": RETRIED},
                  "additionalProperties": {"type": "number", "minimum": 1, "maximum": 43200},
                  "description": "outcome -> minutes before the redial, over `calling.retry_s`"},
        "redials": {"type": "object", "propertyNames": {"enum": RETRIED},
                    "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 20},
                    "description": "outcome -> how many times that outcome is redialled at most "
                                   "(max_attempts still caps the total)"},
        "priority": {"type": "integer", "minimum": -1000, "maximum": 1000, "default": 0,
                     "description": "higher is called first"},
        "valid_days": {"type": "integer", "minimum": 1, "maximum": 366},
        "valid_until": {"type": "string", "format": "date-time",
                        "description": "attempts still pending then end `expired` (ISO 8601 with a zone)"},
        "hours": {"type": "object", "propertyNames": {"enum": DAYS},
                  "additionalProperties": {"type": "array", "maxItems": 24,
                                           "items": {"type": "string", "examples": ["09:00-12:00"]}},
                  "description": "calling hours per weekday on the customer's clock, inside the compliance "
                                 "preset's (never wider); a day not named has no calls"},
    },
}

CUSTOMER = {
    "type": "object",
    "required": ["phone"],
    "additionalProperties": False,
    "properties": {"phone": text("any form the box reads"), "name": text(), "order_id": text(),
                   "vars": {"type": "object", "additionalProperties": {"type": "string"}}},
}

NEW_TASK = {
    "type": "object",
    "required": ["flow"],
    "additionalProperties": False,
    "description": "one of tickets, customers, csv; with `cron` a timer that makes such a task at each due time "
                   "(without tickets, customers or csv: the flow's tickets still open)",
    "properties": {
        "name": {"type": "string", "maxLength": 200},
        "flow": {"type": "string", "maxLength": 200, "description": "a published flow"},
        "settings": ref("TaskSettings"),
        "tickets": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "customers": {"type": "array", "items": ref("TaskCustomer"), "minItems": 1, "maxItems": 10000},
        "csv": text("a CSV file's text: a header with phone, name, order_id; any other column is a flow variable"),
        "cron": text("minute hour day month weekday, on the shop's clock (0 10 * * 1-5)"),
    },
}

PROGRESS = {
    "type": "object",
    "properties": {
        "total": {"type": "integer", "description": "customers (ticket tasks)"},
        "finished": {"type": "integer", "description": "ticket tasks that ended"},
        "by_state": {"type": "object", "additionalProperties": {"type": "integer"}},
        "calls": {"type": "integer"},
        "by_outcome": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
}

CALL_TASK = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": text(),
        "source": {"type": "string", "enum": SOURCES},
        "flow_id": text(),
        "state": {"type": "string", "enum": STATES},
        "priority": {"type": "integer"},
        "lines": {"type": ["integer", "null"]},
        "valid_until": _WHEN,
        "settings": ref("TaskSettings"),
        "progress": ref("TaskProgress"),
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "attempts": {"type": "array", "description": "one task: each customer's ticket task with its calls",
                     "items": {"type": "object", "properties": {
                         "task_id": {"type": "integer"}, "ticket_id": text(), "phone": text(), "state": text(),
                         "attempts": {"type": "integer"}, "max_attempts": {"type": "integer"},
                         "last_outcome": {"type": ["string", "null"]}, "next_attempt_at": _WHEN,
                         "calls": {"type": "array", "items": {"type": "object"}}}}},
        "refused": {"type": "array", "description": "creation only: the customers not taken, and why",
                    "items": ref("TaskRefusal")},
    },
}

REFUSAL = {
    "type": "object",
    "properties": {
        "row": {"type": "integer"}, "phone": text(), "ticket": text(),
        "reason": {"type": "string", "enum": ["unreadable", "bad_phone", "do_not_call", "duplicate",
                                              "already_in_task", "missing_variables", "unknown_ticket"]},
        "detail": text(),
    },
}

PREVIEW = {
    "type": "object",
    "properties": {
        "name": text(), "flow": text(), "source": text(), "settings": ref("TaskSettings"),
        "accepted": {"type": "array", "items": {"type": "object"}},
        "refused": {"type": "array", "items": ref("TaskRefusal")},
        "counts": {"type": "object", "properties": {"accepted": {"type": "integer"}, "refused": {"type": "integer"}}},
    },
}

TIMER = {
    "type": "object",
    "required": ["id", "name", "cron", "active", "last_due", "next_due"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "cron": {"type": "string", "description": "read on the shop's clock"},
        "active": {"type": "boolean", "description": "a disabled timer never fires"},
        "last_due": {**_WHEN, "description": "the due time it last fired for"},
        "next_due": {**_WHEN, "description": "its next due time (UTC); null when disabled"},
        "created_at": {"type": "string", "format": "date-time"},
        "template": {"type": "object", "description": "the call task body it makes at each due time"},
    },
}

TASK_SCHEMAS = {"TaskSettings": SETTINGS, "TaskCustomer": CUSTOMER, "NewTask": NEW_TASK, "TaskProgress": PROGRESS,
                "CallTask": CALL_TASK, "TaskRefusal": REFUSAL, "TaskPreview": PREVIEW, "Timer": TIMER}


def task_paths(read_security: list[dict[str, list[str]]], paging: list[dict[str, Any]],
               query: Any) -> dict[str, Any]:
    admin: list[dict[str, list[str]]] = [{"bearer": []}, {"session": []}]
    new_body = {"required": True, "content": {JSON: {"schema": ref("NewTask")}}}
    task_id = {"name": "task_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    timer_id = {"name": "timer_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    bad_body = error("the body is not usable (malformed_json, or invalid_task naming the field)")
    no_auth = error("no valid bearer token (a session must send X-CSRF-Token)")
    return {
        "/api/v1/tasks": {
            "get": {
                "summary": "Call tasks, newest first, each with its state and progress",
                "security": read_security,
                "parameters": [
                    query("state", {"type": "string", "enum": STATES}, "the call task's state"),
                    query("source", {"type": "string", "enum": SOURCES}, "how it was made"),
                    query("flow", {"type": "string"}, "its flow's id"),
                    *paging,
                ],
                "responses": {
                    "200": body("a page of call tasks", {"type": "object", "required": ["tasks", "next"],
                                                         "properties": {"tasks": {"type": "array",
                                                                                  "items": ref("CallTask")},
                                                                        "next": {"type": ["string", "null"]}}}),
                    "400": error("a query parameter is not usable (invalid_parameter, names it)"),
                    "401": error("no session and no valid bearer token"),
                },
            },
            "post": {
                "summary": "Create a call task (tickets, customers or a CSV), or a timer (cron)",
                "security": admin,
                "requestBody": new_body,
                "responses": {
                    "201": body("the call task with the customers refused, or the timer", ref("CallTask")),
                    "400": bad_body,
                    "401": no_auth,
                    "409": error("a customer got a call planned meanwhile (conflict)"),
                    "503": error("the box could not do it now; try again (unavailable)"),
                },
            },
        },
        "/api/v1/tasks/preview": {
            "post": {
                "summary": "What creating this call task would call and refuse, and why; stores nothing",
                "security": admin,
                "requestBody": new_body,
                "responses": {"200": body("the preview", ref("TaskPreview")), "400": bad_body, "401": no_auth,
                              "503": error("the box could not do it now; try again (unavailable)")},
            }
        },
        "/api/v1/tasks/{task_id}": {
            "get": {
                "summary": "One call task: settings, progress, every attempt with its calls",
                "security": read_security,
                "parameters": [task_id],
                "responses": {"200": body("the call task", ref("CallTask")),
                              "401": error("no session and no valid bearer token"),
                              "404": error("no such call task")},
            }
        },
        "/api/v1/tasks/{task_id}/{action}": {
            "post": {
                "summary": "pause (no new attempts; calls in progress finish), resume, or cancel (its pending "
                           "attempts end cancelled)",
                "security": admin,
                "parameters": [task_id, {"name": "action", "in": "path", "required": True,
                                         "schema": {"type": "string", "enum": ["pause", "resume", "cancel"]}}],
                "responses": {"200": body("the call task after it", ref("CallTask")), "401": no_auth,
                              "404": error("no such call task, or no such action"),
                              "409": error("its state does not allow it (illegal_transition, with state and "
                                           "action)"),
                              "503": error("the box could not do it now; try again (unavailable)")},
            }
        },
        "/api/v1/timers": {
            "get": {
                "summary": "The timers (call tasks made at the times of a cron expression), with their next due time",
                "security": read_security,
                "responses": {"200": body("every timer", {"type": "object", "required": ["timers"],
                                                          "properties": {"timers": {"type": "array",
                                                                                    "items": ref("Timer")}}}),
                              "401": error("no session and no valid bearer token"),
                              "503": error("the box could not do it now; try again (unavailable)")},
            }
        },
        "/api/v1/timers/{timer_id}": {
            "delete": {
                "summary": "Remove a timer; the call tasks it made stay",
                "security": admin,
                "parameters": [timer_id],
                "responses": {"200": body("which timer was removed", {
                                  "type": "object", "required": ["deleted"],
                                  "properties": {"deleted": {"type": "integer"}}}),
                              "401": no_auth, "404": error("no such timer"),
                              "503": error("the box could not do it now; try again (unavailable)")},
            }
        },
        "/api/v1/timers/{timer_id}/{action}": {
            "post": {
                "summary": "disable (it never fires until enabled) or enable a timer",
                "security": admin,
                "parameters": [timer_id, {"name": "action", "in": "path", "required": True,
                                          "schema": {"type": "string", "enum": ["enable", "disable"]}}],
                "responses": {"200": body("the timer after it", ref("Timer")), "401": no_auth,
                              "404": error("no such timer, or no such action"),
                              "503": error("the box could not do it now; try again (unavailable)")},
            }
        },
    }
