"""Recordings that never fill the disk, on a real SQLite file and real WAV files in a temp dir: retention in days,
the quota oldest first, the free-space floor (the disk's free space injected), the law's minimum, a power cut
between marking and removing, the owner's range delete, the migration that indexes recordings already on disk,
and the [recordings] configuration."""

from __future__ import annotations

import os
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from old_schema import schema_at
from recorded_calls import FRAME, NOW, record

from appliance.campaign.compliance import PRESETS
from appliance.config import MIN_RECORDS_DAYS, RecordingsConfig, parse_config
from appliance.errors import ConfigError
from appliance.records.db import MIGRATIONS
from appliance.records.recordings import index_recordings, one_channel
from appliance.records.retention import MB, Retention, RetentionPolicy, Selection
from appliance.records.store import RecordsStore, iso


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = RecordsStore(tmp_path / "callbox.db")
    yield s
    s.close()


def row(store: RecordsStore, call_id: int) -> sqlite3.Row:
    found = store.db.read(lambda c: c.execute(
        "SELECT recording, recording_bytes, recording_deleted_at, recording_deleted_why FROM calls WHERE id=?",
        (call_id,)).fetchone())
    assert found is not None
    return found


def files(root: Path) -> dict[str, int]:
    """Every file under ``root`` -> its size, as the disk has them."""
    return {f.name: f.stat().st_size for f in root.rglob("*") if f.is_file()}


def retention(store: RecordsStore, root: Path, **policy: int) -> Retention:
    return Retention(store.db, root, RetentionPolicy(**{"retention_days": 0, "quota_bytes": 0,
                                                        "min_free_bytes": 0, **policy}), clock=lambda: NOW)


def test_the_conclusion_writes_the_recordings_size(store: RecordsStore, tmp_path: Path) -> None:
    call_id = record(store, tmp_path / "rec", 1, days_ago=0, frames=10)
    path = Path(row(store, call_id)["recording"])
    assert row(store, call_id)["recording_bytes"] == path.stat().st_size == 44 + 10 * FRAME * 4


def test_retention_deletes_exactly_the_recordings_older_than_its_days(store: RecordsStore, tmp_path: Path) -> None:
    root = tmp_path / "rec"
    ages = {1: 1, 2: 10, 3: 89.9, 4: 90.1, 5: 200}
    ids = {n: record(store, root, n, days_ago=age) for n, age in ages.items()}
    on_line = record(store, root, 6, days_ago=300, end=False)  # a call in progress is never touched
    report = retention(store, root, retention_days=90).prune()
    assert report.marked == {"retention": 2, "quota": 0, "disk": 0} and report.removed == 2
    assert set(files(root)) == {f"{ids[n]}.wav" for n in (1, 2, 3)} | {f"{on_line}.wav"}
    for n in (4, 5):
        gone = row(store, ids[n])
        assert gone["recording"] is None and gone["recording_deleted_why"] == "retention"
        assert gone["recording_deleted_at"] == iso(NOW)
    for n in (1, 2, 3):
        assert row(store, ids[n])["recording_deleted_at"] is None and row(store, ids[n])["recording"]
    assert row(store, on_line)["recording_deleted_at"] is None
    assert not (root / "+15550100004").exists()  # the emptied phone and day folders went with the files
    assert retention(store, root, retention_days=90).prune().marked["retention"] == 0  # a second pass: nothing


def test_the_quota_deletes_the_oldest_first_and_keeps_the_disk_under_it(store: RecordsStore, tmp_path: Path) -> None:
    root = tmp_path / "rec"
    ids = [record(store, root, n, days_ago=20 - n, frames=100) for n in range(10)]  # 64,044 bytes each, oldest first
    quota = 300_000
    assert sum(files(root).values()) > quota
    report = retention(store, root, quota_bytes=quota).prune()
    on_disk = files(root)
    assert sum(on_disk.values()) <= quota and report.room.used_bytes == sum(on_disk.values())
    assert set(on_disk) == {f"{i}.wav" for i in ids[-4:]}  # the four newest fit: 256,176 bytes
    assert [row(store, i)["recording_deleted_why"] for i in ids[:6]] == ["quota"] * 6
    assert report.marked["quota"] == 6 and report.freed_bytes == 6 * 64_044


