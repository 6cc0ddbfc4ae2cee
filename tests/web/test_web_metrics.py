"""/metrics from the Flask app over the box's own collector: calls seeded in a real SQLite file as the box writes
them, a real line over a simulated modem, recordings on disk; the values scraped are the counts computed here.
Histograms get their observations through the TurnObserver hook, as a conversation gives them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from appliance.box import build_line
from appliance.campaign.attempt import Outcome
from appliance.campaign.conclude import AttemptResult, conclude
from appliance.campaign.intake import admit
from appliance.campaign.publish import install_defaults
from appliance.campaign.tickets import parse_ticket
from appliance.config import LineConfig, RetryConfig
from appliance.dialog.runtime.engine import RenderedOperation
from appliance.errors import StorageError
from appliance.panel.access import AccessAdmin
from appliance.panel.metrics import BoxMetrics
from appliance.records.config_store import ConfigStore
from appliance.records.retention import Retention, RetentionPolicy
from appliance.records.store import RecordsStore
from appliance.sim.customer import CustomerScript
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.telephony.line import Line
from web import create_app

TOKEN = "scrape-token"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class ScrapeService:
    """The part of PanelService that /metrics uses, over the real collector."""

    def __init__(self, metrics: BoxMetrics, records: RecordsStore) -> None:
        self.webhook_secret = SECRET
        self.access = AccessAdmin(records.accounts)  # the guard asks who may come in (a bearer token, here)
        records.set_user("admin", "not-a-hash")  # an admin exists: no first-run setup
        self.box_metrics = metrics
        self.broken = False

    def metrics(self) -> tuple[bytes, str] | None:
        if self.broken:
            raise StorageError("database disk image is malformed")
        return self.box_metrics.exposition()


class Seeded:
    def __init__(self, records: RecordsStore, lines: list[Line], recordings: Path, metrics: BoxMetrics,
                 service: ScrapeService, client: FlaskClient) -> None:
        self.records = records
        self.lines = lines
        self.recordings = recordings
        self.metrics = metrics
        self.service = service
        self.client = client


OUTCOMES = [Outcome.COMPLETED, Outcome.NO_ANSWER, Outcome.COMPLETED, Outcome.BUSY, Outcome.HUNG_UP, Outcome.COMPLETED]


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Seeded]:
    records = RecordsStore(tmp_path / "records.db")
    configs = ConfigStore(tmp_path / "configs.json")
    install_defaults(configs)
    for i, outcome in enumerate(OUTCOMES):
        payload = {"id": f"S-{i}", "type": "delivery", "subject": "Parcel", "order": {"id": "A-1", "status": "shipped"},
                   "customer": {"name": "Ann", "phone": f"+1555010{i:04d}"},
                   "vars": {"helpdesk": "zendesk"} if i == 0 else {}}
        assert admit(payload, webhook_id=f"m{i}", records=records, configs=configs, max_attempts=3).task_id
        now = datetime.now(UTC)
        task = records.claim_due_task(now)
        assert task is not None
        row = records.ticket(task.ticket_id)
        assert row is not None
        call_id = records.start_call(task=task, phone=row.customer_phone, line="sim0", flow_version=1)
        done = outcome is Outcome.COMPLETED
        answered = outcome in (Outcome.COMPLETED, Outcome.HUNG_UP)
        result = AttemptResult(outcome, answered=answered, disposition="confirmed" if done else None,
                               operations=(RenderedOperation("remark", "Confirmed."),) if done else ())
        records.record_conclusion(conclude(row, task, result, now, call_id=call_id, retry=RetryConfig()))
    records.add_operation("S-0", "remark", "by hand", outbox={"ticket": "S-0", "operation": "remark"})

    sim = SimulatedHuaweiModem(lambda n: CustomerScript(behaviour="no_answer"))
    sim.start()
    ready = build_line(LineConfig("sim0", sim.at_port, sim.audio_port))
    unplugged = build_line(LineConfig("usb1", "/dev/callbox-no-such-port", "/dev/callbox-no-such-audio"))
    recordings = tmp_path / "recordings"
    metrics = BoxMetrics(records=records, lines=[ready, unplugged], helpdesks=["zendesk"])
    service = ScrapeService(metrics, records)
    client = create_app(service, test_config={"TESTING": True, "API_TOKEN": TOKEN}).test_client()  # type: ignore[arg-type]
    ready.start()
    try:
        yield Seeded(records, [ready, unplugged], recordings, metrics, service, client)
    finally:
        ready.stop()
        sim.stop()
        records.close()
        configs.close()


def scraped(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_calls_by_outcome_match_the_seeded_calls(seeded: Seeded) -> None:
    got = scraped(seeded.client)
    expected: dict[str, int] = {}
    for outcome in OUTCOMES:
        expected[outcome.value] = expected.get(outcome.value, 0) + 1
    calls = {dict(labels)["outcome"]: v for (name, labels), v in got.items() if name == "callbox_calls_total"}
    assert calls == expected == {"completed": 3, "no_answer": 1, "busy": 1, "hung_up": 1}


def test_line_state_is_one_for_the_current_state_only(seeded: Seeded) -> None:
    got = scraped(seeded.client)
    states = {(dict(labels)["line"], dict(labels)["state"]): v for (name, labels), v in got.items()
              if name == "callbox_line_state"}
    assert states[("sim0", "ready")] == 1 and states[("usb1", "absent")] == 1
    assert sum(v for (line, _), v in states.items() if line == "sim0") == 1
    assert sum(v for (line, _), v in states.items() if line == "usb1") == 1
    health = seeded.lines[0].health
    assert health is not None and health.signal_dbm is not None
    assert got[("callbox_line_signal_dbm", (("line", "sim0"),))] == health.signal_dbm
    assert ("callbox_line_signal_dbm", (("line", "usb1"),)) not in got  # never checked: no signal to show


def test_outbox_backlog_per_target(seeded: Seeded) -> None:
    got = scraped(seeded.client)
    backlog = {(dict(labels)["target"], dict(labels)["topic"]): v for (name, labels), v in got.items()
               if name == "callbox_outbox_backlog"}
    # every attempt leaves a remark for its ticket; S-0 (a Zendesk ticket) also has one added by hand
    assert backlog == {("zendesk", "ticket.operation"): 2, ("callback", "ticket.operation"): 5}
    due = seeded.records.outbox.due(datetime.now(UTC))
    seeded.records.outbox.delivered(due[0]["id"])  # S-0's first
    seeded.records.outbox.gave_up(due[1]["id"], "422 from the helpdesk")  # S-1's: given up, not waiting
    after = scraped(seeded.client)
    assert after[("callbox_outbox_backlog", (("target", "zendesk"), ("topic", "ticket.operation")))] == 1
    assert after[("callbox_outbox_backlog", (("target", "callback"), ("topic", "ticket.operation")))] == 4


def test_recordings_bytes_are_the_kept_recordings_in_the_index(seeded: Seeded) -> None:
    """Each ended call's recording size is written with its conclusion; a pruned one leaves the sum at once."""
    assert scraped(seeded.client)[("callbox_recordings_bytes", ())] == 0  # six calls, none recorded
    records = seeded.records
    files = []
    for n, size in enumerate((4000, 1000)):
        phone = f"+1555020{n:04d}"
        records.submit_ticket(parse_ticket({"id": f"R-{n}", "type": "delivery", "subject": "Parcel",
                                            "order": {"id": "A-2", "status": "x"},
                                            "customer": {"name": "Bo", "phone": phone}}),
                              webhook_id=f"r{n}", decision="call", reason="test", flow_id="delivery-confirmation",
                              max_attempts=3)
        task = records.claim_due_task(datetime.now(UTC))
        ticket = records.ticket(f"R-{n}")
        assert task is not None and ticket is not None
        call_id = records.start_call(task=task, phone=phone, line="sim0", flow_version=1)
        files.append(seeded.recordings / phone / "2026-12-03" / f"{call_id}.wav")
        files[-1].parent.mkdir(parents=True)
        files[-1].write_bytes(b"\0" * size)
        records.mark_answered(call_id, recording=files[-1])
        assert scraped(seeded.client)[("callbox_recordings_bytes", ())] == 4000 * n  # not while on the line
        records.record_conclusion(conclude(ticket, task, AttemptResult(Outcome.HUNG_UP, answered=True),
                                           datetime.now(UTC), call_id=call_id, retry=RetryConfig()))
    assert scraped(seeded.client)[("callbox_recordings_bytes", ())] == 5000
    files[0].unlink()  # behind the index's back: the figure is read from the records, not walked
    assert scraped(seeded.client)[("callbox_recordings_bytes", ())] == 5000
    pruned = Retention(records.db, seeded.recordings,
                       RetentionPolicy(retention_days=0, quota_bytes=1000, min_free_bytes=0)).prune()
    assert pruned.marked["quota"] == 1 and pruned.room.used_bytes == 1000
    assert scraped(seeded.client)[("callbox_recordings_bytes", ())] == 1000


