"""The QA page: the automatic tags' switches and thresholds (``[qa]`` of the config file; an admin changes them, as
on the Settings page), the review queue (tagged calls not reviewed yet, worst first; each links to ``/calls/<id>``)
and the tags set per day over the last 30 days (a uPlot chart drawn by ``static/settings.js``, with a table for
screen readers)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, request, session
from werkzeug.wrappers import Response as BaseResponse

from appliance.errors import CallboxError, SettingInvalid
from web.auth import csrf_ok, login_required, role_required
from web.panel import render_page, service
from web.query import row_int
from web.settings import save_section, sections_view, stale

log = logging.getLogger(__name__)

bp = Blueprint("qa_page", __name__)

QUEUE_PAGE = 25
GRADES = ("A", "B", "C", "D")


def _is_admin() -> bool:
    """Whether to offer the form's Save button (as the top bar reads the role; the check itself is the access
    part's decorator on :func:`save`)."""
    return session.get("role", "admin") == "admin"


def _page(*, status: int = 200, form: dict[str, str] | None = None,
          error: SettingInvalid | None = None) -> tuple[str, int]:
    qa = service().qa
    tag = (request.args.get("tag") or "").strip()[:40] or None
    grade = request.args.get("grade") if request.args.get("grade") in GRADES else None
    offset = max(request.args.get("offset", 0, type=row_int) or 0, 0)
    queue = qa.queue(tag=tag, grade=grade, limit=QUEUE_PAGE, offset=offset)
    counts = qa.counts(by="day")
    try:
        sections: list[dict[str, Any]] = sections_view(("qa",), failed="qa" if error else None, form=form)
    except CallboxError:
        log.exception("the QA settings cannot be read")
        sections = []
    tags = sorted(counts["totals"]) if isinstance(counts.get("totals"), dict) else []
    return render_page("qa.html", page="qa", sections=sections, error=error, queue=queue, counts=counts,
                       tags=tags, tag=tag, grade=grade, grades=GRADES, can_edit=_is_admin(),
                       saved=request.args.get("saved") == "qa"), status


@bp.get("/qa")
@login_required
def index() -> tuple[str, int]:
    return _page()


@bp.post("/qa/settings")
@login_required
@role_required("admin")
def save() -> BaseResponse | tuple[str, int]:
    """Admin only: the access part's ``@role_required("admin")`` goes on this view at merge."""
    if not csrf_ok():
        return stale()
    try:
        return save_section("qa", "qa_page.index")
    except SettingInvalid as exc:
        return _page(status=400, form={k: v for k, v in request.form.items() if k != "csrf_token"}, error=exc)
