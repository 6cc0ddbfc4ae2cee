"""Each line's signal over time: one sample per line every few minutes (the panel's line watch takes them), kept
two days, read back for the Modems page's chart of the last day.

At one sample per line every 5 minutes a line writes 288 rows a day; two days of four lines are 2,304 rows, read
by the ``(line, at)`` index."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from appliance.records.db import Database

__all__ = ["KEEP", "SignalLog", "SignalSample"]

KEEP = timedelta(days=2)


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class SignalSample:
    line: str
    dbm: int | None  # None: unknown (no reading, or the line is not up)
    rssi: int | None
    state: str  # the line's state when sampled


class SignalLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, samples: Sequence[SignalSample], at: datetime) -> None:
        """Store one sample per line taken at ``at`` and drop those older than :data:`KEEP`: one transaction."""
        when, old = _iso(at), _iso(at - KEEP)

        def write(c: sqlite3.Connection) -> None:
            c.executemany("INSERT INTO line_signal (line, at, dbm, rssi, state) VALUES (?, ?, ?, ?, ?)",
                          [(s.line, when, s.dbm, s.rssi, s.state) for s in samples])
            c.execute("DELETE FROM line_signal WHERE at < ?", (old,))

        self.db.write(write)

    def history(self, line: str, since: datetime) -> list[tuple[str, int | None, str]]:
        """(at, dBm, state) of ``line`` since ``since``, oldest first."""
        rows = self.db.read(lambda c: c.execute(
            "SELECT at, dbm, state FROM line_signal WHERE line = ? AND at >= ? ORDER BY at", (line, _iso(since)),
        ).fetchall())
        return [(str(r[0]), r[1], str(r[2])) for r in rows]
