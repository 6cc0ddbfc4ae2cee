"""The console's access part through Flask's test client over the box's own code (AccessAdmin, SetupAdmin) and a
real SQLite file: first-run setup, users and roles, API tokens, the audit log, the language a user keeps; the
signed test message to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import argparse
import io
import socket
import sqlite3
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from old_schema import schema_at
from signed_receiver import SignedReceiver

from appliance.cli.users import run_passwd
from appliance.panel.setup import SetupAdmin, Target
from appliance.records.access import Accounts
from appliance.records.db import MIGRATIONS, Database
from web import create_app
from web.access import describe_change

ADMIN = ("owner", "a long enough password")
REVIEWER = ("rita", "reviewer password 1")
TOKEN = {"Authorization": "Bearer api-token-for-tests"}


def csrf_of(client: FlaskClient) -> str:
    with client.session_transaction() as session:
        return str(session["csrf"])


@pytest.fixture
def fresh(service: Any) -> Any:
    """The web tests' service with no user at all: the box as it comes out of the box."""
    service.records.db.write(lambda c: c.execute("DELETE FROM users"))
    return service


@pytest.fixture
def fresh_client(fresh: Any) -> FlaskClient:
    return create_app(fresh, secret_key="k", test_config={"TESTING": True, "API_TOKEN": "api-token-for-tests"}) \
        .test_client()


def setup_form(client: FlaskClient, **changes: str) -> dict[str, str]:
    client.get("/setup")
    form = {"csrf_token": csrf_of(client), "username": ADMIN[0], "password": ADMIN[1], "password2": ADMIN[1],
            "shop_name": "Lin's Repairs", "time_zone": "Asia/Shanghai", "preset": "cn"}
    return {**form, **changes}


def test_a_fresh_box_sends_every_page_to_setup(fresh_client: FlaskClient) -> None:
    for path in ("/", "/calls", "/tickets", "/login", "/users", "/audit", "/flows"):
        response = fresh_client.get(path)
        assert response.status_code == 302 and response.headers["Location"].endswith("/setup"), path
    assert fresh_client.get("/healthz").status_code == 200
    assert fresh_client.get("/api/v1/calls").status_code == 401  # the API still needs a token
    assert fresh_client.get("/api/v1/calls", headers=TOKEN).status_code == 200
    page = fresh_client.get("/setup").get_data(as_text=True)
    assert "Your admin account" in page and 'name="password2"' in page and "Asia/Shanghai" in page


@pytest.mark.parametrize(("changes", "words"), [
    ({"password": "short", "password2": "short"}, "at least 10 characters"),
    ({"password2": "a different password"}, "The two passwords differ."),
    ({"username": "no spaces please"}, "A username is 1 to 64 letters"),
    ({"time_zone": "Mars/Olympus"}, "Choose a time zone from the list"),
    ({"preset": "atlantis"}, "Choose a country preset from the list."),
    ({"csrf_token": "forged"}, "The form was stale"),
])
def test_setup_refuses_a_bad_answer_and_makes_nothing(fresh_client: FlaskClient, fresh: Any,
                                                      changes: dict[str, str], words: str) -> None:
    response = fresh_client.post("/setup", data=setup_form(fresh_client, **changes))
    assert response.status_code == 400 and words in response.get_data(as_text=True)
    assert fresh.access.users() == [] and fresh.access.needs_setup()
    assert fresh.setup.shop()["name"] == "Corner Shop"


