"""Fixtures for the web layer's tests.

``InMemoryPanelService`` is a small stand-in for ``appliance.panel.service.BoxPanel`` used only
by these tests: it keeps tickets and calls in dicts and writes one real WAV file.
Integration tests against the real service live elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import struct
import threading
import wave
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from standardwebhooks.webhooks import Webhook
from werkzeug.security import generate_password_hash

from appliance.campaign.call_tasks import CallTasks
from appliance.campaign.intake import admit
from appliance.config import Config, HelpdeskConfig, HelpdesksConfig, apply_environment, parse_config
from appliance.config_edit import ConfigFile
from appliance.errors import QueryInvalid, TicketInvalid
from appliance.panel.access import AccessAdmin
from appliance.panel.dashboard import LiveAdmin
from appliance.panel.dnc import DoNotCallAdmin
from appliance.panel.flows import FlowAdmin
from appliance.panel.knowledge import KnowledgeAdmin
from appliance.panel.live import LiveBoard
from appliance.panel.modems import ModemsAdmin
from appliance.panel.qa import QaAdmin
from appliance.panel.recordings import RecordingsAdmin
from appliance.panel.rules import RulesAdmin
from appliance.panel.service import BoxPanel
from appliance.panel.settings import SettingsAdmin, WebhookSecret
from appliance.panel.setup import SetupAdmin
from appliance.records.config_store import ConfigStore
from appliance.records.retention import Retention, RetentionPolicy
from appliance.records.store import RecordsStore
from web import create_app

SECRET = "whsec_" + base64.b64encode(b"callbox-web-tests-secret-32bytes").decode()
USERNAME = "admin"
PASSWORD = "correct horse battery staple"
PASSWORD_HASH = generate_password_hash(PASSWORD)  # hashed once per session: the admin every test starts with
RECORDED_CALL = 2
SETTINGS_TOML = """\
# Callbox at the corner shop: the owner's notes stay where they are.
[shop]
name = "Corner Shop"  # spoken as {shop}

