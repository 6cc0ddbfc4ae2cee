"""A call's automatic QA tags are written in the transaction that ends it (the power going at any statement leaves
neither the call's end nor its tags) and its upstream record carries them, as the documented schema says; the
turns keep their recognition confidence and margin."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
from killswitch import TICKET
from test_campaign_one_transaction import RETRY, claimed, kill_at_every_statement

from appliance.campaign.attempt import Outcome
from appliance.campaign.conclude import AttemptResult, conclude
from appliance.records.conclusion import Turn
from appliance.records.store import RecordsStore, TaskRow
from appliance.records.upstream import upstream_record

SCHEMA = json.loads((Path(__file__).parents[2] / "docs/upstream/call-record.schema.json").read_text())
RECORD = {**SCHEMA["$defs"]["record"], "$defs": SCHEMA["$defs"]}

HUNG_UP = AttemptResult(
    Outcome.HUNG_UP, answered=True,
    turns=(Turn("bot", "Will someone be home?", node="greet", event="prompt"),
           Turn("customer", "no not tomorrow", "not_home", 0.25, "greet", 2100, "speech", 0.28, 0.9),
           Turn("bot", "When should we call you again?", node="ask_time", at_ms=2600, event="prompt")),
    flow_ended=False, strength={"score": 20, "grade": "D", "reasons": ["hung up"]})


def tags(store: RecordsStore) -> list[tuple[str, str, str]]:
    return store.db.read(lambda c: [(r["tag"], r["source"], r["note"]) for r in c.execute(
        "SELECT * FROM qa_tags ORDER BY id")])


def answered(store: RecordsStore) -> tuple[TaskRow, int]:
    task = claimed(store)
    call_id = store.start_call(task=task, phone=TICKET.customer_phone, line="sim0", flow_version=1)
    store.mark_answered(call_id)
    return task, call_id


def test_the_tags_are_written_with_the_call_and_carried_by_its_upstream_record(tmp_path: Path) -> None:
    path = tmp_path / "callbox.db"
    store = RecordsStore(path, sync_calls=True)
    try:
        task, call_id = answered(store)
        conclusion = conclude(TICKET, task, HUNG_UP, datetime.now(UTC), call_id=call_id, retry=RETRY)
        kill_at_every_statement(store, path, lambda: store.record_conclusion(conclusion))
        assert tags(store) == [
            ("asr_error", "auto", "turn 2 'no not tomorrow' heard with confidence 0.28 < 0.45"),
            ("hung_up_mid_flow", "auto", "the customer hung up at ask_time before the flow ended")]
        (row,) = store.db.read(lambda c: c.execute(
            "SELECT payload FROM outbox WHERE target='upstream'").fetchall())
        record = json.loads(row["payload"])
        jsonschema.validate(record, RECORD)
        assert [(t["tag"], t["source"]) for t in record["tags"]] == [("asr_error", "auto"),
                                                                     ("hung_up_mid_flow", "auto")]
        assert record["tags"][0]["note"].startswith("turn 2 'no not tomorrow'")
        stored = store.db.read(lambda c: c.execute(
            "SELECT asr_confidence, margin FROM turns WHERE call_id=? AND speaker='customer'", (call_id,)).fetchone())
        assert (stored["asr_confidence"], stored["margin"]) == (0.28, 0.9)
        # a tag added afterwards is the call's too (a record built now carries it)
        assert store.qa.add(call_id, "rude_customer", "shouted at the bot", "ann") is not None
        rebuilt = store.db.read(lambda c: upstream_record(c, call_id))
        assert rebuilt["tags"][-1] == {"tag": "rude_customer", "source": "manual", "note": "shouted at the bot"}
        jsonschema.validate(rebuilt, RECORD)
    finally:
        store.close()


def test_a_call_without_tags_writes_none(tmp_path: Path) -> None:
    store = RecordsStore(tmp_path / "callbox.db", sync_calls=True)
    try:
        task, call_id = answered(store)
        clean = AttemptResult(Outcome.COMPLETED, answered=True, disposition="confirmed", flow_ended=True,
                              turns=(Turn("bot", "Home?", node="greet"),
                                     Turn("customer", "yes", "confirm", 0.9, "greet", 900, "speech", 0.8, 1.0)))
        store.record_conclusion(conclude(TICKET, task, clean, datetime.now(UTC), call_id=call_id, retry=RETRY))
        assert tags(store) == []
        assert store.db.read(lambda c: upstream_record(c, call_id))["tags"] == []
    finally:
        store.close()
