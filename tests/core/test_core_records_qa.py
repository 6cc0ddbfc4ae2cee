"""A box upgraded from before QA (the migration that adds QA's tables and turn columns): its turns and calls are
kept, the new turn columns are NULL (not known then), and its calls carry no tag and wait in no review queue."""

from __future__ import annotations

from pathlib import Path

from old_schema import schema_at

from appliance.records.db import MIGRATIONS
from appliance.records.qa import QueueQuery
from appliance.records.store import RecordsStore


def test_a_box_from_before_qa_keeps_its_turns_and_calls_untagged(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    before = next(i for i, script in enumerate(MIGRATIONS) if isinstance(script, str) and "qa_tags" in script)
    conn = schema_at(path, before)
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
        turn = upgraded.db.read(lambda c: dict(c.execute(
            "SELECT text, confidence, asr_confidence, margin FROM turns").fetchone()))
        assert turn == {"text": "yes", "confidence": 0.9, "asr_confidence": None, "margin": None}
        assert upgraded.qa.tags(5) == [] and upgraded.qa.review(5) is None
        assert upgraded.qa.queue(QueueQuery())["total"] == 0
        assert upgraded.qa.add(5, "checked_later", "", "ann") is not None  # a reviewer may still tag it
        assert upgraded.qa.queue(QueueQuery())["total"] == 1
    finally:
        upgraded.close()
