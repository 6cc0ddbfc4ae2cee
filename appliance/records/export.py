"""CSV exports of the calls and of their turns, streamed: the rows are read a page at a time (by call id, each
page a read of its own, so no read transaction stays open across the export) and handed out as text chunks, so
memory stays flat however many calls there are (``bench/stats.py`` measures it at 100,000 calls).

Filters are the statistics' (``records.stats.CallFilter``); both exports run oldest call first.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from appliance.records.stats import CallFilter

__all__ = ["CALL_COLUMNS", "EXPORTS", "TURN_COLUMNS", "calls_csv", "turns_csv"]

CALL_COLUMNS = (
    "id", "started_at", "answered_at", "ended_at", "phone", "line", "ticket_id", "task_id", "call_task_id",
    "scenario", "flow_id", "flow_version", "attempt", "outcome", "cause", "disposition", "intent",
    "strength_score", "strength_grade", "ring_ms", "duration_ms", "customer_talk_ms", "bot_talk_ms",
    "customer_turns", "interruptions", "silences", "longest_silence_ms", "no_matches", "kb_answers", "recording",
    "remark",
)
TURN_COLUMNS = ("call_id", "started_at", "seq", "speaker", "text", "intent", "confidence", "node", "event", "at_ms")
CALLS_PER_PAGE = 500  # a page of calls, or the turns of that many calls (a call has at most ~100 turns)

Reader = Callable[[Callable[[sqlite3.Connection], Any]], Any]  # Database.read


def _chunks(header: Sequence[str], pages: Iterator[list[Sequence[Any]]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    yield buffer.getvalue()
    for rows in pages:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(rows)
        yield buffer.getvalue()


def _call_pages(read: Reader, filt: CallFilter, select: str) -> Iterator[list[Sequence[Any]]]:
    """Pages of the rows ``select`` finds for the calls ``id BETWEEN ? AND ?`` of each page of calls."""
    where, args = filt.where(by_id=True)
    after = 0
    while True:
        def page(c: sqlite3.Connection, after: int = after) -> tuple[list[Sequence[Any]], int | None]:
            ids = [r[0] for r in c.execute(f"SELECT calls.id FROM calls WHERE {where} AND calls.id > ?"
                                           " ORDER BY calls.id LIMIT ?", [*args, after, CALLS_PER_PAGE])]
            if not ids:
                return [], None
            rows = c.execute(select.format(where=where), (ids[0], ids[-1], *args)).fetchall()
            return [tuple(r) for r in rows], ids[-1]

        rows, last = read(page)
        if last is None:
            return
        if rows:
            yield rows
        after = last


def calls_csv(read: Reader, filt: CallFilter) -> Iterator[str]:
    """The calls as CSV (``CALL_COLUMNS``), oldest first."""
    columns = ", ".join(f"calls.{name}" for name in CALL_COLUMNS)
    select = f"SELECT {columns} FROM calls WHERE calls.id BETWEEN ? AND ? AND {{where}} ORDER BY calls.id"
    return _chunks(CALL_COLUMNS, _call_pages(read, filt, select))


def turns_csv(read: Reader, filt: CallFilter) -> Iterator[str]:
    """The turns of the calls as CSV (``TURN_COLUMNS``), call by call, in order."""
    columns = ", ".join(f"turns.{name}" if name != "started_at" else "calls.started_at" for name in TURN_COLUMNS)
    select = (f"SELECT {columns} FROM calls JOIN turns ON turns.call_id = calls.id"
              " WHERE calls.id BETWEEN ? AND ? AND {where} ORDER BY calls.id, turns.seq")
    return _chunks(TURN_COLUMNS, _call_pages(read, filt, select))


EXPORTS: dict[str, Callable[[Reader, CallFilter], Iterator[str]]] = {"calls": calls_csv, "turns": turns_csv}
