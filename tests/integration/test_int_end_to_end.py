"""The whole path, every part real: signed HTTP webhook -> trigger -> pty modem -> piper + PocketSphinx
-> flow -> SQLite records + stereo recording -> ticket operation."""

from __future__ import annotations

import json
import multiprocessing
import re
import sqlite3
import threading
import time
import urllib.error
import urllib.request
import uuid
import wave
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import waitress
from standardwebhooks.webhooks import Webhook

from appliance.box import Callbox
from appliance.campaign.calls import SpeechKit
from appliance.config import CallingConfig, Config, LineConfig, RetryConfig, VuiConfig
from appliance.sim.customer import CustomerScript
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.speech.asr.sphinx import PocketSphinxEngine
from appliance.speech.vad import Endpointer
from web import create_app

VOICES = Path(__file__).resolve().parents[2] / "appliance" / "sim" / "voices"
CUSTOMERS = {
    "+15550100001": CustomerScript(
        behaviour="answer", replies=[VOICES / "en_confirm.wav"], greeting=VOICES / "en_hello.wav", max_call_s=60
    ),
    # "Not tomorrow, call me another day." then, asked when, "No, please call me tomorrow." (the built-in flow
    # asks for the time of the next call; PocketSphinx free-form hears "... tomorrow")
    "+15550100002": CustomerScript(behaviour="answer", replies=[VOICES / "en_reschedule_2.wav",
                                                                VOICES / "en_reschedule.wav"], max_call_s=60),
    "+15550100003": CustomerScript(behaviour="busy"),
}


def ticket(tid: str, phone: str, *, kind: str = "delivery", status: str = "shipped") -> dict[str, Any]:
    return {
        "id": tid,
        "type": kind,
        "subject": "Parcel on its way",
        "description": "Order shipped today.",
        "customer": {"name": "Ann Example", "phone": phone},
        "order": {"id": "A-7731", "status": status},
    }


class Box:
    def __init__(self, box: Callbox, url: str, sims: list[SimulatedHuaweiModem]) -> None:
        self.box = box
        self.url = url
        self.sims = sims

    def post(
        self, body: str | bytes, *, sign_with: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        data = body.encode() if isinstance(body, str) else body
        msg_id = f"msg_{uuid.uuid4().hex}"
        now = datetime.now(UTC)
        h = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(sign_with or self.box.webhook_secret).sign(msg_id, now, data.decode()),
        }
        h.update(headers or {})
        req = urllib.request.Request(f"{self.url}/api/v1/tickets", data=data, headers=h, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def wait_status(self, tid: str, statuses: tuple[str, ...], timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = self.box.records.ticket(tid)
            if row is not None and row.status in statuses:
                return row.status
            time.sleep(0.2)
        row = self.box.records.ticket(tid)
        raise AssertionError(f"ticket {tid} still {row.status if row else 'missing'} after {timeout} s")


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory, piper_tts: Any, pocketsphinx_engine: Any) -> Iterator[Box]:
    sims = [
        SimulatedHuaweiModem(lambda n: CUSTOMERS.get(n, CustomerScript(behaviour="no_answer")), ring_ms=300)
        for _ in range(2)
    ]
    for sim in sims:
        sim.start()
    state = tmp_path_factory.mktemp("state")
    config = Config(
        state_dir=state,
        calling=CallingConfig(
            hours="00:00-00:00",
            ring_timeout_s=5,
            max_attempts=2,
            max_call_s=60,
            retry_s=RetryConfig(busy=1, no_answer=1, rejected=1, failed=1, interrupted=1),
        ),
        vui=VuiConfig(silence_timeout_ms=3000),
        lines=tuple(LineConfig(f"sim{i}", s.at_port, s.audio_port) for i, s in enumerate(sims)),
    )
    speech = SpeechKit(
        asr=pocketsphinx_engine,
        tts=piper_tts,
        endpointer=lambda: Endpointer(end_silence_ms=700, silence_timeout_ms=3000),
    )
    callbox = Callbox(config, speech=speech, shop_name="Corner Shop")
    server = waitress.create_server(
        create_app(callbox.panel, secret_key=callbox.session_key), host="127.0.0.1", port=0, threads=4
    )
    thread = threading.Thread(target=server.run, name="test-web", daemon=True)
    thread.start()
    callbox.start()
    try:
        yield Box(callbox, f"http://127.0.0.1:{server.effective_port}", sims)
    finally:
        callbox.stop()
        server.close()
        thread.join(5)
        for sim in sims:
            sim.stop()


def channel_rms(path: Path) -> tuple[float, float]:
    with wave.open(str(path)) as w:
        assert w.getnchannels() == 2 and w.getframerate() == 8000 and w.getsampwidth() == 2
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2).astype(np.float64)
    return float(np.sqrt((pcm[:, 0] ** 2).mean())), float(np.sqrt((pcm[:, 1] ** 2).mean()))


