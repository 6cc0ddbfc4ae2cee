"""The Modems page: per line the probe result (model, firmware, IMEI), the profile it runs and why, SIM, operator,
signal over the last day (a uPlot chart of ``GET /modems/<line>/signal``), and "place a test call" (admins; CSRF).

A test call that the box refuses (a number it cannot read, one on the do-not-call list, outside the calling rules,
a busy line) comes back as the page with the reason in words and status 400; one placed leads back to the page,
where the dashboard's live view and the line's last test call show how it went."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from appliance.errors import TestCallRefused
from web.auth import csrf_ok, login_required, role_required
from web.live_words import refusal, words
from web.panel import render_page, service

bp = Blueprint("modems_page", __name__)

MAX_NUMBER = 40  # characters of a number typed in the test-call form


def _page(**context: Any) -> str:
    return render_page("modems.html", page="modems", modems=service().live.modems(), words=words(),
                       number=request.values.get("number", ""), **context)


@bp.get("/modems")
@login_required
def index() -> str:
    placed = request.args.get("placed")
    return _page(placed=placed, placed_line=request.args.get("line"))


@bp.get("/modems/<line>/signal")
@login_required
def signal(line: str) -> BaseResponse:
    """``{line, hours, points: [[unix seconds, dBm or null]]}`` of the last day (``hours``: 1..48)."""
    try:
        hours = min(max(int(request.args.get("hours", "24")), 1), 48)
    except ValueError:
        hours = 24
    return jsonify(service().live.signal(line, hours=hours))


@bp.post("/modems/<line>/test-call")
@login_required
@role_required("admin")
def test_call(line: str) -> BaseResponse | tuple[str, int]:
    if not csrf_ok():
        return render_template("error.html", code=400, title=_("Bad request"),
                               message=_("The form was stale. Please try again.")), 400
    number = request.form.get("number", "").strip()[:MAX_NUMBER]
    try:
        placed = service().live.test_call(line, number)
    except TestCallRefused as exc:
        message = refusal(exc.reason)
        if exc.until:
            when = datetime.fromisoformat(exc.until).astimezone().strftime("%Y-%m-%d %H:%M")  # the box's clock
            message += " " + _("The first allowed time is %(when)s.", when=when)
        return _page(refused=message, refused_line=line), 400
    return redirect(url_for("modems_page.index", placed=placed["id"], line=line))
