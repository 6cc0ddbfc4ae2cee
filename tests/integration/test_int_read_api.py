"""The read API on the real box: a ticket's two attempts (no answer, then a completed call) written as the box
writes them, read back through the Flask app with a bearer token: the ticket with its operations, tasks and calls
("attempt 2 of 3"), calls filtered and paged, tasks, the recording."""

from __future__ import annotations

import wave
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from appliance.box import Callbox
from appliance.campaign.attempt import Outcome
from appliance.campaign.calls import SpeechKit
from appliance.campaign.conclude import AttemptResult, conclude
from appliance.config import Config, RetryConfig, ShopConfig
from appliance.dialog.runtime.engine import RenderedOperation
from appliance.speech.vad import Endpointer
from web import create_app

TOKEN = {"Authorization": "Bearer read-api-token"}


def ticket(tid: str, phone: str) -> dict[str, Any]:
    return {"id": tid, "type": "delivery", "subject": "Parcel on its way",
            "customer": {"name": "Ada Lovelace", "phone": phone}, "order": {"id": "A-7731", "status": "shipped"},
            "vars": {"due_date": "Friday"}}


def attempt(box: Callbox, result: AttemptResult, when: datetime, recording: Path | None = None) -> int:
    task = box.records.claim_due_task(when)
    assert task is not None
    row = box.records.ticket(task.ticket_id)
    assert row is not None
    call_id = box.records.start_call(task=task, phone=row.customer_phone, line="line1", flow_version=1)
    if recording is not None:
        with wave.open(str(recording), "wb") as out:
            out.setnchannels(2)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(b"\0\0\0\0" * 800)
        box.records.mark_answered(call_id, recording=recording)
    box.records.record_conclusion(conclude(row, task, result, when, call_id=call_id, retry=RetryConfig()))
    return call_id


def test_read_api_on_the_real_box(tmp_path: Path, piper_tts: Any, pocketsphinx_engine: Any) -> None:
    kit = SpeechKit(asr=pocketsphinx_engine, tts=piper_tts, endpointer=lambda: Endpointer())
    box = Callbox(Config(state_dir=tmp_path, shop=ShopConfig(name="Boutique", country="FR")), lines=[], speech=kit)
    client = create_app(box.panel, test_config={"TESTING": True, "API_TOKEN": "read-api-token"}).test_client()
    try:
        assert box.panel.submit_ticket(ticket("R-1", "06 12 34 56 78"), webhook_id="m1")["decision"] == "call"
        assert box.panel.submit_ticket(ticket("R-2", "+33698765432"), webhook_id="m2")["decision"] == "call"
        now = datetime.now(UTC)
        first = attempt(box, AttemptResult(Outcome.NO_ANSWER, answered=False), now)  # retried later
        other = attempt(box, AttemptResult(Outcome.REJECTED, answered=False), now)  # retried after R-1
        done = AttemptResult(Outcome.COMPLETED, answered=True, disposition="confirmed",
                             operations=(RenderedOperation("remark", "Customer confirmed Friday."),
                                         RenderedOperation("close")))
        second = attempt(box, done, now + timedelta(days=2), recording=tmp_path / "r1.wav")

        body = client.get("/api/v1/tickets/R-1", headers=TOKEN).get_json()
        assert body["status"] == "closed" and body["decision"] == "call" and body["vars"] == {"due_date": "Friday"}
        assert body["phone"] == "+33612345678"
        assert [(c["id"], c["attempt"], c["max_attempts"], c["outcome"]) for c in body["calls"]] == [
            (first, 1, 3, "no_answer"), (second, 2, 3, "completed")]
        assert {c["task_id"] for c in body["calls"]} == {t["id"] for t in body["tasks"]}
        assert body["tasks"][0]["state"] == "completed" and body["tasks"][0]["next_attempt_at"] is None
        assert [(o["kind"], o["call_id"]) for o in body["operations"]] == [
            ("remark", first), ("remark", second), ("close", second)]
        remark = body["operations"][1]
        assert remark["detail"].endswith("Customer confirmed Friday.")
        opening = body["operations"][0]
        assert opening["call_id"] == first and opening["detail"].startswith("Attempt 1 of 3")
        assert datetime.fromisoformat(remark["at"]) >= now
        assert client.get("/api/v1/tickets/R-9", headers=TOKEN).status_code == 404
        assert client.get("/api/v1/tickets/R-1").status_code == 401

        def ids(query: str) -> list[int]:
            response = client.get(f"/api/v1/calls?{query}", headers=TOKEN)
            assert response.status_code == 200, response.get_json()
            return [c["id"] for c in response.get_json()["calls"]]

        assert ids("") == [second, other, first]
        assert ids("phone=0612345678") == [second, first]  # the shop's national form, as stored in E.164
        assert ids("outcome=rejected") == [other] and ids("outcome=completed") == [second]
        assert ids(f"task={body['tasks'][0]['id']}") == [second, first]
        started = datetime.fromisoformat(body["calls"][1]["started_at"])  # as stored, to the millisecond
        stamp = started.astimezone(timezone(timedelta(hours=2))).isoformat().replace("+", "%2B")  # any offset
        assert ids(f"since={stamp}") == [second] and ids(f"until={stamp}") == [other, first]
        page = client.get("/api/v1/calls?limit=2&phone=0612345678", headers=TOKEN).get_json()
        assert [c["id"] for c in page["calls"]] == [second, first] and page["next"] is None
        page = client.get("/api/v1/calls?limit=1", headers=TOKEN).get_json()
        rest = client.get(page["next"], headers=TOKEN).get_json()
        assert [c["id"] for c in page["calls"] + rest["calls"]] == [second, other] and rest["next"]
        bad = client.get("/api/v1/calls?phone=not-a-number", headers=TOKEN)
        assert bad.status_code == 400 and bad.get_json()["parameter"] == "phone"

        call = client.get(f"/api/v1/calls/{second}", headers=TOKEN).get_json()
        wav = client.get(call["recording_url"], headers=TOKEN)
        assert wav.status_code == 200 and wav.data[:4] == b"RIFF"
        assert "recording_url" not in client.get(f"/api/v1/calls/{first}", headers=TOKEN).get_json()

        tasks = client.get("/api/v1/tickets/R-2", headers=TOKEN).get_json()["tasks"]
        assert [(t["state"], t["attempts"], t["max_attempts"], t["last_outcome"]) for t in tasks] == [
            ("pending", 1, 3, "rejected")]
        assert tasks[0]["next_attempt_at"] is not None
        # the webhook's tickets joined the standing call task of their flow; its attempts show R-2 pending
        [standing] = client.get("/api/v1/tasks?source=trigger", headers=TOKEN).get_json()["tasks"]
        detail = client.get(f"/api/v1/tasks/{standing['id']}", headers=TOKEN).get_json()
        assert tasks[0]["call_task_id"] == standing["id"]
        assert [a["ticket_id"] for a in detail["attempts"] if a["state"] == "pending"] == ["R-2"]
    finally:
        box.stop()
