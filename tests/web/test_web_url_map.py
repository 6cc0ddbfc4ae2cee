"""Walk Flask's URL map of the real app (every blueprint ``create_app`` registers) and prove, for every rule and
method: without a session or a token nothing but the explicit public list answers; every state-changing request
from a browser session needs its CSRF token (a bearer token needs none); a reviewer gets 403 on every state-changing
route except the explicit reviewer list, and on every view marked admin-only."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from web.auth import PUBLIC, REVIEWER_CHANGES, SETUP, SIGNED, STATE_CHANGING

TOKEN = {"Authorization": "Bearer api-token-for-tests"}
REVIEWER = ("rita", "reviewer password 1")
GUARD_WORDS = ("The form was stale", "send a valid bearer token (or log in and send X-CSRF-Token)")


def _path(rule: Rule) -> str:
    """The rule with every variable filled: 1 for numbers, the first choice of an ``any``, a word otherwise."""
    def fill(m: re.Match[str]) -> str:
        if m.group(1) in ("int", "float"):
            return "1"
        if m.group(1) == "any":  # the first of its words: another would not route at all
            return m.group(2).split(",")[0].strip()
        return "x"

    return re.sub(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>", fill, rule.rule)


def _requests(app: Flask) -> Iterator[tuple[str, str, str]]:
    """(endpoint, method, path) for every rule and method of the app, static files aside."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, _path(rule)


def _changes(app: Flask) -> list[tuple[str, str, str]]:
    return [r for r in _requests(app) if r[1] in STATE_CHANGING]


def _csrf(client: FlaskClient) -> str:
    with client.session_transaction() as session:
        return str(session["csrf"])


def test_the_allow_lists_name_endpoints_the_app_has(app: Flask) -> None:
    endpoints = set(app.view_functions)
    assert (PUBLIC | SETUP | SIGNED | REVIEWER_CHANGES) - endpoints == set()
    assert len(list(_requests(app))) > 60  # every blueprint is there: this walks the real map


def test_nothing_answers_without_a_session_or_a_token_but_the_public_list(app: Flask, client: FlaskClient) -> None:
    walked = 0
    for endpoint, method, path in _requests(app):
        if endpoint in PUBLIC | SIGNED:
            continue
        response = client.open(path, method=method)
        walked += 1
        if path.startswith("/api/") or path == "/metrics":
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.get_json()["error"] == "unauthorized"
        else:
            assert response.status_code == 302, (method, path, response.status_code)
            assert "/login" in response.headers["Location"], (method, path)
    assert walked > 50


def test_the_public_list_answers_without_a_session(app: Flask, client: FlaskClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/login").status_code == 200
    assert client.get("/static/panel.css").status_code == 200
    assert client.get("/setup").status_code == 302  # the box has its admin: Setup is an admin's page now


def test_every_state_changing_route_needs_the_csrf_token_from_a_session(app: Flask, logged_in: FlaskClient,
                                                                        service) -> None:
    users_before = service.access.users()
    for endpoint, method, path in _changes(app):
        if endpoint in SIGNED:
            continue
        response = logged_in.open(path, method=method, data={"csrf_token": "not-the-token"},
                                  headers={"X-CSRF-Token": "not-the-token"})
        body = response.get_data(as_text=True)
        assert response.status_code in (400, 401), (method, path, response.status_code)
        assert any(words in body for words in GUARD_WORDS), (method, path, body[:200])
    assert service.access.users() == users_before


def test_a_bearer_token_needs_no_csrf_token(app: Flask, client: FlaskClient) -> None:
    for endpoint, method, path in _changes(app):
        if endpoint in SIGNED:
            continue
        response = client.open(path, method=method, headers=TOKEN)
        body = response.get_data(as_text=True)
        assert response.status_code != 403, (method, path)
        assert not any(words in body for words in GUARD_WORDS), (method, path)
        if response.is_json:
            assert response.get_json().get("error") != "unauthorized", (method, path)


def test_a_reviewer_changes_nothing_but_the_reviewer_list(app: Flask, client: FlaskClient, login, service) -> None:
    service.access.create_user(*REVIEWER, "reviewer")
    assert login(client, username=REVIEWER[0], password=REVIEWER[1]).status_code == 302
    token = _csrf(client)
    refused = 0
    for endpoint, method, path in _changes(app):
        if endpoint in SIGNED or endpoint in REVIEWER_CHANGES or endpoint in PUBLIC:
            continue
        response = client.open(path, method=method, headers={"X-CSRF-Token": token},
                               data={"csrf_token": token})
        assert response.status_code == 403, (method, path, response.status_code)
        refused += 1
    assert refused > 20
    # the reviewer's own list passes the guard and reaches the view (which answers for the call: none here)
    tagged = client.post("/api/v1/calls/99/tags", json={"tag": "asr_error", "note": "misheard"},
                         headers={"X-CSRF-Token": token})
    assert tagged.status_code == 404 and tagged.get_json()["message"] == "no call 99"
    reviewed = client.post("/api/v1/calls/99/reviewed", json={}, headers={"X-CSRF-Token": token})
    assert reviewed.status_code == 404 and reviewed.get_json()["error"] == "not_found"


def view_is_admin(app: Flask, endpoint: str) -> bool:
    return getattr(app.view_functions[endpoint], "required_role", None) == "admin"


def test_a_reviewer_cannot_open_a_view_marked_admin_only(app: Flask, client: FlaskClient, login, service) -> None:
    service.access.create_user(*REVIEWER, "reviewer")
    login(client, username=REVIEWER[0], password=REVIEWER[1])
    marked = [(e, m, p) for e, m, p in _requests(app) if m == "GET" and view_is_admin(app, e)]
    assert {"users_page.index", "audit_page.index", "setup.index"} <= {e for e, _m, _p in marked}
    for _endpoint, method, path in marked:
        assert client.open(path, method=method).status_code == 403, path
    assert client.get("/calls").status_code == 200  # reads everything


@pytest.mark.parametrize("endpoint", sorted(REVIEWER_CHANGES))
def test_each_reviewer_change_is_a_state_changing_route(app: Flask, endpoint: str) -> None:
    assert any(e == endpoint for e, _m, _p in _changes(app))
