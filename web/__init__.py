"""Callbox's web layer: the signed ticket webhook, a read API and the admin panel.

``create_app(service)`` builds the Flask app around a :class:`web.service.PanelService`;
the web layer reaches the core only through that object.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from standardwebhooks.webhooks import Webhook
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.routing import IntegerConverter

from appliance.config import HelpdesksConfig
from web.auth import LoginThrottle, guard
from web.service import PanelService

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SQLITE_INT_MAX = 2**63 - 1


class RowIdConverter(IntegerConverter):
    """``<int:...>`` in every route: a number SQLite can hold. A larger one (``/api/v1/calls/10**30``) names no row,
    so it is a 404 at routing instead of an OverflowError, a 500, in the query."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None, max: int | None = None,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, SQLITE_INT_MAX if max is None else max, signed)


def create_app(
    service: PanelService,
    *,
    secret_key: str | None = None,
    test_config: dict[str, Any] | None = None,
    helpdesks: HelpdesksConfig | None = None,
) -> Flask:
    """Build the web app. Without ``secret_key`` a random one is made, so panel
    sessions end when the process restarts. ``test_config`` overrides config keys
    (``API_TOKEN``, ``LOGIN_MAX_FAILURES``, ``LOGIN_LOCKOUT_S``, ``SESSION_IDLE_S``, ``SESSION_MAX_S``,
    ``MAX_CONTENT_LENGTH``...). ``helpdesks``: the ``[helpdesks.*]`` config; a helpdesk without a secret is not
    connected (its route answers 404)."""
    app = Flask(__name__)
    app.url_map.converters["int"] = RowIdConverter  # before any route is added (web.RowIdConverter)
    app.config.from_mapping(
        SECRET_KEY=secret_key or secrets.token_hex(32),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_BODY_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="callbox_session",
        API_TOKEN=None,
        LOGIN_MAX_FAILURES=5,
        LOGIN_WINDOW_S=60.0,
        LOGIN_LOCKOUT_S=60.0,
        # per user name too, from any address: a neighbour trying one name from many addresses is slowed all the
        # same (looser than per address, so that a stranger cannot easily keep the owner out)
        LOGIN_USER_MAX_FAILURES=10,
        LOGIN_USER_WINDOW_S=600.0,
        LOGIN_USER_LOCKOUT_S=300.0,
        SESSION_IDLE_S=12 * 3600.0,  # a sign-in ends after this long without a request ([web] session_idle_hours)
        SESSION_MAX_S=7 * 86400.0,  # ... and this long after it was made ([web] session_max_days)
    )
    if test_config:
        app.config.from_mapping(test_config)
    # the cookie's signature is refused past the longest a session lasts (Flask's default: 31 days)
    app.permanent_session_lifetime = timedelta(seconds=float(app.config["SESSION_MAX_S"]))
    app.json.sort_keys = False  # type: ignore[attr-defined]

    app.extensions["callbox_service"] = service
    app.extensions["callbox_webhook"] = Webhook(service.webhook_secret)
    app.extensions["callbox_login_throttle"] = LoginThrottle(
        max_failures=int(app.config["LOGIN_MAX_FAILURES"]),
        window_s=float(app.config["LOGIN_WINDOW_S"]),
        lockout_s=float(app.config["LOGIN_LOCKOUT_S"]),
    )
    app.extensions["callbox_user_throttle"] = LoginThrottle(
        max_failures=int(app.config["LOGIN_USER_MAX_FAILURES"]),
        window_s=float(app.config["LOGIN_USER_WINDOW_S"]),
        lockout_s=float(app.config["LOGIN_USER_LOCKOUT_S"]),
    )

    from web import access, api, console_calls, flows, i18n, live, modems, panel, qa, recordings, rules, stats
    from web import helpdesks as helpdesk_routes
    from web.live_words import words as live_words
    from web.nav import nav_items

    i18n.install(app)
    app.jinja_env.globals["nav_items"] = nav_items
    app.jinja_env.globals["live_words"] = live_words  # the status strip's words (web.live_words)
    app.register_blueprint(api.bp)
    app.register_blueprint(recordings.bp)
    app.register_blueprint(api.scrape)
    app.register_blueprint(rules.bp)
    app.register_blueprint(qa.bp)
    app.register_blueprint(stats.bp)
    helpdesk_routes.install(app, helpdesks or HelpdesksConfig())
    console_calls.install(app)  # the Calls and Tickets pages (their routes are on panel.bp) and their words
    app.register_blueprint(panel.bp)
    app.register_blueprint(flows.bp)
    access.install(app)  # first-run setup, users and API tokens, the audit log
    app.before_request(guard)  # sign-in, CSRF and role for every route (web.auth)
    # the console's tasks part: call tasks, rules and scenarios, VUI presets, knowledge base pages
    from web import knowledge_pages, rules_pages, tasks_pages
    app.register_blueprint(tasks_pages.bp)
    app.register_blueprint(rules_pages.bp)
    app.register_blueprint(knowledge_pages.bp)
    app.register_blueprint(knowledge_pages.api)
    from web import voice  # the Voice page (flows' voices, previews)

    app.register_blueprint(voice.bp)
    from web import qa_page, settings, stats_page  # the Settings, QA and Statistics pages

    app.register_blueprint(settings.bp)
    app.register_blueprint(qa_page.bp)
    app.register_blueprint(stats_page.bp)
    app.register_blueprint(live.bp)  # the dashboard and its live events
    app.register_blueprint(modems.bp)
    app.add_url_rule("/healthz", "healthz", healthz)
    app.register_error_handler(Exception, handle_error)
    app.after_request(add_security_headers)
    return app


