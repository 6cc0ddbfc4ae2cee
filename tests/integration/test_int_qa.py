"""QA on real calls: the box dials simulated modems on ptys, piper speaks, PocketSphinx listens, the flow runs, and
the call's conclusion stores its automatic tags; a customer who hangs up after the greeting is tagged
``hung_up_mid_flow`` in qa_tags, in the review queue and in the call's upstream record that reaches a real HTTP
receiver, while a customer who answers clearly is tagged nothing."""

from __future__ import annotations

import http.server
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from http_serving import serving
from standardwebhooks.webhooks import Webhook

from appliance.box import Callbox
from appliance.campaign.calls import SpeechKit
from appliance.config import CallingConfig, Config, LineConfig, RetryConfig, UpstreamConfig, VuiConfig
from appliance.sim.customer import CustomerScript
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.speech.vad import Endpointer

VOICES = Path(__file__).resolve().parents[2] / "appliance" / "sim" / "voices"
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CLEAR = "+15550300001"  # "Yes, someone will be home."
QUITS = "+15550300002"  # says hello, hears the greeting, hangs up
# The clear customer waits 1.5 s of quiet before answering: on a loaded machine piper's next sentence can come
# a second late, and a customer who took that pause for the end of the prompt talked over the bot (barge_in).
CUSTOMERS = {
    CLEAR: CustomerScript(behaviour="answer", replies=[VOICES / "en_confirm.wav"], greeting=VOICES / "en_hello.wav",
                          max_call_s=60, prompt_end_ms=1500),
    QUITS: CustomerScript(behaviour="hangup_mid_sentence", greeting=VOICES / "en_hello.wav", max_call_s=60),
}
ENDED = ("completed", "hung_up", "interrupted", "failed", "no_answer", "busy", "rejected", "machine")


class Office(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        headers = {k.lower(): v for k, v in self.headers.items()}
        Office.received.append(Webhook(SECRET).verify(body, headers))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def box(tmp_path: Path, piper_tts: Any, pocketsphinx_engine: Any) -> Iterator[Callbox]:
    Office.received = []
    sims = [SimulatedHuaweiModem(lambda n: CUSTOMERS.get(n, CustomerScript(behaviour="no_answer")), ring_ms=2000)
            for _ in range(2)]  # rings long enough for the greeting to be rendered ahead
    for sim in sims:
        sim.start()
    with serving(Office, "office") as url:
        config = Config(
            state_dir=tmp_path,
            calling=CallingConfig(hours="00:00-00:00", ring_timeout_s=5, max_attempts=1, max_call_s=60,
                                  retry_s=RetryConfig(busy=1, no_answer=1, rejected=1, failed=1, interrupted=1)),
            vui=VuiConfig(silence_timeout_ms=6000),
            lines=tuple(LineConfig(f"sim{i}", s.at_port, s.audio_port) for i, s in enumerate(sims)),
            upstream=UpstreamConfig(url=f"{url}/records", secret=SECRET),
        )
        speech = SpeechKit(asr=pocketsphinx_engine, tts=piper_tts,
                           endpointer=lambda: Endpointer(end_silence_ms=700, silence_timeout_ms=6000))
        callbox = Callbox(config, speech=speech, shop_name="Corner Shop")
        callbox.start()
        try:
            yield callbox
        finally:
            callbox.stop()
            for sim in sims:
                sim.stop()


def ticket(tid: str, phone: str) -> dict[str, Any]:
    return {"id": tid, "type": "delivery", "subject": "Parcel on its way", "description": "Order shipped today.",
            "customer": {"name": "Ann Example", "phone": phone}, "order": {"id": "A-7731", "status": "shipped"}}


def ended_call(box: Callbox, tid: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        calls = box.records.calls(ticket_id=tid)
        if calls and calls[0]["state"] in ENDED:
            return calls[0]
        time.sleep(0.2)
    raise AssertionError(f"the call for {tid} did not end in {timeout} s")


def test_real_calls_get_their_automatic_tags_in_the_store_the_queue_and_the_upstream_record(box: Callbox) -> None:
    for tid, phone in (("QA-CLEAR", CLEAR), ("QA-QUITS", QUITS)):
        assert box.panel.submit_ticket(ticket(tid, phone), webhook_id=f"m-{tid}")["decision"] == "call"
    quits, clear = ended_call(box, "QA-QUITS"), ended_call(box, "QA-CLEAR")

    assert quits["outcome"] == "hung_up", quits
    (tag,) = box.records.qa.tags(quits["id"])
    assert (tag["tag"], tag["source"], tag["reviewer"]) == ("hung_up_mid_flow", "auto", None)
    assert tag["note"] == "the customer hung up at greet before the flow ended"
    queued = box.panel.qa.queue()
    assert [item["call_id"] for item in queued["items"]] == [quits["id"]]
    assert box.panel.get_call(quits["id"])["tags"] == [tag]  # type: ignore[index]

    # the clear answer: heard, understood, confirmed; no tag
    assert clear["outcome"] == "completed" and clear["disposition"] == "confirmed", clear
    said = [t for t in clear["turns"] if t["speaker"] == "customer" and t["node"] != "answer"]
    assert said and said[0]["intent"] == "confirm"
    heard = box.records.db.read(lambda c: c.execute(
        "SELECT asr_confidence, margin FROM turns WHERE call_id=? AND speaker='customer' AND intent='confirm'",
        (clear["id"],)).fetchone())
    assert heard["asr_confidence"] >= 0.45 and heard["margin"] >= 0.35, dict(heard)
    assert box.records.qa.tags(clear["id"]) == []

    # both records reach the head office's receiver, each with its tags
    assert box.upstream is not None
    deadline = time.monotonic() + 20
    while len(Office.received) < 2 and time.monotonic() < deadline:
        box.upstream.wake()
        time.sleep(0.1)
    records = {m["data"]["call_id"]: m["data"] for m in Office.received}
    assert records[quits["id"]]["tags"] == [{"tag": "hung_up_mid_flow", "source": "auto", "note": tag["note"]}]
    assert records[clear["id"]]["tags"] == []
