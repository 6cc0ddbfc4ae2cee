"""The box killed at chosen moments: the power goes at a statement of an attempt's conclusion (or mid-call), a
new box opens the same SQLite file and runs the start-up recovery. Each test is one bug the old sequence of
separate transactions had."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from killswitch import TICKET, kill_switch

from appliance.campaign.attempt import Outcome
from appliance.campaign.conclude import AttemptResult, conclude
from appliance.campaign.scheduler import recover_at_startup
from appliance.config import RetryConfig
from appliance.dialog.runtime.engine import RenderedOperation
from appliance.errors import StorageError
from appliance.records.conclusion import Conclusion
from appliance.records.store import RecordsStore, Submission, TaskRow

RETRY = RetryConfig()
CONFIRMED = AttemptResult(Outcome.COMPLETED, answered=True, disposition="confirmed",
                          operations=(RenderedOperation("close"),))
CALL_ME_TOMORROW = AttemptResult(Outcome.COMPLETED, answered=True, disposition="call_later",
                                 operations=(RenderedOperation("schedule", delay_minutes=24 * 60),))


def submit(store: RecordsStore, msg: str, *, max_attempts: int = 3) -> Submission:
    return store.submit_ticket(TICKET, webhook_id=msg, decision="call", reason="rule", flow_id="delivery",
                        max_attempts=max_attempts)


def dialed(store: RecordsStore, *, answered: bool = True, after_s: float = 0) -> tuple[TaskRow, int]:
    task = store.claim_due_task(datetime.now(UTC) + timedelta(seconds=after_s))
    assert task is not None
    call_id = store.start_call(task=task, phone=TICKET.customer_phone, line="sim0", flow_version=1)
    if answered:
        store.mark_answered(call_id)
    return task, call_id


def restart(store: RecordsStore, path: Path) -> RecordsStore:
    """The power is back: a new box opens the same file and recovers what was in flight."""
    store.close()
    again = RecordsStore(path)
    recover_at_startup(again, datetime.now(UTC), retry=RETRY)
    return again


def killed_at(store: RecordsStore, n: int, write: Callable[[], object]) -> bool:
    """Run ``write`` with the power going at its n-th statement; True if it was killed (False: it got through)."""
    kill_switch(store, n)
    try:
        write()
    except StorageError:
        return True
    return False


def events(store: RecordsStore, operation: str) -> list[dict[str, object]]:
    rows = store.db.read(lambda c: c.execute("SELECT payload FROM outbox ORDER BY id").fetchall())
    return [e for e in (json.loads(r[0]) for r in rows) if e.get("operation") == operation]


def every_kill_point(tmp_path: Path, result: AttemptResult,
                     check: Callable[[RecordsStore, bool], None]) -> int:
    """For each statement n of the conclusion: a fresh box, one answered call, the power going at n, a restart,
    then ``check(store, killed)``. Returns how many kill points there were."""
    for n in range(1, 100):
        path = tmp_path / f"kill{n}.db"
        store = RecordsStore(path)
        submit(store, "m1")
        task, call_id = dialed(store)
        conclusion = conclude(TICKET, task, result, datetime.now(UTC), call_id=call_id, retry=RETRY)
        killed = killed_at(store, n, lambda c=conclusion, s=store: s.record_conclusion(c))  # type: ignore[misc]
        store = restart(store, path)
        try:
            check(store, killed)
        finally:
            store.close()
        if not killed:
            return n - 1
    raise AssertionError("the conclusion never got through")


def test_a_customer_who_confirmed_is_not_called_again_and_the_helpdesk_hears_close_once(tmp_path: Path) -> None:
    def check(store: RecordsStore, killed: bool) -> None:
        closes = events(store, "close")
        later = store.claim_due_task(datetime.now(UTC) + timedelta(days=7))
        if killed:  # nothing of the confirmation was written: the attempt was lost, and is tried again
            assert closes == [] and later is not None
        else:
            assert len(closes) == 1 and later is None
            ticket = store.ticket("T1")
            assert ticket is not None and ticket.status == "closed"

    assert every_kill_point(tmp_path, CONFIRMED, check) >= 5


def test_a_kill_never_leaves_the_ticket_calling_nor_its_updates_answered_duplicate(tmp_path: Path) -> None:
    def check(store: RecordsStore, killed: bool) -> None:
        ticket = store.ticket("T1")
        assert ticket is not None and ticket.status != "calling"
        if killed:  # the retry runs and ends the task; then an update of the ticket is taken, not dropped
            task, call_id = dialed(store, after_s=RETRY.interrupted + 1)
            store.record_conclusion(conclude(TICKET, task, CONFIRMED, datetime.now(UTC), call_id=call_id,
                                             retry=RETRY))
        update = submit(store, "m-update")
        assert not update.duplicate and update.task_id is not None

    every_kill_point(tmp_path, CONFIRMED, check)


def test_a_callback_the_helpdesk_was_told_about_is_never_lost(tmp_path: Path) -> None:
    def check(store: RecordsStore, killed: bool) -> None:
        told = events(store, "schedule")
        pending = store.db.read(lambda c: c.execute(
            "SELECT next_attempt_at FROM tasks WHERE state='pending'").fetchall())
        if told:
            assert [p[0] for p in pending] == [told[0]["detail"]]
        else:
            assert killed and len(pending) == 1  # the lost attempt is retried instead

    every_kill_point(tmp_path, CALL_ME_TOMORROW, check)


def test_a_kill_mid_call_ends_the_call_interrupted_and_counts_the_attempt_once(tmp_path: Path) -> None:
    path = tmp_path / "callbox.db"
    store = RecordsStore(path)
    submit(store, "m1", max_attempts=2)
    task, call_id = dialed(store)
    store = restart(store, path)  # the power went during the conversation
    try:
        call = store.call(call_id)
        assert call is not None and call["state"] == "interrupted" and call["ended_at"] is not None
        after = store.task(task.id)
        assert after is not None and after.attempts == 1 and after.state == "pending"
        assert store.claim_due_task(datetime.now(UTC)) is None  # not redialed at once: the table's delay
        retry = store.claim_due_task(datetime.now(UTC) + timedelta(seconds=RETRY.interrupted + 1))
        assert retry is not None and retry.attempts == 2
        call2 = store.start_call(task=retry, phone=TICKET.customer_phone, line="sim0", flow_version=1)
        store.record_conclusion(conclude(TICKET, retry, AttemptResult(Outcome.NO_ANSWER), datetime.now(UTC),
                                         call_id=call2, retry=RETRY))
        remarks = [o["detail"] for o in store.operations("T1") if o["kind"] == "remark"]
        assert remarks[0].startswith("Attempt 1 of 2: interrupted") and remarks[1].startswith("Attempt 2 of 2")
        assert [c["state"] for c in store.calls()] == ["no_answer", "interrupted"]  # each attempt finished
    finally:
        store.close()


def test_a_redelivered_scheduled_ticket_keeps_its_one_pending_task(store: RecordsStore) -> None:
    submit(store, "m1")
    task, call_id = dialed(store)
    store.record_conclusion(conclude(TICKET, task, CALL_ME_TOMORROW, datetime.now(UTC), call_id=call_id,
                                     retry=RETRY))
    ticket = store.ticket("T1")
    assert ticket is not None and ticket.status == "scheduled"
    again = store.submit_ticket(TICKET, webhook_id="m2", decision="call", reason="rule", flow_id="delivery",
                                max_attempts=3)
    assert again.duplicate
    pending = store.db.read(lambda c: c.execute("SELECT COUNT(*) FROM tasks WHERE state='pending'").fetchone()[0])
    assert pending == 1
    with pytest.raises(StorageError, match="UNIQUE"):  # the store itself holds it: a partial unique index
        store.record_conclusion(Conclusion(None, "T1", next_task=conclude(
            TICKET, task, CALL_ME_TOMORROW, datetime.now(UTC), call_id=call_id, retry=RETRY).next_task))
