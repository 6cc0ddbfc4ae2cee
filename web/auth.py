"""Who may see what: the panel login session with its role, CSRF tokens, a login throttle, API tokens, and the
one check every request passes (:func:`guard`, installed by ``create_app``).

The guard is central so that a page added later is covered without remembering a decorator: every endpoint needs a
signed-in user or a bearer token except the few in ``PUBLIC`` (and the signed webhooks in ``SIGNED``, which prove
themselves); every POST/PUT/PATCH/DELETE from a browser session needs its CSRF token (the form's ``csrf_token`` or
an ``X-CSRF-Token`` header; a bearer token needs none: a browser never adds it by itself). A reviewer reads
everything, but changes only what ``REVIEWER_CHANGES`` lists, and never opens a view marked
``role_required("admin")``. While no user exists, every page leads to the first-run setup.
"""

from __future__ import annotations

import functools
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import current_app, g, jsonify, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

SESSION_USER = "user"
SESSION_ROLE = "role"
SESSION_CSRF = "csrf"
SESSION_GEN = "gen"  # the user's session generation at sign-in: bumped on the box, every older cookie ends
SESSION_ISSUED = "issued"  # when the user signed in (Unix time): the session ends SESSION_MAX_S later
SESSION_SEEN = "seen"  # the session's last request, to a minute: it ends SESSION_IDLE_S after
SEEN_EVERY_S = 60  # the cookie is rewritten with a new "seen" at most this often
ROLES = ("admin", "reviewer")
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Endpoints anyone may reach: the login form, the first-run setup (only while no user exists: see SETUP), the health
# check, static files and the language switch. Their POSTs still need the session's CSRF token.
PUBLIC = frozenset({"panel.login", "healthz", "static", "i18n.switch_language"})
SETUP = frozenset({"setup.index"})  # public while the box has no user, then an admin's page
# The signed webhooks: a helpdesk proves itself with the signature, has no session and sends no CSRF token.
SIGNED = frozenset({"api.submit_ticket", "helpdesks.receive_zendesk", "helpdesks.receive_freshdesk",
                    "helpdesks.receive_zammad"})
# What a reviewer may change: tag calls, mark them reviewed, sign out, switch the language.
REVIEWER_CHANGES = frozenset({"qa.add_tag", "qa.remove_tag", "qa.mark_reviewed", "panel.logout",
                              "i18n.switch_language",
                              # the call page's forms: a reviewer tags, untags and marks reviewed
                              "panel.tag_call", "panel.untag_call", "panel.review_call"})

F = TypeVar("F", bound=Callable[..., Any])


class LoginThrottle:
    """Counts failed logins per client address (or per user name); after ``max_failures`` within ``window_s``
    the address is locked out for ``lockout_s`` seconds. Thread-safe; memory is bounded by
    forgetting the oldest addresses past ``max_clients``."""

    def __init__(
        self,
        *,
        max_failures: int = 5,
        window_s: float = 60.0,
        lockout_s: float = 60.0,
        max_clients: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.lockout_s = lockout_s
        self.max_clients = max_clients
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, list[float]] = {}
        self._locked_until: dict[str, float] = {}

    def retry_after(self, client: str) -> float:
        """Seconds until ``client`` may try again; 0 when it may try now."""
        now = self._clock()
        with self._lock:
            until = self._locked_until.get(client, 0.0)
            if until <= now:
                self._locked_until.pop(client, None)
                return 0.0
            return until - now

    def failed(self, client: str) -> None:
        now = self._clock()
        with self._lock:
            recent = [t for t in self._failures.get(client, []) if now - t < self.window_s]
            recent.append(now)
            self._failures.pop(client, None)
            self._failures[client] = recent  # re-insert: dict order is age order
            if len(recent) >= self.max_failures:
                self._locked_until[client] = now + self.lockout_s
                self._failures[client] = []
            while len(self._failures) > self.max_clients:
                del self._failures[next(iter(self._failures))]

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


def throttle() -> LoginThrottle:
    return cast(LoginThrottle, current_app.extensions["callbox_login_throttle"])


def user_throttle() -> LoginThrottle:
    """The same count per user name (any address): ``LOGIN_USER_*``."""
    return cast(LoginThrottle, current_app.extensions["callbox_user_throttle"])


def user_key(username: str) -> str:
    """The user name as the per-user throttle counts it (case and surrounding spaces do not make a new one)."""
    return "user:" + username.strip().lower()[:64]