def test_signed_ticket_becomes_a_real_call_that_closes_the_ticket(box: Box, pocketsphinx_engine: Any) -> None:
    status, body = box.post(json.dumps(ticket("E2E-1", "+15550100001")))
    assert status == 202, body
    assert body["decision"] == "call" and body["task"] is not None and body["ticket"] == "E2E-1"
    # acknowledged only after commit: another connection sees the ticket at once
    db = sqlite3.connect(box.box.paths.records)
    assert db.execute("SELECT id FROM tickets WHERE id='E2E-1'").fetchone() == ("E2E-1",)

    assert box.wait_status("E2E-1", ("closed", "scheduled", "unreachable")) == "closed"
    calls = box.box.records.calls(ticket_id="E2E-1")
    assert len(calls) == 1
    call = calls[0]
    assert call["outcome"] == "completed" and call["disposition"] == "confirmed"
    # the callee's "Hello?" came first: the bot waited for it before greeting
    assert call["turns"][0]["speaker"] == "customer" and call["turns"][0]["node"] == "answer"
    said = [t for t in call["turns"] if t["speaker"] == "customer" and t["node"] != "answer"]
    assert said and said[0]["intent"] == "confirm"
    # the customer's spoken words ("Yes, someone will be home.") came through the recogniser
    assert {"yes", "yeah", "home", "someone"} & set(said[0]["text"].split())
    assert "A-7731" in call["turns"][1]["text"]
    ops = [o["kind"] for o in box.box.records.operations("E2E-1")]
    assert ops == ["remark", "close"]
    # what the flow made of it is kept with the call and told to the ticketing system with the remark
    strength = call["intent_strength"]
    assert strength is not None and strength["grade"] in "ABCD" and 0 <= strength["score"] <= 100
    assert strength["reasons"] and "confirmed" in strength["reasons"][0]
    remark_event = json.loads(db.execute("SELECT payload FROM outbox ORDER BY id LIMIT 1").fetchone()[0])
    assert remark_event["operation"] == "remark" and remark_event["intent_strength"] == strength
    assert remark_event["disposition"] == "confirmed"

    rec = Path(call["recording"])
    assert rec.exists() and str(rec).startswith(str(box.box.paths.recordings))
    customer_rms, bot_rms = channel_rms(rec)
    assert customer_rms > 100 and bot_rms > 100  # both voices are in the recording

    # what the simulated customer heard over the pty was the bot's real synthesised greeting
    heard = next(c for s in box.sims for c in s.calls if c.number == "+15550100001").heard
    # (free-form PocketSphinx turned piper's greeting into noise words now and then, so it listens for the
    # words the bot said among as many unrelated ones: the bot's must win clearly)
    greeting = {w for t in call["turns"] if t["speaker"] == "bot" for w in re.findall(r"[a-z]+", t["text"].lower())
                if len(w) > 2 and w not in {"ada", "lovelace"}}  # what the bot said, names aside
    unrelated = {"banana", "purple", "elephant", "guitar", "seven", "river", "window", "engine", "yellow", "monkey"}
    # how long the line stayed quiet before the greeting depends on the load, so it listens from one second
    # before the first loud frame, and from the start, and takes the better hearing. It listens in a process of
    # its own: inside this one, beside the box's own decoders, PocketSphinx now and then heard nothing at all in
    # audio that a fresh process hears 21 of the words in (a dump of such a run, replayed)
    samples = np.frombuffer(heard[: len(heard) // 2 * 2], dtype="<i2").astype(np.float64)
    frames = samples[: len(samples) // 160 * 160].reshape(-1, 160)
    loud = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > 300)
    assert loud.size, "the customer heard only silence"
    starts = sorted({max(0, int(loud[0]) - 50) * 320, 0})  # bytes: 50 frames of 20 ms
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as listener:
        hearings = listener.submit(listen_for, heard, sorted(greeting | unrelated), starts).result(timeout=120)
    words = max(hearings, key=lambda heard_words: len(heard_words & greeting))
    assert len(words & greeting) >= 5 and len(words & greeting) >= 2 * len(words & unrelated), words


def listen_for(audio: bytes, words: list[str], starts: list[int]) -> list[set[str]]:
    """What free-form PocketSphinx, limited to ``words`` in any order, hears in 12 s of ``audio`` (8 kHz, 16-bit)
    from each of ``starts`` (bytes)."""
    listener = PocketSphinxEngine(language="en", phrase_loop=True)
    hearings = []
    for start in starts:
        session = listener.open_session(words)
        for i in range(start, min(len(audio), start + 8000 * 2 * 12), 320):
            session.accept(audio[i : i + 320])
        hearings.append(set(session.finish().text.split()))
    return hearings


def test_reschedule_schedules_the_next_call(box: Box) -> None:
    status, body = box.post(json.dumps(ticket("E2E-2", "+15550100002")))
    assert status == 202 and body["decision"] == "call"
    assert box.wait_status("E2E-2", ("scheduled", "closed", "unreachable")) == "scheduled"
    call = box.box.records.calls(ticket_id="E2E-2")[0]
    assert call["disposition"] == "rescheduled", [(t["speaker"], t["text"], t["intent"]) for t in call["turns"]]
    assert [o["kind"] for o in box.box.records.operations("E2E-2")] == ["remark", "schedule"]
    row = box.box.records.ticket("E2E-2")
    assert row is not None and row.next_call_at is not None
    at = datetime.fromisoformat(row.next_call_at)
    assert at.astimezone().date() == (datetime.now().astimezone() + timedelta(days=1)).date()  # "tomorrow"
    assert timedelta(0) < at - datetime.now(UTC) < timedelta(hours=48)
    pending = (
        sqlite3.connect(box.box.paths.records)
        .execute("SELECT COUNT(*) FROM tasks WHERE ticket_id='E2E-2' AND state='pending'")
        .fetchone()[0]
    )
    assert pending == 1


def test_busy_customer_is_retried_then_given_up(box: Box) -> None:
    status, _ = box.post(json.dumps(ticket("E2E-3", "+15550100003")))
    assert status == 202
    assert box.wait_status("E2E-3", ("unreachable",), timeout=40) == "unreachable"
    calls = box.box.records.calls(ticket_id="E2E-3")
    assert [c["outcome"] for c in calls] == ["busy", "busy"] and calls[0]["cause"] == 17
    assert all(c["recording"] is None for c in calls)


def test_ticket_no_rule_calls_is_skipped_with_reason(box: Box) -> None:
    status, body = box.post(json.dumps(ticket("E2E-4", "+15550100009", kind="return", status="delivered")))
    assert status == 202
    assert body["decision"] == "skip" and body["task"] is None and "type 'return'" in body["reason"]
    row = box.box.records.ticket("E2E-4")
    assert row is not None and row.status == "skipped"


def test_bad_requests_are_refused_and_store_nothing(box: Box) -> None:
    def count() -> int:
        return int(sqlite3.connect(box.box.paths.records).execute("SELECT COUNT(*) FROM tickets").fetchone()[0])

    before = count()
    good = json.dumps(ticket("BAD-1", "+15550100001"))
    other_secret = "whsec_" + "A" * 43 + "="
    status, body = box.post(good, sign_with=other_secret)
    assert status == 401 and body["error"] == "bad_signature"
    status, body = box.post(good, headers={"webhook-signature": ""})
    assert status == 401
    status, body = box.post("{this is not json")
    assert status == 400 and body["error"] == "malformed_json"
    status, body = box.post("[1, 2]")
    assert status == 400
    broken = ticket("BAD-2", "+15550100001")
    del broken["customer"]["phone"]
    status, body = box.post(json.dumps(broken))
    assert status == 422 and body["field"] == "customer.phone"
    status, body = box.post(json.dumps(ticket("BAD-3", "not a number")))
    assert status == 422 and body["field"] == "customer.phone"
    assert count() == before
