"""/metrics and the structured logs on the real box: one simulated modem, a customer who answers and confirms,
piper + PocketSphinx, the Flask app on waitress at 127.0.0.1. The scrape after the call shows the call's outcome,
the line's state and signal, the outbox rows the call left, the recording's bytes, and the turn latency and
recognition confidence the conversation observed; the JSON log lines written during the call carry its call id,
line and ticket, and those written outside it do not."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from appliance import logs
from appliance.box import Callbox
from appliance.campaign.calls import SpeechKit
from appliance.config import CallingConfig, Config, LineConfig, LogConfig, RetryConfig, VuiConfig, WebConfig
from appliance.sim.customer import CustomerScript
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.speech.vad import Endpointer
from web import create_app
from web.serving import Serving, create_server

VOICES = Path(__file__).resolve().parents[2] / "appliance" / "sim" / "voices"
TOKEN = "metrics-token"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) -> value, from the exposition as Prometheus' own parser reads it."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def scrape(url: str, token: str | None = TOKEN) -> tuple[int, str, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(f"{url}/metrics", headers=headers), timeout=10) as r:
            return r.status, r.headers["Content-Type"], r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


class Running:
    def __init__(self, box: Callbox, url: str, log: io.StringIO) -> None:
        self.box = box
        self.url = url
        self.log = log


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, piper_tts: Any, pocketsphinx_engine: Any) -> Iterator[Running]:
    customer = CustomerScript(behaviour="answer", replies=[VOICES / "en_confirm.wav"],
                              greeting=VOICES / "en_hello.wav", max_call_s=60)
    sim = SimulatedHuaweiModem(lambda n: customer, ring_ms=300)
    sim.start()
    config = Config(
        state_dir=tmp_path_factory.mktemp("state"),
        web=WebConfig(api_token=TOKEN),
        calling=CallingConfig(hours="00:00-00:00", ring_timeout_s=5, max_attempts=2, max_call_s=60,
                              retry_s=RetryConfig(busy=1, no_answer=1, rejected=1, failed=1, interrupted=1)),
        vui=VuiConfig(silence_timeout_ms=3000),
        lines=(LineConfig("sim0", sim.at_port, sim.audio_port),),
    )
    speech = SpeechKit(asr=pocketsphinx_engine, tts=piper_tts,
                       endpointer=lambda: Endpointer(end_silence_ms=700, silence_timeout_ms=3000))
    # the JSON handler, as `callbox serve` installs it, into a buffer; the root logger is put back after
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buffer = io.StringIO()
    logs.install(LogConfig(format="json", level="info"), stream=buffer)
    box = Callbox(config, speech=speech, shop_name="Corner Shop")
    app = create_app(box.panel, secret_key=box.session_key, test_config={"API_TOKEN": TOKEN})
    serving = Serving(create_server(app, host="127.0.0.1", port=0, threads=2)).start()
    box.start()
    try:
        yield Running(box, f"http://127.0.0.1:{serving.port}", buffer)
    finally:
        box.stop()
        serving.stop()
        sim.stop()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_a_real_call_shows_in_metrics_and_in_its_log_lines(running: Running) -> None:
    box = running.box
    assert box.panel.submit_ticket({"id": "M-1", "type": "delivery", "subject": "Parcel on its way",
                                    "customer": {"name": "Ann Example", "phone": "+15550100001"},
                                    "order": {"id": "A-7731", "status": "shipped"}},
                                   webhook_id="msg_m1")["decision"] == "call"
    deadline = time.monotonic() + 90
    while (row := box.records.ticket("M-1")) is None or row.status != "closed":
        assert time.monotonic() < deadline, f"ticket M-1 still {row.status if row else 'missing'}"
        time.sleep(0.2)
    (call,) = box.records.calls(ticket_id="M-1")
    assert call["outcome"] == "completed"

    assert scrape(running.url, token=None)[0] == 401
    assert scrape(running.url, token="wrong")[0] == 401
    status, content_type, text = scrape(running.url)
    assert status == 200 and content_type.startswith("text/plain")
    got = samples(text)
    assert got[("callbox_calls_total", (("outcome", "completed"),))] == 1
    assert got[("callbox_line_state", (("line", "sim0"), ("state", "ready")))] == 1
    assert got[("callbox_line_state", (("line", "sim0"), ("state", "in_call")))] == 0
    # the simulated modem answers AT+CSQ like a real one; the gauge is what the line's health check read
    health = box.lines[0].health  # type: ignore[attr-defined]
    assert health is not None and health.signal_dbm is not None
    assert got[("callbox_line_signal_dbm", (("line", "sim0"),))] == health.signal_dbm
    # no [web] callback_url: the call's remark and close wait in the outbox, for the native callback
    pending = sqlite3.connect(box.paths.records).execute(
        "SELECT topic, COUNT(*) FROM outbox WHERE delivered_at IS NULL AND gave_up_at IS NULL GROUP BY topic"
    ).fetchall()
    assert pending and sum(n for _, n in pending) == 2
    for topic, n in pending:
        assert got[("callbox_outbox_backlog", (("target", "callback"), ("topic", topic)))] == n
    recording = Path(box.records.calls(ticket_id="M-1")[0]["recording"] or "")
    assert recording.is_file()
    assert got[("callbox_recordings_bytes", ())] == recording.stat().st_size
    # the customer's "Hello?" and "Yes, someone will be home." were heard, and the bot replied to the answer
    assert got[("callbox_recognition_confidence_count", ())] >= 1
    assert got[("callbox_turn_latency_seconds_count", ())] >= 1
    latency_sum = got[("callbox_turn_latency_seconds_sum", ())]
    assert 0 < latency_sum / got[("callbox_turn_latency_seconds_count", ())] < 3

    lines = [json.loads(line) for line in running.log.getvalue().splitlines()]
    assert lines and all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)
    dialing = [line for line in lines if line["msg"].startswith(f"call {call['id']}: dialing")]
    assert len(dialing) == 1
    assert (dialing[0]["call"], dialing[0]["line"], dialing[0]["ticket"]) == (call["id"], "sim0", "M-1")
    said = [line for line in lines if "customer said" in line["msg"]]
    assert said and all((s["call"], s["line"], s["ticket"]) == (call["id"], "sim0", "M-1") for s in said)
    # written outside any call: the box starting its line
    started = [line for line in lines if line["msg"] == "line sim0: ready"]
    assert started and not {"call", "ticket"} & set(started[0])
