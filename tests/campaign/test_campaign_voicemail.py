"""A message left on an answering machine: the attempt stays ``machine`` (retried per the retry table), the call
row says ``voicemail_left`` and the remark quotes the message; the store counts the messages left per ticket, so
a retry leaves no second one (the runner asks ``voicemails_left``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from killswitch import TICKET

from appliance.campaign.attempt import Outcome
from appliance.campaign.conclude import AttemptResult, conclude
from appliance.config import RetryConfig
from appliance.dialog.runtime.engine import VOICEMAIL_LEFT
from appliance.records.conclusion import Turn
from appliance.records.history import VOICEMAIL_DISPOSITION
from appliance.records.store import RecordsStore, TaskRow, iso

NOW = datetime(2026, 11, 24, 14, 35, tzinfo=UTC)
MESSAGE = "Hello Ann, this is Corner Shop about order A-1. Please call us back."


def machine(left: bool) -> AttemptResult:
    # a beep during the bot's first prompt stopped it; the message followed
    turns = (Turn("bot", "Hello, this is Corner Shop.", node="greet"), Turn("bot", MESSAGE, node="leave_message")) \
        if left else ()
    return AttemptResult(Outcome.MACHINE, answered=True, answered_by="machine", screen_why="a beep after the greeting",
                         screen_ms=5200, turns=turns, disposition=VOICEMAIL_LEFT if left else None,
                         voicemail_left=left)


def claimed(store: RecordsStore) -> TaskRow:
    store.submit_ticket(TICKET, webhook_id="m1", decision="call", reason="rule", flow_id="delivery", max_attempts=3)
    task = store.claim_due_task(datetime.now(UTC))
    assert task is not None
    return task


def test_the_flow_and_the_store_name_the_disposition_alike() -> None:
    assert VOICEMAIL_LEFT == VOICEMAIL_DISPOSITION == "voicemail_left"


def test_a_message_left_is_a_machine_retried_later_whose_remark_quotes_it() -> None:
    task = TaskRow(7, "T1", "delivery", "running", 1, 3, iso(NOW))
    c = conclude(TICKET, task, machine(True), NOW, call_id=3, retry=RetryConfig(machine=5400))
    assert c.call is not None and c.call.outcome == "machine" and c.call.disposition == "voicemail_left"
    assert c.ticket_status == "open" and c.next_call_at == iso(NOW + timedelta(seconds=5400))
    (kind, remark), = c.operations
    assert kind == "remark" and f"left the flow's message: '{MESSAGE}'" in remark and "no message" not in remark
    assert c.outbox[0][1]["disposition"] == "voicemail_left" and c.extra["disposition"] == "voicemail_left"
    none = conclude(TICKET, task, machine(False), NOW, call_id=3, retry=RetryConfig(machine=5400))
    assert none.call is not None and none.call.disposition is None and "no message left" in none.operations[0][1]
    assert "disposition" not in none.outbox[0][1]


def test_the_store_counts_the_messages_left_for_a_ticket(store: RecordsStore) -> None:
    task = claimed(store)
    assert store.voicemails_left(TICKET.id) == 0
    first = store.start_call(task=task, phone=TICKET.customer_phone, line="sim0", flow_version=1)
    store.record_conclusion(conclude(TICKET, task, machine(False), NOW, call_id=first, retry=RetryConfig()))
    assert store.voicemails_left(TICKET.id) == 0  # a machine without a message does not count
    second = store.start_call(task=task, phone=TICKET.customer_phone, line="sim0", flow_version=1)
    store.record_conclusion(conclude(TICKET, task, machine(True), NOW, call_id=second, retry=RetryConfig()))
    assert store.voicemails_left(TICKET.id) == 1
    assert store.voicemails_left("another-ticket") == 0
    (row,) = [c for c in store.calls(ticket_id=TICKET.id) if c["id"] == second]
    assert row["disposition"] == "voicemail_left" and row["outcome"] == "machine"
