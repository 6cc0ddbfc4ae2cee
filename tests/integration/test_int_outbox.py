"""Ticket operations reach the ticketing system: signed, and retried when it is down."""

from __future__ import annotations

import http.server
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from http_serving import serving
from standardwebhooks.webhooks import Webhook

from appliance.records.store import RecordsStore, Ticket
from appliance.sync.outbox import OutboxWorker

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Receiver(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []
    fail_next = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        if Receiver.fail_next:
            Receiver.fail_next -= 1
            self.send_response(503)
            self.end_headers()
            return
        Webhook(SECRET).verify(body, dict(self.headers.items()))  # raises if the signature is wrong
        Receiver.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.received = []
    with serving(Receiver, "receiver") as url:
        yield f"{url}/callbox"


def store_with_ticket(tmp_path: Path) -> RecordsStore:
    store = RecordsStore(tmp_path / "callbox.db")
    fields = {
        "id": "T1",
        "type": "delivery",
        "subject": "s",
        "description": "",
        "customer_name": "A",
        "customer_phone": "+1555",
        "order_id": "1",
        "order_status": "shipped",
    }
    store.submit_ticket(Ticket(**fields), webhook_id="m", decision="call", reason="r", flow_id="f", max_attempts=1)
    return store


def test_operations_are_delivered_signed_and_retried(tmp_path: Path, receiver: str) -> None:
    store = store_with_ticket(tmp_path)
    store.add_operation("T1", "close", "closed after call 1", outbox={"ticket": "T1", "operation": "close"})
    now = [datetime.now(UTC)]
    worker = OutboxWorker(store, url=receiver, secret=SECRET, box_id="box-a", clock=lambda: now[0])
    Receiver.fail_next = 1
    assert worker.deliver_due() == 0  # the ticketing system answered 503: kept for later
    assert worker.deliver_due() == 0  # not due again yet (backoff)
    now[0] += timedelta(seconds=6)
    assert worker.deliver_due() == 1
    assert Receiver.received == [{"type": "ticket.operation", "data": {"ticket": "T1", "operation": "close"}}]
    assert worker.deliver_due() == 0  # delivered once only
    store.close()


def test_unreachable_ticketing_system_keeps_the_item(tmp_path: Path) -> None:
    store = store_with_ticket(tmp_path)
    store.add_operation("T1", "remark", "x", outbox={"ticket": "T1"})
    worker = OutboxWorker(store, url="http://127.0.0.1:9/nothing-listens", secret=SECRET, box_id="box-a",
                          timeout_s=2)
    assert worker.deliver_due() == 0
    item = store.outbox_due(datetime.now(UTC) + timedelta(hours=1))[0]
    assert item["attempts"] == 1 and item["delivered_at"] is None and item["last_error"]
    store.close()
