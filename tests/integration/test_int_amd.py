"""Answering machines and network announcements on real calls: signed webhook -> trigger -> pty modem whose
callee is a voicemail (greeting, beep) or the network (special-information tones, announcement) -> the
greeting's screen -> conclusion in SQLite. A voicemail ends `machine` and the ticket waits for its retry; SIT
ends `invalid_number`, no retry, and the ticket says why."""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from appliance.box import Callbox
from appliance.campaign.calls import SpeechKit
from appliance.config import CallingConfig, Config, LineConfig, RetryConfig, VuiConfig
from appliance.sim.customer import CustomerScript
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.speech.vad import Endpointer
from web import create_app
from web.serving import Serving, create_server

CUSTOMERS = {
    "+15550300007": CustomerScript(behaviour="voicemail", max_call_s=30),
    "+15550300008": CustomerScript(behaviour="sit", max_call_s=30),
}
MACHINE_RETRY_S = 3600


def post_ticket(url: str, secret: str, tid: str, phone: str) -> dict[str, Any]:
    body = json.dumps({
        "id": tid, "type": "delivery", "subject": "Parcel on its way", "description": "Order shipped today.",
        "customer": {"name": "Ann Example", "phone": phone}, "order": {"id": "A-7731", "status": "shipped"},
    })
    msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
    headers = {"content-type": "application/json", "webhook-id": msg_id,
               "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(secret).sign(msg_id, now, body)}
    req = urllib.request.Request(f"{url}/api/v1/tickets", data=body.encode(), headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 202
        return dict(json.loads(resp.read()))


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory, piper_tts: Any,
        pocketsphinx_engine: Any) -> Iterator[tuple[Callbox, str]]:
    sim = SimulatedHuaweiModem(lambda n: CUSTOMERS.get(n, CustomerScript(behaviour="no_answer")), ring_ms=300)
    sim.start()
    config = Config(
        state_dir=tmp_path_factory.mktemp("state"),
        calling=CallingConfig(hours="00:00-00:00", ring_timeout_s=5, max_attempts=3, max_call_s=60,
                              retry_s=RetryConfig(busy=1, no_answer=1, rejected=1, failed=1, interrupted=1,
                                                  machine=MACHINE_RETRY_S)),
        vui=VuiConfig(silence_timeout_ms=3000),
        lines=(LineConfig("sim0", sim.at_port, sim.audio_port),),
    )
    speech = SpeechKit(asr=pocketsphinx_engine, tts=piper_tts,
                       endpointer=lambda: Endpointer(end_silence_ms=700, silence_timeout_ms=3000))
    callbox = Callbox(config, speech=speech, shop_name="Corner Shop")
    serving = Serving(create_server(create_app(callbox.panel, secret_key=callbox.session_key), host="127.0.0.1",
                                    port=0, threads=4)).start()
    callbox.start()
    try:
        yield callbox, f"http://127.0.0.1:{serving.port}"
    finally:
        callbox.stop()
        serving.stop()
        sim.stop()


def wait_call(callbox: Callbox, tid: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = callbox.records.ticket(tid)
        calls = callbox.records.calls(ticket_id=tid)
        if row is not None and row.status != "calling" and calls and calls[0]["outcome"] not in (
                "dialing", "ringing", "answered"):
            return dict(calls[0])
        time.sleep(0.2)
    raise AssertionError(f"no finished call for {tid} after {timeout} s")


def test_a_voicemail_ends_machine_leaves_no_message_and_is_retried_later(box: tuple[Callbox, str]) -> None:
    callbox, url = box
    post_ticket(url, callbox.webhook_secret, "AMD-1", "+15550300007")
    call = wait_call(callbox, "AMD-1")
    assert call["outcome"] == "machine", call
    # the bot said nothing: no bot turn, no flow disposition
    assert not [t for t in call["turns"] if t["speaker"] == "bot"] and call["disposition"] is None
    row = callbox.records.ticket("AMD-1")
    assert row is not None and row.status == "open" and row.next_call_at is not None
    wait = datetime.fromisoformat(row.next_call_at) - datetime.now(UTC)
    assert timedelta(seconds=MACHINE_RETRY_S - 120) < wait <= timedelta(seconds=MACHINE_RETRY_S)
    db = sqlite3.connect(callbox.paths.records)
    assert db.execute("SELECT COUNT(*) FROM tasks WHERE ticket_id='AMD-1' AND state='pending'").fetchone()[0] == 1
    remarks = [o["detail"] for o in callbox.records.operations("AMD-1") if o["kind"] == "remark"]
    assert len(remarks) == 1 and "answering machine" in remarks[0] and "no message left" in remarks[0]
    assert "s after the answer" in remarks[0] and "Next try at" in remarks[0]


def test_sit_tones_end_invalid_number_with_a_remark_and_no_retry(box: tuple[Callbox, str]) -> None:
    callbox, url = box
    post_ticket(url, callbox.webhook_secret, "AMD-2", "+15550300008")
    call = wait_call(callbox, "AMD-2")
    assert call["outcome"] == "invalid_number", call
    row = callbox.records.ticket("AMD-2")
    assert row is not None and row.status == "unreachable" and row.next_call_at is None
    db = sqlite3.connect(callbox.paths.records)
    assert db.execute("SELECT COUNT(*) FROM tasks WHERE ticket_id='AMD-2' AND state='pending'").fetchone()[0] == 0
    remarks = [o["detail"] for o in callbox.records.operations("AMD-2") if o["kind"] == "remark"]
    assert len(remarks) == 1
    assert "the network says the number is not in service" in remarks[0]
    assert "special-information tones" in remarks[0] and "Not called again" in remarks[0]
    # told upstream too
    events = [json.loads(p) for (p,) in db.execute("SELECT payload FROM outbox").fetchall()]
    assert any(e.get("ticket") == "AMD-2" and e.get("answered_by") == "invalid_number" for e in events)
