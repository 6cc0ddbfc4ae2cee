"""Re-analysis in the records (migration 14): a run row per pass of ``callbox recordings reanalyse`` over a time
range, and one row per call it handled: what the customer's turns say when heard again (a better model, another
recogniser) and what the flow makes of them (intent, slots, intent strength), or why the call was skipped.

The call row and its turns are never written here: the original values stay where they are, and the call's
detail shows the latest re-analysis beside them (:func:`latest_reanalysis`). A run is resumable: the calls it
has handled are its rows, so a run interrupted (Ctrl-C, a reboot) continues with the calls it has no row for,
and each call's row and the run's ``done`` count are written in one transaction. The campaign decides what to
hear and how (``appliance.campaign.reanalysis``); this module only reads and writes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from appliance.records.conclusion import IN_FLIGHT_CALL
from appliance.records.db import Database

__all__ = ["Reading", "ReanalysisRecords", "RunRow", "StoredCall", "StoredTurn", "call_intent", "latest_reanalysis"]

RUN_STATES = ("running", "interrupted", "finished", "abandoned")  # abandoned: --restart began another


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class RunRow:
    id: int
    started_at: str
    finished_at: str | None
    since: str
    until: str | None  # None: up to when the run started
    flow: str | None
    recogniser: str
    state: str
    done: int
    total: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StoredTurn:
    seq: int
    speaker: str
    text: str
    intent: str | None
    confidence: float | None
    node: str | None
    at_ms: int
    event: str | None  # None: stored before turns kept their event (migration 13)


@dataclass(frozen=True)
class StoredCall:
    """A call as the box stored it: what re-analysis reads (and never writes)."""

    id: int
    started_at: str
    flow_id: str
    flow_version: int
    outcome: str | None
    disposition: str | None
    recording: str | None
    slots: dict[str, Any]
    turns: tuple[StoredTurn, ...]

    @property
    def intent(self) -> str | None:
        return call_intent([(t.speaker, t.intent) for t in self.turns])


@dataclass(frozen=True)
class Reading:
    """What one call says when heard again. ``turns``: each customer turn as JSON (seq, text, intent, confidence,
    event, heard_again); ``changed``: a turn's intent differs from the stored one."""

    call_id: int
    turns: list[dict[str, Any]]
    intent: str | None
    slots: dict[str, Any]
    strength: dict[str, Any]  # score, grade, reasons
    changed: bool
    original_intent: str | None = None


def call_intent(turns: Sequence[tuple[str, str | None]]) -> str | None:
    """A call's intent from its (speaker, intent) turns: the last customer turn's that has one (as the upstream
    record names it)."""
    return next((intent for speaker, intent in reversed(turns) if speaker == "customer" and intent), None)


def _run(r: sqlite3.Row) -> RunRow:
    return RunRow(r["id"], r["started_at"], r["finished_at"], r["since"], r["until"], r["flow"], r["recogniser"],
                  r["state"], r["done"], r["total"])


# The calls a run hears: answered and ended, started in its range (up to when the run started when it has no end),
# of its flow if it names one, and not handled by it yet; oldest first.
_PENDING = (
    "SELECT calls.id FROM calls WHERE calls.started_at >= :since AND calls.started_at < :bound"
    f" AND calls.answered_at IS NOT NULL AND calls.state NOT IN {IN_FLIGHT_CALL}"
    " AND (:flow IS NULL OR calls.flow_id = :flow)"
    " AND NOT EXISTS (SELECT 1 FROM reanalysis AS r WHERE r.run_id = :run AND r.call_id = calls.id)"
    " ORDER BY calls.started_at, calls.id"
)


