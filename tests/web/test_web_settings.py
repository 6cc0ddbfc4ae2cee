"""The Settings and QA pages' changes over the Flask test client: each setting saved to a real TOML file that keeps
the owner's comments, a bad value shown at its field with the file unchanged, the environment's values shown and
refused, the do-not-call list's add / import / export round trip, the webhook secret rotated (the old one refused),
and, against a real box with a simulated modem, calling hours applied to the running box at once."""

from __future__ import annotations

import csv
import io
import json
import stat
import threading
import time
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from appliance.box import Callbox, build_line
from appliance.campaign.calls import CallSummary, SpeechKit
from appliance.campaign.hours import every_day
from appliance.config import LineConfig, apply_environment, load_config, parse_config
from appliance.config_edit import ConfigFile
from appliance.errors import SettingInvalid
from appliance.panel.settings import SettingsAdmin, WebhookSecret
from appliance.sim.customer import CustomerScript
from appliance.sim.huawei import SimulatedHuaweiModem
from web import create_app

COMMENTS = ("# Callbox at the corner shop: the owner's notes stay where they are.", "# weekdays only, the owner says",
            'name = "Corner Shop"  # spoken as {shop}')
WHSEC = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MjQy"  # base64 of 30 bytes


def page_token(client: FlaskClient, csrf: Callable[[str], str], path: str = "/settings") -> str:
    response = client.get(path)
    assert response.status_code == 200
    return csrf(response.get_data(as_text=True))


def toml(service: Any) -> dict[str, Any]:
    return tomllib.loads(service.config_file.read_text(encoding="utf-8"))


# (form url, form, what the file then holds, whether the running box takes it at once)
SAVES = [
    ("/settings/calling", {"calling.preset": "custom", "calling.hours": "08:30-19:00", "calling.max_per_day": "1"},
     {"calling": {"hours": "08:30-19:00", "max_per_day": 1}}, True),
    ("/settings/recordings", {"recordings.retention_days": "45", "recordings.quota_mb": "512",
                              "recordings.min_free_mb": "100"},
     {"recordings": {"retention_days": 45, "quota_mb": 512, "min_free_mb": 100}}, True),
    ("/settings/sms", {"sms.unreachable_text": "{shop}: we could not reach you about order {order_id}."},
     {"sms": {"unreachable_text": "{shop}: we could not reach you about order {order_id}."}}, True),
    ("/settings/upstream", {"web.callback_url": "https://office.example/callbox/ops",
                            "upstream.url": "https://office.example/callbox/records", "upstream.secret": WHSEC,
                            "upstream.send_recordings": "on", "upstream.timeout_s": "12.5"},
     {"web": {"callback_url": "https://office.example/callbox/ops"},
      "upstream": {"url": "https://office.example/callbox/records", "secret": WHSEC, "send_recordings": True,
                   "timeout_s": 12.5}}, False),
    ("/settings/mqtt", {"mqtt.enabled": "on", "mqtt.host": "broker.lan", "mqtt.port": "8883", "mqtt.tls": "on",
                        "mqtt.username": "box", "mqtt.password": "s3cret", "mqtt.topic_prefix": "shop/callbox",
                        "mqtt.discovery_prefix": "homeassistant", "mqtt.client_id": ""},
     {"mqtt": {"enabled": True, "host": "broker.lan", "port": 8883, "tls": True, "username": "box",
               "password": "s3cret", "topic_prefix": "shop/callbox"}}, False),
    ("/qa/settings", {"qa.asr_error": "on", "qa.min_asr_confidence": "0.6", "qa.min_intent_margin": "0.35",
                      "qa.opposite_intents": "confirm / reject\nwill_pay / cannot_pay", "qa.long_silence_s": "9",
                      "qa.barge_in": "on"},
     {"qa": {"min_asr_confidence": 0.6, "opposite_intents": [["confirm", "reject"], ["will_pay", "cannot_pay"]],
             "long_silence_s": 9.0, "intent_error": False, "long_silence": False}}, True),
]


