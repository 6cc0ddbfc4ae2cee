"""What ``/metrics`` reads from the records at scrape time: calls by outcome, the outbox backlog, the bytes the
recordings take. Read from the source of truth on each scrape, so a restart resets nothing."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from appliance.records.db import Database

__all__ = ["calls_by_outcome", "directory_bytes", "outbox_backlog"]


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


def directory_bytes(root: Path) -> int:
    """The bytes of every file under ``root`` (0 when it does not exist yet); files that vanish meanwhile (a
    retention pass) are skipped."""
    total = 0
    stack = [root]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
                    except FileNotFoundError:
                        continue
        except (FileNotFoundError, NotADirectoryError):
            continue
    return total
