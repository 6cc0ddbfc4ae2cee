"""The OpenAPI part for statistics and the CSV exports (``web.stats``; ``appliance.records.stats`` and
``appliance.records.export`` compute them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from web.openapi_parts import body, error, ref

STATS_GROUPINGS = ("day", "hour", "task", "scenario", "flow_version")  # records.stats.GROUPINGS; a test holds them

Query = Callable[[str, dict[str, Any], str], dict[str, Any]]

COUNTS = {"type": "object", "additionalProperties": {"type": "integer"},
          "description": "value -> calls, most first (calls without a value are left out)"}


def _buckets(unit: str, what: str) -> dict[str, Any]:
    return {"type": "array", "description": f"{what}: calls per bucket [from, to), the last open-ended",
            "items": {"type": "object", "required": [f"from{unit}", f"to{unit}", "calls"], "properties": {
                f"from{unit}": {"type": "integer"}, f"to{unit}": {"type": ["integer", "null"]},
                "calls": {"type": "integer"}}}}


STATS_FIGURES: dict[str, Any] = {
    "type": "object",
    "required": ["calls", "answered", "connected", "connect_rate", "outcomes", "dispositions", "intents", "grades",
                 "duration", "turns"],
    "properties": {
        "calls": {"type": "integer", "description": "ended calls (a call in progress is counted once it ends)"},
        "answered": {"type": "integer", "description": "calls the far end answered (a person, a machine or the "
                                                       "network's announcement)"},
        "connected": {"type": "integer", "description": "calls a person answered (answered, not `machine` or "
                                                        "`invalid_number`)"},
        "connect_rate": {"type": ["number", "null"], "description": "connected / calls"},
        "outcomes": COUNTS,
        "dispositions": COUNTS,
        "intents": {**COUNTS, "description": "the call's intent (the last one the customer's turns matched) -> "
                                             "calls"},
        "grades": {**COUNTS, "description": "intent-strength grade (A-D) -> calls"},
        "duration": {"type": "object", "required": ["average_s", "buckets"],
                     "description": "from the answer to the hang-up, answered calls only", "properties": {
                         "average_s": {"type": ["number", "null"]}, "buckets": _buckets("_s", "seconds")}},
        "turns": {"type": "object", "required": ["average", "buckets"],
                  "description": "the customer's turns that said something (speech, keys), answered calls only",
                  "properties": {"average": {"type": ["number", "null"]}, "buckets": _buckets("", "turns")}},
    },
}

STATS_GROUP: dict[str, Any] = {
    "allOf": [ref("StatsFigures"), {"type": "object", "required": ["key"], "properties": {
        "key": {"type": ["string", "integer", "null"],
                "description": "day: YYYY-MM-DD and hour: 0-23 on the shop's clock; task: the call task's id; "
                               "scenario: its name; flow_version: <flow>@<version>; null: calls without one"},
        "name": {"type": ["string", "null"], "description": "task only: the call task's name"}}}],
}

STATS: dict[str, Any] = {
    "type": "object",
    "required": ["group_by", "zone", "filters", "total", "groups"],
    "properties": {
        "group_by": {"type": "string", "enum": list(STATS_GROUPINGS)},
        "zone": {"type": "string", "description": "the shop's time zone ([shop] time_zone, else the box's)"},
        "filters": {"type": "object", "description": "the filters as applied (times with their offsets)"},
        "total": ref("StatsFigures"),
        "groups": {"type": "array", "items": ref("StatsGroup"), "description": "in key order; a group without "
                                                                                "calls is not listed"},
    },
}

STATS_SCHEMAS = {"Stats": STATS, "StatsFigures": STATS_FIGURES, "StatsGroup": STATS_GROUP}


def _filters(q: Query) -> list[dict[str, Any]]:
    moment = ("a date (its midnight) or an ISO 8601 date-time; without an offset on the shop's clock ([shop] "
              "time_zone)")
    return [
        q("since", {"type": "string", "format": "date-time"}, f"calls started at or after: {moment}"),
        q("until", {"type": "string", "format": "date-time"}, f"calls started before: {moment}"),
        q("task", {"type": "integer", "minimum": 1}, "a call task's id (GET /api/v1/tasks)"),
        q("scenario", {"type": "string"}, "a scenario's name"),
        q("flow_version", {"type": "string"}, "<flow id>@<version> (one published version) or a flow id"),
    ]


def stats_paths(read_security: list[dict[str, list[str]]], q: Query) -> dict[str, Any]:
    bad = error("a query parameter is not usable (invalid_parameter, names it)")
    unauthorised = error("no session and no valid bearer token")

    def export(what: str) -> dict[str, Any]:
        return {"get": {
            "summary": f"{what} as CSV (header row first), oldest call first, streamed",
            "security": read_security,
            "parameters": _filters(q),
            "responses": {"200": {"description": "CSV", "content": {"text/csv": {}}}, "400": bad,
                          "401": unauthorised},
        }}

    return {
        "/api/v1/stats": {"get": {
            "summary": "Statistics of the ended calls, grouped by day, hour of day, call task, scenario or flow "
                       "version",
            "security": read_security,
            "parameters": [q("group_by", {"type": "string", "enum": list(STATS_GROUPINGS), "default": "day"},
                             "what a group is"), *_filters(q)],
            "responses": {"200": body("the figures in total and per group", ref("Stats")), "400": bad,
                          "401": unauthorised},
        }},
        "/api/v1/export/calls.csv": export("The calls, one row each with its figures,"),
        "/api/v1/export/turns.csv": export("The calls' turns"),
    }
