"""Statistics and CSV exports of the calls: ``GET /api/v1/stats`` and ``GET /api/v1/export/{calls,turns}.csv``,
for a bearer token or a panel session. The exports stream: the rows are read a page at a time as the response is
sent, so a 100,000-call export holds no more memory than a small one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify

from appliance.errors import QueryInvalid
from web import query
from web.auth import api_auth_required
from web.openapi_stats import STATS_GROUPINGS
from web.query import ParameterInvalid
from web.ticket_intake import error, service

bp = Blueprint("stats", __name__, url_prefix="/api/v1")


def local_moment(name: str) -> datetime | None:
    """A date (``2026-11-20``: its midnight) or an ISO 8601 date-time; without an offset it is the shop's clock
    (the service places it), with one it is that moment."""
    raw = query.text(name)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        raise ParameterInvalid(name, f"must be a date such as 2026-11-20 or an ISO 8601 date-time such as "
                                     f"2026-11-20T14:00:00, not {raw[:40]!r}") from None


def _filters() -> dict[str, Any]:
    return {"since": local_moment("since"), "until": local_moment("until"), "task": query.integer("task"),
            "scenario": query.text("scenario"), "flow_version": query.text("flow_version")}


def _invalid(exc: ParameterInvalid | QueryInvalid) -> tuple[Response, int]:
    return error(400, "invalid_parameter", exc.message, parameter=exc.parameter)


@bp.get("/stats")
@api_auth_required
def stats() -> Response | tuple[Response, int]:
    """Calls, connect rate, outcomes, dispositions, intents, grades, duration and turns, per group."""
    try:
        group_by = query.choice("group_by", STATS_GROUPINGS) or "day"
        return jsonify(service().stats(group_by=group_by, **_filters()))
    except (ParameterInvalid, QueryInvalid) as exc:
        return _invalid(exc)


def _csv(kind: str) -> Response | tuple[Response, int]:
    try:
        chunks: Iterator[str] = service().export_csv(kind, **_filters())
    except (ParameterInvalid, QueryInvalid) as exc:
        return _invalid(exc)
    response = Response(chunks, mimetype="text/csv")  # the rows need no request context: read as sent
    response.headers["Content-Disposition"] = f'attachment; filename="{kind}.csv"'
    return response


@bp.get("/export/calls.csv")
@api_auth_required
def export_calls() -> Response | tuple[Response, int]:
    """Every call that matches, one row each (its figures included), oldest first, streamed."""
    return _csv("calls")


@bp.get("/export/turns.csv")
@api_auth_required
def export_turns() -> Response | tuple[Response, int]:
    """The turns of every call that matches, call by call, streamed."""
    return _csv("turns")
