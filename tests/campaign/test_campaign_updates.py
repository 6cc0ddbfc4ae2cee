"""When a ticket changes (campaign.updates): each case through ``admit`` on a real SQLite store with the built-in
flows and default rules (delivery tickets with order status shipped/out_for_delivery are called)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from appliance.campaign.attempt import Outcome, TicketStatus, next_ticket_status
from appliance.campaign.conclude import AttemptResult, conclude
from appliance.campaign.intake import Admission, admit
from appliance.campaign.publish import install_defaults
from appliance.config import RetryConfig
from appliance.dialog.runtime.engine import RenderedOperation
from appliance.errors import TicketInvalid
from appliance.records.config_store import ConfigStore
from appliance.records.store import RecordsStore, TaskRow


@pytest.fixture
def box(tmp_path: Path) -> Iterator[tuple[RecordsStore, ConfigStore]]:
    store = RecordsStore(tmp_path / "r.db")
    configs = ConfigStore(tmp_path / "c.json")
    install_defaults(configs)
    yield store, configs
    store.close()
    configs.close()


def payload(*, phone: str = "+15550100001", status: str = "shipped", name: str = "Ann",
            updated_at: str | None = None, helpdesk_status: str | None = None) -> dict[str, Any]:
    p: dict[str, Any] = {"id": "T-1", "type": "delivery", "subject": "Parcel", "description": "",
                         "customer": {"name": name, "phone": phone}, "order": {"id": "7", "status": status}}
    if updated_at is not None:
        p["updated_at"] = updated_at
    if helpdesk_status is not None:
        p["vars"] = {"helpdesk": "zendesk", "helpdesk_status": helpdesk_status}
    return p


def send(box: tuple[RecordsStore, ConfigStore], p: dict[str, Any], delivery: str) -> Admission:
    store, configs = box
    return admit(p, webhook_id=delivery, records=store, configs=configs, max_attempts=3)


def tasks(store: RecordsStore) -> list[tuple[int, str, str]]:
    return store.db.read(lambda c: [(r[0], r[1], r[2]) for r in c.execute(
        "SELECT id, state, flow_id FROM tasks WHERE ticket_id='T-1' ORDER BY id").fetchall()])


def called_and_closed(box: tuple[RecordsStore, ConfigStore], p: dict[str, Any]) -> TaskRow:
    """The ticket admitted, called, and closed by the flow."""
    store = box[0]
    assert send(box, p, "d-1").decision == "call"
    task = claim(store)
    call_id = store.start_call(task=task, phone="+15550100001", line="sim0", flow_version=1)
    result = AttemptResult(Outcome.COMPLETED, answered=True, disposition="confirmed",
                           operations=(RenderedOperation("close"),))
    ticket = store.ticket("T-1")
    assert ticket is not None
    store.record_conclusion(conclude(ticket, task, result, datetime.now(UTC), call_id=call_id, retry=RetryConfig()))
    assert store.ticket("T-1").status == "closed"  # type: ignore[union-attr]
    return task


def claim(store: RecordsStore) -> TaskRow:
    task = store.claim_due_task(datetime.now(UTC))
    assert task is not None
    return task


# -- an open ticket -------------------------------------------------------------------------------------------
def test_a_corrected_phone_number_updates_the_open_ticket_and_its_pending_task_dials_it(box) -> None:
    store = box[0]
    first = send(box, payload(), "d-1")
    assert first.change == "new" and first.decision == "call" and first.task_id is not None
    again = send(box, payload(phone="+1 555 010 0099", name="Ann Lee"), "d-2")
    assert again.change == "updated" and again.updated and not again.duplicate
    assert again.task_id == first.task_id and again.cancelled_task is None and again.decision == "call"
    ticket = store.ticket("T-1")
    assert ticket is not None and ticket.customer_phone == "+15550100099" and ticket.customer_name == "Ann Lee"
    assert ticket.status == "open"
    assert tasks(store) == [(first.task_id, "pending", "delivery-confirmation")]  # same task, same place
    assert claim(store).id == first.task_id


def test_an_update_that_makes_the_call_pointless_cancels_the_pending_task_in_one_go(box) -> None:
    store = box[0]
    first = send(box, payload(), "d-1")
    gone = send(box, payload(status="delivered"), "d-2")
    assert gone.change == "cancelled" and gone.decision == "skip" and gone.cancelled_task == first.task_id
    assert gone.task_id is None and "order status 'delivered'" in gone.reason
    assert gone.as_dict()["cancelled_task"] == first.task_id and gone.as_dict()["updated"] is True
    ticket = store.ticket("T-1")
    assert ticket is not None and ticket.status == "skipped" and ticket.order_status == "delivered"
    assert tasks(store) == [(first.task_id, "cancelled", "delivery-confirmation")]
    assert store.claim_due_task(datetime.now(UTC)) is None
    assert any("cancelled by an update" in op["detail"] for op in store.operations("T-1"))


def test_solved_at_the_helpdesk_cancels_the_pending_call(box) -> None:
    first = send(box, payload(helpdesk_status="open"), "d-1")
    solved = send(box, payload(helpdesk_status="solved"), "d-2")
    assert solved.change == "cancelled" and solved.cancelled_task == first.task_id
    assert "the helpdesk has it solved" in solved.reason
    assert box[0].ticket("T-1").status == "skipped"  # type: ignore[union-attr]


def test_a_first_delivery_already_solved_at_the_helpdesk_is_not_called(box) -> None:
    a = send(box, payload(helpdesk_status="solved"), "d-1")
    assert a.decision == "skip" and a.task_id is None and "helpdesk has it solved" in a.reason


def test_a_scheduled_ticket_cancelled_by_an_update_moves_by_the_table(box) -> None:
    assert next_ticket_status(TicketStatus.SCHEDULED, "cancel") is TicketStatus.SKIPPED
    assert next_ticket_status(TicketStatus.OPEN, "cancel") is TicketStatus.SKIPPED


# -- versions -------------------------------------------------------------------------------------------------
def test_an_older_version_is_acknowledged_and_ignored(box) -> None:
    store = box[0]
    send(box, payload(updated_at="2026-03-01T10:00:00+01:00"), "d-1")
    old = send(box, payload(phone="+15550100077", updated_at="2026-03-01T08:30:00Z"), "d-2")
    assert old.change == "stale" and not old.updated and "older than the stored one" in old.reason
    assert store.ticket("T-1").customer_phone == "+15550100001"  # type: ignore[union-attr]
    newer = send(box, payload(phone="+15550100077", updated_at="2026-03-01T09:30:00Z"), "d-3")
    assert newer.change == "updated"
    ticket = store.ticket("T-1")
    assert ticket is not None and ticket.customer_phone == "+15550100077"
    assert ticket.updated_at == "2026-03-01T09:30:00.000000+00:00"


def test_without_updated_at_the_last_to_arrive_wins(box) -> None:
    send(box, payload(phone="+15550100001"), "d-1")
    send(box, payload(phone="+15550100002"), "d-2")
    send(box, payload(phone="+15550100003"), "d-3")
    assert box[0].ticket("T-1").customer_phone == "+15550100003"  # type: ignore[union-attr]


@pytest.mark.parametrize(("value", "says"), [("2026-03-01T10:00:00", "no time zone"), ("yesterday", "ISO 8601"),
                                              (1700000000, "string")])
def test_a_bad_updated_at_is_refused_naming_the_field_and_changes_nothing(box, value, says) -> None:
    send(box, payload(), "d-1")
    bad = payload(phone="+15550100099")
    bad["updated_at"] = value
    with pytest.raises(TicketInvalid) as err:
        send(box, bad, "d-2")
    assert err.value.field == "updated_at" and says in str(err.value)
    assert box[0].ticket("T-1").customer_phone == "+15550100001"  # type: ignore[union-attr]


def test_the_same_delivery_id_is_still_a_duplicate_that_changes_nothing(box) -> None:
    send(box, payload(), "d-1")
    again = send(box, payload(status="delivered"), "d-1")
    assert again.duplicate and again.change == "duplicate" and again.decision == "call"
    assert box[0].ticket("T-1").status == "open"  # type: ignore[union-attr]


# -- a ticket being called --------------------------------------------------------------------------------------
def test_a_calling_ticket_is_updated_and_its_conclusion_makes_no_further_call(box) -> None:
    store = box[0]
    send(box, payload(), "d-1")
    task = claim(store)
    call_id = store.start_call(task=task, phone="+15550100001", line="sim0", flow_version=1)
    during = send(box, payload(status="delivered", phone="+15550100088"), "d-2")
    assert during.change == "updated" and during.decision == "skip" and during.cancelled_task is None
    assert "the call in progress goes on" in during.reason
    assert store.task(task.id).state == "running"  # type: ignore[union-attr]  # not interrupted
    ticket = store.ticket("T-1")
    assert ticket is not None and ticket.status == "calling" and ticket.customer_phone == "+15550100088"
    # the customer did not answer: the retry table would retry, the update says not to
    no_answer = AttemptResult(Outcome.NO_ANSWER, cause=19)
    store.record_conclusion(conclude(ticket, task, no_answer, datetime.now(UTC), call_id=call_id,
                                     retry=RetryConfig()))
    assert store.task(task.id).state == "cancelled"  # type: ignore[union-attr]
    after = store.ticket("T-1")
    assert after is not None and after.status == "skipped" and after.next_call_at is None
    assert store.next_due_at() is None
    assert any(op["detail"].startswith("No further call") for op in store.operations("T-1"))


def test_a_calling_ticket_updated_pointless_keeps_what_the_call_did(box) -> None:
    store = box[0]
    send(box, payload(), "d-1")
    task = claim(store)
    call_id = store.start_call(task=task, phone="+15550100001", line="sim0", flow_version=1)
    send(box, payload(helpdesk_status="solved"), "d-2")
    ticket = store.ticket("T-1")
    assert ticket is not None
    later = AttemptResult(Outcome.COMPLETED, answered=True, disposition="call_later",
                          operations=(RenderedOperation("schedule", delay_minutes=30),))
    c = conclude(ticket, task, later, datetime.now(UTC), call_id=call_id, retry=RetryConfig())
    assert c.next_task is None and c.ticket_status == "skipped"
    assert not any(kind == "schedule" for kind, _ in c.operations)
    closing = AttemptResult(Outcome.COMPLETED, answered=True, disposition="confirmed",
                            operations=(RenderedOperation("close"),))
    assert conclude(ticket, task, closing, datetime.now(UTC), call_id=call_id,
                    retry=RetryConfig()).ticket_status == "closed"


def test_a_calling_ticket_updated_with_a_call_still_wanted_retries_as_usual(box) -> None:
    store = box[0]
    send(box, payload(), "d-1")
    task = claim(store)
    call_id = store.start_call(task=task, phone="+15550100001", line="sim0", flow_version=1)
    assert send(box, payload(phone="+15550100055"), "d-2").decision == "call"
    ticket = store.ticket("T-1")
    assert ticket is not None
    store.record_conclusion(conclude(ticket, task, AttemptResult(Outcome.BUSY, cause=17), datetime.now(UTC),
                                     call_id=call_id, retry=RetryConfig()))
    assert store.task(task.id).state == "pending"  # type: ignore[union-attr]
    assert store.ticket("T-1").status == "open"  # type: ignore[union-attr]


# -- a ticket done with ---------------------------------------------------------------------------------------
def test_a_closed_ticket_resent_with_a_new_delivery_id_is_not_called_again(box) -> None:
    store = box[0]
    task = called_and_closed(box, payload(helpdesk_status="open"))
    again = send(box, payload(helpdesk_status="open", name="Ann B."), "d-2")
    assert again.decision == "skip" and again.change == "updated" and "has not reopened it" in again.reason
    ticket = store.ticket("T-1")
    assert ticket is not None and ticket.status == "closed" and ticket.customer_name == "Ann B."
    assert [t[0] for t in tasks(store)] == [task.id] and store.next_due_at() is None


def test_a_closed_ticket_reopened_at_the_helpdesk_gets_a_new_call(box) -> None:
    store = box[0]
    task = called_and_closed(box, payload(helpdesk_status="open"))
    assert send(box, payload(helpdesk_status="solved"), "d-2").decision == "skip"  # the box's close came back
    assert store.ticket("T-1").status == "closed"  # type: ignore[union-attr]
    back = send(box, payload(helpdesk_status="open"), "d-3")
    assert back.change == "reopened" and back.decision == "call" and "solved -> open" in back.reason
    assert back.task_id is not None and back.task_id != task.id
    assert store.ticket("T-1").status == "open"  # type: ignore[union-attr]
    assert send(box, payload(helpdesk_status="open"), "d-4").change == "updated"  # one live task still
    assert [t[1] for t in tasks(store)] == ["completed", "pending"]


def test_a_native_ticket_reopens_with_a_newer_updated_at_only(box) -> None:
    store = box[0]
    called_and_closed(box, payload(updated_at="2026-03-01T10:00:00Z"))
    same = send(box, payload(updated_at="2026-03-01T10:00:00Z"), "d-2")
    assert same.decision == "skip" and same.change == "updated"
    newer = send(box, payload(updated_at="2026-03-02T10:00:00Z"), "d-3")
    assert newer.change == "reopened" and newer.task_id is not None
    assert store.ticket("T-1").status == "open"  # type: ignore[union-attr]


def test_a_newer_version_that_the_rules_skip_does_not_reopen(box) -> None:
    called_and_closed(box, payload(updated_at="2026-03-01T10:00:00Z"))
    later = send(box, payload(status="delivered", updated_at="2026-03-02T10:00:00Z"), "d-2")
    assert later.decision == "skip" and later.change == "updated" and "the ticket is closed" in later.reason
    assert box[0].ticket("T-1").status == "closed"  # type: ignore[union-attr]


def test_a_skipped_ticket_never_called_is_called_once_the_rules_want_it(box) -> None:
    store = box[0]
    first = send(box, payload(status="processing"), "d-1")
    assert first.decision == "skip" and first.task_id is None
    shipped = send(box, payload(status="shipped"), "d-2")
    assert shipped.change == "reopened" and shipped.decision == "call" and shipped.task_id is not None
    assert store.ticket("T-1").status == "open"  # type: ignore[union-attr]
