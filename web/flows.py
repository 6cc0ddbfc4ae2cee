"""Panel pages for flows: the published flows, import (checked, then published), export, the
drawing, and a text conversation to try a flow before it reaches a customer."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Response, abort, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from appliance.errors import CallboxError, FlowRejected
from web.auth import csrf_ok, login_required
from web.panel import render_page, service

log = logging.getLogger(__name__)

bp = Blueprint("flows", __name__)

MAX_TRY_LINES = 40


def _page(*, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_page("flows.html", flows=service().flows.list_flows(), page="flows", **context), status


@bp.get("/flows")
@login_required
def flows() -> tuple[str, int]:
    published = request.args.get("published")
    return _page(published=published, published_version=request.args.get("version"))


@bp.post("/flows")
@login_required
def import_flow() -> BaseResponse | tuple[str, int]:
    """Import a flow file: every problem is listed and nothing changes, or it is published."""
    if not csrf_ok():
        return _page(status=400, error="The form was stale. Please try again.")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _page(status=400, error="Choose a flow file (.json) to import.")
    raw = upload.read()
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _page(status=400, error=f"{upload.filename} is not a JSON file: {exc}")
    problems = service().flows.check_document(document)
    if problems:
        return _page(status=400, error=f"{upload.filename} was not published: "
                     f"{len(problems)} problem{'s' if len(problems) != 1 else ''}.",
                     problems=problems, filename=upload.filename)
    try:
        version = service().flows.publish_document(document)
    except CallboxError as exc:  # FlowRejected (checked again under the store), an unknown voice...
        found = exc.problems if isinstance(exc, FlowRejected) else []
        listed = [{"node": None, "field": None, "message": str(p)} for p in found]
        return _page(status=400, error=f"{upload.filename} was not published: {exc}", problems=listed)
    log.info("flow %s version %d imported from the panel (%s)", document.get("id"), version, upload.filename)
    return redirect(url_for("flows.flow", flow_id=document["id"], published=version))


def _found(flow_id: str, version: int | None = None) -> tuple[int, dict[str, Any]]:
    found = service().flows.flow_document(flow_id, version)
    if found is None:
        abort(404, description=f"There is no published flow {flow_id!r}"
              + (f" version {version}." if version is not None else "."))
    return found


@bp.route("/flows/<flow_id>", methods=["GET", "POST"])
@login_required
def flow(flow_id: str) -> tuple[str, int]:
    """One flow: its versions, drawing, and the try-it form (POST runs the conversation)."""
    version, document = _found(flow_id)
    variables_text = "\n".join(f"{name}=" for name in document.get("variables") or [])
    says_text = ""
    result: dict[str, Any] | None = None
    error: str | None = None
    status = 200
    if request.method == "POST":
        variables_text = request.form.get("variables", "")
        says_text = request.form.get("says", "")
        if not csrf_ok():
            error, status = "The form was stale. Please try again.", 400
        else:
            variables, bad = _parse_variables(variables_text)
            if bad:
                error, status = f"Variables are NAME=VALUE, one a line: {bad!r} is not.", 400
            else:
                says = _turns(says_text)
                try:
                    result = service().flows.try_flow(flow_id, variables=variables, says=says)
                except CallboxError as exc:
                    error, status = f"The flow could not run: {exc}", 400
    return render_page("flow.html", page="flows", flow_id=flow_id, version=version, document=document,
                       versions=service().flows.flow_versions(flow_id) or [version],
                       variables_text=variables_text, says_text=says_text, result=result, error=error,
                       published=request.args.get("published")), status


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
        abort(404, description=f"There is no published flow {flow_id!r}.")
    # The drawing styles itself inline and runs nothing.
    return Response(svg, mimetype="image/svg+xml", headers={
        "Cache-Control": "no-store",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    })
