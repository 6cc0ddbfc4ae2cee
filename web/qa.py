"""QA over HTTP: a reviewer's tags on a call (``POST``/``DELETE /api/v1/calls/<id>/tags``), marking a call reviewed
(``POST /api/v1/calls/<id>/reviewed``), the review queue (``GET /api/v1/qa/queue``) and tag counts over time
(``GET /api/v1/qa/counts``). Changes need the admin API's auth, reads the read API's. The reviewer is the panel
user of a session; with a bearer token, the body's ``reviewer`` (else "api")."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request, session

from appliance.errors import QueryInvalid, StorageError, TagInvalid
from web import query
from web.auth import SESSION_USER, admin_required, api_auth_required
from web.query import MAX_LIST_LIMIT, ParameterInvalid
from web.service import QaService
from web.ticket_intake import BodyRejected, error, json_object, service

log = logging.getLogger(__name__)

bp = Blueprint("qa", __name__, url_prefix="/api/v1")

GRADES = ("A", "B", "C", "D")
BUCKETS = ("day", "hour")
QUEUE_PAGE = 50
MAX_TAG_FILTER = 40


def _qa() -> QaService:
    return service().qa


def _body() -> dict[str, Any]:
    """The JSON object sent; an empty body is an empty object (``/reviewed`` needs none)."""
    raw = request.get_data(cache=True)
    return json_object(raw) if raw.strip() else {}


def _text(body: dict[str, Any], name: str, *, required: bool = False) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise TagInvalid("is required" if value is None else f"must be a string, not {type(value).__name__}",
                         field=name)
    return value


def _reviewer(body: dict[str, Any]) -> str:
    user = session.get(SESSION_USER)
    if isinstance(user, str) and user:
        return user  # a panel session tags in its user's name
    return _text(body, "reviewer") or "api"


def _changed(change: Callable[[], dict[str, Any] | None], missing: str, status: int = 200) -> tuple[Response, int]:
    """Run a reviewer's change and answer it: what it did as JSON, 404 ``missing`` when it found nothing, 400 for
    a body or tag that cannot be used, 503 when nothing could be written."""
    try:
        done = change()
    except BodyRejected as exc:
        return error(400, "malformed_json", str(exc))
    except TagInvalid as exc:
        return error(400, "invalid_tag", exc.message, field=exc.field)
    except StorageError as exc:
        log.error("QA change not stored: %s", exc)
        return error(503, "storage_unavailable", "the records could not be written; nothing changed")
    if done is None:
        return error(404, "not_found", missing)
    return jsonify(done), status


@bp.post("/calls/<int:call_id>/tags")
@admin_required
def add_tag(call_id: int) -> tuple[Response, int]:
    """A reviewer's tag with a note on the call."""

    def add() -> dict[str, Any] | None:
        body = _body()
        return _qa().add_tag(call_id, tag=_text(body, "tag", required=True), note=_text(body, "note"),
                             reviewer=_reviewer(body))

    return _changed(add, f"no call {call_id}", 201)


@bp.delete("/calls/<int:call_id>/tags/<int:tag_id>")
@admin_required
def remove_tag(call_id: int, tag_id: int) -> tuple[Response, int]:
    """Take a tag off the call (a reviewer's, or an automatic one judged wrong)."""
    return _changed(lambda: {"deleted": tag_id, "call_id": call_id} if _qa().remove_tag(call_id, tag_id) else None,
                    f"call {call_id} has no tag {tag_id}")


@bp.post("/calls/<int:call_id>/reviewed")
@admin_required
def mark_reviewed(call_id: int) -> tuple[Response, int]:
    """The call leaves the review queue."""

    def review() -> dict[str, Any] | None:
        done = _qa().mark_reviewed(call_id, reviewer=_reviewer(_body()))
        return {"call_id": call_id, **done} if done is not None else None

    return _changed(review, f"no call {call_id}")


def _invalid(exc: ParameterInvalid | QueryInvalid) -> tuple[Response, int]:
    return error(400, "invalid_parameter", exc.message, parameter=exc.parameter)


@bp.get("/qa/queue")
@api_auth_required
def queue() -> Response | tuple[Response, int]:
    """Tagged calls not reviewed yet, worst first, a page at a time."""
    try:
        tag = query.text("tag")
        if tag is not None and len(tag) > MAX_TAG_FILTER:
            raise ParameterInvalid("tag", f"must be at most {MAX_TAG_FILTER} characters")
        found = _qa().queue(tag=tag, grade=query.choice("grade", GRADES),
                            limit=query.integer("limit", minimum=1, maximum=MAX_LIST_LIMIT) or QUEUE_PAGE,
                            offset=query.integer("offset", minimum=0) or 0)
    except ParameterInvalid as exc:
        return _invalid(exc)
    return jsonify(found)


@bp.get("/qa/counts")
@api_auth_required
def counts() -> Response | tuple[Response, int]:
    """Tags set per day (or hour) of the shop."""
    try:
        found = _qa().counts(since=query.moment("since"), until=query.moment("until"),
                             by=query.choice("by", BUCKETS) or "day")
    except (ParameterInvalid, QueryInvalid) as exc:
        return _invalid(exc)
    return jsonify(found)
