"""The admin panel: login, the recordings it plays, the do-not-call list, the status strip. The Calls and Tickets
pages are ``web.console_calls`` (on this blueprint)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from appliance.campaign.attempt import IN_FLIGHT_TONES, RETRY_TABLE, TICKET_TONES
from web.auth import (
    SESSION_USER,
    csrf_ok,
    csrf_token,
    login_required,
    start_session,
    throttle,
    user_key,
    user_throttle,
)
from web.i18n import SESSION_LANG
from web.service import PanelService

log = logging.getLogger(__name__)

bp = Blueprint("panel", __name__)

# Attempt outcomes by the retry table's tones (appliance.campaign.attempt), attempts in flight, ticket statuses and
# line states.
OUTCOME_TONES: dict[str, str] = {
    **{outcome.value: rule.tone for outcome, rule in RETRY_TABLE.items()},
    **IN_FLIGHT_TONES,
    **{status.value: tone for status, tone in TICKET_TONES.items()},
    "faulted": "bad",
    "absent": "bad",
    "ready": "good",
    "in_call": "info",
    "initialising": "info",
}


def service() -> PanelService:
    svc: PanelService = current_app.extensions["callbox_service"]
    return svc


def _client() -> str:
    return request.remote_addr or "unknown"


def _status() -> dict[str, Any] | None:
    """The status strip's data; a failing status call must not take the page down."""
    try:
        return service().status()
    except Exception:
        log.exception("status() failed; showing the page without the status strip")
        return None


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths may be redirected to after login: no CR/LF or other control characters (a
    header cannot carry them: a 500) and no backslash (browsers read ``/\\host`` as ``//host``, another site)."""
    if target and not any(c < " " or c in "\\\x7f" for c in target):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("dashboard.index")


def render_page(template: str, **context: Any) -> str:
    return render_template(template, status=_status(), **context)


@bp.app_template_global("csrf_token")
def _csrf_token_global() -> str:
    return csrf_token()


@bp.app_template_filter("when")
def format_when(value: Any) -> str:
    """ISO timestamp -> "2024-05-01 14:03"; anything else shown as is."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone()  # the box's local time, as the shop reads it
    return moment.strftime("%Y-%m-%d %H:%M")


@bp.app_template_filter("duration")
def format_duration(value: Any) -> str:
    try:
        seconds = round(float(value))
    except (TypeError, ValueError):
        return "—"
    minutes, seconds = divmod(max(seconds, 0), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


@bp.app_template_filter("tone")
def tone(value: Any) -> str:
    return OUTCOME_TONES.get(str(value or "").lower(), "muted")


@bp.app_template_filter("label")
def label(value: Any) -> str:
    """``no_answer`` -> ``No answer``; empty -> a dash."""
    if value is None or value == "":
        return "—"
    text = str(value).replace("_", " ")
    return text[:1].upper() + text[1:]


@bp.get("/")
def index() -> BaseResponse:
    return redirect(url_for("dashboard.index"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | tuple[str, int] | str:
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if session.get(SESSION_USER):
            return redirect(next_url)
        return render_template("login.html", next_url=next_url, error=None)
    if not csrf_ok():
        log.warning("login from %s without a valid CSRF token", _client())
        return render_template(
            "login.html", next_url=next_url, error=_("Your session expired. Please try again.")
        ), 400
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    # locked per address, and per user name whatever the address (web.auth.user_throttle)
    wait = max(throttle().retry_after(_client()), user_throttle().retry_after(user_key(username)))
    if wait > 0:
        message = _("Too many failed attempts. Try again in %(seconds)d seconds.", seconds=int(wait) + 1)
        return render_template("login.html", next_url=next_url, error=message), 429
    user = service().access.verify(username, password) if username and password else None
    if user is None:
        throttle().failed(_client())
        if username:
            user_throttle().failed(user_key(username))
        log.warning("failed login for %r from %s", username[:64], _client())
        return render_template("login.html", next_url=next_url, error=_("Wrong username or password.")), 401
    throttle().succeeded(_client())
    user_throttle().succeeded(user_key(username))
    lang = user.get("lang") or session.get(SESSION_LANG)  # the user's own language, else the one picked here
    session.clear()
    start_session(username, user["role"])  # with the user's session generation and the time (web.auth)
    if lang:
        session[SESSION_LANG] = lang
    csrf_token()  # fresh token for the logged-in session
    log.info("%s logged in from %s", username, _client())
    return redirect(next_url)


@bp.post("/logout")
def logout() -> BaseResponse | tuple[str, int]:
    if not csrf_ok():
        return render_template("error.html", code=400, title=_("Bad request"),
                               message=_("The form was stale. Please try again.")), 400
    name = session.get(SESSION_USER)
    if isinstance(name, str):  # every cookie of this user ends, a copy of this one too, across restarts
        service().access.end_sessions(name)
    session.clear()
    return redirect(url_for("panel.login"))


@bp.get("/calls/<int:call_id>/recording.wav")
@login_required
def recording(call_id: int) -> Response:
    path = service().recording_path(call_id)
    if path is None or not path.is_file():
        abort(404, description="This call has no recording.")
    path = path.absolute()  # send_file would read a relative path against the package, not the cwd
    return send_file(
        path,
        mimetype="audio/wav",
        conditional=True,
        download_name=f"call-{call_id}.wav",
        max_age=0,
    )


@bp.post("/do-not-call/remove")
@login_required
def remove_do_not_call() -> BaseResponse | tuple[str, int]:
    """An admin takes a number off the do-not-call list (it may be called again)."""
    if not csrf_ok():
        return render_template("error.html", code=400, title=_("Bad request"),
                               message=_("The form was stale. Please try again.")), 400
    phone = request.form.get("phone", "")
    if not service().remove_do_not_call(phone):
        return render_template("error.html", code=404, title="Not on the list",
                               message=f"{phone} is not on the do-not-call list."), 404
    log.info("%s taken off the do-not-call list by %s", phone, session.get(SESSION_USER))
    return redirect(url_for("panel.tickets", removed=phone))