def healthz() -> Response:
    """The box answers; ``lines`` says each line's state and ``ready_lines`` how many can call (a line in a call
    counts: it is up); ``ok`` is false, with HTTP 503, when none can (a monitor or a load balancer then sees
    the box cannot call). ``recordings`` says whether the disk has room for them (if not, calls wait)."""
    service: PanelService = current_app.extensions["callbox_service"]
    try:
        recordings = service.recordings.room()
    except Exception:
        log.exception("the recordings' room could not be read for /healthz")
        recordings = {"ok": False, "why": "the room for recordings cannot be read now"}
    lines = {ln["name"]: ln["state"] for ln in service.status()["lines"]}
    ready = sum(state in ("ready", "in_call") for state in lines.values())
    response = jsonify(ok=ready > 0, lines=lines, ready_lines=ready, recordings=recordings)
    response.status_code = 200 if ready else 503
    return response


def wants_json() -> bool:
    path = request.path
    return path.startswith("/api/") or path in ("/healthz", "/metrics")


def handle_error(exc: Exception) -> ResponseReturnValue:
    """Every error ends as JSON (API) or a friendly page (panel); never a traceback."""
    if isinstance(exc, HTTPException):
        if exc.response is not None:
            return exc.response
        http = exc
    else:
        log.exception("unhandled error on %s %s", request.method, request.path)
        http = InternalServerError()
    code = http.code or 500
    if wants_json():
        name = "internal" if code == 500 else (http.name or "error").lower().replace(" ", "_")
        message = "the server failed to handle this request" if code == 500 else (http.description or "")
        response = jsonify(error=name, message=message)
        for key, value in http.get_headers():  # e.g. Allow on 405
            if key.lower() != "content-type":
                response.headers[key] = value
        return response, code
    title = http.name or "Error"
    message = (
        "Something went wrong on the box. It has been logged; please try again."
        if code == 500
        else (http.description or "")
    )
    try:
        return render_template("error.html", code=code, title=title, message=message), code
    except Exception:
        log.exception("error page failed to render")
        return f"<!doctype html><title>{code}</title><h1>{code} {title}</h1>", code


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html" or request.path.startswith("/api/"):
        headers.setdefault("Cache-Control", "no-store")
    return response
