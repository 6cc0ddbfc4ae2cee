"""With [upstream] on, a finished call's record is queued in the very transaction that records the call: the
power going at any statement leaves neither the call's end nor its record; start-up recovery queues one too."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from killswitch import TICKET
from test_campaign_one_transaction import RETRY, claimed, everything, kill_at_every_statement

from appliance.campaign.scheduler import recover_at_startup
from appliance.records.store import RecordsStore


def upstream(store: RecordsStore) -> list[dict]:
    return store.db.read(lambda c: [json.loads(r["payload"]) for r in c.execute(
        "SELECT payload FROM outbox WHERE target='upstream' ORDER BY id")])


def test_the_record_is_part_of_the_conclusion_transaction(tmp_path: Path) -> None:
    db_path = tmp_path / "callbox.db"
    store = RecordsStore(db_path, sync_calls=True)
    try:
        task = claimed(store)
        call_id = store.start_call(task=task, phone=TICKET.customer_phone, line="sim0", flow_version=1)
        store.mark_answered(call_id)
        with_record = kill_at_every_statement(store, db_path, lambda: store.record_conclusion(everything(call_id,
                                                                                                         task)))
        (record,) = upstream(store)
        assert record["call_id"] == call_id and record["outcome"] == "completed"
        assert record["disposition"] == "call_later" and record["intent"] == "later"
        assert [t["text"] for t in record["turns"]] == ["Hello", "later please"]
    finally:
        store.close()
    plain = RecordsStore(tmp_path / "plain.db")
    try:
        task = claimed(plain)
        call_id = plain.start_call(task=task, phone=TICKET.customer_phone, line="sim0", flow_version=1)
        plain.mark_answered(call_id)
        without = kill_at_every_statement(plain, tmp_path / "plain.db",
                                          lambda: plain.record_conclusion(everything(call_id, task)))
        assert upstream(plain) == []
    finally:
        plain.close()
    assert with_record > without  # the record's reads and its outbox row ran inside the same transaction


def test_a_call_a_crash_cut_short_is_queued_when_recovery_ends_it(tmp_path: Path) -> None:
    store = RecordsStore(tmp_path / "callbox.db", sync_calls=True)
    try:
        task = claimed(store)
        call_id = store.start_call(task=task, phone=TICKET.customer_phone, line="sim0", flow_version=1)
        assert recover_at_startup(store, datetime.now(UTC), retry=RETRY) == 1
        (record,) = upstream(store)
        assert record["call_id"] == call_id and record["outcome"] == "interrupted" and record["turns"] == []
    finally:
        store.close()
