"""The owner's rules and scenarios over HTTP: ``GET``/``PUT /api/v1/rules`` and ``/api/v1/scenarios`` (a PUT
replaces the whole list, or is refused whole with 422 naming the path of every problem and changes nothing),
and ``POST /api/v1/rules/test``, a dry run of a ticket that changes nothing. Reading and the dry run: the read
API's auth; a PUT: the admin API's (a bearer token, or a session sending its CSRF token in ``X-CSRF-Token``)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request

from appliance.errors import RulesInvalid, StorageError, TicketInvalid
from web.auth import admin_required, api_auth_required
from web.service import RulesService
from web.ticket_intake import BodyRejected, error, json_object, service

log = logging.getLogger(__name__)

bp = Blueprint("rules", __name__, url_prefix="/api/v1")


def _rules() -> RulesService:
    return service().rules


def _body() -> dict[str, Any]:
    return json_object(request.get_data(cache=True))


def _refused(exc: RulesInvalid) -> tuple[Response, int]:
    return error(422, "invalid_rules", f"refused whole, nothing changed: {len(exc.problems)} problem(s)",
                 problems=[{"path": path, "message": message} for path, message in exc.problems])


def _replace(key: str) -> tuple[Response, int]:
    try:
        document = _body()
    except BodyRejected as exc:
        return error(400, "malformed_json", str(exc))
    setter = _rules().set_rules if key == "rules" else _rules().set_scenarios
    try:
        stored = setter(document)
    except RulesInvalid as exc:
        log.info("PUT %s refused: %s", key, exc)
        return _refused(exc)
    except StorageError as exc:
        log.error("PUT %s not stored: %s", key, exc)
        return error(503, "storage_unavailable", f"the {key} could not be stored; nothing changed")
    return jsonify({key: stored}), 200


@bp.get("/rules")
@api_auth_required
def get_rules() -> Response:
    return jsonify({"rules": _rules().rules()})


@bp.put("/rules")
@admin_required
def put_rules() -> tuple[Response, int]:
    return _replace("rules")


@bp.get("/scenarios")
@api_auth_required
def get_scenarios() -> Response:
    return jsonify({"scenarios": _rules().scenarios()})


@bp.put("/scenarios")
@admin_required
def put_scenarios() -> tuple[Response, int]:
    return _replace("scenarios")


@bp.post("/rules/test")
@api_auth_required
def test_rules() -> tuple[Response, int]:
    """A dry run: the body is a ticket as the webhook takes it; nothing is stored or called."""
    try:
        payload = _body()
    except BodyRejected as exc:
        return error(400, "malformed_json", str(exc))
    try:
        result = _rules().test_ticket(payload)
    except TicketInvalid as exc:
        return error(422, "invalid_ticket", exc.message, field=exc.field)
    except RulesInvalid as exc:  # the stored set was broken by hand
        return _refused(exc)
    return jsonify(result), 200
