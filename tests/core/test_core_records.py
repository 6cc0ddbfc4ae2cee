from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from old_schema import schema_at

from appliance.errors import StorageError
from appliance.records.conclusion import CallEnd, Conclusion, TaskEnd
from appliance.records.config_store import ConfigStore
from appliance.records.db import MIGRATIONS
from appliance.records.phones import PhoneNumberInvalid
from appliance.records.store import RecordsStore, Ticket, Turn

FIELDS = {
    "id": "T1",
    "type": "delivery",
    "subject": "s",
    "description": "d",
    "customer_name": "Ann",
    "customer_phone": "+15550001",
    "order_id": "o1",
    "order_status": "shipped",
}


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = RecordsStore(tmp_path / "callbox.db")
    yield s
    s.close()


def submit(store: RecordsStore, msg: str = "m1", **over: str):  # type: ignore[no-untyped-def]
    return store.submit_ticket(
        Ticket(**{**FIELDS, **over}, payload={"raw": True}),
        webhook_id=msg,
        decision="call",
        reason="rule",
        flow_id="delivery-confirmation",
        max_attempts=3,
    )


def test_schema_is_migrated_wal_and_indexed(store: RecordsStore, tmp_path: Path) -> None:
    assert store.db.schema_version == len(MIGRATIONS)
    conn = sqlite3.connect(tmp_path / "callbox.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"calls_phone_time", "tickets_phone", "calls_time", "tasks_one_live", "tasks_call_task",
            "outbox_target_pending", "outbox_target_order"} <= indexes


def test_a_box_on_schema_1_upgrades_in_place_and_keeps_its_records(tmp_path: Path) -> None:
    """A box updated in the field: its first-version database gains the do-not-call table, nothing is lost."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(f"BEGIN;\n{MIGRATIONS[0]}\nPRAGMA user_version=1;\nCOMMIT;")
    conn.execute("INSERT INTO users VALUES ('admin', 'hash', '2026-01-01T00:00:00+00:00')")
    conn.commit()
    conn.close()
    upgraded = RecordsStore(path)
    try:
        assert upgraded.db.schema_version == len(MIGRATIONS)
        assert upgraded.password_hash("admin") == "hash"
        upgraded.do_not_call.add("+15550199", "test")
        assert upgraded.do_not_call.entry("+15550199") is not None
    finally:
        upgraded.close()


def test_migration_5_stores_the_numbers_already_there_in_e164(tmp_path: Path) -> None:
    """A box on schema 4 listed one French number twice, in two forms, and a national one: the upgrade keeps one
    entry per number (the earlier), in E.164; the national form waits for the shop's country, then joins."""
    path = tmp_path / "v4.db"
    conn = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:4], start=1):
        assert isinstance(script, str)
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
    rows = [("0033 6 12 34 56 78", "2026-01-01T00:00:00+00:00"), ("+33612345678", "2026-02-01T00:00:00+00:00"),
            ("06.98.76.54.32", "2026-03-01T00:00:00+00:00"), ("not a number", "2026-03-02T00:00:00+00:00")]
    conn.executemany("INSERT INTO do_not_call(phone, added_at, reason) VALUES (?,?,'asked')", rows)
    conn.commit()
    conn.close()
    upgraded = RecordsStore(path)
    try:
        phones = {e.phone: e.added_at[:7] for e in upgraded.do_not_call.entries()}
        assert phones == {"+33612345678": "2026-01", "06.98.76.54.32": "2026-03", "not a number": "2026-03"}
    finally:
        upgraded.close()
    in_france = RecordsStore(path, phone_region="FR")
    try:
        assert in_france.do_not_call.entry("0698765432") is not None  # national and E.164 are one number
        assert in_france.do_not_call.entry("+33 6 98 76 54 32") is not None
        assert {e.phone for e in in_france.do_not_call.entries()} == {"+33612345678", "+33698765432",
                                                                       "not a number"}
    finally:
        in_france.close()