[calling]
# weekdays only, the owner says
hours = "09:00-18:00"
max_per_day = 2
"""
SILENT_CALL = 1


def write_tone_wav(path: Path, *, seconds: float = 1.0, rate: int = 8000) -> None:
    """A real 8 kHz 16-bit mono WAV: a 440 Hz tone."""
    samples = (int(8000 * math.sin(2 * math.pi * 440 * n / rate)) for n in range(int(seconds * rate)))
    frames = b"".join(struct.pack("<h", s) for s in samples)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)


def store_ticket(records: RecordsStore, ticket_id: str, *, phone: str = "+15550100", name: str = "Ada Park",
                 subject: str = "Phone repair ready", status: str = "open", decision: str = "call",
                 reason: str = "order ready", flow_id: str | None = "repair-ready",
                 received_at: str = "2024-05-01T12:00:00.000+00:00") -> None:
    """A ticket row in the real SQLite store, as the intake would have written it."""
    records.db.write(lambda c: c.execute(
        "INSERT INTO tickets (id, type, subject, description, customer_name, customer_phone, order_id, order_status,"
        " payload, status, decision, reason, flow_id, received_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (ticket_id, "repair", subject, "", name, phone, "O-" + ticket_id, "ready", "{}", status, decision, reason,
         flow_id, received_at, received_at)))


def store_call(records: RecordsStore, call_id: int, ticket_id: str, *, started_at: datetime,
               outcome: str | None = "completed", cause: int | None = None, disposition: str | None = None,
               seconds: float | None = 30.0, intent: str | None = None, grade: str | None = None,
               turns: tuple[tuple[str, str, str | None, int], ...] = (), recording: Path | None = None,
               task_state: str = "completed", phone: str | None = None) -> None:
    """A call (with its task and turns: speaker, text, intent, at_ms) in the real store; ``outcome`` None is a
    call still on the line. The ticket must be stored first."""

    def write(c: Any) -> None:
        ticket_row = c.execute("SELECT customer_phone FROM tickets WHERE id=?", (ticket_id,)).fetchone()
        at = started_at.astimezone(UTC).isoformat(timespec="milliseconds")
        answered = (started_at + timedelta(seconds=5)).astimezone(UTC).isoformat(timespec="milliseconds") \
            if seconds is not None else None
        ended = (started_at + timedelta(seconds=5 + seconds)).astimezone(UTC).isoformat(timespec="milliseconds") \
            if seconds is not None and outcome is not None else None
        task = c.execute("INSERT INTO tasks (ticket_id, flow_id, state, attempts, max_attempts, next_attempt_at,"
                         " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)",
                         (ticket_id, "repair-ready", task_state, 1, 3, at, at, at)).lastrowid
        c.execute("INSERT INTO calls (id, task_id, ticket_id, phone, line, flow_id, flow_version, state, started_at,"
                  " answered_at, ended_at, outcome, cause, disposition, intent, strength_grade, strength_score,"
                  " recording, attempt) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                  (call_id, task, ticket_id, phone or ticket_row[0], "line1", "repair-ready", 3,
                   outcome or "answered", at, answered, ended, outcome, cause, disposition, intent, grade,
                   {"A": 90, "B": 70, "C": 50, "D": 20}.get(grade or ""), str(recording) if recording else None, 1))
        for seq, (speaker, text, turn_intent, at_ms) in enumerate(turns):
            c.execute("INSERT INTO turns (call_id, seq, speaker, text, intent, confidence, node, at_ms)"
                      " VALUES (?,?,?,?,?,?,?,?)", (call_id, seq, speaker, text, turn_intent,
                                                    0.9 if speaker == "customer" else None, "ask", at_ms))

    records.db.write(write)


class InMemoryPanelService:
    """Satisfies web.service.PanelService with dicts; for the web tests only."""

    def __init__(self, recordings_dir: Path) -> None:
        self.webhook_secret = SECRET
        # Flows are the real thing: a real TinyDB config store behind the box's own FlowAdmin.
        self.configs = ConfigStore(recordings_dir / "flows-config.json")
        self.flows = FlowAdmin(self.configs, self.configs.publish_flow)
        self.rules = RulesAdmin(self.configs, shop_name="Corner Shop")  # the real rules and scenarios too
        self.knowledge = KnowledgeAdmin(self.configs)  # VUI presets and knowledge bases: the real ones
        self.records = RecordsStore(recordings_dir / "records.db")  # a real SQLite file for the do-not-call list
        self.dnc = self.records.do_not_call
        self.call_tasks = CallTasks(records=self.records, configs=self.configs, max_attempts=3)  # the real ones
        self.qa = QaAdmin(self.records)  # QA tags and the review queue: the box's own, over the real store
        # users, roles, tokens and the audit log: the box's own over the real store, with the admin the tests sign in as
        self.access = AccessAdmin(self.records.accounts)
        self.records.set_user(USERNAME, PASSWORD_HASH)
        self.setup = SetupAdmin(configs=self.configs, shop={"name": "Corner Shop", "time_zone": "Europe/Berlin",
                                                            "preset": "custom"},
                                webhook_secret=SECRET, helpdesks=None, targets=[],
                                admit=lambda payload, webhook_id: self.submit_ticket(payload, webhook_id=webhook_id),
                                rules=self.rules)
        # the Settings and QA pages: the box's own SettingsAdmin over a real TOML file with the owner's comments;
        # ``applied`` holds each config the running box would take, ``env`` stands for the process environment
        self.config_file = recordings_dir / "callbox.toml"
        self.config_file.write_text(SETTINGS_TOML, encoding="utf-8")
        self.env: dict[str, str] = {}
        self.applied: list[Config] = []
        file = ConfigFile(self.config_file)
        self.settings = SettingsAdmin(
            file=file, current=apply_environment(parse_config(file.data()), self.env), env=self.env,
            apply=self.applied.append,
            webhook=WebhookSecret(env=self.env, file=file, state_file=recordings_dir / "webhook-secret",
                                  on_rotate=self._rotated))
        self.do_not_call = DoNotCallAdmin(self.records.do_not_call)
        self.setup.write = self.settings.update  # Setup's shop answers go into the same file, as on the box
        # the dashboard and Modems page: the box's own live board (no lines here; events published by tests)
        board = LiveBoard()
        self.live = LiveAdmin(board=board, records=self.records, zone=ZoneInfo("UTC"), call_tasks=self.call_tasks,
                              modems=ModemsAdmin(board=board, lines=[], records=self.records))
        board.counters = self.live.counters
        self.submitted: list[tuple[dict[str, Any], str]] = []
        self.fail_with: Exception | None = None
        self.fallback_reason: str | None = None
        self._lock = threading.Lock()
        self.tickets: dict[str, dict[str, Any]] = {}
        self.by_webhook: dict[str, str] = {}
        self.wav_files: dict[int, Path] = {}  # the panel's player (recording_path)
        # the recordings API: the box's own code over the real store and a real folder
        self.recordings = RecordingsAdmin(Retention(self.records.db, recordings_dir / "recordings",
                                                    RetentionPolicy(min_free_bytes=0)))
        started = datetime(2024, 5, 1, 14, 3, tzinfo=UTC)
        self.calls: dict[int, dict[str, Any]] = {
            SILENT_CALL: {
                "id": SILENT_CALL, "ticket_id": "T-1", "phone": "+15550100", "customer_name": "Ada Park",
                "started_at": started.isoformat(), "outcome": "no_answer", "disposition": None,
                "duration_s": 0, "remark": None, "turns": [], "has_recording": False,
                "cause": 19, "task_id": 1, "attempt": 1, "max_attempts": 3,
            },
            RECORDED_CALL: {
                "id": RECORDED_CALL, "ticket_id": "T-2", "phone": "+15550111", "customer_name": "Min-jun Kim",
                "started_at": (started + timedelta(hours=1)).isoformat(), "outcome": "completed",
                "disposition": "confirmed", "duration_s": 47.4, "remark": "Customer will pick up on Friday",
                "turns": [
                    {"speaker": "bot", "text": "Hello, this is the repair shop. Your phone is ready."},
                    {"speaker": "customer", "text": "Great, I will pick it up on Friday.",
                     "intent": "confirm"},
                    {"speaker": "bot", "text": "Thank you, see you on Friday."},
                ],
                "has_recording": True, "line": "line1", "flow": "repair-ready v3",
                "task_id": 2, "attempt": 2, "max_attempts": 3,
            },
        }
        self.tasks: dict[int, dict[str, Any]] = {
            task_id: {"id": task_id, "ticket_id": ticket_id, "flow_id": "repair-ready", "state": state,
                      "attempts": attempts, "max_attempts": 3, "next_attempt_at": next_at, "last_outcome": last,
                      "created_at": started.isoformat(), "updated_at": started.isoformat()}
            for task_id, ticket_id, state, attempts, next_at, last in (
                (1, "T-1", "pending", 1, (started + timedelta(hours=2)).isoformat(), "no_answer"),
                (2, "T-2", "completed", 2, None, "completed"),
            )
        }
        wav = recordings_dir / f"{RECORDED_CALL}.wav"
        write_tone_wav(wav)
        self.wav_files[RECORDED_CALL] = wav

    def store_dict_calls(self) -> None:
        """The two dict calls in the real store too, where the console's Calls and Tickets pages search."""
        started = datetime.fromisoformat(self.calls[SILENT_CALL]["started_at"])
        store_ticket(self.records, "T-1", phone="+15550100", name="Ada Park")
        store_ticket(self.records, "T-2", phone="+15550111", name="Min-jun Kim")
        store_call(self.records, SILENT_CALL, "T-1", started_at=started, outcome="no_answer", cause=19,
                   seconds=None)
        store_call(self.records, RECORDED_CALL, "T-2", started_at=started + timedelta(hours=1), outcome="completed",
                   disposition="confirmed", seconds=47.4, intent="confirm",  # its WAV is the dict call's only
                   turns=(("bot", "Hello, this is the repair shop. Your phone is ready.", None, 0),
                          ("customer", "Great, I will pick it up on Friday.", "confirm", 4000),
                          ("bot", "Thank you, see you on Friday.", None, 7000)))
    def _rotated(self, secret: str) -> None:
        self.webhook_secret = secret

    def submit_ticket(self, payload: dict[str, Any], *, webhook_id: str) -> dict[str, Any]:
        if self.fail_with is not None:
            raise self.fail_with
        with self._lock:
            self.submitted.append((payload, webhook_id))
            ticket_id = payload.get("id")
            if not isinstance(ticket_id, str) or not ticket_id:
                raise TicketInvalid("is required", field="id")
            customer = payload.get("customer")
            phone = customer.get("phone") if isinstance(customer, dict) else None
            if not isinstance(phone, str) or not phone:
                raise TicketInvalid("is required", field="customer.phone")
            duplicate = webhook_id in self.by_webhook
            self.by_webhook.setdefault(webhook_id, ticket_id)
            self.tickets[ticket_id] = {
                "id": ticket_id, "subject": payload.get("subject", ""),
                "customer_name": customer.get("name", "") if isinstance(customer, dict) else "",
                "phone": phone, "status": "scheduled", "decision": "call", "reason": "order ready",
                "next_call_at": None, "remarks": ["Queued for a call"],
            }
            return {"ticket": ticket_id, "decision": "call", "reason": "order ready", "task": 1,
                    "duplicate": duplicate}

    def list_calls(self, *, limit: int = 100) -> list[dict[str, Any]]:
        if self.fail_with is not None:
            raise self.fail_with
        calls = sorted(self.calls.values(), key=lambda c: c["started_at"], reverse=True)
        return calls[:limit]

    def get_call(self, call_id: int) -> dict[str, Any] | None:
        """The dict calls above, else the real store's (the console's pages write theirs there)."""
        return self.calls.get(call_id) or BoxPanel.get_call(self, call_id)  # type: ignore[arg-type]

    def find_calls(self, *, phone: str | None = None, since: datetime | None = None, until: datetime | None = None,
                   outcome: str | None = None, task: int | None = None, before: int | None = None,
                   limit: int = 100) -> list[dict[str, Any]]:
        if self.fail_with is not None:
            raise self.fail_with
        if phone is not None and not phone.lstrip("+").replace(" ", "").isdigit():
            raise QueryInvalid("is not a phone number", parameter="phone")
        digits = phone.replace(" ", "") if phone is not None else None

        def matches(c: dict[str, Any]) -> bool:
            started = datetime.fromisoformat(c["started_at"])
            return ((digits is None or c["phone"] == digits) and (since is None or started >= since)
                    and (until is None or started < until) and (outcome is None or c["outcome"] == outcome)
                    and (task is None or c["task_id"] == task) and (before is None or c["id"] < before))

        return [c for c in sorted(self.calls.values(), key=lambda c: -c["id"]) if matches(c)][:limit]

    def find_tasks(self, *, state: str | None = None, ticket: str | None = None, before: int | None = None,
                   limit: int = 100) -> list[dict[str, Any]]:
        return [t for t in sorted(self.tasks.values(), key=lambda t: -t["id"])
                if (state is None or t["state"] == state) and (ticket is None or t["ticket_id"] == ticket)
                and (before is None or t["id"] < before)][:limit]

    def ticket_detail(self, ticket_id: str) -> dict[str, Any] | None:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            return BoxPanel.ticket_detail(self, ticket_id)  # type: ignore[arg-type]
        return {**ticket, "vars": {}, "operations": [],
                "tasks": [t for t in self.tasks.values() if t["ticket_id"] == ticket_id],
                "calls": [c for c in sorted(self.calls.values(), key=lambda c: c["id"])
                          if c["ticket_id"] == ticket_id]}

    def recording_path(self, call_id: int) -> Path | None:
        return self.wav_files.get(call_id) or BoxPanel.recording_path(self, call_id)  # type: ignore[arg-type]

    def list_tickets(self, *, limit: int = 100) -> list[dict[str, Any]]:
        return list(self.tickets.values())[:limit]

    # statistics and CSV exports: the box's own code over the real store, on the shop's clock in Berlin
    zone = ZoneInfo("Europe/Berlin")
    call_filter = BoxPanel.call_filter
    stats = BoxPanel.stats
    stats_figures = BoxPanel.stats_figures
    export_csv = BoxPanel.export_csv

    # the console's Calls and Tickets pages: the box's own code over the real store
    phone_region: str | None = None
    search_calls = BoxPanel.search_calls
    search_tickets = BoxPanel.search_tickets
    _shop_time = BoxPanel._shop_time
    ticket_deliveries = BoxPanel.ticket_deliveries
    ticket_action = BoxPanel.ticket_action
    ticket_note = BoxPanel.ticket_note

    # call tasks: the box's own code over the real store
    _tasks = BoxPanel._tasks
    find_call_tasks = BoxPanel.find_call_tasks
    call_task = BoxPanel.call_task
    call_task_page = BoxPanel.call_task_page
    preview_call_task = BoxPanel.preview_call_task
    create_call_task = BoxPanel.create_call_task
    call_task_action = BoxPanel.call_task_action
    timers = BoxPanel.timers
    timer_action = BoxPanel.timer_action
    delete_timer = BoxPanel.delete_timer

    def verify_login(self, username: str, password: str) -> bool:
        return self.access.verify(username, password) is not None

    def audit_change(self, user: str, what: str, before: Any, after: Any) -> None:
        self.access.audit(user, what, before, after)

    def do_not_call_list(self) -> list[dict[str, Any]]:
        return [e.as_dict() for e in self.dnc.entries()]

    def outbox(self, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        return self.records.outbox.report(datetime.now(UTC), limit=limit, offset=offset)  # the real table

    def sync_status(self) -> dict[str, Any]:
        return self.records.outbox.status(datetime.now(UTC), {"ticket": True})  # the real table

    def remove_do_not_call(self, phone: str) -> bool:
        return self.dnc.remove(phone)

    def status(self) -> dict[str, Any]:
        return {
            "lines": [{"name": "line1", "state": "ready"}, {"name": "line2", "state": "in_call"}],
            "asr": {"engine": "pocketsphinx" if self.fallback_reason else "vosk",
                    "fallback_reason": self.fallback_reason},
            "version": "0.1.0",
        }

    def metrics(self) -> tuple[bytes, str] | None:
        return None  # the real scrape is tested over a real box's panel (tests/web/test_web_metrics.py)


class AdmittingService(InMemoryPanelService):
    """The web tests' service, except that tickets take the real intake (``campaign.intake.admit``) into the
    real SQLite records store, so a test sees what the box would keep."""

    def submit_ticket(self, payload: dict[str, Any], *, webhook_id: str) -> dict[str, Any]:
        self.submitted.append((payload, webhook_id))
        return admit(payload, webhook_id=webhook_id, records=self.records, configs=self.configs,
                     max_attempts=3).as_dict()

    def stored(self) -> tuple[int, int]:
        """(tickets, webhook deliveries) in the records store."""
        return self.records.db.read(lambda c: (
            c.execute("SELECT COUNT(*) FROM tickets").fetchone()[0],
            c.execute("SELECT COUNT(*) FROM webhook_messages").fetchone()[0],
        ))

    def delivery_ids(self) -> list[str]:
        return self.records.db.read(
            lambda c: [r[0] for r in c.execute("SELECT id FROM webhook_messages ORDER BY id").fetchall()])


HELPDESKS = HelpdesksConfig(
    zendesk=HelpdeskConfig(secret="zendesk-signing-secret", order_id_field="360001111111",
                           order_status_field="360002222222"),
    zammad=HelpdeskConfig(secret="zammad-hmac-token", default_type="delivery"),
    freshdesk=HelpdeskConfig(secret="freshdesk-token-5d1c0e8a9b7f"),
)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "helpdesks"


def helpdesk_headers(helpdesk: str, body: bytes, *, delivery: str = "d-1", when: datetime | None = None,
                     secret: str | None = None) -> dict[str, str]:
    """Headers each helpdesk sends, signed the way it signs (Freshdesk: the owner's token header)."""
    secret = secret if secret is not None else HELPDESKS.by_name()[helpdesk].secret
    headers = {"Content-Type": "application/json"}
    if helpdesk == "zendesk":
        stamp = (when or datetime.now(tz=UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        digest = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
        headers |= {"X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
                    "X-Zendesk-Webhook-Signature-Timestamp": stamp,
                    "X-Zendesk-Webhook-Invocation-Id": delivery}
    elif helpdesk == "zammad":
        headers |= {"X-Hub-Signature": "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest(),
                    "X-Zammad-Delivery": delivery, "X-Zammad-Trigger": "call the customer"}
    else:
        headers |= {"X-Callbox-Token": secret}
    return headers


@pytest.fixture
def admitting(tmp_path: Path) -> Iterator[AdmittingService]:
    svc = AdmittingService(tmp_path)
    yield svc
    svc.records.close()
    svc.configs.close()


@pytest.fixture
def admitting_client(admitting: AdmittingService) -> FlaskClient:
    """The app with the three helpdesks connected, in front of the real intake and store."""
    app = create_app(admitting, secret_key="test-secret-key", test_config={"TESTING": True}, helpdesks=HELPDESKS)
    return app.test_client()


@pytest.fixture
def deliver(admitting_client: FlaskClient) -> Callable[..., Any]:
    """POST a body (dict -> JSON, str/bytes as is) to a helpdesk's route, signed correctly unless headers are
    given; ``native`` posts to /api/v1/tickets with Standard Webhooks headers."""

    def post(helpdesk: str, body: Any, *, headers: dict[str, str] | None = None, **sign: Any) -> Any:
        data = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
        if helpdesk == "native":
            msg_id = sign.get("delivery", "msg_1")
            hdrs = headers if headers is not None else signed_headers(data.decode("utf-8", "replace"),
                                                                      msg_id=msg_id)
            return admitting_client.post("/api/v1/tickets", data=data, headers=hdrs)
        hdrs = headers if headers is not None else helpdesk_headers(helpdesk, data, **sign)
        return admitting_client.post(f"/api/v1/tickets/{helpdesk}", data=data, headers=hdrs)

    return post


@pytest.fixture
def helpdesk_fixture() -> Callable[[str], dict[str, Any]]:
    def load(name: str) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
        return doc

    return load


@pytest.fixture
def sign_helpdesk() -> Callable[..., dict[str, str]]:
    return helpdesk_headers


def signed_headers(body: str, *, msg_id: str = "msg_1", when: datetime | None = None,
                   secret: str = SECRET) -> dict[str, str]:
    """Headers a Standard Webhooks sender would send, made with the library's own signer."""
    when = when or datetime.now(tz=UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, when, body),
        "Content-Type": "application/json",
    }


def good_ticket(ticket_id: str = "T-100") -> dict[str, Any]:
    """Shaped like appliance.campaign.tickets.parse_ticket expects."""
    return {"id": ticket_id, "type": "repair", "subject": "Phone repair ready", "description": "",
            "customer": {"name": "Ada Park", "phone": "+15550100"},
            "order": {"id": "O-" + ticket_id, "status": "ready"}}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[InMemoryPanelService]:
    svc = InMemoryPanelService(tmp_path)
    yield svc
    svc.records.close()
    svc.configs.close()


@pytest.fixture
def app(service: InMemoryPanelService) -> Flask:
    return create_app(service, secret_key="test-secret-key",
                      test_config={"TESTING": True, "API_TOKEN": "api-token-for-tests"})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def post_ticket(client: FlaskClient) -> Callable[..., Any]:
    """Post a body (dict -> JSON) signed correctly unless headers are given."""

    def post(body: Any, *, headers: dict[str, str] | None = None, msg_id: str = "msg_1") -> Any:
        text = body if isinstance(body, str) else json.dumps(body)
        return client.post("/api/v1/tickets", data=text.encode(),
                           headers=headers if headers is not None else signed_headers(text, msg_id=msg_id))

    return post


def csrf_from(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


def log_in(client: FlaskClient, *, username: str = USERNAME, password: str = PASSWORD) -> Any:
    page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/login", data={"csrf_token": token, "username": username, "password": password})


@pytest.fixture
def logged_in(client: FlaskClient) -> Iterator[FlaskClient]:
    response = log_in(client)
    assert response.status_code == 302
    yield client


# Helpers handed out as fixtures, so test modules never import conftest by name.

@pytest.fixture
def sign() -> Callable[..., dict[str, str]]:
    return signed_headers


@pytest.fixture
def ticket() -> Callable[..., dict[str, Any]]:
    return good_ticket


@pytest.fixture
def login() -> Callable[..., Any]:
    return log_in


@pytest.fixture
def csrf() -> Callable[[str], str]:
    return csrf_from


@pytest.fixture
def creds() -> tuple[str, str]:
    return USERNAME, PASSWORD


@pytest.fixture
def recorded_call() -> int:
    return RECORDED_CALL


@pytest.fixture(name="store_ticket")
def store_ticket_fixture() -> Callable[..., None]:
    return store_ticket


@pytest.fixture(name="store_call")
def store_call_fixture() -> Callable[..., None]:
    return store_call


@pytest.fixture
def silent_call() -> int:
    return SILENT_CALL
