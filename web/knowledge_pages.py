"""VUI presets and knowledge bases: two pages under the Rules page (``/rules/vui``, ``/rules/knowledge``) and their
API (``/api/v1/vui-presets``, ``/api/v1/knowledge``), both over ``PanelService.knowledge``
(``appliance.panel.knowledge``).

Presets are replaced whole and refused whole, each problem named by its path; applying one publishes a new version
of a flow through the flows' own publish (checked as any publish). "Test a question" changes nothing: it is a GET.
Page posts check the form's CSRF token and are the admin's (``role_required("admin")`` is added when the access
roles land); configuration changes go to the audit log.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Response, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from appliance.errors import FlowRejected, PresetsInvalid, StorageError
from web.audit import record_change
from web.auth import admin_required, api_auth_required, csrf_ok, login_required, role_required
from web.panel import render_page, service
from web.service import KnowledgeService
from web.ticket_intake import BodyRejected, error, json_object

log = logging.getLogger(__name__)

bp = Blueprint("knowledge_page", __name__, url_prefix="/rules")
api = Blueprint("knowledge_api", __name__, url_prefix="/api/v1")

MAX_JSON = 64 * 1024
MAX_QUESTION = 500


def _knowledge() -> KnowledgeService:
    return service().knowledge


def _problem_lines(exc: PresetsInvalid) -> list[dict[str, str]]:
    return [{"path": path, "message": message} for path, message in exc.problems]


def _flow_problems(exc: FlowRejected) -> list[dict[str, str]]:
    """Each problem of a refused publish: the node and field it concerns, and what is wrong there."""
    out = []
    for problem in exc.problems:
        where = ".".join(x for x in (problem.node, problem.field) if x)
        message = str(problem)
        out.append({"path": where or "flow", "message": message.removeprefix(f"{where}: ") if where else message})
    return out


def _apply(preset: str, flow_id: str) -> tuple[int, dict[str, Any]] | None:
    """Publish ``flow_id`` with ``preset`` over its VUI rules: (version, the document before); None when either
    is unknown. Raises FlowRejected when the result cannot be published."""
    before = service().flows.flow_document(flow_id)
    document = _knowledge().preset_document(preset, flow_id)
    if document is None or before is None:
        return None
    version = service().flows.publish_document(document)
    record_change(f"flow:{flow_id}.vui", before[1].get("vui"), document.get("vui"))
    log.info("VUI preset %s applied to flow %s (version %s)", preset, flow_id, version)
    return version, before[1]


# -- pages --------------------------------------------------------------------------


def _vui_page(*, text: str | None = None, problems: list[dict[str, str]] | None = None, error: str | None = None,
              status: int = 200) -> tuple[str, int]:
    presets = _knowledge().vui_presets()
    if text is None:
        text = json.dumps({"presets": [{k: v for k, v in p.items() if k != "flows"} for p in presets]},
                          indent=2, ensure_ascii=False)
    return render_page("vui_presets.html", page="rules", presets=presets, flows=_knowledge().flow_vui(), text=text,
                       problems=problems or [], error=error, done=request.args.get("done")), status


@bp.get("/vui")
@login_required
def vui() -> tuple[str, int]:
    return _vui_page()


@bp.post("/vui")
@login_required
@role_required("admin")
def save_vui() -> BaseResponse | tuple[str, int]:
    text = request.form.get("document", "")
    if not csrf_ok():
        return _vui_page(text=text, error=_("The form was stale. Please try again."), status=400)
    try:
        document = json.loads(text[:MAX_JSON])
    except ValueError as exc:
        return _vui_page(text=text, status=400, error=_(
            "This is not JSON: %(why)s (line %(line)s, column %(column)s).", why=exc.msg,  # type: ignore[attr-defined]
            line=getattr(exc, "lineno", "?"), column=getattr(exc, "colno", "?")))
    before = _knowledge().vui_presets()
    try:
        after = _knowledge().set_vui_presets(document)
    except PresetsInvalid as exc:
        return _vui_page(text=text, problems=_problem_lines(exc), status=422,
                         error=_("Not stored: fix what is listed below. Nothing changed."))
    except StorageError:
        return _vui_page(text=text, status=503, error=_("The box could not store it now. Nothing changed."))
    record_change("vui_presets", before, after)
    return redirect(url_for("knowledge_page.vui", done="saved"))


@bp.post("/vui/apply")
@login_required
@role_required("admin")
def apply_vui() -> BaseResponse | tuple[str, int]:
    if not csrf_ok():
        return _vui_page(error=_("The form was stale. Please try again."), status=400)
    preset, flow_id = request.form.get("preset", ""), request.form.get("flow", "")
    try:
        applied = _apply(preset, flow_id)
    except FlowRejected as exc:
        return _vui_page(problems=_flow_problems(exc), status=422,
                         error=_("The flow cannot take this preset, so nothing was published:"))
    if applied is None:
        return _vui_page(error=_("Choose a preset and a published flow."), status=404)
    return redirect(url_for("knowledge_page.vui", done="applied", flow=flow_id, version=applied[0]))


@bp.get("/knowledge")
@login_required
def knowledge() -> str:
    bases = _knowledge().knowledge()
    flow_id = request.args.get("flow") or (bases[0]["flow"] if bases else "")
    question = request.args.get("q", "")[:MAX_QUESTION]
    answer = _knowledge().ask(flow_id, question) if question.strip() and flow_id else None
    return render_page("knowledge.html", page="rules", bases=bases, flow_id=flow_id, question=question,
                       result=answer, unknown_flow=bool(question.strip()) and answer is None)


# -- API ------------------------------------------------------------------------------


@api.get("/vui-presets")
@api_auth_required
def get_presets() -> Response:
    return jsonify({"presets": _knowledge().vui_presets()})


@api.put("/vui-presets")
@admin_required
def put_presets() -> tuple[Response, int]:
    try:
        document = json_object(request.get_data(cache=True))
    except BodyRejected as exc:
        return error(400, "malformed_json", str(exc))
    before = _knowledge().vui_presets()
    try:
        after = _knowledge().set_vui_presets(document)
    except PresetsInvalid as exc:
        return error(422, "invalid_presets", f"refused whole, nothing changed: {len(exc.problems)} problem(s)",
                     problems=_problem_lines(exc))
    except StorageError as exc:
        log.error("VUI presets not stored: %s", exc)
        return error(503, "storage_unavailable", "the presets could not be stored; nothing changed")
    record_change("vui_presets", before, after)
    return jsonify({"presets": after}), 200


def _texts(body: dict[str, Any], *keys: str) -> dict[str, str] | tuple[Response, int]:
    """The body's texts ``keys`` (each required, 1-500 characters, no other key), or a 422 naming the field."""
    values: dict[str, str] = {}
    for key in keys:
        value = body.get(key)
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_QUESTION:
            return error(422, "invalid_body", f"{key} must be a text of 1-{MAX_QUESTION} characters", field=key)
        values[key] = value
    extra = sorted(str(k)[:40] for k in body if k not in keys)
    if extra:
        return error(422, "invalid_body", f"unknown key {extra[0]!r}", field=extra[0])
    return values


