"""The admin panel: login, CSRF, throttle, calls page, recordings, tickets, status, errors."""

from __future__ import annotations

import io
import wave

import pytest

from web import create_app


@pytest.fixture(autouse=True)
def calls_in_the_store(service):
    service.store_dict_calls()  # the Calls page searches the real store


def test_root_redirects_to_the_dashboard(logged_in):
    response = logged_in.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/dashboard")


def test_root_sends_a_visitor_to_the_login(client):
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("path", ["/calls", "/tickets", "/calls/2/recording.wav"])
def test_login_required(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_login_then_calls_page(client, login):
    response = login(client)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/dashboard")
    assert client.get("/calls").status_code == 200


def test_login_returns_to_the_page_asked_for_but_never_offsite(client, csrf, creds):
    first = client.get("/tickets")
    assert "next=/tickets" in first.headers["Location"]
    token = csrf(client.get("/login").get_data(as_text=True))
    user, password = creds
    ok = client.post("/login", data={"csrf_token": token, "username": user, "password": password,
                                     "next": "/tickets"})
    assert ok.headers["Location"] == "/tickets"
    client.post("/logout", data={"csrf_token": csrf(client.get("/calls").get_data(as_text=True))})
    token = csrf(client.get("/login").get_data(as_text=True))
    evil = client.post("/login", data={"csrf_token": token, "username": user, "password": password,
                                       "next": "//evil.example/x"})
    assert evil.headers["Location"] == "/dashboard"


def test_wrong_password_shows_error_and_no_session(client, login):
    response = login(client, password="wrong")
    assert response.status_code == 401
    assert "Wrong username or password" in response.get_data(as_text=True)
    with client.session_transaction() as sess:
        assert "user" not in sess
    assert client.get("/calls").status_code == 302


def test_login_without_csrf_is_400(client, creds, service):
    client.get("/login")
    user, password = creds
    response = client.post("/login", data={"username": user, "password": password})
    assert response.status_code == 400
    with client.session_transaction() as sess:
        assert "user" not in sess


def test_login_with_a_foreign_csrf_token_is_400(app, client, creds, csrf):
    other = app.test_client()
    foreign = csrf(other.get("/login").get_data(as_text=True))
    client.get("/login")
    user, password = creds
    response = client.post("/login", data={"csrf_token": foreign, "username": user, "password": password})
    assert response.status_code == 400


def test_logout_needs_post_and_csrf(logged_in, csrf):
    assert logged_in.get("/logout").status_code == 405
    assert logged_in.post("/logout", data={}).status_code == 400
    assert logged_in.get("/calls").status_code == 200  # still logged in
    token = csrf(logged_in.get("/calls").get_data(as_text=True))
    assert logged_in.post("/logout", data={"csrf_token": token}).status_code == 302
    assert logged_in.get("/calls").status_code == 302


def test_login_is_throttled_after_five_failures(client, login):
    for _ in range(5):
        assert login(client, password="nope").status_code == 401
    locked = login(client)  # even the right password waits out the lockout
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.get_data(as_text=True)
    with client.session_transaction() as sess:
        assert "user" not in sess


def test_throttle_is_per_client_address(app, login):
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "10.0.0.66"
    for _ in range(5):
        login(attacker, password="nope")
    assert login(attacker).status_code == 429
    assert login(app.test_client()).status_code == 302


def test_throttle_lockout_ends(service):
    app = create_app(service, test_config={"TESTING": True, "LOGIN_LOCKOUT_S": 0.0, "LOGIN_MAX_FAILURES": 2})
    throttle = app.extensions["callbox_login_throttle"]
    throttle.failed("1.2.3.4")
    assert throttle.retry_after("1.2.3.4") == 0
    throttle.failed("1.2.3.4")
    assert throttle.retry_after("1.2.3.4") == 0  # lockout of 0 s has already passed


def test_session_cookie_is_httponly_and_lax(client, login):
    response = login(client)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_calls_page_lists_calls_newest_first_with_links(logged_in, service):
    html = logged_in.get("/calls").get_data(as_text=True)
    assert "Min-jun Kim" in html and "+15550111" in html
    assert 'href="/calls/2"' in html and 'href="/tickets/T-2"' in html
    assert "47 s" in html and ">Completed<" in html
    assert html.index("Min-jun Kim") < html.index("Ada Park")  # newest first


def test_call_page_shows_transcript_and_audio(logged_in, service):
    html = logged_in.get("/calls/2").get_data(as_text=True)
    assert "I will pick it up on Friday." in html
    assert 'class="turn turn-bot"' in html and 'class="turn turn-customer"' in html
    assert 'id="call-audio" controls preload="metadata" src="/calls/2/recording.wav"' in html
    assert "Customer will pick up on Friday" in html  # remark
    assert "/calls/1/recording.wav" not in logged_in.get("/calls/1").get_data(as_text=True)  # never answered


def test_call_pages_show_line_flow_cause_in_words_and_intent(logged_in):
    html = logged_in.get("/calls/2").get_data(as_text=True)
    assert "Line line1" in html and "Flow repair-ready v3" in html
    assert ">Confirm<" in html
    listed = logged_in.get("/calls").get_data(as_text=True)
    assert "no answer (19)" in listed and ">19<" not in listed


def test_relative_recording_path_is_read_from_the_working_directory(logged_in, service, monkeypatch):
    wav = service.wav_files[2]
    monkeypatch.chdir(wav.parent)
    service.wav_files[2] = type(wav)(wav.name)
    response = logged_in.get("/calls/2/recording.wav")
    assert response.status_code == 200
    assert response.data == wav.read_bytes()


def test_calls_page_empty_state(logged_in, service):
    service.records.db.write(lambda c: (c.execute("DELETE FROM turns"), c.execute("DELETE FROM calls")))
    assert "No calls yet" in logged_in.get("/calls").get_data(as_text=True)


def test_transcript_text_is_escaped(logged_in, service):
    service.calls[2]["turns"].append({"speaker": "customer", "text": "<script>alert(1)</script>"})
    html = logged_in.get("/calls/2").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_recording_is_served_as_wav(logged_in, service):
    response = logged_in.get("/calls/2/recording.wav")
    assert response.status_code == 200
    assert response.mimetype == "audio/wav"
    assert response.headers["Accept-Ranges"] == "bytes"
    with wave.open(io.BytesIO(response.data)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getnframes()) == (8000, 1, 8000)


def test_recording_supports_range_requests(logged_in, service):
    whole = service.wav_files[2].read_bytes()
    response = logged_in.get("/calls/2/recording.wav", headers={"Range": "bytes=100-199"})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
    assert response.data == whole[100:200]
    tail = logged_in.get("/calls/2/recording.wav", headers={"Range": "bytes=-44"})
    assert tail.status_code == 206 and tail.data == whole[-44:]
    beyond = logged_in.get("/calls/2/recording.wav", headers={"Range": f"bytes={len(whole) + 10}-"})
    assert beyond.status_code == 416


def test_recording_404_when_none_or_file_gone(logged_in, service):
    assert logged_in.get("/calls/1/recording.wav").status_code == 404
    assert logged_in.get("/calls/999/recording.wav").status_code == 404
    service.wav_files[2].unlink()
    response = logged_in.get("/calls/2/recording.wav")
    assert response.status_code == 404
    assert "no recording" in response.get_data(as_text=True)


def test_tickets_page_shows_status_and_decision(logged_in, service, store_ticket):
    store_ticket(service.records, "T-555", status="scheduled", reason="order ready")
    html = logged_in.get("/tickets").get_data(as_text=True)
    assert "T-555" in html and "Phone repair ready" in html and 'href="/tickets/T-555"' in html
    assert ">Scheduled<" in html and "badge pill badge-info" in html
    assert "order ready" in html


def test_status_strip_shows_lines_and_engine(logged_in):
    html = logged_in.get("/calls").get_data(as_text=True)
    assert "line1 · ready" in html and "line2 · in a call" in html
    assert "vosk" in html
    assert "fell back to PocketSphinx" not in html


def test_status_strip_says_so_when_asr_fell_back(logged_in, service):
    service.fallback_reason = "no vosk model installed for ko"
    html = logged_in.get("/calls").get_data(as_text=True)
    assert "fell back to PocketSphinx" in html
    assert "no vosk model installed for ko" in html


def test_failing_status_does_not_break_the_page(logged_in, service, monkeypatch):
    def broken() -> dict:
        raise RuntimeError("status is broken")

    monkeypatch.setattr(service, "status", broken)
    response = logged_in.get("/calls")
    assert response.status_code == 200
    assert "Min-jun Kim" in response.get_data(as_text=True)


def test_panel_error_is_a_friendly_page(logged_in, service, caplog):
    def broken(**_: object) -> dict:
        raise RuntimeError("boom at /secret/path")

    service.search_calls = broken
    response = logged_in.get("/calls")
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "Something went wrong" in html
    assert "Traceback" not in html and "/secret/path" not in html
    assert any(r.exc_info for r in caplog.records)


def test_panel_404_is_a_page(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Not Found" in response.get_data(as_text=True)


def test_security_headers(client):
    response = client.get("/login")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


def test_pages_reference_no_external_assets(logged_in):
    for path in ("/calls", "/tickets", "/login", "/static/panel.css"):
        text = logged_in.get(path).get_data(as_text=True)
        assert "http://" not in text and "https://" not in text, path
        assert 'src="//' not in text and 'href="//' not in text and "url(" not in text, path


def test_do_not_call_list_on_the_tickets_page_and_taking_a_number_off(logged_in, service, csrf):
    page = logged_in.get("/tickets").get_data(as_text=True)
    assert "Nobody has asked not to be called" in page
    service.dnc.add("+15550199", "asked during call 7", ticket_id="T-9", call_id=7)
    page = logged_in.get("/tickets").get_data(as_text=True)
    assert "+15550199" in page and "asked during call 7" in page and "ticket T-9" in page
    stale = logged_in.post("/do-not-call/remove", data={"phone": "+15550199"})
    assert stale.status_code == 400 and service.dnc.entry("+15550199") is not None
    missing = logged_in.post("/do-not-call/remove", data={"csrf_token": csrf(page), "phone": "+15550000"})
    assert missing.status_code == 404 and "not on the do-not-call list" in missing.get_data(as_text=True)
    done = logged_in.post("/do-not-call/remove", data={"csrf_token": csrf(page), "phone": "+15550199"})
    assert done.status_code == 302 and service.dnc.entry("+15550199") is None
    page = logged_in.get(done.headers["Location"]).get_data(as_text=True)
    assert "+15550199 was taken off the list" in page


def test_tickets_page_title_is_just_its_name(logged_in):
    page = logged_in.get("/tickets").get_data(as_text=True)
    assert "<title>Tickets · Callbox</title>" in page
    assert page.count('id="do-not-call"') == 1
