"""The Statistics page's running totals (appliance.records.rollup) against counting the calls themselves
(appliance.records.stats) on the twelve hand-counted calls of ``tests/stats_seed.py``, which are written through
the store's conclusion and then moved in time by an UPDATE: the triggers follow both."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from stats_seed import BERLIN, seed_calls

from appliance.records.db import MIGRATIONS
from appliance.records.rollup import TABLES, TRIGGERS, add_stats_rollup, figures, grouped
from appliance.records.stats import CallFilter, StatsQuery, stats
from appliance.records.store import RecordsStore


@pytest.fixture
def seeded(store: RecordsStore) -> tuple[RecordsStore, dict[str, int]]:
    return store, seed_calls(store)


def local(text: str, zone: ZoneInfo = BERLIN) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def counted(store: RecordsStore, calls: CallFilter, zone: ZoneInfo = BERLIN) -> dict[str, Any]:
    """What counting every call says: the day grouping's total and groups, the hour grouping's groups."""
    day = store.stats(StatsQuery(group_by="day", calls=calls), zone)
    hour = store.stats(StatsQuery(group_by="hour", calls=calls), zone)
    return {"total": day["total"], "days": {g["key"]: (g["calls"], g["connected"]) for g in day["groups"]},
            "hours": {g["key"]: (g["calls"], g["connect_rate"]) for g in hour["groups"]}}


def shown(store: RecordsStore, calls: CallFilter, zone: ZoneInfo = BERLIN) -> dict[str, Any]:
    found = store.stats_figures(calls, zone)
    return {"total": found["by_day"]["total"],
            "days": {g["key"]: (g["calls"], g["connected"]) for g in found["by_day"]["groups"]},
            "hours": {g["key"]: (g["calls"], g["connect_rate"]) for g in found["by_hour"]["groups"]}}


def test_the_page_figures_are_the_hand_count(seeded: tuple[RecordsStore, dict[str, int]]) -> None:
    store, _ = seeded
    figures = shown(store, CallFilter())
    assert (figures["total"]["calls"], figures["total"]["answered"], figures["total"]["connected"]) == (12, 8, 7)
    assert figures["total"]["intents"] == {"confirm": 4, "later": 1, "stop": 1}
    # #7 at 00:30 on the 21st in Berlin is 23:30 UTC on the 20th: the shop's day, not UTC's
    assert figures["days"] == {"2026-11-20": (6, 3), "2026-11-21": (6, 4)}  # #6 is a machine
    assert figures["hours"][0] == (1, 1.0) and figures["hours"][9] == (4, 0.5)  # #1 #2 #8 #9


@pytest.mark.parametrize("filters", [
    {},
    {"since": "2026-11-20T00:00", "until": "2026-11-22T00:00"},  # the page's days: UTC days and ragged hours
    {"since": "2026-11-21T00:00"},
    {"until": "2026-11-21T00:00"},
    {"since": "2026-11-21T09:00", "until": "2026-11-21T15:00"},  # less than a UTC day: counted from the calls
    {"since": "2026-11-20T09:30", "until": "2026-11-21T10:00"},  # not on the hour: counted from the calls
    {"scenario": "B"},
    {"flow": "delivery", "flow_version": 2},
    {"flow": "delivery"},
])
def test_the_running_totals_say_what_counting_the_calls_says(
        seeded: tuple[RecordsStore, dict[str, int]], filters: dict[str, Any]) -> None:
    store, _ = seeded
    times = {k: local(v) for k, v in filters.items() if k in ("since", "until")}
    calls = CallFilter(**{**filters, **times})
    assert shown(store, calls) == counted(store, calls)
    on_the_hour = all(t.minute == 0 for t in times.values())
    assert (store.db.read(lambda c: figures(c, calls, BERLIN)) is not None) == on_the_hour  # the totals answered


def test_by_call_task_and_in_a_zone_half_an_hour_off(seeded: tuple[RecordsStore, dict[str, int]]) -> None:
    store, tasks = seeded
    calls = CallFilter(task=tasks["A"])
    assert shown(store, calls) == counted(store, calls) and shown(store, calls)["total"]["calls"] == 7
    india = ZoneInfo("Asia/Kolkata")  # +05:30: its days start at half past a UTC hour, so the calls are counted
    calls = CallFilter(since=local("2026-11-20T00:00", india), until=local("2026-11-22T00:00", india))
    assert shown(store, calls, india) == counted(store, calls, india)
    assert store.db.read(lambda c: figures(c, calls, india)) is None


@pytest.mark.parametrize("group_by", ["task", "scenario", "flow_version"])
@pytest.mark.parametrize("filters", [
    {},
    {"since": "2026-11-20T00:00", "until": "2026-11-22T00:00"},  # whole UTC days and their ragged hours
    {"since": "2026-11-20T09:30", "until": "2026-11-21T10:07"},  # not on the hour: the ends from the calls
    {"since": "2026-11-21T00:45"},
    {"until": "2026-11-21T00:15"},  # inside the UTC day of #7 (23:30 UTC on the 20th)
    {"since": "2026-11-21T09:00", "until": "2026-11-21T15:00"},  # no whole day at all
    {"scenario": "B"},
    {"flow": "delivery", "flow_version": 2, "since": "2026-11-20T12:00"},
])
def test_the_api_groupings_from_the_running_totals_are_what_counting_says(
        seeded: tuple[RecordsStore, dict[str, int]], group_by: str, filters: dict[str, Any]) -> None:
    """GET /api/v1/stats?group_by=task|scenario|flow_version reads the stats_day_* tables for the whole UTC days
    of the range: the answer is the one counting every call gives, groups, order and all."""
    store, _ = seeded
    times = {k: local(v) for k, v in filters.items() if k in ("since", "until")}
    q = StatsQuery(group_by=group_by, calls=CallFilter(**{**filters, **times}))
    assert store.db.read(lambda c: grouped(c, q.calls, group_by)) is not None  # the totals answered
    answered = store.stats(q, BERLIN)
    assert answered == store.db.read(lambda c: stats(c, q, BERLIN))  # without groups: the calls counted
    assert answered["total"]["calls"] == sum(g["calls"] for g in answered["groups"])
    assert store.db.read(lambda c: grouped(c, CallFilter(), "day")) is None  # the shop's days: the calls


def rebuilt(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Both tables as the migration would count the calls now."""
    conn = sqlite3.connect(path)
    conn.execute("BEGIN")
    for table in TABLES:
        conn.execute(f"DROP TABLE {table}")
    for trigger in TRIGGERS:
        conn.execute(f"DROP TRIGGER {trigger}")
    add_stats_rollup(conn)
    out = {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}
    conn.execute("ROLLBACK")
    conn.close()
    return out


