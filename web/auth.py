"""Who may see what: the panel login session, CSRF tokens, a login throttle, API tokens."""

from __future__ import annotations

import functools
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import current_app, jsonify, redirect, request, session, url_for

SESSION_USER = "user"
SESSION_CSRF = "csrf"

F = TypeVar("F", bound=Callable[..., Any])


class LoginThrottle:
    """Counts failed logins per client address; after ``max_failures`` within ``window_s``
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


def csrf_token() -> str:
    """The session's CSRF token, made on first use (templates call this)."""
    token = session.get(SESSION_CSRF)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_CSRF] = token
    return token


def csrf_ok() -> bool:
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


def bearer_ok() -> bool:
    token = current_app.config.get("API_TOKEN")
    if not token:
        return False
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), str(token).encode())


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
    """Admin API (changes): ``Authorization: Bearer <API_TOKEN>``, or a panel login session that sends its CSRF
    token in ``X-CSRF-Token`` (a bearer token needs none: a browser never adds it by itself)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if bearer_ok():
            return view(*args, **kwargs)
        expected = session.get(SESSION_CSRF)
        given = request.headers.get("X-CSRF-Token", "")
        if logged_in() and isinstance(expected, str) and expected and hmac.compare_digest(expected, given):
            return view(*args, **kwargs)
        response = jsonify(error="unauthorized",
                           message="send a valid bearer token (or log in and send X-CSRF-Token)")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="callbox"'
        return response

    return cast(F, wrapped)
