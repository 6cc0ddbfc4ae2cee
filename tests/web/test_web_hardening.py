"""Hardening on the shop's LAN (issue 14): what a neighbour on the shop's Wi-Fi could do to the panel and the
webhook, each tried against the real app; the server ones on a real waitress on 127.0.0.1 built as ``callbox
serve`` builds it (``web.serving.create_server``)."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from conftest import PASSWORD, USERNAME, InMemoryPanelService, good_ticket, signed_headers

from web import MAX_BODY_BYTES, create_app
from web.serving import CHANNEL_TIMEOUT_S, CONNECTION_LIMIT, Serving, create_server

TWENTY_MB = 20 * 1024 * 1024


@contextmanager
def running(service: InMemoryPanelService) -> Iterator[tuple[int, list[int]]]:
    """(port, [bytes the server has read from its sockets]) while a real waitress serves the real app."""
    app = create_app(service, secret_key="hardening-test-key")
    server = create_server(app, host="127.0.0.1", port=0)
    read = [0]
    base = server.channel_class

    class Counting(base):  # type: ignore[misc, valid-type]
        def recv(self, buffer_size: int) -> bytes:
            data: bytes = super().recv(buffer_size)
            read[0] += len(data)
            return data

    server.channel_class = Counting
    serving = Serving(server, name="hardening-waitress").start()
    try:
        yield serving.port, read
    finally:
        serving.stop()


def post_ticket(port: int, ticket_id: str) -> int:
    body = json.dumps(good_ticket(ticket_id))
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/tickets", data=body.encode(),
                                     headers=signed_headers(body, msg_id=f"msg-{ticket_id}"), method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(response.status)


def test_the_server_is_set_for_the_box(service: InMemoryPanelService):
    """More connections than waitress's 100, idle ones dropped after 30 s, on the configured host."""
    app = create_app(service, secret_key="k")
    server = create_server(app, host="127.0.0.1", port=0)
    try:
        assert server.adj.connection_limit == CONNECTION_LIMIT >= 300
        assert server.adj.channel_timeout == CHANNEL_TIMEOUT_S <= 30
        assert server.adj.cleanup_interval <= 10
        assert server.adj.host == "127.0.0.1"
    finally:
        server.close()


def test_150_idle_sockets_do_not_block_the_webhook(service: InMemoryPanelService):
    """A neighbour holds 150 idle connections open (waitress's default limit is 100): the webhook still takes
    a ticket at once, and so does the health check."""
    with running(service) as (port, _read):
        idle = []
        try:
            for _ in range(150):
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            time.sleep(0.3)  # the server has accepted them all by now
            started = time.monotonic()
            assert post_ticket(port, "T-IDLE") == 202
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                assert response.status == 200
            assert time.monotonic() - started < 3
        finally:
            for sock in idle:
                sock.close()
    assert "T-IDLE" in service.tickets


