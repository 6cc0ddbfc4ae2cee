"""Stopping the box (SIGTERM) before a taken task is dialed puts it back: pending, not counted as an attempt, the
ticket waiting for its call; and the goodbye the bot says is in the flow's language."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from appliance.box import Callbox
from appliance.campaign.calls import SpeechKit
from appliance.campaign.conclude import released
from appliance.config import CallingConfig, Config
from appliance.dialog.runtime.goodbye import BOX_STOPPING, goodbye_text


def test_a_taken_task_released_is_pending_and_uncounted(tmp_path: Path, pocketsphinx_engine: object) -> None:
    kit = SpeechKit(asr=pocketsphinx_engine, tts=None, endpointer=lambda: None)  # type: ignore[arg-type]
    box = Callbox(Config(state_dir=tmp_path / "state", calling=CallingConfig(hours="00:00-00:00")), lines=[],
                  speech=kit)
    try:
        answer = box.admit_ticket({"id": "S-1", "type": "delivery", "subject": "Parcel", "description": "",
                                   "customer": {"name": "Ann", "phone": "+15550501234"},
                                   "order": {"id": "A-1", "status": "shipped"}}, "m-1")
        assert answer["decision"] == "call"
        before = box.records.task(answer["task"])
        assert before is not None and before.attempts == 0
        task = box.records.claim_due_task(datetime.now(UTC))
        assert task is not None and task.attempts == 1 and task.state == "running"
        assert box.records.ticket("S-1").status == "calling"  # type: ignore[union-attr]
        box.records.record_conclusion(released(task))
        after = box.records.task(task.id)
        assert after is not None and (after.state, after.attempts) == ("pending", 0)
        assert after.next_attempt_at == before.next_attempt_at  # due as it was: the next start takes it
        assert box.records.ticket("S-1").status == "open"  # type: ignore[union-attr]
        assert box.records.calls(ticket_id="S-1") == []
        assert box.records.claim_due_task(datetime.now(UTC)) is not None  # takeable again
    finally:
        box.stop()


def test_goodbye_in_the_flows_language() -> None:
    assert goodbye_text("en") == "Sorry, we have to end the call now. Goodbye."
    assert goodbye_text("zh-CN") == goodbye_text("zh") == BOX_STOPPING["zh"]
    assert goodbye_text("de") == BOX_STOPPING["en"]  # no goodbye of its own: English