def test_histograms_count_what_the_observer_is_told(seeded: Seeded) -> None:
    for seconds in (0.03, 0.25, 0.25, 2.5):
        seeded.metrics.turn_latency(seconds)
    for confidence in (0.35, 0.92, 1.4):  # an engine's odd 1.4 counts as 1
        seeded.metrics.recognised(confidence)
    got = scraped(seeded.client)
    assert got[("callbox_turn_latency_seconds_count", ())] == 4
    assert got[("callbox_turn_latency_seconds_sum", ())] == pytest.approx(3.03)
    assert got[("callbox_turn_latency_seconds_bucket", (("le", "0.05"),))] == 1
    assert got[("callbox_turn_latency_seconds_bucket", (("le", "0.3"),))] == 3
    assert got[("callbox_turn_latency_seconds_bucket", (("le", "2.0"),))] == 3
    assert got[("callbox_turn_latency_seconds_bucket", (("le", "3.0"),))] == 4
    assert got[("callbox_recognition_confidence_count", ())] == 3
    assert got[("callbox_recognition_confidence_bucket", (("le", "0.4"),))] == 1
    assert got[("callbox_recognition_confidence_bucket", (("le", "0.9"),))] == 1
    assert got[("callbox_recognition_confidence_bucket", (("le", "1.0"),))] == 3


def test_without_the_token_it_is_401_and_reads_nothing(seeded: Seeded) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = seeded.client.get("/metrics", headers=headers)
        assert response.status_code == 401
        assert response.get_json()["error"] == "unauthorized"
        assert b"callbox_calls_total" not in response.data


def test_unreadable_records_are_503_not_a_traceback(seeded: Seeded) -> None:
    seeded.service.broken = True
    response = seeded.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 503
    assert response.get_json() == {"error": "storage_unavailable", "message": "the records cannot be read now"}


def test_a_registry_of_its_own(seeded: Seeded, tmp_path: Path) -> None:
    """Two boxes in one process (tests, the demo) never share or clash over metrics."""
    other = BoxMetrics(records=seeded.records, lines=[])
    other.turn_latency(1.0)
    assert scraped(seeded.client).get(("callbox_turn_latency_seconds_count", ())) == 0
    text = other.exposition()[0].decode()
    assert "callbox_turn_latency_seconds_count 1.0" in text
    assert "callbox_line_state{" not in text  # no lines, no series


def test_a_service_without_metrics_is_404(client: Any) -> None:
    response = client.get("/metrics", headers={"Authorization": "Bearer api-token-for-tests"})
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"
