"""Concluding an attempt is one transaction: the power going at any of its statements leaves the database
exactly as it was; and after a restart, start-up recovery ends what a crash left in flight."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from killswitch import TICKET, dump, kill_switch

from appliance.campaign.attempt import Outcome
from appliance.campaign.conclude import AttemptResult, blocked, conclude
from appliance.campaign.guards import Guard
from appliance.campaign.scheduler import recover_at_startup
from appliance.config import RetryConfig
from appliance.dialog.runtime.engine import RenderedOperation
from appliance.errors import StorageError
from appliance.records.conclusion import Conclusion, Turn
from appliance.records.store import RecordsStore, TaskRow

RETRY = RetryConfig()


def claimed(store: RecordsStore, *, max_attempts: int = 3) -> TaskRow:
    store.submit_ticket(TICKET, webhook_id="m1", decision="call", reason="rule", flow_id="delivery",
                        max_attempts=max_attempts)
    task = store.claim_due_task(datetime.now(UTC))
    assert task is not None
    return task


def everything(call_id: int, task: TaskRow) -> Conclusion:
    """A conclusion with every kind of write: call row, turns, operations, outbox, do-not-call, task, next task,
    ticket status."""
    result = AttemptResult(
        Outcome.COMPLETED, answered=True, disposition="call_later",
        operations=(RenderedOperation("remark", "Later."), RenderedOperation("schedule", delay_minutes=30),
                    RenderedOperation("close")),
        turns=(Turn("bot", "Hello"), Turn("customer", "later please", "later", 0.8, "ask", 2000)),
        slots={"when": "tomorrow"}, strength={"score": 40, "grade": "C", "reasons": ["r"]},
    )
    c = conclude(TICKET, task, result, datetime.now(UTC), call_id=call_id, retry=RETRY)
    assert c.next_task is not None
    return Conclusion(c.task, c.ticket_id, c.call_id, c.call, c.operations, c.outbox,
                      ("+15550001", "asked"), c.next_task, c.ticket_status, c.next_call_at)


def kill_at_every_statement(store: RecordsStore, db_path: Path, write: Callable[[], object]) -> int:
    """Run ``write`` with the power going at statement 1, 2, ... of its transaction until it gets through;
    after each kill the file must be exactly as before. Returns how many statements the transaction has."""
    before = dump(db_path)
    for n in itertools.count(1):
        kill_switch(store, n)
        try:
            write()
        except StorageError as exc:
            assert "killed at statement" in str(exc)
            assert dump(db_path) == before, f"a kill at statement {n} left part of the transaction"
            continue
        finally:
            store.db.write = type(store.db).write.__get__(store.db)  # type: ignore[method-assign]
        assert dump(db_path) != before
        return n - 1
    raise AssertionError("unreachable")


def test_a_conclusion_is_all_or_nothing_at_every_statement(store: RecordsStore, db_path: Path) -> None:
    task = claimed(store)
    call_id = store.start_call(task=task, phone=TICKET.customer_phone, line="sim0", flow_version=1)
    store.mark_answered(call_id)
    conclusion = everything(call_id, task)
    statements = kill_at_every_statement(store, db_path, lambda: store.record_conclusion(conclusion))
    assert statements >= 11  # call, 2 turns, 4 operations, 4 outbox rows, do-not-call, task, next task, ticket
    ticket = store.ticket("T1")
    assert ticket is not None and ticket.status == "closed"
    assert store.do_not_call.entry("+15550001") is not None
    assert [o["kind"] for o in store.operations("T1")] == ["remark", "schedule", "close"]


def test_an_attempt_ended_by_a_guard_is_one_transaction_too(store: RecordsStore, db_path: Path) -> None:
    task = claimed(store)
    conclusion = blocked(TICKET, task, Guard("do_not_call", "listed", "Not called: listed."))
    # the operation, the outbox row, the task, the ticket, and the call task's progress (its row read, its ticket
    # tasks counted, its row written): one transaction
    assert kill_at_every_statement(store, db_path, lambda: store.record_conclusion(conclusion)) == 9
    ticket, ended = store.ticket("T1"), store.task(task.id)
    assert ticket is not None and ticket.status == "skipped" and ended is not None and ended.state == "cancelled"
    assert ended.call_task_id is not None
    standing = store.call_tasks.get(ended.call_task_id)
    assert standing is not None and standing["progress"]["finished"] == 1 and standing["source"] == "trigger"


def test_start_up_recovery_is_one_transaction(store: RecordsStore, db_path: Path) -> None:
    task = claimed(store)
    store.start_call(task=task, phone=TICKET.customer_phone, line="sim0", flow_version=1)
    now = datetime.now(UTC)
    assert kill_at_every_statement(store, db_path, lambda: recover_at_startup(store, now, retry=RETRY)) >= 5
    assert recover_at_startup(store, now, retry=RETRY) == 0  # nothing is left in flight
    assert store.claim_due_task(datetime.now(UTC) + timedelta(seconds=RETRY.interrupted - 5)) is None