def _send_big(port: int, head: bytes, chunks: Iterator[bytes]) -> bytes:
    """Send the head, then the body until the server stops taking it; its answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    try:
        sock.sendall(head)
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except OSError:  # the server answered 413 and closed: the rest is never sent
            pass
        answer = b""
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        except OSError:
            pass
        return answer
    finally:
        sock.close()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_20_mb_body_is_refused_before_it_is_read(service: InMemoryPanelService, chunked: bool):
    """A 20 MB unauthenticated body: 413, with at most a little over the 64 KiB limit read by the server."""
    piece = b"x" * 65536
    if chunked:
        head = (b"POST /api/v1/tickets HTTP/1.1\r\nHost: box\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")
        chunks: Iterator[bytes] = iter([b"10000\r\n" + piece + b"\r\n"] * (TWENTY_MB // len(piece)))
    else:
        head = (b"POST /api/v1/tickets HTTP/1.1\r\nHost: box\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % TWENTY_MB)
        chunks = iter([piece] * (TWENTY_MB // len(piece)))
    with running(service) as (port, read):
        answer = _send_big(port, head, chunks)
        time.sleep(0.2)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert read[0] <= MAX_BODY_BYTES + 64 * 1024, read[0]


def _huge_urls(app: Any) -> list[tuple[str, str]]:
    """(method, url) for every route with an ``<int:...>`` part, each int 10**30 (SQLite's integers end at 2**63)."""
    from werkzeug.routing import AnyConverter, IntegerConverter

    urls = []
    for rule in app.url_map.iter_rules():
        ints = [name for name, conv in rule._converters.items() if isinstance(conv, IntegerConverter)]
        if not ints:
            continue
        convs = rule._converters
        values = {name: 10**30 if name in ints
                  else next(iter(convs[name].items)) if isinstance(convs.get(name), AnyConverter) else "x"
                  for name in rule.arguments}
        url = rule.build(values, append_unknown=False)[1]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            urls.append((method, url))
    return urls


def test_every_int_route_answers_a_huge_id_without_a_500(app: Any, service: InMemoryPanelService):
    """10**30 in any ``<int:...>`` part (a call id, a recording, a task...): a 404 or a refusal, never a 500."""
    client = app.test_client()
    urls = _huge_urls(app)
    assert any("/api/v1/calls/" in url for _m, url in urls)
    assert any(url.endswith("/recording.wav") for _m, url in urls)
    failures = []
    for method, url in urls:
        response = client.open(url, method=method, headers={"Authorization": "Bearer api-token-for-tests"},
                               json={} if method != "GET" else None)
        if response.status_code >= 500:
            failures.append((method, url, response.status_code))
    assert failures == []


@pytest.mark.parametrize("target", ["/calls\r\nSet-Cookie: evil=1", "/\r\n", "/calls%0d%0aX: y", "/\\evil.example",
                                    "/\tcalls", "//evil.example/", "https://evil.example/"])
def test_a_login_next_with_cr_lf_or_another_site_leads_home(client: Any, target: str):
    """``next=`` with CR/LF, a control character, a backslash or another site: a redirect to the dashboard (the
    encoded ``%0d%0a`` stays text in the path, harmless), never a 500 or a header of the attacker's."""
    page = client.get("/login", query_string={"next": target})
    assert page.status_code == 200
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post("/login", data={"csrf_token": token, "username": USERNAME, "password": PASSWORD,
                                           "next": target})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "\r" not in location and "\n" not in location and "evil" not in location.split("?")[0].lower()
    assert "Set-Cookie: evil" not in str(response.headers) and not response.headers.get("X")
    again = client.get("/login", query_string={"next": target})  # signed in: straight to next, or home
    assert again.status_code == 302
    assert "\n" not in again.headers["Location"]
    if target != "/calls%0d%0aX: y":
        assert again.headers["Location"].endswith("/dashboard") or again.headers["Location"] == "/dashboard"


def _signed_in(app: Any, username: str = USERNAME, password: str = PASSWORD) -> tuple[Any, str]:
    """(a client signed in, its session cookie as a copy an attacker could take)."""
    client = app.test_client()
    page = client.get("/login")
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    answer = client.post("/login", data={"csrf_token": token, "username": username, "password": password})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    cookie = client.get_cookie("callbox_session")
    assert cookie is not None
    return client, cookie.value


def _with_cookie(app: Any, value: str) -> Any:
    thief = app.test_client()
    thief.set_cookie("callbox_session", value)
    return thief


def _csrf(client: Any) -> str:
    with client.session_transaction() as session:
        return str(session["csrf"])


def test_a_cookie_copied_before_logout_does_not_work_after_it_nor_after_a_restart(service: InMemoryPanelService):
    app = create_app(service, secret_key="persisted-session-key")
    owner, copied = _signed_in(app)
    assert _with_cookie(app, copied).get("/calls").status_code == 200  # the copy works while the owner is in
    assert owner.post("/logout", data={"csrf_token": _csrf(owner)}).status_code == 302
    thief = _with_cookie(app, copied)
    answer = thief.get("/calls")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert thief.get("/api/v1/calls").status_code == 401
    restarted = create_app(service, secret_key="persisted-session-key")  # the box restarts with its kept key
    assert _with_cookie(restarted, copied).get("/api/v1/calls").status_code == 401


def test_a_new_password_or_role_ends_the_users_sessions(service: InMemoryPanelService):
    app = create_app(service, secret_key="k")
    service.access.create_user("ria", "reviewer password 1", "reviewer")
    _client, ria = _signed_in(app, "ria", "reviewer password 1")
    _client, admin = _signed_in(app)
    assert _with_cookie(app, ria).get("/api/v1/calls").status_code == 200
    service.access.set_role("ria", "admin")
    assert _with_cookie(app, ria).get("/api/v1/calls").status_code == 401
    _client, ria = _signed_in(app, "ria", "reviewer password 1")
    service.access.reset_password("ria", "another password 2")
    assert _with_cookie(app, ria).get("/api/v1/calls").status_code == 401
    assert _with_cookie(app, admin).get("/api/v1/calls").status_code == 200  # the others stay signed in


def test_a_user_made_again_under_the_same_name_does_not_get_the_old_cookies(service: InMemoryPanelService):
    app = create_app(service, secret_key="k")
    service.access.create_user("sam", "sam's password 1", "admin")
    _client, sam = _signed_in(app, "sam", "sam's password 1")
    service.access.delete_user("sam")
    service.access.create_user("sam", "sam's password 2", "admin")
    assert _with_cookie(app, sam).get("/api/v1/calls").status_code == 401


def test_a_session_ends_after_its_idle_time_and_its_lifetime(service: InMemoryPanelService):
    """12 h without a request ends it; so do 7 days however busy (the box's clock stands in for waiting)."""
    now = [1_800_000_000.0]
    app = create_app(service, secret_key="k", test_config={"SESSION_IDLE_S": 12 * 3600, "SESSION_MAX_S": 7 * 86400})
    app.extensions["callbox_clock"] = lambda: now[0]
    assert app.permanent_session_lifetime.total_seconds() == 7 * 86400  # the signature's own limit, not 31 days
    client, _cookie = _signed_in(app)
    now[0] += 11 * 3600
    assert client.get("/api/v1/calls").status_code == 200  # 11 h idle: still in, and seen now
    now[0] += 11 * 3600
    assert client.get("/api/v1/calls").status_code == 200
    now[0] += 12 * 3600 + 60
    assert client.get("/api/v1/calls").status_code == 401  # 12 h and a minute idle: out
    client, _cookie = _signed_in(app)
    signed_in_at = now[0]
    for _ in range(20):  # a request every 11 h: never idle, but 7 days after signing in it ends
        now[0] += 11 * 3600
        if client.get("/api/v1/calls").status_code == 401:
            break
    assert 7 * 86400 < now[0] - signed_in_at <= 7 * 86400 + 11 * 3600


def _try_login(app: Any, username: str, password: str, address: str) -> int:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    page = client.get("/login")
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    return int(client.post("/login", data={"csrf_token": token, "username": username,
                                           "password": password}).status_code)


def test_one_user_name_tried_from_many_addresses_is_locked(service: InMemoryPanelService):
    """10 wrong passwords for one name, each from another address (the per-address lock never trips): the name is
    locked, even with the right password, while other users still sign in; the lock ends after its time."""
    app = create_app(service, secret_key="k", test_config={"LOGIN_USER_LOCKOUT_S": 0.5})
    service.access.create_user("clerk", "clerk's password 1", "reviewer")
    for i in range(10):
        assert _try_login(app, USERNAME, f"guess {i}", f"10.0.1.{i}") == 401
    assert _try_login(app, USERNAME, PASSWORD, "10.0.2.1") == 429
    assert _try_login(app, " ADMIN ", PASSWORD, "10.0.2.2") == 429  # the same name however it is spelt
    assert _try_login(app, "clerk", "clerk's password 1", "10.0.1.3") == 302
    time.sleep(0.6)
    assert _try_login(app, USERNAME, PASSWORD, "10.0.2.3") == 302


def test_a_right_password_clears_the_users_count(service: InMemoryPanelService):
    app = create_app(service, secret_key="k")
    for i in range(9):
        assert _try_login(app, USERNAME, f"guess {i}", f"10.0.3.{i}") == 401
    assert _try_login(app, USERNAME, PASSWORD, "10.0.3.100") == 302
    for i in range(9):
        assert _try_login(app, USERNAME, f"guess {i}", f"10.0.4.{i}") == 401
    assert _try_login(app, USERNAME, PASSWORD, "10.0.4.100") == 302


def test_an_unknown_user_costs_a_password_hash_too(service: InMemoryPanelService, monkeypatch: Any):
    """The password is hashed whether the user exists or not, and the two answers take about as long (median of
    7 sign-ins each, within 30 %): a neighbour cannot tell which user names exist by timing."""
    import appliance.panel.access as access_module

    checked: list[str] = []
    real = access_module.check_password_hash

    def counting(stored: str, password: str) -> bool:
        checked.append(password)
        return bool(real(stored, password))

    monkeypatch.setattr(access_module, "check_password_hash", counting)
    app = create_app(service, secret_key="k", test_config={"LOGIN_MAX_FAILURES": 1000,
                                                           "LOGIN_USER_MAX_FAILURES": 1000})
    assert _try_login(app, "nobody-here", "wrong password 1", "10.0.5.1") == 401
    assert _try_login(app, USERNAME, "wrong password 2", "10.0.5.2") == 401
    assert checked == ["wrong password 1", "wrong password 2"]

    def timed(username: str) -> float:
        times = []
        for i in range(7):
            started = time.perf_counter()
            assert _try_login(app, username, f"wrong password {i}", "10.0.6.1") == 401
            times.append(time.perf_counter() - started)
        return sorted(times)[3]

    timed(USERNAME)  # warm up
    known, unknown = timed(USERNAME), timed("nobody-here")
    assert abs(known - unknown) <= 0.3 * max(known, unknown), (known, unknown)


def test_the_session_lifetimes_are_config_keys_checked_with_their_names():
    from appliance.config import ConfigError, parse_config

    web = parse_config({"web": {"session_idle_hours": 2, "session_max_days": 1.5}}).web
    assert (web.session_idle_hours, web.session_max_days) == (2.0, 1.5)
    assert (parse_config({}).web.session_idle_hours, parse_config({}).web.session_max_days) == (12.0, 7.0)
    for key, value in (("session_idle_hours", 0), ("session_max_days", 400), ("session_idle_hours", "long")):
        with pytest.raises(ConfigError) as refused:
            parse_config({"web": {key: value}}, file="/etc/callbox/callbox.toml")
        assert f"web.{key}" in str(refused.value) and "/etc/callbox/callbox.toml" in str(refused.value)


@pytest.mark.parametrize("url", ["/qa?offset=", "/settings?dnc_offset=", "/tasks?before=", "/audit?page=",
                                 "/calls?page=", "/tickets?page=", "/api/v1/calls?limit=", "/api/v1/tasks?before=",
                                 "/modems?hours="])
def test_a_huge_number_in_a_query_is_no_500(logged_in: Any, url: str):
    """A page or offset of 10**30 in a query string: the page as if it were absent, or a 400 naming it."""
    answer = logged_in.get(url + str(10**30))
    assert answer.status_code in (200, 400), (url, answer.status_code)