@pytest.mark.parametrize(("url", "form", "expected", "live"), SAVES, ids=[s[0].rsplit("/", 1)[-1] for s in SAVES])
def test_each_setting_is_saved_to_the_toml_file_keeping_its_comments(
        logged_in: FlaskClient, service: Any, csrf: Callable[[str], str], url: str, form: dict[str, str],
        expected: dict[str, dict[str, Any]], live: bool) -> None:
    token = page_token(logged_in, csrf, "/qa" if url.startswith("/qa") else "/settings")
    response = logged_in.post(url, data={"csrf_token": token, **form})
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    text = service.config_file.read_text(encoding="utf-8")
    for comment in COMMENTS:
        assert comment in text  # the owner's comments and order stay
    assert text.index("[shop]") < text.index("[calling]")
    data = tomllib.loads(text)
    for table, values in expected.items():
        for key, value in values.items():
            assert data[table][key] == value, (table, key)
    loaded = load_config(service.config_file)  # the box would start with it
    assert loaded.shop.name == "Corner Shop"
    assert len(service.applied) == (1 if live else 0)
    after = logged_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved:" in after
    if not live:
        assert "Restart the box to apply it." in after
    if "upstream.secret" in form or "mqtt.password" in form:
        assert WHSEC not in after and "s3cret" not in after  # a secret is never shown back


def test_an_empty_secret_field_keeps_the_stored_secret(logged_in: FlaskClient, service: Any,
                                                       csrf: Callable[[str], str]) -> None:
    token = page_token(logged_in, csrf)
    first = {"upstream.url": "https://office.example/r", "upstream.secret": WHSEC, "upstream.timeout_s": "30"}
    assert logged_in.post("/settings/upstream", data={"csrf_token": token, **first}).status_code == 302
    again = {**first, "upstream.secret": "", "upstream.timeout_s": "20"}
    assert logged_in.post("/settings/upstream", data={"csrf_token": token, **again}).status_code == 302
    assert toml(service)["upstream"] == {"url": "https://office.example/r", "secret": WHSEC, "timeout_s": 20.0}


BAD = [
    ("/settings/calling", {"calling.hours": "8 in the morning"}, "calling.hours", "must look like 09:00-20:00"),
    ("/settings/calling", {"calling.max_per_day": "two"}, "calling.max_per_day", "must be a whole number"),
    ("/settings/calling", {"calling.max_per_day": "0"}, "calling.max_per_day", "must be at least 1"),
    ("/settings/recordings", {"recordings.quota_mb": "-5"}, "recordings.quota_mb", "must be 0 or more"),
    ("/settings/sms", {"sms.unreachable_text": "Hello {customer}"}, "sms.unreachable_text", "unknown field"),
    ("/settings/upstream", {"upstream.url": "ftp://office.example"}, "upstream.url", "is not an http(s) URL"),
    ("/settings/upstream", {"web.callback_url": "office.example"}, "web.callback_url", "is not an http(s) URL"),
    ("/settings/mqtt", {"mqtt.enabled": "on", "mqtt.host": ""}, "mqtt.host", "is needed when enabled"),
    ("/qa/settings", {"qa.min_asr_confidence": "1.5"}, "qa.min_asr_confidence", "must be between 0 and 1"),
    ("/qa/settings", {"qa.opposite_intents": "confirm and reject"}, "qa.opposite_intents", "one pair a line"),
]


@pytest.mark.parametrize(("url", "form", "key", "why"), BAD, ids=[b[2] + "-" + str(i) for i, b in enumerate(BAD)])
def test_a_bad_value_is_shown_at_its_field_and_changes_nothing(
        logged_in: FlaskClient, service: Any, csrf: Callable[[str], str], url: str, form: dict[str, str],
        key: str, why: str) -> None:
    before = service.config_file.read_bytes()
    running = service.settings.current
    token = page_token(logged_in, csrf, "/qa" if url.startswith("/qa") else "/settings")
    response = logged_in.post(url, data={"csrf_token": token, **form})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    error_at = html.index(f'id="e-{key}"')
    assert why in html[error_at:error_at + 300]
    assert f'aria-describedby="e-{key}"' in html  # the field points at its error
    assert "Traceback" not in html
    assert service.config_file.read_bytes() == before
    assert service.applied == [] and service.settings.current is running


