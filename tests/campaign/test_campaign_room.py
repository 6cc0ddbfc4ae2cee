"""The pre-dial room guard on a real box: a ticket's task taken by the scheduler over a simulated modem line is
held when the disk has less free than ``[recordings] min_free_mb`` even after pruning — not dialled, not counted
as an attempt, tried again in 15 minutes — and the line's status and /healthz say why."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from appliance.box import Callbox, build_line
from appliance.campaign.calls import CallSummary, SpeechKit
from appliance.config import CallingConfig, Config, LineConfig, RecordingsConfig
from appliance.sim.customer import CustomerScript
from appliance.sim.huawei import SimulatedHuaweiModem
from web import create_app

NO_DISK_THAT_BIG = 1 << 40  # MB: a min_free_mb no real disk has free


def test_no_room_holds_the_call_and_the_line_says_why(tmp_path: Path, pocketsphinx_engine: object) -> None:
    sim = SimulatedHuaweiModem(lambda n: CustomerScript("busy"))
    sim.start()
    config = Config(state_dir=tmp_path / "state", calling=CallingConfig(hours="00:00-00:00"),
                    recordings=RecordingsConfig(min_free_mb=NO_DISK_THAT_BIG))
    kit = SpeechKit(asr=pocketsphinx_engine, tts=None, endpointer=lambda: None)  # type: ignore[arg-type]
    box = Callbox(config, lines=[build_line(LineConfig("sim0", sim.at_port, sim.audio_port))], speech=kit)
    done: list[CallSummary] = []
    ended = threading.Event()
    box.on_call(lambda summary: (done.append(summary), ended.set()))
    try:
        box.start()
        before = datetime.now(UTC)
        answer = box.admit_ticket({"id": "R-1", "type": "delivery", "subject": "Parcel", "description": "",
                                   "customer": {"name": "Ann", "phone": "+15550501234"},
                                   "order": {"id": "A-1", "status": "shipped"}}, "m-1")
        assert answer["decision"] == "call", answer
        assert ended.wait(30), "the scheduler never took the task"
        [summary] = done
        assert (summary.outcome.value, summary.guard, summary.call_id) == ("blocked", "no_room", 0)
        task = box.records.task(answer["task"])
        assert task is not None and task.state == "pending" and task.attempts == 0  # not counted
        retry = datetime.fromisoformat(task.next_attempt_at)
        assert before + timedelta(minutes=15) <= retry <= datetime.now(UTC) + timedelta(minutes=15)
        assert box.records.calls(ticket_id="R-1") == []  # never dialled
        [remark] = [op["detail"] for op in box.records.operations("R-1") if op["kind"] == "remark"]
        assert remark.startswith("Not called: no room for recordings on the box (")
        [line] = box.panel.status()["lines"]
        assert line["name"] == "sim0" and line["held"].startswith("no room for recordings: ")
        assert line["held"].endswith(f"{NO_DISK_THAT_BIG} MB needed; calls wait")
        health = create_app(box.panel, test_config={"TESTING": True}).test_client().get("/healthz").get_json()
        assert health["recordings"]["ok"] is False and health["recordings"]["min_free_mb"] == NO_DISK_THAT_BIG
    finally:
        box.stop()
        sim.stop()
