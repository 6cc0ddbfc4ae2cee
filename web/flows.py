"""Panel pages for flows: the published flows with the scenarios and rules that use them, their versions and a
rollback; import (checked, then published); an editor that shows each problem at its node and publishes with the
prompts' pre-rendering progress; export; the drawing (zoomable, ``static/flows.js``); and a text conversation to
try a flow, its variables filled from a stored or a sample ticket, before it reaches a customer.

Changes (import, publish from the editor, rollback) are the admin's: when ``web.auth.role_required`` lands, each
changing view here takes ``@role_required("admin")`` under ``@login_required``; each checks the form's CSRF token
and records the change in the audit log.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from appliance.errors import CallboxError, FlowError, FlowRejected
from web.audit import record_change
from web.auth import csrf_ok, login_required, role_required
from web.flow_editor import editor_view, translate
from web.panel import render_page, service

log = logging.getLogger(__name__)

bp = Blueprint("flows", __name__)

MAX_TRY_LINES = 40
RECENT_TICKETS = 20  # the try console's ticket picker


def _page(*, status: int = 200, **context: Any) -> tuple[str, int]:
    flows = service().flows
    return render_page("flows.html", flows=flows.list_flows(), usage=flows.usage(), page="flows",
                       **context), status


def _stale() -> str:
    return _("The form was stale. Please try again.")


@bp.get("/flows")
@login_required
def flows() -> tuple[str, int]:
    published = request.args.get("published")
    return _page(published=published, published_version=request.args.get("version"))


@bp.post("/flows")
@login_required
@role_required("admin")
def import_flow() -> BaseResponse | tuple[str, int]:
    """Import a flow file: every problem is listed and nothing changes, or it is published."""
    if not csrf_ok():
        return _page(status=400, error=_stale())
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _page(status=400, error=_("Choose a flow file (.json) to import."))
    raw = upload.read()
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _page(status=400, error=_("%(file)s is not a JSON file: %(why)s", file=upload.filename, why=exc))
    problems = service().flows.check_document(document)
    if problems:
        return _page(status=400, error=_not_published(upload.filename, len(problems)),
                     problems=[p | {"message": translate(p["message"])} for p in problems],
                     filename=upload.filename)
    before = _latest_version(document.get("id"))
    try:
        version = service().flows.publish_document(document)
    except CallboxError as exc:  # FlowRejected (checked again under the store), an unknown voice...
        found = exc.problems if isinstance(exc, FlowRejected) else []
        listed = [{"node": None, "field": None, "message": str(p)} for p in found]
        return _page(status=400, error=_("%(file)s was not published: %(why)s", file=upload.filename, why=exc),
                     problems=listed)
    record_change(f"flow:{document['id']}", before, {"version": version, "imported": upload.filename})
    log.info("flow %s version %d imported from the panel (%s)", document.get("id"), version, upload.filename)
    return redirect(url_for("flows.flow", flow_id=document["id"], published=version))


def _not_published(what: str, count: int) -> str:
    return _("%(file)s was not published. Problems found: %(num)d.", file=what, num=count)


def _latest_version(flow_id: Any) -> dict[str, int] | None:
    found = service().flows.flow_document(flow_id) if isinstance(flow_id, str) else None
    return {"version": found[0]} if found is not None else None


def _found(flow_id: str, version: int | None = None) -> tuple[int, dict[str, Any]]:
    found = service().flows.flow_document(flow_id, version)
    if found is None:
        if version is not None:
            abort(404, description=_("There is no published flow %(flow)s version %(version)s.", flow=flow_id,
                                     version=version))
        abort(404, description=_("There is no published flow %(flow)s.", flow=flow_id))
    return found


# -- one flow: versions, rollback, rendering progress, drawing, try console ---------------------------------
def _recent_tickets() -> list[dict[str, str]]:
    return service().flows.recent_tickets(RECENT_TICKETS)


def _variables_text(values: dict[str, str]) -> str:
    return "\n".join(f"{name}={value}" for name, value in values.items())


@bp.route("/flows/<flow_id>", methods=["GET", "POST"])
@login_required
def flow(flow_id: str) -> tuple[str, int]:
    """One flow: its versions, drawing, and the try-it form (POST runs the conversation). The variables come from
    a stored ticket (``?ticket=``) or a sample one, through a scenario of this flow (``?scenario=``)."""
    version, document = _found(flow_id)
    flows = service().flows
    source_error: str | None = None
    scenario = request.values.get("scenario") or None
    ticket = request.values.get("ticket") or None
    try:
        filled = flows.try_variables(flow_id, scenario=scenario, ticket=ticket)
    except FlowError as exc:
        source_error = (_("There is no ticket %(ticket)s.", ticket=ticket) if exc.field == "ticket"
                        else _("No scenario %(scenario)s calls this flow.", scenario=scenario))
        filled = flows.try_variables(flow_id)
    filled = filled or {"variables": {}, "missing": [], "scenarios": [], "sample": True}
    variables_text = _variables_text(filled["variables"])
    says_text = ""
    result: dict[str, Any] | None = None
    error: str | None = None
    missing = list(filled["missing"])
    status = 400 if source_error else 200
    if request.method == "POST":
        variables_text = request.form.get("variables", "")
        says_text = request.form.get("says", "")
        if not csrf_ok():
            error, status = _stale(), 400
        else:
            variables, bad = _parse_variables(variables_text)
            if bad:
                error, status = _("Variables are NAME=VALUE, one a line: %(line)s is not.", line=repr(bad)), 400
            else:
                missing = [name for name in _declared_without_default(document)
                           if not variables.get(name, "").strip()]
                try:
                    result = flows.try_flow(flow_id, variables=variables, says=_turns(says_text))
                except CallboxError as exc:
                    error, status = _("The flow could not run: %(why)s", why=exc), 400
    published = request.args.get("published")
    return render_page("flow.html", page="flows", flow_id=flow_id, version=version, document=document,
                       versions=flows.flow_versions(flow_id) or [version], usage=flows.usage().get(flow_id),
                       variables_text=variables_text, says_text=says_text, result=result, error=error,
                       published=published, filled=filled, missing=missing, source_error=source_error,
                       chosen_ticket=ticket or "", chosen_scenario=scenario or (filled.get("scenario") or ""),
                       tickets=_recent_tickets(), progress=flows.render_progress(flow_id)), status


def _declared_without_default(document: dict[str, Any]) -> list[str]:
    """The flow's declared variables that have no default (a blank one would be spoken as ``<name>``)."""
    declared = document.get("variables") or []
    if isinstance(declared, dict):
        return [name for name, spec in declared.items() if not (isinstance(spec, dict) and spec.get("default"))]
    return [name for name in declared if isinstance(name, str)]