def test_setup_makes_the_admin_signs_them_in_and_then_refuses_a_second_admin(fresh_client: FlaskClient,
                                                                             fresh: Any, app: Flask) -> None:
    response = fresh_client.post("/setup", data=setup_form(fresh_client))
    assert response.status_code == 302 and response.headers["Location"].endswith("/setup")
    (user,) = fresh.access.users()
    assert (user["username"], user["role"]) == (ADMIN[0], "admin")
    assert fresh.setup.shop() == {"name": "Lin's Repairs", "time_zone": "Asia/Shanghai", "preset": "cn"}
    written = tomllib.loads(fresh.config_file.read_text(encoding="utf-8"))  # the config file the box reads
    assert written["shop"]["name"] == "Lin's Repairs" and written["shop"]["time_zone"] == "Asia/Shanghai"
    assert written["calling"]["preset"] == "cn" and fresh.applied[-1].calling.preset == "cn"  # applied at once
    page = fresh_client.get("/setup").get_data(as_text=True)
    assert "The admin account is ready." in page and "Your admin account" not in page  # signed in, no account form
    assert "http://localhost/api/v1/tickets" in page and fresh.webhook_secret in page and "data-copy" in page
    assert fresh_client.get("/users").status_code == 200
    whats = [e["what"] for e in fresh.access.audit_page()["items"]]
    assert whats == ["setup.shop", f"user:{ADMIN[0]}"]

    stranger = create_app(fresh, secret_key="k", test_config={"TESTING": True}).test_client()
    assert stranger.get("/setup").status_code == 302  # an admin's page now: to the login form
    stranger.get("/login")
    form = {"csrf_token": csrf_of(stranger), "username": "mallory", "password": "x" * 12, "password2": "x" * 12,
            "shop_name": "Evil", "time_zone": "UTC", "preset": "us"}
    response = stranger.post("/setup", data=form)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    # the admin posting the account fields again changes the shop, never makes a second account
    again = fresh_client.post("/setup", data={**form, "csrf_token": csrf_of(fresh_client)})
    assert again.status_code == 302 and fresh.setup.shop()["name"] == "Evil"
    assert [u["username"] for u in fresh.access.users()] == [ADMIN[0]]


def test_two_setups_at_once_make_one_admin(fresh: Any) -> None:
    first = fresh.access.create_first_admin("first", ADMIN[1], ADMIN[1])
    with pytest.raises(Exception, match="already has an admin"):
        fresh.access.create_first_admin("second", ADMIN[1], ADMIN[1])
    assert [u["username"] for u in fresh.access.users()] == [first["username"]]


def sign_in(client: FlaskClient, user: tuple[str, str]) -> None:
    client.get("/login")
    response = client.post("/login", data={"csrf_token": csrf_of(client), "username": user[0], "password": user[1]})
    assert response.status_code == 302, response.get_data(as_text=True)


def post(client: FlaskClient, path: str, **form: str) -> Any:
    return client.post(path, data={"csrf_token": csrf_of(client), **form})


def test_users_page_makes_a_reviewer_who_reads_but_cannot_change(logged_in: FlaskClient, app: Flask,
                                                                 service: Any) -> None:
    page = logged_in.get("/users").get_data(as_text=True)
    assert 'href="/users"' in page and "Users and API tokens" in page
    made = post(logged_in, "/users", username=REVIEWER[0], password=REVIEWER[1], role="reviewer")
    assert made.status_code == 302
    assert "rita can sign in now, as a reviewer." in logged_in.get("/users").get_data(as_text=True)
    assert service.access.user("rita")["role"] == "reviewer"

    reviewer = app.test_client()
    sign_in(reviewer, REVIEWER)
    calls = reviewer.get("/calls")
    assert calls.status_code == 200 and 'href="/users"' not in calls.get_data(as_text=True)
    refused = reviewer.get("/users")
    assert refused.status_code == 403 and "reviewer" in refused.get_data(as_text=True)
    assert post(reviewer, "/users", username="eve", password="e" * 12, role="admin").status_code == 403
    assert post(reviewer, "/users/rita/role", role="admin").status_code == 403
    assert service.access.user("rita")["role"] == "reviewer" and service.access.user("eve") is None


def test_a_role_change_takes_effect_on_the_next_request(logged_in: FlaskClient, app: Flask, service: Any) -> None:
    service.access.create_user("second", "second admin pw", "admin")
    other = app.test_client()
    sign_in(other, ("second", "second admin pw"))
    assert other.get("/users").status_code == 200
    assert post(logged_in, "/users/second/role", role="reviewer").status_code == 302
    assert other.get("/users").status_code == 302  # a new role ends the user's sessions (web.auth): signed out
    sign_in(other, ("second", "second admin pw"))
    assert other.get("/users").status_code == 403  # signed in again: a reviewer now
    assert post(logged_in, "/users/second/delete").status_code == 302
    assert other.get("/calls").status_code == 302  # deleted: signed out


