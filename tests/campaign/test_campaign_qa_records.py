"""A call's automatic QA tags are written in the transaction that ends it (the power going at any statement leaves
neither the call's end nor its tags) and its upstream record carries them, as the documented schema says; the
turns keep their recognition confidence and margin; a box upgraded from before QA keeps its calls untagged."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
from killswitch import TICKET
from test_campaign_one_transaction import RETRY, claimed, kill_at_every_statement

from appliance.campaign.attempt import Outcome
from appliance.campaign.conclude import AttemptResult, conclude
from appliance.records.conclusion import Turn
from appliance.records.db import MIGRATIONS
from appliance.records.qa import QueueQuery
from appliance.records.store import RecordsStore
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


def test_the_tags_are_written_with_the_call_and_carried_by_its_upstream_record(tmp_path: Path) -> None:
    path = tmp_path / "callbox.db"
    store = RecordsStore(path, sync_calls=True)
    try:
        task = claimed(store)
        call_id = store.start_call(task=task, phone=TICKET.customer_phone, line="sim0", flow_version=1)
        store.mark_answered(call_id)
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
        task = claimed(store)
        call_id = store.start_call(task=task, phone=TICKET.customer_phone, line="sim0", flow_version=1)
        clean = AttemptResult(Outcome.COMPLETED, answered=True, disposition="confirmed", flow_ended=True,
                              turns=(Turn("bot", "Home?", node="greet"),
                                     Turn("customer", "yes", "confirm", 0.9, "greet", 900, "speech", 0.8, 1.0)))
        store.record_conclusion(conclude(TICKET, task, clean, datetime.now(UTC), call_id=call_id, retry=RETRY))
        assert tags(store) == []
        assert store.db.read(lambda c: upstream_record(c, call_id))["tags"] == []
    finally:
        store.close()


def test_a_box_from_before_qa_keeps_its_turns_and_calls_untagged(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    before = next(i for i, script in enumerate(MIGRATIONS) if isinstance(script, str) and "qa_tags" in script)
    conn = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:before], start=1):
        if isinstance(script, str):
            conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
        else:
            conn.execute("BEGIN")
            script(conn)
            conn.execute(f"PRAGMA user_version={number}")
            conn.execute("COMMIT")
    ts = "2026-01-01T10:00:00.000+00:00"
    conn.execute("INSERT INTO tickets (id, type, subject, description, customer_name, customer_phone, order_id,"
                 " order_status, payload, status, decision, reason, flow_id, received_at, updated_at)"
                 " VALUES ('A-1','delivery','parcel','','Ann','+15550100','o1','held','{}','closed','call','rule',"
                 "'m1',?,?)", (ts, ts))
    conn.execute("INSERT INTO tasks (id, ticket_id, flow_id, state, attempts, max_attempts, next_attempt_at,"
                 " created_at, updated_at) VALUES (1,'A-1','m1','completed',1,3,?,?,?)", (ts, ts, ts))
    conn.execute("INSERT INTO calls (id, task_id, ticket_id, phone, line, flow_id, flow_version, state, started_at,"
                 " ended_at) VALUES (5,1,'A-1','+15550100','l1','m1',1,'completed',?,?)", (ts, ts))
    conn.execute("INSERT INTO turns (call_id, seq, speaker, text, intent, confidence, node, at_ms, event)"
                 " VALUES (5,0,'customer','yes','confirm',0.9,'greet',100,'speech')")
    conn.close()
    upgraded = RecordsStore(path)
    try:
        assert upgraded.db.schema_version == len(MIGRATIONS)
        turn = upgraded.db.read(lambda c: dict(c.execute("SELECT asr_confidence, margin FROM turns").fetchone()))
        assert turn == {"asr_confidence": None, "margin": None}  # not known then
        assert upgraded.qa.tags(5) == [] and upgraded.qa.review(5) is None
        assert upgraded.qa.queue(QueueQuery())["total"] == 0
    finally:
        upgraded.close()
