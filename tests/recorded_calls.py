"""One helper serves the tests that need ended calls with real recordings (retention, the recordings API): a
ticket, its task, a call row, a real stereo WAV written by the box's own recorder, and a real conclusion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from appliance.records.conclusion import CallEnd, Conclusion, TaskEnd
from appliance.records.recordings import StereoRecorder, recording_path
from appliance.records.store import RecordsStore, Ticket, iso

NOW = datetime.now(UTC)
FRAME = 160  # samples a side per 20 ms frame at 8 kHz: 640 bytes of stereo WAV


def record(store: RecordsStore, root: Path, n: int, *, days_ago: float, frames: int = 50,
           phone: str | None = None, end: bool = True) -> int:
    """A call that started ``days_ago`` before ``NOW`` with a real stereo WAV under ``root`` of ``frames`` 20 ms
    frames (every customer sample n, every bot sample -n), ended through a real conclusion unless ``end`` is
    False (still on the line). Returns its call id."""
    phone = phone or f"+1555010{n:04d}"
    store.submit_ticket(Ticket(id=f"T-{n}", type="delivery", subject="s", description="", customer_name="Ann",
                               customer_phone=phone, order_id="o", order_status="shipped", payload={}),
                        webhook_id=f"m-{n}", decision="call", reason="test", flow_id="f", max_attempts=3)
    task = store.claim_due_task(datetime.now(UTC) + timedelta(seconds=1))
    assert task is not None and task.ticket_id == f"T-{n}"
    call_id = store.start_call(task=task, phone=phone, line="l1", flow_version=1)
    started = NOW - timedelta(days=days_ago)
    path = recording_path(root, phone, call_id, started)
    recorder = StereoRecorder(path)
    for _ in range(frames):
        recorder.write(int(n).to_bytes(2, "little", signed=True) * FRAME,
                       int(-n).to_bytes(2, "little", signed=True) * FRAME)
    recorder.close()
    store.mark_answered(call_id, recording=path)
    store.db.write(lambda c: c.execute("UPDATE calls SET started_at=? WHERE id=?", (iso(started), call_id)))
    if end:
        store.record_conclusion(Conclusion(TaskEnd(task.id, "completed", "completed"), f"T-{n}", call_id=call_id,
                                           call=CallEnd("completed", None, "confirmed", "")))
    return call_id
