"""What each call keeps beside its outcome, as columns of its row (migration 14), so that statistics read one
index and never join the turns: ring and talk times, turns, interruptions, silences, no-matches,
knowledge-base answers, the intent, and the call task and scenario it belonged to.

The figures a call's turns give are counted by SQL here, once: by the conclusion's transaction for the call it
ends (``records.conclusion``) and by the migration for the calls recorded before (``records.db``).
"""

from __future__ import annotations

import sqlite3

# Each counts the turns of the call ``calls.id`` (correlated subqueries on the turns_call index).
_TURNS = "FROM turns AS t WHERE t.call_id = calls.id"
# turns recorded before turn events existed (migration 13) say nothing of no-matches or barge-ins
_EVENTS_UNKNOWN = f"EXISTS (SELECT 1 {_TURNS} AND t.event IS NULL)"
CUSTOMER_TURNS = (f"(SELECT COUNT(*) {_TURNS} AND t.speaker = 'customer' AND t.text <> ''"
                  " AND (t.event NOT IN ('greeting', 'no_input')"
                  " OR (t.event IS NULL AND COALESCE(t.node, '') <> 'answer')))")  # "Hello?" is not a turn
NO_MATCHES = (f"(CASE WHEN {_EVENTS_UNKNOWN} THEN NULL ELSE"
              f" (SELECT COUNT(*) {_TURNS} AND t.speaker = 'customer' AND t.event = 'no_match') END)")
KB_ANSWERS = f"(SELECT COUNT(*) {_TURNS} AND t.speaker = 'customer' AND (t.event = 'kb' OR t.intent LIKE 'kb:%'))"
BARGE_INS = (f"(CASE WHEN {_EVENTS_UNKNOWN} THEN NULL ELSE"
             f" (SELECT COUNT(*) {_TURNS} AND t.event = 'barge_in') END)")
# the call's intent: the last one the customer's turns matched (as the upstream record says it)
LAST_INTENT = (f"(SELECT t.intent {_TURNS} AND t.speaker = 'customer' AND t.intent IS NOT NULL AND t.intent <> ''"
               " ORDER BY t.seq DESC LIMIT 1)")
CALL_TASK = "(SELECT tasks.call_task_id FROM tasks WHERE tasks.id = calls.task_id)"
SCENARIO = "(SELECT tickets.scenario FROM tickets WHERE tickets.id = calls.ticket_id)"
MS_BETWEEN = "CAST(ROUND((julianday({end}) - julianday({start})) * 86400000) AS INTEGER)"

# The columns statistics group, filter and average on, covered by one index (migration 14).
STATS_INDEX = ("CREATE INDEX calls_stats ON calls(started_at, outcome, answered_at, disposition, intent,"
               " strength_grade, duration_ms, customer_turns, call_task_id, scenario, flow_id, flow_version)")


def write_turn_figures(c: sqlite3.Connection, call_id: int, *, interruptions: int | None) -> None:
    """Count call ``call_id``'s turns into its row, in the caller's transaction. ``interruptions`` is the
    recording's (``records.talk``); without a recording, the flow's barge-ins stand in for it."""
    c.execute(f"UPDATE calls SET customer_turns = {CUSTOMER_TURNS}, no_matches = {NO_MATCHES},"
              f" kb_answers = {KB_ANSWERS}, intent = {LAST_INTENT}, interruptions = COALESCE(?, {BARGE_INS}),"
              f" call_task_id = COALESCE(call_task_id, {CALL_TASK}), scenario = COALESCE(scenario, {SCENARIO})"
              " WHERE id = ?", (interruptions, call_id))


def add_call_figures(c: sqlite3.Connection) -> None:
    """Migration 14: the columns, each call recorded before given what its row, turns, task and ticket tell
    (ring time from the dial to the answer or the end, duration from the answer to the end; talk times and
    silences need the recording's channels, so they stay unknown), and the statistics index."""
    for column in ("ring_ms INTEGER", "duration_ms INTEGER", "customer_talk_ms INTEGER", "bot_talk_ms INTEGER",
                   "customer_turns INTEGER", "interruptions INTEGER", "silences INTEGER",
                   "longest_silence_ms INTEGER", "no_matches INTEGER", "kb_answers INTEGER", "intent TEXT",
                   "call_task_id INTEGER", "scenario TEXT"):
        c.execute(f"ALTER TABLE calls ADD COLUMN {column}")
    ring = MS_BETWEEN.format(start="started_at", end="COALESCE(answered_at, ended_at)")
    duration = MS_BETWEEN.format(start="answered_at", end="ended_at")
    c.execute(f"UPDATE calls SET ring_ms = {ring}, duration_ms = {duration}, customer_turns = {CUSTOMER_TURNS},"
              f" no_matches = {NO_MATCHES}, kb_answers = {KB_ANSWERS}, intent = {LAST_INTENT},"
              f" interruptions = {BARGE_INS}, call_task_id = {CALL_TASK}, scenario = {SCENARIO}"
              " WHERE outcome IS NOT NULL")
    c.execute(f"UPDATE calls SET call_task_id = {CALL_TASK}, scenario = {SCENARIO} WHERE outcome IS NULL")
    c.execute(STATS_INDEX)