class ReanalysisRecords:
    """The runs and their results, on the records database (writes on its writer thread)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- runs ------------------------------------------------------------------------
    def open_run(self, *, since: str, until: str | None, flow: str | None, recogniser: str,
                 restart: bool = False) -> tuple[RunRow, bool]:
        """The run for these settings: the latest one with the same settings, continued (True), unless
        ``restart`` (it is abandoned then) or there is none; else a new one (False). Its ``total`` is counted
        afresh: ``done`` plus the calls still to hear."""

        def tx(c: sqlite3.Connection) -> tuple[RunRow, bool]:
            same = ("since = ? AND until IS ? AND flow IS ? AND recogniser = ? AND state <> 'abandoned'",
                    (since, until, flow, recogniser))
            found = c.execute(f"SELECT * FROM reanalysis_runs WHERE {same[0]} ORDER BY id DESC LIMIT 1",
                              same[1]).fetchone()
            resumed = found is not None and not restart
            if found is not None and restart:
                c.execute(f"UPDATE reanalysis_runs SET state='abandoned' WHERE state IN ('running', 'interrupted')"
                          f" AND {same[0]}", same[1])
            if resumed:
                run_id = found["id"]
                if found["state"] != "finished":
                    c.execute("UPDATE reanalysis_runs SET state='running' WHERE id=?", (run_id,))
            else:
                cur = c.execute("INSERT INTO reanalysis_runs (started_at, since, until, flow, recogniser, state)"
                                " VALUES (?,?,?,?,?,'running')", (_now(), since, until, flow, recogniser))
                assert cur.lastrowid is not None
                run_id = cur.lastrowid
            run = _run(c.execute("SELECT * FROM reanalysis_runs WHERE id=?", (run_id,)).fetchone())
            left = len(_pending(c, run))
            c.execute("UPDATE reanalysis_runs SET total = done + ? WHERE id=?", (left, run_id))
            if left and run.state == "finished":  # a call in flight when it ran has ended since
                c.execute("UPDATE reanalysis_runs SET state='running', finished_at=NULL WHERE id=?", (run_id,))
            return _run(c.execute("SELECT * FROM reanalysis_runs WHERE id=?", (run_id,)).fetchone()), resumed

        return self.db.write(tx)

    def run(self, run_id: int) -> RunRow:
        row = self.db.read(lambda c: c.execute("SELECT * FROM reanalysis_runs WHERE id=?", (run_id,)).fetchone())
        if row is None:
            raise KeyError(f"no re-analysis run {run_id}")
        return _run(row)

    def end_run(self, run_id: int, state: str) -> RunRow:
        """``finished`` or ``interrupted`` (continued by the next run with its settings)."""
        if state not in RUN_STATES:
            raise ValueError(f"a run state is one of {RUN_STATES}, not {state!r}")
        self.db.write(lambda c: c.execute(
            "UPDATE reanalysis_runs SET state=?, finished_at=? WHERE id=?",
            (state, _now() if state == "finished" else None, run_id)))
        return self.run(run_id)

    def pending(self, run: RunRow) -> list[int]:
        """The ids of the calls ``run`` has not handled yet, oldest first."""
        return self.db.read(lambda c: _pending(c, run))

    # -- calls -----------------------------------------------------------------------
    def call(self, call_id: int) -> StoredCall | None:
        def read(c: sqlite3.Connection) -> StoredCall | None:
            r = c.execute("SELECT * FROM calls WHERE id=?", (call_id,)).fetchone()
            if r is None:
                return None
            turns = tuple(StoredTurn(t["seq"], t["speaker"], t["text"], t["intent"], t["confidence"], t["node"],
                                     t["at_ms"], t["event"])
                          for t in c.execute("SELECT * FROM turns WHERE call_id=? ORDER BY seq", (call_id,)))
            return StoredCall(r["id"], r["started_at"], r["flow_id"], r["flow_version"], r["outcome"],
                              r["disposition"], r["recording"], json.loads(r["slots"]) if r["slots"] else {}, turns)

        return self.db.read(read)

    def calls_in_flight(self, started_since: str) -> int:
        """Calls on a line now: in-flight rows that started after ``started_since`` (an older one is what a crash
        left behind, ended by the box's start-up recovery, not a call)."""
        row = self.db.read(lambda c: c.execute(
            f"SELECT COUNT(*) FROM calls WHERE started_at >= ? AND state IN {IN_FLIGHT_CALL}", (started_since,)
        ).fetchone())
        return int(row[0])

    # -- results ---------------------------------------------------------------------
    def save(self, run_id: int, reading: Reading) -> None:
        """One call's reading and the run's count, in one transaction."""
        strength = reading.strength
        self._write(run_id, reading.call_id, (
            json.dumps(reading.turns, ensure_ascii=False), reading.intent,
            json.dumps(reading.slots, ensure_ascii=False), strength["score"], strength["grade"],
            json.dumps(strength["reasons"], ensure_ascii=False), int(reading.changed), None))

    def skip(self, run_id: int, call_id: int, reason: str) -> None:
        """A call the run cannot hear again (no recording, no flow version...): handled, with the reason."""
        self._write(run_id, call_id, ("[]", None, None, None, None, None, 0, reason))

    def _write(self, run_id: int, call_id: int, values: tuple[Any, ...]) -> None:
        def tx(c: sqlite3.Connection) -> None:
            c.execute("INSERT OR REPLACE INTO reanalysis (call_id, run_id, turns, intent, slots, strength_score,"
                      " strength_grade, strength_reasons, changed, skipped, created_at)"
                      " VALUES (?,?,?,?,?,?,?,?,?,?,?)", (call_id, run_id, *values, _now()))
            c.execute("UPDATE reanalysis_runs SET done = (SELECT COUNT(*) FROM reanalysis WHERE run_id=?)"
                      " WHERE id=?", (run_id, run_id))

        self.db.write(tx)

    def results(self, run_id: int) -> list[dict[str, Any]]:
        """Every call the run handled, in the order it did: call, intent, changed, grade, skipped."""
        rows = self.db.read(lambda c: c.execute(
            "SELECT call_id, intent, changed, strength_score, strength_grade, skipped, created_at FROM reanalysis"
            " WHERE run_id=? ORDER BY created_at, call_id", (run_id,)).fetchall())
        return [{"call": r["call_id"], "intent": r["intent"], "changed": bool(r["changed"]),
                 "strength": None if r["strength_grade"] is None else {"score": r["strength_score"],
                                                                       "grade": r["strength_grade"]},
                 "skipped": r["skipped"]} for r in rows]


def _pending(c: sqlite3.Connection, run: RunRow) -> list[int]:
    bound = run.until or run.started_at
    return [r[0] for r in c.execute(_PENDING, {"since": run.since, "bound": bound, "flow": run.flow, "run": run.id})]


def latest_reanalysis(c: sqlite3.Connection, call_id: int) -> dict[str, Any] | None:
    """The call's latest re-analysis beside its original values (None: never re-analysed). Its turns carry the
    stored text and intent as ``original_text`` and ``original_intent``."""
    r = c.execute(
        "SELECT reanalysis.*, reanalysis_runs.recogniser FROM reanalysis"
        " JOIN reanalysis_runs ON reanalysis_runs.id = reanalysis.run_id"
        " WHERE reanalysis.call_id=? AND reanalysis.skipped IS NULL ORDER BY reanalysis.run_id DESC LIMIT 1",
        (call_id,)).fetchone()
    if r is None:
        return None
    stored = {t["seq"]: t for t in c.execute(
        "SELECT seq, speaker, text, intent FROM turns WHERE call_id=? ORDER BY seq", (call_id,))}
    turns = []
    for t in json.loads(r["turns"]):
        was = stored.get(t["seq"])
        turns.append({**t, "original_text": was["text"] if was else None,
                      "original_intent": was["intent"] if was else None})
    return {
        "run": r["run_id"],
        "recogniser": r["recogniser"],
        "analysed_at": r["created_at"],
        "intent": r["intent"],
        "original_intent": call_intent([(t["speaker"], t["intent"]) for t in stored.values()]),
        "changed": bool(r["changed"]),
        "slots": json.loads(r["slots"]) if r["slots"] else {},
        "intent_strength": {"score": r["strength_score"], "grade": r["strength_grade"],
                            "reasons": json.loads(r["strength_reasons"] or "[]")},
        "turns": turns,
    }
