"""The box with [upstream]: a call it concludes reaches a real HTTP receiver through the box's own sender thread,
signed, and GET /api/v1/sync's service says so."""

from __future__ import annotations

import http.server
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from http_serving import serving
from standardwebhooks.webhooks import Webhook

from appliance.box import Callbox
from appliance.campaign.attempt import Outcome
from appliance.campaign.calls import SpeechKit
from appliance.campaign.conclude import AttemptResult, conclude
from appliance.config import Config, RetryConfig, UpstreamConfig
from appliance.records.conclusion import Turn
from appliance.speech.vad import Endpointer

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Office(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], dict[str, Any]]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        headers = {k.lower(): v for k, v in self.headers.items()}
        Office.received.append((headers, Webhook(SECRET).verify(body, headers)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def office() -> Iterator[str]:
    Office.received = []
    with serving(Office, "office") as url:
        yield f"{url}/records"


def test_a_concluded_call_reaches_the_upstream_through_the_box(tmp_path: Path, office: str, piper_tts: Any,
                                                              pocketsphinx_engine: Any) -> None:
    kit = SpeechKit(asr=pocketsphinx_engine, tts=piper_tts, endpointer=lambda: Endpointer())
    box = Callbox(Config(state_dir=tmp_path, upstream=UpstreamConfig(url=office, secret=SECRET)), lines=[],
                  speech=kit)
    try:
        assert box.panel.sync_status()["targets"]["upstream"]["configured"] is True
        box.start()
        ticket = {"id": "UP-1", "type": "delivery", "subject": "Parcel", "description": "Shipped.",
                  "customer": {"name": "Ada", "phone": "+15550142"}, "order": {"id": "A-1", "status": "shipped"}}
        assert box.panel.submit_ticket(ticket, webhook_id="m1")["decision"] == "call"
        task = box.records.claim_due_task(datetime.now(UTC))
        row = box.records.ticket("UP-1")
        assert task is not None and row is not None
        call_id = box.records.start_call(task=task, phone="+15550142", line="line1", flow_version=1)
        box.records.mark_answered(call_id)
        result = AttemptResult(Outcome.COMPLETED, answered=True, disposition="confirmed",
                               turns=(Turn("bot", "Hello"), Turn("customer", "yes", "confirm", 0.9, "ask", 1500)))
        box.records.record_conclusion(conclude(row, task, result, datetime.now(UTC), call_id=call_id,
                                               retry=RetryConfig()))
        assert box.upstream is not None
        box.upstream.wake()
        deadline = time.monotonic() + 10
        while not Office.received and time.monotonic() < deadline:
            time.sleep(0.05)
        ((headers, message),) = Office.received
        assert message["type"] == "call.record" and message["data"]["call_id"] == call_id
        assert message["data"]["ticket_id"] == "UP-1" and message["data"]["intent"] == "confirm"
        assert headers["idempotency-key"] == headers["webhook-id"] == message["id"]
        deadline = time.monotonic() + 5
        while box.panel.sync_status()["targets"]["upstream"]["pending"] and time.monotonic() < deadline:
            time.sleep(0.05)
        status = box.panel.sync_status()["targets"]["upstream"]
        assert status["pending"] == 0 and status["last_success"] is not None and status["last_error"] is None
        assert json.dumps(status)  # what the API serves
    finally:
        box.stop()
