"""Statistics against counts made by hand on twelve seeded calls (tests/stats_seed.py): every grouping, the
filters, the shop's day (a call at 00:30 in Berlin is on the next day though it is 23:30 UTC), the per-call
figures counted from the turns, and the CSV exports."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from old_schema import schema_at
from stats_seed import BERLIN, CALLS, seed_calls

from appliance.records.db import MIGRATIONS
from appliance.records.export import CALL_COLUMNS, TURN_COLUMNS
from appliance.records.figures import add_call_figures
from appliance.records.stats import GROUPINGS, CallFilter, StatsQuery, _offsets, parse_flow_version
from appliance.records.store import RecordsStore
from web.openapi_stats import STATS_GROUPINGS


@pytest.fixture
def seeded(store: RecordsStore) -> tuple[RecordsStore, dict[str, int]]:
    return store, seed_calls(store)


def group_stats(store: RecordsStore, group_by: str, **filters: object) -> dict:
    return store.stats(StatsQuery(group_by=group_by, calls=CallFilter(**filters)), BERLIN)  # type: ignore[arg-type]


def buckets(figure: dict) -> list[int]:
    return [b["calls"] for b in figure["buckets"]]


def test_the_documented_groupings_are_the_stores() -> None:
    assert STATS_GROUPINGS == GROUPINGS


def test_the_totals_match_the_hand_count(seeded: tuple[RecordsStore, dict[str, int]]) -> None:
    store, _ = seeded
    total = group_stats(store, "day")["total"]
    assert (total["calls"], total["answered"], total["connected"]) == (12, 8, 7)  # #6 is a machine
    assert total["connect_rate"] == round(7 / 12, 4)
    assert total["outcomes"] == {"completed": 6, "no_answer": 2, "busy": 1, "hung_up": 1, "machine": 1,
                                 "rejected": 1}
    assert total["dispositions"] == {"confirmed": 4, "call_later": 1, "do_not_call": 1}
    assert total["intents"] == {"confirm": 4, "later": 1, "stop": 1}  # #7's kb answer came before "later"
    assert total["grades"] == {"A": 3, "B": 2, "C": 1, "D": 1}
    # durations of the 8 answered calls: 40 70 12 8 130 25 65 310 -> 660 / 8
    assert total["duration"]["average_s"] == 82.5
    assert buckets(total["duration"]) == [2, 1, 1, 2, 1, 1, 0]  # <15 <30 <60 <120 <300 <600 600+
    assert [(b["from_s"], b["to_s"]) for b in total["duration"]["buckets"]][-2:] == [(300, 600), (600, None)]
    # customer turns of the answered calls: 2 1 1 0 3 1 2 5 -> 15 / 8
    assert total["turns"]["average"] == 1.88
    assert buckets(total["turns"]) == [1, 3, 2, 1, 1, 0, 0]  # 0, 1, 2, 3-4, 5-7, 8-12, 13+


def test_by_day_on_the_shops_clock(seeded: tuple[RecordsStore, dict[str, int]]) -> None:
    store, _ = seeded
    answer = group_stats(store, "day")
    assert answer["zone"] == "Europe/Berlin"
    first, second = answer["groups"]
    assert (first["key"], first["calls"], second["key"], second["calls"]) == ("2026-11-20", 6, "2026-11-21", 6)
    assert (first["answered"], first["connected"], first["connect_rate"]) == (4, 3, 0.5)
    assert first["outcomes"] == {"busy": 1, "completed": 2, "hung_up": 1, "machine": 1, "no_answer": 1}
    assert first["grades"] == {"A": 1, "B": 1, "D": 1}
    assert first["duration"]["average_s"] == 32.5 and first["turns"]["average"] == 1.0  # 40 70 12 8; 2 1 1 0
    assert (second["answered"], second["connected"], second["connect_rate"]) == (4, 4, round(4 / 6, 4))
    assert second["dispositions"] == {"call_later": 1, "confirmed": 2, "do_not_call": 1}
    assert second["intents"] == {"confirm": 2, "later": 1, "stop": 1}
    assert second["duration"]["average_s"] == 132.5 and second["turns"]["average"] == 2.75  # 130 25 65 310; 3 1 2 5


def test_by_hour_of_day(seeded: tuple[RecordsStore, dict[str, int]]) -> None:
    store, _ = seeded
    groups = {g["key"]: g for g in group_stats(store, "hour")["groups"]}
    assert {h: g["calls"] for h, g in groups.items()} == {0: 1, 9: 4, 10: 2, 14: 3, 16: 1, 23: 1}
    assert groups[9]["outcomes"] == {"completed": 2, "no_answer": 2} and groups[9]["connected"] == 2
    assert (groups[14]["answered"], groups[14]["connected"]) == (2, 2)
    assert groups[14]["outcomes"] == {"completed": 1, "hung_up": 1, "rejected": 1}
    assert groups[23]["outcomes"] == {"machine": 1} and groups[23]["connect_rate"] == 0.0


def test_by_scenario_and_by_call_task(seeded: tuple[RecordsStore, dict[str, int]]) -> None:
    store, tasks = seeded
    by_scenario = {g["key"]: g for g in group_stats(store, "scenario")["groups"]}
    a, b = by_scenario["A"], by_scenario["B"]
    assert (a["calls"], a["answered"], a["connected"]) == (7, 4, 3)
    assert a["outcomes"] == {"completed": 3, "no_answer": 2, "busy": 1, "machine": 1}
    assert a["duration"]["average_s"] == 95.8  # 40 8 25 310 -> 95.75
    assert (b["calls"], b["answered"], b["connected"], b["connect_rate"]) == (5, 4, 4, 0.8)
    assert b["grades"] == {"B": 2, "C": 1, "D": 1} and b["turns"]["average"] == 1.75  # 1 1 3 2
    by_task = {g["key"]: g for g in group_stats(store, "task")["groups"]}
    assert set(by_task) == {tasks["A"], tasks["B"]} and tasks["A"] != tasks["B"]
    assert by_task[tasks["A"]]["name"] == "A" and by_task[tasks["B"]]["name"] == "B"
    assert by_task[tasks["A"]]["calls"] == 7 and by_task[tasks["B"]]["outcomes"] == b["outcomes"]


def test_by_flow_version(seeded: tuple[RecordsStore, dict[str, int]]) -> None:
    store, _ = seeded
    groups = {g["key"]: g for g in group_stats(store, "flow_version")["groups"]}
    assert {k: g["calls"] for k, g in groups.items()} == {"delivery@1": 6, "delivery@2": 1, "reminder@1": 5}
    assert groups["delivery@2"]["duration"]["average_s"] == 310.0
    assert buckets(groups["delivery@2"]["turns"]) == [0, 0, 0, 0, 1, 0, 0]


def test_filters(seeded: tuple[RecordsStore, dict[str, int]]) -> None:
    store, tasks = seeded
    midnight = datetime(2026, 11, 21, tzinfo=BERLIN)
    assert group_stats(store, "day", since=midnight)["total"]["calls"] == 6  # #7 at 00:30 Berlin is in
    assert group_stats(store, "day", until=midnight)["total"]["calls"] == 6
    # 23:00 UTC on the 20th is midnight in Berlin
    assert group_stats(store, "day", since=datetime(2026, 11, 20, 23, tzinfo=UTC))["total"]["calls"] == 6
    assert group_stats(store, "day", scenario="B")["total"]["calls"] == 5
    assert group_stats(store, "day", task=tasks["A"])["total"]["calls"] == 7
    assert group_stats(store, "day", flow="delivery", flow_version=2)["total"]["calls"] == 1
    assert group_stats(store, "day", flow="delivery")["total"]["calls"] == 7
    week = group_stats(store, "hour", since=datetime(2026, 11, 21, 9, tzinfo=BERLIN),
                       until=datetime(2026, 11, 21, 15, tzinfo=BERLIN), scenario="A")
    assert week["total"]["calls"] == 2 and [g["key"] for g in week["groups"]] == [9]
    nothing = group_stats(store, "day", scenario="nobody")
    assert nothing["groups"] == [] and nothing["total"]["calls"] == 0 and nothing["total"]["connect_rate"] is None


def test_bad_queries_are_refused() -> None:
    with pytest.raises(ValueError, match="group_by"):
        StatsQuery(group_by="week")
    assert parse_flow_version("delivery@3") == ("delivery", 3)
    assert parse_flow_version("delivery") == ("delivery", None)
    for bad in ("delivery@", "@3", "delivery@x", "delivery@0"):
        with pytest.raises(ValueError, match="flow id"):
            parse_flow_version(bad)


def test_days_follow_daylight_saving() -> None:
    """Over the end of summer time (2026-10-25, 01:00 UTC), the offset changes at that minute."""
    spans = _offsets(BERLIN, datetime(2026, 10, 20, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
    assert spans == [(None, 120), ("2026-10-25T01:00:00.000+00:00", 60)]


def test_each_call_keeps_its_figures(seeded: tuple[RecordsStore, dict[str, int]]) -> None:
    store, tasks = seeded
    rows = store.db.read(lambda c: c.execute("SELECT * FROM calls ORDER BY id").fetchall())
    assert len(rows) == len(CALLS)
    turns = [r["customer_turns"] for r in rows]
    assert turns == [2, 0, 0, 1, 1, 0, 3, 1, 0, 2, 0, 5]  # a greeting and a no-input are not turns
    assert [r["no_matches"] for r in rows] == [0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0]
    assert [r["kb_answers"] for r in rows] == [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]
    assert [r["intent"] for r in rows] == ["confirm", None, None, "confirm", None, None, "later", "confirm", None,
                                           "stop", None, "confirm"]
    assert [r["scenario"] for r in rows] == [s.scenario for s in CALLS]
    assert [r["call_task_id"] for r in rows] == [tasks[s.scenario] for s in CALLS]
    seventh = rows[6]
    assert (seventh["ring_ms"], seventh["duration_ms"], seventh["customer_talk_ms"], seventh["bot_talk_ms"],
            seventh["silences"], seventh["longest_silence_ms"], seventh["interruptions"]) == \
        (4007, 130_000, 7000, 2000, 1, 2500, 1)
    second = rows[1]  # not answered: rang, nothing else
    assert second["ring_ms"] == 4002 and second["duration_ms"] is None and second["customer_talk_ms"] is None


def test_the_migration_backfills_calls_recorded_before(tmp_path: Path) -> None:
    """A database at the schema before the figures' migration, with a finished call: after migrating, its row has
    what its times and turns tell."""
    path = tmp_path / "old.db"
    before = MIGRATIONS.index(add_call_figures)  # the schema just before the figures' migration
    conn = schema_at(path, before)
    conn.executescript("""
        INSERT INTO tickets (id, type, subject, description, customer_name, customer_phone, order_id, order_status,
            payload, status, decision, reason, received_at, updated_at, scenario)
            VALUES ('T1', 'd', 's', '', 'Ann', '+15550001', 'A1', 'shipped', '{}', 'closed', 'call', 'r',
                    '2026-11-20T08:00:00.000+00:00', '2026-11-20T08:00:00.000+00:00', 'late parcels');
        INSERT INTO call_tasks (id, name, source, flow_id, state, created_at, updated_at)
            VALUES (5, 'late parcels', 'trigger', 'delivery', 'running', 'x', 'x');
        INSERT INTO tasks (id, ticket_id, flow_id, state, max_attempts, next_attempt_at, created_at, updated_at,
            call_task_id) VALUES (1, 'T1', 'delivery', 'completed', 3, 'x', 'x', 'x', 5);
        INSERT INTO calls (id, task_id, ticket_id, phone, line, flow_id, flow_version, state, started_at,
            answered_at, ended_at, outcome) VALUES (1, 1, 'T1', '+15550001', 'sim0', 'delivery', 1, 'completed',
            '2026-11-20T09:00:00.000+00:00', '2026-11-20T09:00:07.500+00:00', '2026-11-20T09:01:07.500+00:00',
            'completed');
        INSERT INTO calls (id, task_id, ticket_id, phone, line, flow_id, flow_version, state, started_at,
            ended_at, outcome) VALUES (2, 1, 'T1', '+15550001', 'sim0', 'delivery', 1, 'no_answer',
            '2026-11-20T10:00:00.000+00:00', '2026-11-20T10:00:30.000+00:00', 'no_answer');
        INSERT INTO turns (call_id, seq, speaker, text, intent, node, at_ms, event) VALUES
            (1, 0, 'customer', 'Hello?', NULL, 'answer', 0, 'greeting'),
            (1, 1, 'bot', 'Hi', NULL, 'greet', 10, 'prompt'),
            (1, 2, 'customer', 'what', NULL, 'greet', 20, 'no_match'),
            (1, 3, 'bot', '(interrupted)', NULL, 'greet', 30, 'barge_in'),
            (1, 4, 'customer', 'where is it', 'kb:where', 'greet', 40, 'kb'),
            (1, 5, 'customer', 'yes', 'confirm', 'greet', 50, 'speech');
    """)
    conn.close()
    store = RecordsStore(path)
    try:
        assert store.db.schema_version == len(MIGRATIONS)
        first, second = store.db.read(lambda c: c.execute("SELECT * FROM calls ORDER BY id").fetchall())
        assert (first["ring_ms"], first["duration_ms"], first["customer_turns"], first["no_matches"],
                first["kb_answers"], first["interruptions"], first["intent"], first["call_task_id"],
                first["scenario"]) == (7500, 60_000, 3, 1, 1, 1, "confirm", 5, "late parcels")
        assert first["customer_talk_ms"] is None  # needs the recording's channels
        assert (second["ring_ms"], second["duration_ms"], second["customer_turns"]) == (30_000, None, 0)
        plan = store.db.read(lambda c: " ".join(r[3] for r in c.execute(
            "EXPLAIN QUERY PLAN SELECT strftime('%Y-%m-%d', started_at), outcome, COUNT(*) FROM calls"
            " WHERE outcome IS NOT NULL AND started_at >= '2026' GROUP BY 1, 2")))
        assert "COVERING INDEX calls_stats" in plan
    finally:
        store.close()


def test_the_csv_exports(seeded: tuple[RecordsStore, dict[str, int]]) -> None:
    store, _ = seeded
    calls = list(csv.reader(io.StringIO("".join(store.export_csv("calls", CallFilter())))))
    assert tuple(calls[0]) == CALL_COLUMNS and len(calls) == 13
    row = dict(zip(CALL_COLUMNS, calls[7], strict=True))  # call 7
    assert (row["outcome"], row["disposition"], row["intent"], row["customer_turns"], row["kb_answers"]) == \
        ("completed", "call_later", "later", "3", "1")
    b_only = list(csv.reader(io.StringIO("".join(store.export_csv("calls", CallFilter(scenario="B"))))))
    assert [r[0] for r in b_only[1:]] == ["4", "5", "7", "10", "11"]
    turns = list(csv.reader(io.StringIO("".join(
        store.export_csv("turns", CallFilter(since=datetime(2026, 11, 21, 14, tzinfo=BERLIN)))))))
    assert tuple(turns[0]) == TURN_COLUMNS
    # calls 10, 11, 12: 10 has the bot's greeting and two customer turns, 11 none, 12 the greeting and five
    assert [(r[0], r[3]) for r in turns[1:]].count(("10", "customer")) == 2
    assert len(turns) == 1 + 3 + 6
    assert [r[4] for r in turns[1:] if r[0] == "12"][1:] == ["yes", "at the door", "my neighbour", "number five",
                                                             "thanks"]