def test_the_last_admin_is_never_lost(logged_in: FlaskClient, service: Any) -> None:
    for path, form in (("/users/admin/delete", {}), ("/users/admin/role", {"role": "reviewer"})):
        response = post(logged_in, path, **form)
        assert response.status_code == 400
        assert "This is the only admin" in response.get_data(as_text=True)
    assert service.access.user("admin")["role"] == "admin"
    taken = post(logged_in, "/users", username="admin", password="p" * 12, role="reviewer")
    assert taken.status_code == 400 and "That username is taken." in taken.get_data(as_text=True)
    short = post(logged_in, "/users/admin/password", password="short")
    assert short.status_code == 400 and "at least 10 characters" in short.get_data(as_text=True)


def test_a_reset_password_signs_in_and_the_old_one_does_not(logged_in: FlaskClient, app: Flask,
                                                            service: Any) -> None:
    service.access.create_user("sam", "first password", "reviewer")
    assert post(logged_in, "/users/sam/password", password="second password").status_code == 302
    assert service.access.verify("sam", "first password") is None
    assert service.access.verify("sam", "second password") is not None
    (entry, *_) = service.access.audit_page()["items"]
    assert entry["what"] == "user:sam.password" and "second password" not in str(entry)


def test_an_api_token_is_shown_once_works_as_a_bearer_and_stops_when_revoked(logged_in: FlaskClient, app: Flask,
                                                                            service: Any) -> None:
    made = post(logged_in, "/tokens", name="Home Assistant")
    page = made.get_data(as_text=True)
    assert made.status_code == 201 and "shown only once" in page
    token = page.split('id="new-token-value" class="mono token-value" readonly value="')[1].split('"')[0]
    assert token.startswith("cbx_")
    listing = logged_in.get("/users").get_data(as_text=True)
    assert "Home Assistant" in listing and token not in listing and "never" in listing
    stored = sqlite3.connect(service.records.db.path).execute("SELECT token_hash FROM api_tokens").fetchall()
    assert len(stored) == 1 and token not in stored[0][0]

    api = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/calls", headers=bearer).status_code == 200
    assert service.access.tokens()[0]["last_used_at"] is not None
    assert api.get("/api/v1/calls", headers=TOKEN).status_code == 200  # CALLBOX_API_TOKEN still works
    assert api.get("/api/v1/calls", headers={"Authorization": f"Bearer {token}x"}).status_code == 401

    token_id = service.access.tokens()[0]["id"]
    assert post(logged_in, f"/tokens/{token_id}/revoke").status_code == 302
    assert api.get("/api/v1/calls", headers=bearer).status_code == 401
    assert post(logged_in, f"/tokens/{token_id}/revoke").status_code == 404
    whats = [e["what"] for e in service.access.audit_page()["items"]]
    assert whats[:2] == [f"token:{token_id}", f"token:{token_id}"]


def test_the_audit_page_says_each_change_in_words_and_pages(logged_in: FlaskClient, service: Any) -> None:
    service.audit_change("owner", "settings.calling", {"hours": "09:00-20:00", "preset": "fr"},
                         {"hours": "10:00-19:00", "preset": "fr", "max_per_day": 2})
    page = logged_in.get("/audit").get_data(as_text=True)
    assert "hours: 09:00-20:00 → 10:00-19:00" in page and "max_per_day set to 2" in page and "owner" in page
    for n in range(60):
        service.audit_change("owner", f"rule:r{n}", None, {"n": n})
    first = logged_in.get("/audit").get_data(as_text=True)
    assert "rule:r59" in first and "rule:r9<" not in first and "Page 1 of 2 · 61 changes" in first
    second = logged_in.get("/audit?page=2").get_data(as_text=True)
    assert "rule:r9<" in second and "settings.calling" in second and "rule:r59" not in second


def test_describe_change_in_words() -> None:
    assert describe_change(None, {"role": "admin"}) == ['created: {"role": "admin"}']
    assert describe_change({"role": "reviewer"}, None) == ['removed (was {"role": "reviewer"})']
    assert describe_change("admin", "reviewer") == ["admin → reviewer"]
    assert describe_change({"a": 1, "b": 2}, {"a": 1, "c": 3}) == ["b removed (was 2)", "c set to 3"]
    assert describe_change({"a": 1}, {"a": 1}) == ["no change"]


def test_the_language_a_user_picks_comes_back_at_the_next_sign_in(logged_in: FlaskClient, app: Flask,
                                                                  service: Any) -> None:
    switched = post(logged_in, "/language", lang="zh", next="/calls")
    assert switched.status_code == 302 and service.access.user("admin")["lang"] == "zh"
    other = app.test_client()
    sign_in(other, ("admin", "correct horse battery staple"))
    assert 'lang="zh-Hans"' in other.get("/calls").get_data(as_text=True)