def test_do_not_call_compares_numbers_in_e164(store: RecordsStore) -> None:
    assert store.do_not_call.add("0044 20 7946 0958", "asked") == "+442079460958"
    assert store.do_not_call.entry("+44 (20) 7946-0958") is not None
    assert store.do_not_call.entry("call me maybe") is None  # not a number: on no list, nothing raised
    with pytest.raises(PhoneNumberInvalid):
        store.do_not_call.add("020 7946 0958", "no country given")
    assert [e.phone for e in store.do_not_call.entries()] == ["+442079460958"]
    assert store.do_not_call.remove("00442079460958") and store.do_not_call.entries() == []


def test_ticket_is_committed_before_submit_returns_and_is_idempotent(store: RecordsStore, tmp_path: Path) -> None:
    sub = submit(store)
    # a separate connection (another process, after a power cut) sees it at once
    row = sqlite3.connect(tmp_path / "callbox.db").execute("SELECT status FROM tickets WHERE id='T1'").fetchone()
    assert row == ("open",) and sub.task_id is not None and not sub.duplicate
    again = submit(store)
    assert again.duplicate and again.task_id == sub.task_id
    tasks = sqlite3.connect(tmp_path / "callbox.db").execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
    assert tasks == 1


def test_a_tickets_vars_are_stored_with_it_and_reach_its_flow_variables(store: RecordsStore) -> None:
    store.submit_ticket(Ticket(**FIELDS, payload={}), webhook_id="m1", decision="skip", reason="r", flow_id=None,
                        max_attempts=3)
    assert store.ticket("T1").vars == {}  # type: ignore[union-attr]
    # delivered again, now with vars: the stored ticket takes them
    store.submit_ticket(Ticket(**FIELDS, payload={"raw": True}, vars={"due_date": "1 December", "amount": "40 €"}),
                        webhook_id="m2", decision="call", reason="rule", flow_id="payment-reminder", max_attempts=3)
    ticket = store.ticket("T1")
    assert ticket is not None and ticket.vars == {"due_date": "1 December", "amount": "40 €"}
    assert ticket.variables("Corner Shop") == {"due_date": "1 December", "amount": "40 €", "name": "Ann",
                                               "order_id": "o1", "order_status": "shipped", "shop": "Corner Shop",
                                               "subject": "s"}


def test_a_failed_transaction_changes_nothing(store: RecordsStore) -> None:
    def boom(c: sqlite3.Connection) -> None:
        c.execute("INSERT INTO users VALUES ('x','y','z')")
        raise sqlite3.IntegrityError("forced")

    with pytest.raises(StorageError):
        store.db.write(boom)
    assert store.password_hash("x") is None


def test_claim_is_exclusive_across_threads(store: RecordsStore) -> None:
    for i in range(20):
        submit(store, f"m{i}", id=f"T{i}", customer_phone=f"+155500{i:02d}")  # one number each: none waits
    got: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        while (task := store.claim_due_task(datetime.now(UTC))) is not None:
            with lock:
                got.append(task.id)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(got) == sorted(set(got)) and len(got) == 20


def test_future_task_is_not_due_and_restart_finds_the_running_one(store: RecordsStore) -> None:
    submit(store)
    task = store.claim_due_task(datetime.now(UTC))
    assert task is not None and task.attempts == 1
    assert store.claim_due_task(datetime.now(UTC)) is None
    seen: list[int] = []
    assert store.recover_in_flight(lambda found: seen.extend(f.task.id for f in found) or []) == 1
    assert seen == [task.id]
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    store.record_conclusion(Conclusion(TaskEnd(task.id, "pending", "busy", later), "T1"))
    assert store.claim_due_task(datetime.now(UTC)) is None
    assert store.claim_due_task(datetime.now(UTC) + timedelta(hours=2)) is not None