def test_the_disk_rule_deletes_the_oldest_until_the_floor_is_free(store: RecordsStore, tmp_path: Path) -> None:
    root = tmp_path / "rec"
    ids = [record(store, root, n, days_ago=20 - n, frames=100) for n in range(6)]
    capacity = 500_000  # a small disk that holds these files and nothing else

    def free() -> int:
        return capacity - sum(files(root).values())

    assert free() == 500_000 - 6 * 64_044
    keeper = Retention(store.db, root, RetentionPolicy(retention_days=0, quota_bytes=0, min_free_bytes=300_000),
                       free_bytes=free, clock=lambda: NOW)
    room = keeper.ensure_room()  # what a call's guard asks: below the floor, so a pass first
    assert free() >= 300_000 and room.ok and room.free_bytes == free()
    assert [row(store, i)["recording_deleted_why"] for i in ids] == ["disk"] * 3 + [None] * 3
    assert set(files(root)) == {f"{i}.wav" for i in ids[3:]}


def test_the_laws_minimum_holds_against_the_quota_and_then_calls_wait(store: RecordsStore, tmp_path: Path) -> None:
    root = tmp_path / "rec"
    old = record(store, root, 1, days_ago=45, frames=100)
    young = [record(store, root, n, days_ago=29 - n, frames=100) for n in (2, 3)]
    keeper = Retention(store.db, root, RetentionPolicy(retention_days=0, quota_bytes=1, min_free_bytes=10 * MB,
                                                       keep_days=30), free_bytes=lambda: 5 * MB, clock=lambda: NOW)
    room = keeper.ensure_room()
    assert row(store, old)["recording_deleted_why"] == "quota"  # older than the law's 30 days: it may go
    assert all(row(store, i)["recording_deleted_at"] is None for i in young)
    assert not room.ok and room.why == "no room for recordings: 5 MB free, 10 MB needed; calls wait"
    assert keeper.last_room == room and room.as_dict()["why"] == room.why


def test_a_power_cut_between_mark_and_remove_is_finished_by_the_next_pass(store: RecordsStore,
                                                                          tmp_path: Path) -> None:
    root = tmp_path / "rec"
    ids = [record(store, root, n, days_ago=100 + n) for n in range(3)]
    assert retention(store, root, retention_days=90).mark() == {"retention": 3, "quota": 0, "disk": 0}
    assert len(files(root)) == 3  # marked, the files still there: the box went down here
    assert all(row(store, i)["recording"] for i in ids)
    after = retention(store, root, retention_days=90).prune()  # the next start's pass
    assert after.marked == {"retention": 0, "quota": 0, "disk": 0} and after.removed == 3
    assert files(root) == {} and all(row(store, i)["recording"] is None for i in ids)
    assert [row(store, i)["recording_deleted_why"] for i in ids] == ["retention"] * 3


def test_the_owner_deletes_a_range_of_one_customer(store: RecordsStore, tmp_path: Path) -> None:
    root = tmp_path / "rec"
    ann = [record(store, root, n, days_ago=days, phone="+15550109999") for n, days in ((1, 50), (2, 40), (3, 10))]
    other = record(store, root, 4, days_ago=45)
    on_line = record(store, root, 5, days_ago=42, phone="+15550109999", end=False)
    keeper = retention(store, root, keep_days=30)
    listed, total, size = keeper.find(Selection(phone="+15550109999"), limit=10)
    assert [r["id"] for r in listed] == [ann[2], ann[1], ann[0]] and total == 3  # newest first, the live one not
    assert size == sum(row(store, i)["recording_bytes"] for i in ann)
    done = keeper.delete(Selection(phone="+15550109999", since=NOW - timedelta(days=60)))
    assert done.as_dict() == {"deleted": 2, "freed_bytes": 2 * row(store, ann[0])["recording_bytes"],
                              "kept_by_law": 1, "in_progress": 1}
    assert [row(store, i)["recording_deleted_why"] for i in ann] == ["owner", "owner", None]
    assert set(files(root)) == {f"{ann[2]}.wav", f"{other}.wav", f"{on_line}.wav"}
    assert keeper.kept_file(ann[0]) is None and keeper.kept_file(ann[2]) is not None
    assert keeper.kept_file(on_line) is None  # not while it is being written