def kept(store: RecordsStore) -> dict[str, list[tuple[Any, ...]]]:
    return {t: sorted((tuple(r) for r in store.db.read(lambda c, t=t: c.execute(f"SELECT * FROM {t}").fetchall())),
                      key=repr) for t in TABLES}


def test_changes_and_deletions_are_followed(seeded: tuple[RecordsStore, dict[str, int]], db_path: Path) -> None:
    store, _ = seeded
    assert kept(store) == rebuilt(db_path) and kept(store)["stats_hours"]
    store.db.write(lambda c: c.execute("UPDATE calls SET outcome = 'busy', answered_at = NULL, intent = 'later'"
                                       " WHERE id = 1"))
    store.db.write(lambda c: c.execute("DELETE FROM turns WHERE call_id = 12"))
    store.db.write(lambda c: c.execute("DELETE FROM qa_tags WHERE call_id = 12"))
    store.db.write(lambda c: c.execute("DELETE FROM calls WHERE id = 12"))
    assert kept(store) == rebuilt(db_path)
    assert shown(store, CallFilter()) == counted(store, CallFilter())
    assert shown(store, CallFilter())["total"]["calls"] == 11


def test_the_migration_counts_the_calls_stored_before(tmp_path: Path) -> None:
    """A file at the schema before the running totals, with the twelve calls: after migrating, the page's figures
    are what counting them says."""
    path = tmp_path / "old.db"
    store = RecordsStore(path)
    seed_calls(store)
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for table in TABLES:
        conn.execute(f"DROP TABLE {table}")
    for trigger in TRIGGERS:
        conn.execute(f"DROP TRIGGER {trigger}")
    # and what the migrations after the running totals added (they run again after it)
    if "session_gen" in {row[1] for row in conn.execute("PRAGMA table_info(users)")}:
        conn.execute("ALTER TABLE users DROP COLUMN session_gen")
    conn.execute(f"PRAGMA user_version = {MIGRATIONS.index(add_stats_rollup)}")
    conn.execute("COMMIT")
    conn.close()
    store = RecordsStore(path)
    try:
        assert store.db.schema_version == len(MIGRATIONS)
        assert shown(store, CallFilter()) == counted(store, CallFilter())
        assert shown(store, CallFilter())["total"]["calls"] == 12
    finally:
        store.close()