def csrf_token() -> str:
    """The session's CSRF token, made on first use (templates call this)."""
    token = session.get(SESSION_CSRF)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_CSRF] = token
    return token


def csrf_ok() -> bool:
    """The form came with the session's CSRF token (a bearer token needs none: no browser adds it by itself)."""
    if bearer_ok():
        return True
    expected = session.get(SESSION_CSRF)
    given = request.form.get("csrf_token", "")
    return isinstance(expected, str) and bool(expected) and hmac.compare_digest(expected, given)


def logged_in() -> bool:
    return isinstance(session.get(SESSION_USER), str)


def login_required(view: F) -> F:
    """Panel views: send a visitor without a session to the login form."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not logged_in():
            return redirect(url_for("panel.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return cast(F, wrapped)


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _sep, given = header.partition(" ")
    return given.strip() if scheme.lower() == "bearer" else ""


def bearer_ok() -> bool:
    """``Authorization: Bearer`` with ``CALLBOX_API_TOKEN`` or a token made on the Users page (once per request)."""
    if "callbox_bearer" in g:
        return bool(g.callbox_bearer)
    given = _bearer()
    ok = False
    if given:
        token = current_app.config.get("API_TOKEN")
        if token and hmac.compare_digest(given.encode(), str(token).encode()):
            ok = True
        else:
            ok = current_app.extensions["callbox_service"].access.token(given) is not None
    g.callbox_bearer = ok
    return ok


def current_role() -> str | None:
    """``admin`` or ``reviewer`` for a signed-in user, ``admin`` for a bearer token, else None."""
    if bearer_ok():
        return "admin"
    role = session.get(SESSION_ROLE) if logged_in() else None
    return role if role in ROLES else None


def body_limit(limit: int) -> Callable[[F], F]:
    """Let a view take a larger body than the app's limit (an upload form); put it above the other decorators. The
    guard applies it before it reads the form for the CSRF token."""

    def mark(view: F) -> F:
        setattr(view, "body_limit", limit)  # noqa: B010 (an attribute of a function)
        return view

    return mark


def role_required(role: str) -> Callable[[F], F]:
    """Mark a view for ``role`` (``admin``): the guard answers 403 to anyone else (and a test of the URL map reads
    the mark). The check itself is also made here, so the view is safe even without the guard."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")

    def mark(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if role == "admin" and current_role() != "admin":
                return forbidden()
            return view(*args, **kwargs)

        wrapped.required_role = role  # type: ignore[attr-defined]
        return cast(F, wrapped)

    return mark


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/metrics"


def unauthorized() -> ResponseReturnValue:
    if _wants_json():
        response = jsonify(error="unauthorized", message="log in or send a valid bearer token")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="callbox"'
        return response
    return redirect(url_for("panel.login", next=request.full_path.rstrip("?")))


def forbidden() -> ResponseReturnValue:
    if _wants_json():
        return jsonify(error="forbidden", message="a reviewer may read and tag calls, not change this"), 403
    return render_template("error.html", code=403, title=_("Not allowed"),
                           message=_("Your account is a reviewer's: it can read, listen and tag calls, "
                                     "but not change this.")), 403


def stale_form() -> ResponseReturnValue:
    if _wants_json():
        response = jsonify(error="unauthorized",
                           message="send a valid bearer token (or log in and send X-CSRF-Token)")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="callbox"'
        return response
    return render_template("error.html", code=400, title=_("Bad request"),
                           message=_("The form was stale. Please try again.")), 400


def csrf_sent_ok() -> bool:
    """The session's CSRF token came with the request, as a form field or an ``X-CSRF-Token`` header."""
    expected = session.get(SESSION_CSRF)
    given = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    return isinstance(expected, str) and bool(expected) and hmac.compare_digest(expected, given)


def setup_pending() -> bool:
    """No user yet; once one exists this is remembered (the last admin can never be deleted)."""
    if current_app.extensions.get("callbox_set_up"):
        return False
    pending = bool(current_app.extensions["callbox_service"].access.needs_setup())
    if not pending:
        current_app.extensions["callbox_set_up"] = True
    return pending


def _clock() -> float:
    clock = current_app.extensions.get("callbox_clock", time.time)  # wall time: sessions outlive a restart
    return float(clock())


def start_session(username: str, role: str) -> None:
    """A signed-in session for ``username``: the user's session generation and the time, in the signed cookie."""
    now = int(_clock())
    session[SESSION_USER] = username
    session[SESSION_ROLE] = role
    session[SESSION_GEN] = current_app.extensions["callbox_service"].access.session_generation(username)
    session[SESSION_ISSUED] = now
    session[SESSION_SEEN] = now


def end_session() -> None:
    """This browser is signed out (its language and CSRF token stay)."""
    for key in (SESSION_USER, SESSION_ROLE, SESSION_GEN, SESSION_ISSUED, SESSION_SEEN):
        session.pop(key, None)


def _session_current(user: dict[str, Any]) -> bool:
    """The cookie was made for the user's current session generation (not before a sign-out, a new password or a
    new role), within SESSION_MAX_S of signing in and SESSION_IDLE_S of its last request."""
    given, issued, seen = session.get(SESSION_GEN), session.get(SESSION_ISSUED), session.get(SESSION_SEEN)
    if type(given) is not int or given != user["session_gen"]:
        return False
    if not isinstance(issued, int | float) or not isinstance(seen, int | float):
        return False
    now = _clock()
    if now - issued > float(current_app.config["SESSION_MAX_S"]) or now - seen > float(
            current_app.config["SESSION_IDLE_S"]):
        return False
    if now - seen >= SEEN_EVERY_S:
        session[SESSION_SEEN] = int(now)
    return True


def _load_user() -> None:
    """The signed-in user's role as stored now: a role changed or a user deleted takes effect on the next
    request, not at the next sign-in. A session revoked or past its time is signed out here."""
    name = session.get(SESSION_USER)
    if not isinstance(name, str):
        return
    user = current_app.extensions["callbox_service"].access.session_user(name)
    if user is None or not _session_current(user):
        end_session()
        return
    if session.get(SESSION_ROLE) != user["role"]:
        session[SESSION_ROLE] = user["role"]


def guard() -> ResponseReturnValue | None:
    """Every request: sign-in, CSRF and role, by the rules in this module's docstring."""
    endpoint = request.endpoint
    if endpoint is None or endpoint in SIGNED or endpoint == "static":
        return None  # 404/405 answer by themselves; webhooks check their signature
    view = current_app.view_functions.get(endpoint)
    limit = getattr(view, "body_limit", None)
    if limit:  # an upload form: its larger limit holds before the CSRF check below reads the form
        request.max_content_length = limit
        request.max_form_memory_size = limit
    pending = setup_pending()
    if pending and endpoint not in SETUP and endpoint not in PUBLIC - {"panel.login"} and not _wants_json():
        return redirect(url_for("setup.index"))
    _load_user()
    public = endpoint in PUBLIC or (pending and endpoint in SETUP)
    if not public and not (logged_in() or bearer_ok()):
        return unauthorized()
    if request.method in STATE_CHANGING and not bearer_ok() and not csrf_sent_ok():
        log_stale()
        return stale_form()
    if public or current_role() == "admin":
        return None
    needs_admin = getattr(view, "required_role", None) == "admin" and endpoint not in REVIEWER_CHANGES
    if needs_admin or (request.method in STATE_CHANGING and endpoint not in REVIEWER_CHANGES):
        return forbidden()
    return None


def log_stale() -> None:
    current_app.logger.warning("%s %s without a valid CSRF token from %s", request.method, request.path,
                               request.remote_addr)


def api_auth_required(view: F) -> F:
    """Read API: a panel login session or ``Authorization: Bearer <API_TOKEN>``."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not (logged_in() or bearer_ok()):
            response = jsonify(error="unauthorized", message="log in or send a valid bearer token")
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="callbox"'
            return response
        return view(*args, **kwargs)

    return cast(F, wrapped)


def admin_required(view: F) -> F:
    """Admin API (changes): a bearer token, or an admin's panel session that sends its CSRF token in
    ``X-CSRF-Token`` (a bearer token needs none: a browser never adds it by itself). A reviewer's session gets 403,
    except on the routes in ``REVIEWER_CHANGES`` (tagging calls, marking them reviewed)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if bearer_ok():
            return view(*args, **kwargs)
        expected = session.get(SESSION_CSRF)
        given = request.headers.get("X-CSRF-Token", "")
        if logged_in() and isinstance(expected, str) and expected and hmac.compare_digest(expected, given):
            if current_role() == "admin" or request.endpoint in REVIEWER_CHANGES:
                return view(*args, **kwargs)
            return forbidden()
        response = jsonify(error="unauthorized",
                           message="send a valid bearer token (or log in and send X-CSRF-Token)")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="callbox"'
        return response

    wrapped.required_role = "admin"  # type: ignore[attr-defined]
    return cast(F, wrapped)
