"""An owner's ticket actions on the real records store, with the scheduler's own claim: call now makes a waiting
retry due, cancel ends it and counts it in its call task, retry gives an ended ticket a task the scheduler takes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from appliance.errors import TicketActionRefused
from appliance.records.conclusion import Conclusion, TaskEnd
from appliance.records.store import RecordsStore, Ticket

FIELDS = {"id": "T1", "type": "delivery", "subject": "s", "description": "d", "customer_name": "Ann",
          "customer_phone": "+15550001", "order_id": "o1", "order_status": "shipped"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RecordsStore]:
    s = RecordsStore(tmp_path / "callbox.db")
    s.submit_ticket(Ticket(**FIELDS, payload={}), webhook_id="m1", decision="call", reason="rule",
                    flow_id="delivery-confirmation", max_attempts=3)
    yield s
    s.close()


def busy_for_an_hour(store: RecordsStore) -> int:
    """The first attempt was busy; the retry waits an hour."""
    task = store.claim_due_task(datetime.now(UTC))
    assert task is not None
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    store.record_conclusion(Conclusion(TaskEnd(task.id, "pending", "busy", later), "T1"))
    assert store.claim_due_task(datetime.now(UTC)) is None
    return task.id


def test_call_now_makes_the_waiting_retry_due(store: RecordsStore) -> None:
    task_id = busy_for_an_hour(store)
    assert store.ticket_action("T1", "call_now", who="owner") == "Call brought forward to now by owner."
    claimed = store.claim_due_task(datetime.now(UTC) + timedelta(seconds=1))
    assert claimed is not None and claimed.id == task_id and claimed.attempts == 2


def test_call_now_waits_for_a_paused_call_task(store: RecordsStore) -> None:
    busy_for_an_hour(store)
    store.db.write(lambda c: c.execute("UPDATE call_tasks SET state='paused'"))
    with pytest.raises(TicketActionRefused) as refused:
        store.ticket_action("T1", "call_now", who="owner")
    assert refused.value.code == "task_paused"
    assert store.claim_due_task(datetime.now(UTC) + timedelta(hours=2)) is None


def test_cancel_ends_the_task_counts_it_and_retry_plans_a_new_one_the_scheduler_takes(store: RecordsStore) -> None:
    task_id = busy_for_an_hour(store)
    store.ticket_action("T1", "cancel", who="owner")
    rows = store.db.read(lambda c: c.execute(
        "SELECT tasks.state, tickets.status, call_tasks.finished, call_tasks.total FROM tasks"
        " JOIN tickets ON tickets.id = tasks.ticket_id JOIN call_tasks ON call_tasks.id = tasks.call_task_id"
        " WHERE tasks.id=?", (task_id,)).fetchone())
    assert tuple(rows) == ("cancelled", "skipped", 1, 1)
    with pytest.raises(TicketActionRefused) as refused:
        store.ticket_action("T1", "cancel", who="owner")
    assert refused.value.code == "nothing_planned"
    store.ticket_action("T1", "retry", who="owner")
    claimed = store.claim_due_task(datetime.now(UTC) + timedelta(seconds=1))
    assert claimed is not None and claimed.id != task_id and claimed.attempts == 1 and claimed.max_attempts == 3
    assert [o["detail"] for o in store.operations("T1")] == ["Calls cancelled by owner.", "Called again by owner."]


def test_nothing_changes_for_a_call_on_the_line_or_an_unknown_ticket(store: RecordsStore) -> None:
    assert store.claim_due_task(datetime.now(UTC)) is not None  # running: on the line

    def everything() -> list[tuple[object, ...]]:
        return store.db.read(lambda c: [tuple(r) for t in ("tasks", "tickets", "ticket_operations", "outbox")
                                        for r in c.execute(f"SELECT * FROM {t}")])

    before = everything()
    for action in ("call_now", "retry", "cancel"):
        with pytest.raises(TicketActionRefused) as refused:
            store.ticket_action("T1", action, who="owner")
        assert refused.value.code == "on_the_line"
    assert store.ticket_action("NOPE", "retry", who="owner") is None
    assert store.ticket_note("NOPE", "hello", who="owner") is None
    assert everything() == before