def test_one_side_of_a_recording_is_a_mono_wav(store: RecordsStore, tmp_path: Path) -> None:
    import io
    import wave

    call_id = record(store, tmp_path / "rec", 7, days_ago=0, frames=3)
    path = Path(row(store, call_id)["recording"])
    for channel, value in (("customer", 7), ("bot", -7)):
        with wave.open(io.BytesIO(one_channel(path, channel))) as mono:
            assert (mono.getnchannels(), mono.getframerate(), mono.getnframes()) == (1, 8000, 3 * FRAME)
            assert mono.readframes(1) == int(value).to_bytes(2, "little", signed=True)


def test_the_migration_indexes_the_recordings_already_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    step = MIGRATIONS.index(index_recordings)
    conn = schema_at(path, step)
    ts = "2026-01-01T10:00:00.000+00:00"
    conn.execute("INSERT INTO tickets (id, type, subject, description, customer_name, customer_phone, order_id,"
                 " order_status, payload, status, decision, reason, flow_id, received_at, updated_at)"
                 " VALUES ('A-1','delivery','p','','Ann','+15550100','o1','held','{}','closed','call','r','f',?,?)",
                 (ts, ts))
    conn.execute("INSERT INTO tasks (id, ticket_id, flow_id, state, attempts, max_attempts, next_attempt_at,"
                 " created_at, updated_at) VALUES (1,'A-1','f','completed',2,3,?,?,?)", (ts, ts, ts))
    kept = tmp_path / "rec" / "1.wav"
    kept.parent.mkdir()
    kept.write_bytes(b"RIFF" + b"\0" * 996)
    for recording in (str(kept), str(tmp_path / "rec" / "gone.wav"), None):
        conn.execute("INSERT INTO calls (task_id, ticket_id, phone, line, flow_id, flow_version, state, started_at,"
                     " ended_at, recording) VALUES (1,'A-1','+15550100','l1','f',1,'completed',?,?,?)",
                     (ts, ts, recording))
    conn.close()
    upgraded = RecordsStore(path)
    try:
        assert upgraded.db.schema_version == len(MIGRATIONS)
        found = [tuple(row(upgraded, i)) for i in (1, 2, 3)]
        assert found[0] == (str(kept), 1000, None, None)
        assert found[1][0] is None and found[1][1] == 0 and found[1][2] and found[1][3] == "missing"
        assert found[2] == (None, None, None, None)
        plan = upgraded.db.read(lambda c: " ".join(r[3] for r in c.execute(
            "EXPLAIN QUERY PLAN SELECT COALESCE(SUM(recording_bytes), 0) FROM calls"
            " WHERE recording IS NOT NULL AND recording_deleted_at IS NULL")))
        assert "calls_recordings_kept" in plan  # the disk-use figure reads the index, not the table
    finally:
        upgraded.close()


# -- configuration -----------------------------------------------------------------------------------------------
def test_the_recordings_config_defaults_and_its_errors() -> None:
    assert parse_config({}).recordings == RecordingsConfig(retention_days=90, quota_mb=2048, min_free_mb=200)
    for days in (30, 0):  # the law's minimum itself, and no age limit (the quota never goes below it either)
        cn = parse_config({"calling": {"preset": "cn"}, "recordings": {"retention_days": days}})
        assert cn.recordings.retention_days == days
    with pytest.raises(ConfigError, match=r"recordings\.retention_days: must be at least 30: the calling preset "
                                          r"'cn' keeps call records 30 days by law"):
        parse_config({"calling": {"preset": "cn"}, "recordings": {"retention_days": 29}})
    with pytest.raises(ConfigError, match=r"recordings\.keep_for: unknown key"):
        parse_config({"recordings": {"keep_for": 3}})
    with pytest.raises(ConfigError, match=r"recordings\.quota_mb: must be 0 or more"):
        parse_config({"recordings": {"quota_mb": -1}})
    with pytest.raises(ConfigError, match=r"recordings\.min_free_mb: must be int, not str"):
        parse_config({"recordings": {"min_free_mb": "200"}})


def test_the_presets_legal_minimum_is_the_configs() -> None:
    assert {name: p.keep_records_days for name, p in PRESETS.items() if p.keep_records_days} == MIN_RECORDS_DAYS


def test_a_file_outside_the_recordings_folder_is_never_removed(store: RecordsStore, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    call_id = record(store, elsewhere, 1, days_ago=100)
    report = retention(store, tmp_path / "rec", retention_days=90).prune()
    assert report.marked["retention"] == 1 and report.removed == 0
    assert len(files(elsewhere)) == 1 and row(store, call_id)["recording"] is None
    assert os.path.exists(next(elsewhere.rglob("*.wav")))