def test_a_preset_change_that_the_retention_would_break_is_refused(logged_in: FlaskClient, service: Any,
                                                                   csrf: Callable[[str], str]) -> None:
    """China keeps records 30 days by law: with 10 days of retention the preset cannot become cn."""
    token = page_token(logged_in, csrf)
    assert logged_in.post("/settings/recordings", data={"csrf_token": token, "recordings.retention_days": "10"}
                          ).status_code == 302
    before = service.config_file.read_bytes()
    response = logged_in.post("/settings/calling", data={"csrf_token": token, "calling.preset": "cn"})
    assert response.status_code == 400
    assert "must be at least 30" in response.get_data(as_text=True)
    assert service.config_file.read_bytes() == before


def test_a_file_that_cannot_be_written_is_said_in_words(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the config's folder should be")
    file = ConfigFile(blocker / "callbox.toml")
    admin = SettingsAdmin(file=file, current=parse_config({}), env={}, apply=lambda config: None,
                          webhook=WebhookSecret(env={}, file=file, state_file=tmp_path / "s", on_rotate=print))
    with pytest.raises(SettingInvalid) as refused:
        admin.update("calling", {"calling.hours": "08:00-09:00"})
    assert refused.value.field == "calling.hours" and "cannot be written" in refused.value.message
    assert admin.current.calling.hours == "09:00-20:00"


def test_changes_need_the_forms_csrf_token(logged_in: FlaskClient, service: Any) -> None:
    before = service.config_file.read_bytes()
    for url, form in (("/settings/calling", {"calling.hours": "07:00-08:00"}),
                      ("/settings/do-not-call/add", {"phone": "+15550100"}), ("/settings/webhook-secret", {}),
                      ("/qa/settings", {"qa.long_silence_s": "3"})):
        assert logged_in.post(url, data={"csrf_token": "forged", **form}).status_code == 400, url
    assert service.config_file.read_bytes() == before and service.do_not_call.page()["total"] == 0
    assert not (service.config_file.parent / "webhook-secret").exists()


def test_pages_need_a_session(client: FlaskClient) -> None:
    for path in ("/settings", "/qa", "/statistics", "/settings/do-not-call.csv"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


def test_the_environment_wins_and_cannot_be_changed_here(logged_in: FlaskClient, service: Any,
                                                         csrf: Callable[[str], str]) -> None:
    service.env.update({"CALLBOX_UPSTREAM_URL": "https://env.example/ops",
                        "CALLBOX_WEBHOOK_SECRET": WHSEC})
    service.settings.current = apply_environment(parse_config(service.settings.file.data()), service.env)
    html = logged_in.get("/settings").get_data(as_text=True)
    assert "Set by the environment (CALLBOX_UPSTREAM_URL): it cannot be changed here." in html
    assert "Set by the environment (CALLBOX_WEBHOOK_SECRET): it cannot be changed here." in html
    field = html[html.index('name="web.callback_url"'):]
    assert 'value="https://env.example/ops" disabled' in field[:200]
    assert "Rotate the secret" not in html
    token = csrf(html)
    before = service.config_file.read_bytes()
    refused = logged_in.post("/settings/upstream", data={"csrf_token": token,
                                                         "web.callback_url": "https://other.example/ops"})
    assert refused.status_code == 400 and "is set by the environment (CALLBOX_UPSTREAM_URL)" in refused.get_data(
        as_text=True)
    rotate = logged_in.post("/settings/webhook-secret", data={"csrf_token": token})
    assert rotate.status_code == 400 and "CALLBOX_WEBHOOK_SECRET" in rotate.get_data(as_text=True)
    assert service.config_file.read_bytes() == before


def test_rotating_the_webhook_secret_refuses_the_old_one(logged_in: FlaskClient, service: Any,
                                                         csrf: Callable[[str], str], sign: Callable[..., Any],
                                                         ticket: Callable[..., Any]) -> None:
    old = service.webhook_secret
    body = json.dumps(ticket("T-ROT-1"))
    assert logged_in.post("/api/v1/tickets", data=body, headers=sign(body, msg_id="m-1", secret=old)
                          ).status_code < 300
    response = logged_in.post("/settings/webhook-secret", data={"csrf_token": page_token(logged_in, csrf)})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    shown = html.index('id="new-secret">') + len('id="new-secret">')
    new = html[shown:html.index("<", shown)]
    assert new.startswith("whsec_") and new != old
    kept = service.config_file.parent / "webhook-secret"  # no secret in the config file: the state dir's file
    assert kept.read_text().strip() == new and stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert new not in logged_in.get("/settings").get_data(as_text=True)  # shown once
    body = json.dumps(ticket("T-ROT-2"))
    refused = logged_in.post("/api/v1/tickets", data=body, headers=sign(body, msg_id="m-2", secret=old))
    assert refused.status_code == 401
    accepted = logged_in.post("/api/v1/tickets", data=body, headers=sign(body, msg_id="m-3", secret=new))
    assert accepted.status_code < 300, accepted.get_data(as_text=True)


def test_a_secret_in_the_config_file_is_rotated_there(logged_in: FlaskClient, service: Any,
                                                      csrf: Callable[[str], str]) -> None:
    service.config_file.write_text(service.config_file.read_text() + f'\n[web]\nwebhook_secret = "{WHSEC}"\n')
    html = logged_in.post("/settings/webhook-secret", data={"csrf_token": page_token(logged_in, csrf)}
                          ).get_data(as_text=True)
    shown = html.index('id="new-secret">') + len('id="new-secret">')
    new = html[shown:html.index("<", shown)]
    assert toml(service)["web"]["webhook_secret"] == new != WHSEC
    assert COMMENTS[1] in service.config_file.read_text()


def test_do_not_call_add_import_export_round_trip(logged_in: FlaskClient, service: Any,
                                                  csrf: Callable[[str], str]) -> None:
    token = page_token(logged_in, csrf)
    added = logged_in.post("/settings/do-not-call/add", data={"csrf_token": token, "phone": "+1 (555) 010-0111",
                                                               "reason": "asked by phone"})
    assert added.status_code == 302
    assert "+15550100111" in logged_in.get(added.headers["Location"]).get_data(as_text=True)
    bad = logged_in.post("/settings/do-not-call/add", data={"csrf_token": token, "phone": "call me maybe"})
    assert bad.status_code == 400 and "Not added:" in bad.get_data(as_text=True)

    upload = "phone,reason\n+15550100222,angry\n+44 20 7946 0000,\n+15550100333,moved\n"
    imported = logged_in.post("/settings/do-not-call/import", data={
        "csrf_token": token, "file": (io.BytesIO(upload.encode()), "numbers.csv")},
        content_type="multipart/form-data")
    assert imported.status_code == 302
    assert "Imported 3 numbers (3 new)." in logged_in.get(imported.headers["Location"]).get_data(as_text=True)
    broken = "phone\n+15550100444\nnot a number\n"
    refused = logged_in.post("/settings/do-not-call/import", data={
        "csrf_token": token, "file": (io.BytesIO(broken.encode()), "numbers.csv")},
        content_type="multipart/form-data")
    assert refused.status_code == 400 and "Nothing was imported: line 3:" in refused.get_data(as_text=True)
    assert service.do_not_call.page()["total"] == 4  # nor the good row before the bad one

    exported = logged_in.get("/settings/do-not-call.csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    phones = {r["phone"] for r in rows}
    assert phones == {"+15550100111", "+15550100222", "+442079460000", "+15550100333"}
    assert {r["phone"]: r["reason"] for r in rows}["+15550100222"] == "angry"
    for phone in phones:
        assert logged_in.post("/settings/do-not-call/remove", data={"csrf_token": token, "phone": phone}
                              ).status_code == 302
    assert service.do_not_call.page()["total"] == 0
    again = logged_in.post("/settings/do-not-call/import", data={
        "csrf_token": token, "file": (io.BytesIO(exported.get_data()), "do-not-call.csv")},
        content_type="multipart/form-data")
    assert again.status_code == 302
    back = list(csv.DictReader(io.StringIO(logged_in.get("/settings/do-not-call.csv").get_data(as_text=True))))
    assert {(r["phone"], r["reason"]) for r in back} == {(r["phone"], r["reason"]) for r in rows}


def test_the_statistics_and_qa_pages_render_their_figures(logged_in: FlaskClient, service: Any) -> None:
    stats = logged_in.get("/statistics?since=2024-04-01&until=2024-06-01&inline=1")
    html = stats.get_data(as_text=True)
    assert stats.status_code == 200
    for chart in ("per-day", "by-hour", "duration", "turns"):
        assert f'data-chart="{chart}"' in html
    data = html[html.index("id=\"stats-data\" hidden data-json='") + len("id=\"stats-data\" hidden data-json='"):]
    charts = json.loads(data[:data.index("'")])
    assert len(charts["hours"]) == 24 and len(charts["days"]) == 62  # every day of April and May, and June 1st
    bad = logged_in.get("/statistics?since=yesterday")
    assert bad.status_code == 400 and "must be a date such as 2026-11-20" in bad.get_data(as_text=True)
    qa = logged_in.get("/qa").get_data(as_text=True)
    assert 'data-chart="qa-counts"' in qa and "Nothing to review." in qa and 'name="qa.long_silence_s"' in qa


def test_calling_hours_apply_to_the_running_box_at_once(tmp_path: Path, pocketsphinx_engine: object) -> None:
    """A real box on a simulated modem: the hours saved in the panel hold the very next call."""
    path = tmp_path / "callbox.toml"
    path.write_text('# the shop\n[calling]\nhours = "00:00-00:00"  # all day\n\n[recordings]\nretention_days = 90\n')
    sim = SimulatedHuaweiModem(lambda n: CustomerScript("busy"))
    sim.start()
    config = load_config(path, state_dir=tmp_path / "state")
    kit = SpeechKit(asr=pocketsphinx_engine, tts=None, endpointer=lambda: None)  # type: ignore[arg-type]
    box = Callbox(config, lines=[build_line(LineConfig("sim0", sim.at_port, sim.audio_port))], speech=kit,
                  config_file=path)
    done: list[CallSummary] = []
    ended = threading.Event()
    box.on_call(lambda summary: (done.append(summary), ended.set()))
    client = create_app(box.panel, secret_key="k", test_config={"TESTING": True}).test_client()
    box.records.set_user("owner", "not-a-password-hash")  # the admin the session stands for (the guard reads it)
    with client.session_transaction() as session:
        session["user"], session["csrf"] = "owner", "token"
        # a current session of the owner's (web.auth): the user's session generation, signed in just now
        session["gen"] = box.panel.access.session_generation("owner")
        session["issued"] = session["seen"] = int(time.time())
    # a one-minute window half an hour from now (whole-hour zones never reach it now)
    start = (datetime.now(UTC) + timedelta(minutes=30)).strftime("%H:%M")
    end = (datetime.now(UTC) + timedelta(minutes=31)).strftime("%H:%M")
    try:
        box.start()
        saved = client.post("/settings/calling", data={"csrf_token": "token", "calling.preset": "custom",
                                                       "calling.hours": f"{start}-{end}", "calling.max_per_day": "3"})
        assert saved.status_code == 302, saved.get_data(as_text=True)[-1000:]
        assert box.runner.rules.preset.hours == every_day(f"{start}-{end}")
        assert box.config.calling.hours == f"{start}-{end}"
        assert tomllib.loads(path.read_text())["calling"]["hours"] == f"{start}-{end}"
        assert "# the shop" in path.read_text()
        answer = box.admit_ticket({"id": "H-1", "type": "delivery", "subject": "Parcel", "description": "",
                                   "customer": {"name": "Ann", "phone": "+15550501234"},
                                   "order": {"id": "A-1", "status": "shipped"}}, "m-1")
        assert answer["decision"] == "call", answer
        assert ended.wait(30), "the scheduler never took the task"
        [summary] = done
        assert (summary.outcome.value, summary.guard) == ("blocked", "outside_hours")
        assert box.records.calls(ticket_id="H-1") == []  # never dialled
        assert client.post("/settings/recordings", data={"csrf_token": "token", "recordings.retention_days": "30",
                                                         "recordings.quota_mb": "100",
                                                         "recordings.min_free_mb": "0"}).status_code == 302
        assert (box.retention.policy.retention_days, box.retention.policy.quota_bytes) == (30, 100 * 1024 * 1024)
        old = box.webhook_secret
        rotated = client.post("/settings/webhook-secret", data={"csrf_token": "token"})
        assert rotated.status_code == 200
        assert box.webhook_secret != old and box.panel.webhook_secret == box.webhook_secret
        assert (tmp_path / "state" / "webhook-secret").read_text().strip() == box.webhook_secret
        assert box.webhook_secret in rotated.get_data(as_text=True)
    finally:
        box.stop()
        sim.stop()
