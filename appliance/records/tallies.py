"""What ``/metrics`` reads from the records at scrape time: calls by outcome, the outbox backlog, the bytes the
recordings take. Read from the source of truth on each scrape, so a restart resets nothing."""

from __future__ import annotations

import sqlite3

from appliance.records.db import Database
from appliance.records.recordings import KEPT

__all__ = ["calls_by_outcome", "outbox_backlog", "recordings_bytes"]


def calls_by_outcome(db: Database) -> dict[str, int]:
    """Ended calls per outcome (calls still in progress have none yet)."""

    def read(c: sqlite3.Connection) -> dict[str, int]:
        rows = c.execute("SELECT outcome, COUNT(*) FROM calls WHERE outcome IS NOT NULL GROUP BY outcome")
        return {str(outcome): int(n) for outcome, n in rows}

    return db.read(read)


def outbox_backlog(db: Database) -> dict[tuple[str, str | None], int]:
    """Pending outbox rows per (topic, the ticket's helpdesk or None): the helpdesk decides where a row goes."""

    def read(c: sqlite3.Connection) -> dict[tuple[str, str | None], int]:
        rows = c.execute(
            "SELECT o.topic, json_extract(t.vars, '$.helpdesk'), COUNT(*) FROM outbox o"
            " LEFT JOIN tickets t ON t.id = json_extract(o.payload, '$.ticket')"
            " WHERE o.delivered_at IS NULL AND o.gave_up_at IS NULL GROUP BY 1, 2")
        return {(str(topic), str(helpdesk) if helpdesk is not None else None): int(n) for topic, helpdesk, n in rows}

    return db.read(read)


def recordings_bytes(db: Database) -> int:
    """The bytes of the kept recordings of ended calls, summed over the ``calls_recordings_kept`` index
    (``appliance.records.recordings``): no walk over the recordings folder, which took a while on an SD card."""
    return int(db.read(lambda c: c.execute(f"SELECT COALESCE(SUM(recording_bytes), 0) FROM calls WHERE {KEPT}")
                       .fetchone()[0]))