@api.post("/vui-presets/apply")
@admin_required
def apply_preset() -> tuple[Response, int]:
    """Publish a new version of a flow with a preset over its VUI rules."""
    try:
        body = json_object(request.get_data(cache=True))
    except BodyRejected as exc:
        return error(400, "malformed_json", str(exc))
    given = _texts(body, "preset", "flow")
    if not isinstance(given, dict):
        return given
    flow_id = given["flow"]
    try:
        applied = _apply(given["preset"], flow_id)
    except FlowRejected as exc:
        return error(422, "flow_rejected", "the flow cannot take this preset; nothing was published",
                     problems=_flow_problems(exc))
    if applied is None:
        return error(404, "not_found", "no such preset or published flow")
    return jsonify({"flow": flow_id, "version": applied[0]}), 200


@api.get("/knowledge")
@api_auth_required
def get_knowledge() -> Response:
    return jsonify({"flows": _knowledge().knowledge()})


@api.post("/knowledge/test")
@api_auth_required
def test_question() -> tuple[Response, int]:
    """Which knowledge-base entry of a flow would answer a question; changes nothing."""
    try:
        body = json_object(request.get_data(cache=True))
    except BodyRejected as exc:
        return error(400, "malformed_json", str(exc))
    given = _texts(body, "flow", "question")
    if not isinstance(given, dict):
        return given
    result = _knowledge().ask(given["flow"], given["question"])
    if result is None:
        return error(404, "not_found", f"flow {given['flow'][:100]!r} is not published")
    return jsonify(result), 200