TARGET_SECRET = "whsec_" + "dGFyZ2V0LXNlY3JldC1mb3ItdGVzdHMtMDEyMzQ1Ng=="


@pytest.fixture
def receiver() -> Iterator[SignedReceiver]:
    with SignedReceiver(TARGET_SECRET) as running:
        yield running


def test_test_the_connection_says_in_words_what_the_target_answered(logged_in: FlaskClient, service: Any,
                                                                     receiver: SignedReceiver) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{closed.getsockname()[1]}/"
    targets = (Target("callback", receiver.url, TARGET_SECRET),
               Target("upstream", receiver.url, "whsec_" + "d3JvbmctMTIzNDU2Nzg="),  # not the receiver's secret
               Target("dead", dead_url, TARGET_SECRET))
    service.setup.targets = {t.name: t for t in targets}
    page = logged_in.get("/setup").get_data(as_text=True)
    assert "Test the connection" in page and receiver.url in page
    words = {}
    for name in ("callback", "upstream", "dead"):
        follow = logged_in.post("/setup/test-target", data={"csrf_token": csrf_of(logged_in), "target": name},
                                follow_redirects=True)
        words[name] = follow.get_data(as_text=True)
    assert "Ticket callback answered 204 in" in words["callback"] and "the connection works" in words["callback"]
    assert "Upstream call records answered 401: it does not accept the signature" in words["upstream"]
    assert "connection refused" in words["dead"]
    assert receiver.answers == [204, 401]


def test_send_a_test_ticket_goes_through_the_real_intake_and_calls_nobody(admitting: Any,
                                                                          admitting_client: FlaskClient) -> None:
    sign_in(admitting_client, ("admin", "correct horse battery staple"))
    page = admitting_client.post("/setup/test-ticket", data={"csrf_token": csrf_of(admitting_client)},
                                 follow_redirects=True).get_data(as_text=True)
    assert "arrived: skip" in page and "Nobody is called." in page
    (ticket,) = [t for t in admitting.records.tickets(limit=10) if t.id.startswith("setup-test-")]
    assert ticket.decision == "skip"
    tasks = admitting.records.tasks_of(ticket.id)
    assert tasks == []


def test_callbox_passwd_makes_a_reviewer_and_keeps_an_admin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    def passwd(user: str, password: str, role: str | None) -> None:
        monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
        run_passwd(argparse.Namespace(user=user, stdin=True, role=role, state_dir=tmp_path, config=None))

    passwd("boss", "boss password", None)
    passwd("rita", "rita password", "reviewer")
    assert "password set for rita (reviewer)" in capsys.readouterr().out
    db = Database(tmp_path / "callbox.db")
    try:
        accounts = Accounts(db)
        assert {u["username"]: u["role"] for u in accounts.users()} == {"boss": "admin", "rita": "reviewer"}
    finally:
        db.close()
    with pytest.raises(Exception, match="only admin"):
        passwd("boss", "boss password", "reviewer")


def test_the_migration_makes_every_existing_user_an_admin(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    before = next(i for i, m in enumerate(MIGRATIONS) if isinstance(m, str) and "CREATE TABLE api_tokens" in m)
    # ^ the schema just before the access migration
    conn = schema_at(path, before)
    conn.execute("INSERT INTO users VALUES ('old', 'hash', '2024-01-01T00:00:00+00:00')")
    conn.close()
    db = Database(path)
    try:
        assert Accounts(db).user("old") == {"username": "old", "role": "admin", "lang": None,
                                            "created_at": "2024-01-01T00:00:00+00:00"}
        assert db.schema_version == len(MIGRATIONS)
    finally:
        db.close()


def test_setup_admin_saves_only_what_it_can_use(tmp_path: Path, service: Any) -> None:
    setup: SetupAdmin = service.setup
    before, after = setup.save_shop(name="  Lin's   Repairs ", time_zone="Europe/Paris", preset="fr")
    assert before["name"] == "Corner Shop" and after == {"name": "Lin's Repairs", "time_zone": "Europe/Paris",
                                                         "preset": "fr"}
    assert [h["helpdesk"] for h in setup.webhooks()] == ["native", "zendesk", "freshdesk", "zammad"]
    assert setup.webhooks()[1]["secret"] == ""  # not connected
