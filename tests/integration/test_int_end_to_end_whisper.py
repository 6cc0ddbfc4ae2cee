"""The whole path with the hybrid recogniser (PocketSphinx grammar + Whisper tiny.en), every part real: a signed
webhook -> pty modem -> piper -> the customer answers -> the hybrid -> flow -> records -> ticket operation.

One customer answers in the flow's own words ("Yes, someone will be home."), one paraphrases in words none of
the flow's phrases has ("Yep, I'll be around all day, no problem."): the grammar cannot follow the second, so
Whisper decides it."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import waitress
from standardwebhooks.webhooks import Webhook

from appliance.box import Callbox
from appliance.campaign.calls import SpeechKit
from appliance.config import CallingConfig, Config, LineConfig, RetryConfig, VuiConfig
from appliance.sim.customer import CustomerScript
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.speech.asr.hybrid import HybridEngine
from appliance.speech.vad import Endpointer
from web import create_app

REPO = Path(__file__).resolve().parents[2]
VOICES = REPO / "appliance" / "sim" / "voices"
PARAPHRASES = REPO / "tests" / "fixtures" / "paraphrase"
CUSTOMERS = {
    "+15550300001": CustomerScript(behaviour="answer", replies=[VOICES / "en_confirm.wav"], max_call_s=60),
    "+15550300002": CustomerScript(behaviour="answer", replies=[PARAPHRASES / "around_all_day.wav"], max_call_s=60),
}


class HybridBox:
    def __init__(self, box: Callbox, url: str, asr: HybridEngine) -> None:
        self.box = box
        self.url = url
        self.asr = asr

    def post_ticket(self, tid: str, phone: str) -> dict[str, Any]:
        body = json.dumps({
            "id": tid, "type": "delivery", "subject": "Parcel on its way", "description": "Order shipped today.",
            "customer": {"name": "Ann Example", "phone": phone}, "order": {"id": "A-7731", "status": "shipped"},
        })
        msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
        headers = {"content-type": "application/json", "webhook-id": msg_id,
                   "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": Webhook(self.box.webhook_secret).sign(msg_id, now, body)}
        req = urllib.request.Request(f"{self.url}/api/v1/tickets", data=body.encode(), headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 202
            return dict(json.loads(resp.read()))

    def wait_status(self, tid: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = self.box.records.ticket(tid)
            if row is not None and row.status in ("closed", "scheduled", "unreachable"):
                return row.status
            time.sleep(0.2)
        raise AssertionError(f"ticket {tid} not decided after {timeout} s")

    def customer_turns(self, tid: str) -> list[dict[str, Any]]:
        call = self.box.records.calls(ticket_id=tid)[0]
        return [t for t in call["turns"] if t["speaker"] == "customer" and t["node"] != "answer"]


@pytest.fixture(scope="module")
def hybrid_box(tmp_path_factory: pytest.TempPathFactory, piper_tts: Any, pocketsphinx_engine: Any,
               whisper_engine: Any) -> Iterator[HybridBox]:
    sim = SimulatedHuaweiModem(lambda n: CUSTOMERS.get(n, CustomerScript(behaviour="no_answer")), ring_ms=300)
    sim.start()
    config = Config(
        state_dir=tmp_path_factory.mktemp("state"),
        calling=CallingConfig(hours="00:00-00:00", ring_timeout_s=5, max_attempts=1, max_call_s=60,
                              retry_s=RetryConfig(busy=1, no_answer=1, rejected=1, failed=1, interrupted=1)),
        vui=VuiConfig(silence_timeout_ms=3000),
        lines=(LineConfig("sim0", sim.at_port, sim.audio_port),),
    )
    asr = HybridEngine(pocketsphinx_engine, whisper_engine)  # the session's models; the box does not close them
    speech = SpeechKit(asr=asr, tts=piper_tts,
                       endpointer=lambda: Endpointer(end_silence_ms=700, silence_timeout_ms=3000))
    callbox = Callbox(config, speech=speech, shop_name="Corner Shop")
    server = waitress.create_server(create_app(callbox.panel, secret_key=callbox.session_key), host="127.0.0.1",
                                    port=0, threads=2)
    thread = threading.Thread(target=server.run, name="test-web-whisper", daemon=True)
    thread.start()
    callbox.start()
    try:
        yield HybridBox(callbox, f"http://127.0.0.1:{server.effective_port}", asr)
    finally:
        callbox.stop()
        server.close()
        thread.join(5)
        sim.stop()


def test_a_paraphrased_yes_is_understood_through_whisper(hybrid_box: HybridBox) -> None:
    before = hybrid_box.asr.decisions["whisper"]
    queue = hybrid_box.asr.whisper_engine.queue  # type: ignore[attr-defined]
    early_before = sum(label.endswith("-early") for label in queue.started)
    assert hybrid_box.post_ticket("WH-2", "+15550300002")["decision"] == "call"
    assert hybrid_box.wait_status("WH-2") == "closed"
    call = hybrid_box.box.records.calls(ticket_id="WH-2")[0]
    said = hybrid_box.customer_turns("WH-2")
    assert call["disposition"] == "confirmed", said
    assert said[0]["intent"] == "confirm"
    # "around" is in none of the flow's phrases: only Whisper can have written it
    assert "around" in said[0]["text"].split(), said
    assert hybrid_box.asr.decisions["whisper"] > before
    # the conversation told the session when the customer paused: Whisper started during the silence
    assert sum(label.endswith("-early") for label in queue.started) > early_before
    assert [o["kind"] for o in hybrid_box.box.records.operations("WH-2")] == ["remark", "close"]


def test_an_answer_in_the_flows_words_closes_the_ticket_too(hybrid_box: HybridBox) -> None:
    assert hybrid_box.post_ticket("WH-1", "+15550300001")["decision"] == "call"
    assert hybrid_box.wait_status("WH-1") == "closed"
    said = hybrid_box.customer_turns("WH-1")
    assert said[0]["intent"] == "confirm" and {"yes", "home", "someone"} & set(said[0]["text"].split()), said