def test_finished_call_has_turns_operations_and_outbox(store: RecordsStore) -> None:
    submit(store)
    task = store.claim_due_task(datetime.now(UTC))
    assert task is not None
    call = store.start_call(task=task, phone="+15550001", line="sim0", flow_version=2)
    store.mark_answered(call)
    store.record_conclusion(Conclusion(
        TaskEnd(task.id, "completed", "completed"),
        "T1",
        call_id=call,
        call=CallEnd("completed", 16, "confirmed", "done",
                     (Turn("bot", "Hello"), Turn("customer", "yes", "confirm", 0.9, "greet", 5100))),
        operations=(("remark", "done"), ("close", "closed")),
        outbox=(("ticket.operation", {"op": "close"}),),
        ticket_status="closed",
    ))
    c = store.call(call)
    assert c is not None and c["flow_version"] == 2 and c["disposition"] == "confirmed"
    assert [t["speaker"] for t in c["turns"]] == ["bot", "customer"] and c["turns"][1]["at_ms"] == 5100
    assert [o["kind"] for o in store.operations("T1")] == ["remark", "close"]
    due = store.outbox_due(datetime.now(UTC) + timedelta(seconds=1))
    assert json.loads(due[0]["payload"]) == {"op": "close"}


def test_config_store_versions_are_immutable_and_file_is_always_whole(tmp_path: Path) -> None:
    cs = ConfigStore(tmp_path / "config.json")
    assert cs.publish_flow({"id": "f", "nodes": 1}) == 1
    assert cs.publish_flow({"id": "f", "nodes": 1}) == 1
    assert cs.publish_flow({"id": "f", "nodes": 2}) == 2
    assert cs.flow("f", 1) == (1, {"id": "f", "nodes": 1})
    assert cs.flow("f") == (2, {"id": "f", "nodes": 2})
    cs.set_decisions(rules=[{"name": "a"}, {"name": "b"}], scenarios=[{"name": "s"}])
    assert [r["name"] for r in cs.decisions()["rules"]] == ["a", "b"]  # type: ignore[index]
    json.loads((tmp_path / "config.json").read_text())  # valid JSON on disk
    assert not list(tmp_path.glob(".config.json.*"))  # no temp files left behind
    cs.close()
    (tmp_path / "config.json").write_text("{half")
    with pytest.raises(StorageError):
        ConfigStore(tmp_path / "config.json").flow("f")


def test_migration_8_numbers_the_calls_made_before_it_within_their_task(tmp_path: Path) -> None:
    """Calls written on schema 7 had no attempt number: the upgrade numbers them by order within their task,
    and a call started after it takes its task's count."""
    path = tmp_path / "v7.db"
    conn = schema_at(path, 7)
    ts = "2026-01-01T10:00:00+00:00"
    conn.execute("INSERT INTO tickets (id, type, subject, description, customer_name, customer_phone, order_id,"
                 " order_status, payload, status, decision, reason, flow_id, received_at, updated_at)"
                 " VALUES ('A-1','delivery','parcel','','Ann','+15550100','o1','held','{}','calling','call','rule',"
                 "'m1',?,?)", (ts, ts))
    conn.execute("INSERT INTO tasks (id, ticket_id, flow_id, state, attempts, max_attempts, next_attempt_at,"
                 " created_at, updated_at) VALUES (1,'A-1','m1','pending',0,3,?,?,?)", (ts, ts, ts))
    ids = [conn.execute("INSERT INTO calls (task_id, ticket_id, phone, line, flow_id, flow_version, state,"
                        " started_at, ended_at) VALUES (1,'A-1','+15550100','l1','m1',1,'no_answer',?,?)",
                        (ts, ts)).lastrowid
           for _ in range(3)]
    conn.close()
    upgraded = RecordsStore(path)
    try:
        assert upgraded.db.schema_version == len(MIGRATIONS)
        assert [upgraded.call(i)["attempt"] for i in ids] == [1, 2, 3]  # type: ignore[index]
        assert upgraded.call(ids[0])["max_attempts"] == 3  # type: ignore[index]
        task = upgraded.claim_due_task(datetime.now(UTC) + timedelta(seconds=1))
        assert task is not None and task.id == 1
        fresh = upgraded.start_call(task=task, phone="+15550100", line="l1", flow_version=1)
        assert upgraded.call(fresh)["attempt"] == task.attempts  # type: ignore[index]  # the task's own count
    finally:
        upgraded.close()
