"""A real short call through the simulated modem keeps its figures: ring time from the modem's alerting to the
answer, talk time of each side from the recording's two channels (the same as a re-read of the stored WAV), the
duration and the customer's turns; an unanswered call keeps how long it rang. The statistics and the CSV export
over the real panel service count them."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.box import Callbox
from appliance.campaign.calls import SpeechKit
from appliance.config import CallingConfig, Config, LineConfig, RetryConfig, VuiConfig
from appliance.records.talk import tally_wav
from appliance.sim.customer import CustomerScript
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.speech.vad import Endpointer
from web import create_app

VOICES = Path(__file__).resolve().parents[2] / "appliance" / "sim" / "voices"
RING_MS = 1500
TOKEN = {"Authorization": "Bearer figures-token"}
CUSTOMERS = {
    "+15550100201": CustomerScript(behaviour="answer", replies=[VOICES / "en_confirm.wav"],
                                   greeting=VOICES / "en_hello.wav", max_call_s=60),
    "+15550100202": CustomerScript(behaviour="no_answer"),
}


def ticket(tid: str, phone: str) -> dict[str, Any]:
    return {"id": tid, "type": "delivery", "subject": "Parcel on its way", "description": "Shipped today.",
            "customer": {"name": "Ann Example", "phone": phone}, "order": {"id": "A-7731", "status": "shipped"}}


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory, piper_tts: Any, pocketsphinx_engine: Any) -> Iterator[Callbox]:
    sim = SimulatedHuaweiModem(lambda n: CUSTOMERS.get(n, CustomerScript(behaviour="no_answer")), ring_ms=RING_MS)
    sim.start()
    config = Config(
        state_dir=tmp_path_factory.mktemp("state"),
        calling=CallingConfig(hours="00:00-00:00", ring_timeout_s=4, max_attempts=1, max_call_s=60,
                              retry_s=RetryConfig(busy=1, no_answer=1, rejected=1, failed=1, interrupted=1)),
        vui=VuiConfig(silence_timeout_ms=3000),
        lines=(LineConfig("sim0", sim.at_port, sim.audio_port),),
    )
    speech = SpeechKit(asr=pocketsphinx_engine, tts=piper_tts,
                       endpointer=lambda: Endpointer(end_silence_ms=700, silence_timeout_ms=3000))
    callbox = Callbox(config, speech=speech, shop_name="Corner Shop")
    callbox.start()
    try:
        yield callbox
    finally:
        callbox.stop()
        sim.stop()


def ended(box: Callbox, tid: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        calls = box.records.calls(ticket_id=tid)
        if calls and calls[0]["outcome"]:
            call_id = calls[0]["id"]
            return box.records.db.read(lambda c, call_id=call_id: dict(
                c.execute("SELECT * FROM calls WHERE id=?", (call_id,)).fetchone()))
        time.sleep(0.2)
    raise AssertionError(f"no ended call for {tid} after {timeout} s")


def test_a_real_call_keeps_its_figures_and_the_statistics_count_it(box: Callbox) -> None:
    assert box.admit_ticket(ticket("FIG-1", "+15550100201"), "fig-1")["decision"] == "call"
    call = ended(box, "FIG-1")
    assert call["outcome"] == "completed" and call["disposition"] == "confirmed"
    assert RING_MS - 200 <= call["ring_ms"] <= RING_MS + 1500  # the simulator rings 1.5 s after alerting
    assert call["customer_talk_ms"] > 500 and call["bot_talk_ms"] > 2000  # "Hello?" and the answer; the prompts
    assert call["duration_ms"] > call["bot_talk_ms"]
    assert call["customer_turns"] >= 1 and call["intent"] == "confirm" and call["no_matches"] == 0
    assert call["longest_silence_ms"] is not None and call["silences"] is not None
    assert call["interruptions"] == 0  # the simulated customer waits for the end of each prompt
    recorded = tally_wav(Path(call["recording"]))
    assert (recorded.customer_talk_ms, recorded.bot_talk_ms, recorded.silences, recorded.interruptions) == \
        (call["customer_talk_ms"], call["bot_talk_ms"], call["silences"], call["interruptions"])

    assert box.admit_ticket(ticket("FIG-2", "+15550100202"), "fig-2")["decision"] == "call"
    missed = ended(box, "FIG-2", timeout=30)
    assert missed["outcome"] == "no_answer" and missed["answered_at"] is None
    assert 3500 <= missed["ring_ms"] <= 5000  # rang from alerting until the 4 s ring timeout
    assert missed["duration_ms"] is None and missed["customer_talk_ms"] is None and missed["customer_turns"] == 0

    client = create_app(box.panel, secret_key="k", test_config={"API_TOKEN": "figures-token"}).test_client()
    stats = client.get("/api/v1/stats", query_string={"group_by": "scenario"}, headers=TOKEN).get_json()
    total = stats["total"]
    assert (total["calls"], total["answered"], total["connected"], total["connect_rate"]) == (2, 1, 1, 0.5)
    assert total["outcomes"] == {"completed": 1, "no_answer": 1} and total["intents"] == {"confirm": 1}
    assert total["duration"]["average_s"] == round(call["duration_ms"] / 1000, 1)
    response = client.get("/api/v1/export/calls.csv", headers=TOKEN)
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["outcome"] for r in rows] == ["completed", "no_answer"]
    assert rows[0]["customer_talk_ms"] == str(call["customer_talk_ms"]) and rows[1]["ring_ms"] == str(
        missed["ring_ms"])