@bp.get("/flows/<flow_id>/rendering")
@login_required
def rendering(flow_id: str) -> str:
    """The prompts' pre-rendering progress after a publish (htmx polls it while it is not finished)."""
    _found(flow_id)
    return render_template("_flow_rendering.html", flow_id=flow_id,
                           progress=service().flows.render_progress(flow_id))


@bp.post("/flows/<flow_id>/rollback")
@login_required
@role_required("admin")
def rollback(flow_id: str) -> BaseResponse | tuple[str, int]:
    """Publish an older version again as the newest (all or nothing)."""
    latest, _document = _found(flow_id)
    if not csrf_ok():
        return _page(status=400, error=_stale())
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        return _page(status=400, error=_("Choose the version to publish again."))
    _found(flow_id, version)
    try:
        new = service().flows.rollback(flow_id, version)
    except FlowRejected as exc:
        problems = [{"node": p.node, "field": p.field, "message": translate(str(p))} for p in exc.problems]
        return _page(status=400, error=_("Version %(version)s of %(flow)s can no longer be published.",
                                         version=version, flow=flow_id), problems=problems)
    except FlowError:
        return _page(status=400, error=_("Version %(version)s of %(flow)s is already what calls use.",
                                         version=version, flow=flow_id))
    record_change(f"flow:{flow_id}", {"version": latest}, {"version": new, "copy_of": version})
    return redirect(url_for("flows.flow", flow_id=flow_id, published=new, rolled_back=version))


# -- the editor ---------------------------------------------------------------------------------------------
@bp.route("/flows/<flow_id>/edit", methods=["GET", "POST"])
@login_required
@role_required("admin")
def edit(flow_id: str) -> BaseResponse | tuple[str, int]:
    """The flow's JSON, checked on the server: each problem shown at its node's card and line. ``action``:
    ``check`` only, or ``publish`` (a new version, its prompts pre-rendered after)."""
    version, document = _found(flow_id)
    text = json.dumps(document, indent=2, ensure_ascii=False)
    context: dict[str, Any] = {"flow_id": flow_id, "version": version, "document": document,
                               "view": editor_view(text, document, []),
                               "checked": False, "error": None, "json_error": None}
    status = 200
    if request.method == "POST":
        text = request.form.get("document", "")
        if not csrf_ok():
            context["error"], status = _stale(), 400
        else:
            status = _edit_post(flow_id, version, text, context)
            if isinstance(context.get("redirect"), str):
                return redirect(context["redirect"])
    return render_page("flow_edit.html", page="flows", text=text, **context), status


def _edit_post(flow_id: str, version: int, text: str, context: dict[str, Any]) -> int:
    try:
        edited = json.loads(text)
    except json.JSONDecodeError as exc:
        context["json_error"] = {"line": exc.lineno, "column": exc.colno, "why": exc.msg}
        context["view"] = editor_view(text, None, [])
        context["view"].bad_lines.append(exc.lineno)
        return 200  # the check's answer is the page (a browser reports a 400 document as a failed load)
    flows = service().flows
    problems = flows.check_document(edited)
    if isinstance(edited, dict) and edited.get("id") not in (None, flow_id) and not problems:
        problems = [{"node": None, "field": "id", "message": _("must stay %(flow)s (import a file to add a flow)",
                                                                flow=flow_id)}]
    context["view"] = editor_view(text, edited, problems)
    context["checked"] = True
    if problems:
        return 200
    if request.form.get("action") != "publish":
        return 200
    try:
        new = flows.publish_document(edited)
    except CallboxError as exc:
        context["error"] = _("Not published: %(why)s", why=exc)
        return 400
    if new != version:
        record_change(f"flow:{flow_id}", {"version": version}, {"version": new, "edited": True})
    context["redirect"] = url_for("flows.flow", flow_id=flow_id, published=new)
    return 200


def _parse_variables(text: str) -> tuple[dict[str, str], str | None]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            return {}, line
        out[key.strip()] = value.strip()
    return out, None


def _turns(text: str) -> list[str]:
    """One customer turn a line; an empty line is silence (trailing empty lines are dropped)."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines[:MAX_TRY_LINES]


@bp.get("/flows/<flow_id>/v<int:version>.json")
@login_required
def export_flow(flow_id: str, version: int) -> Response:
    _, document = _found(flow_id, version)
    body = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{flow_id}.v{version}.json"'})


@bp.get("/flows/<flow_id>/graph.svg")
@login_required
def flow_graph(flow_id: str) -> Response:
    svg = service().flows.graph_svg(flow_id)
    if svg is None:
        abort(404, description=_("There is no published flow %(flow)s.", flow=flow_id))
    # The drawing styles itself inline and runs nothing.
    return Response(svg, mimetype="image/svg+xml", headers={
        "Cache-Control": "no-store",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    })
