"""A kill switch for the records store: the power goes at a chosen statement of a write transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance.records.store import RecordsStore, Ticket

TICKET = Ticket("T1", "delivery", "Parcel", "shipped today", "Ann", "+15550001", "A-1", "shipped")


class Killed(sqlite3.OperationalError):
    """The power went at this statement."""


class CountingConnection:
    """The writer connection, raising at the ``kill_at``-th statement (1-based) of one transaction."""

    def __init__(self, conn: sqlite3.Connection, kill_at: int | None) -> None:
        self.conn = conn
        self.kill_at = kill_at
        self.statements = 0

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        self.statements += 1
        if self.kill_at is not None and self.statements >= self.kill_at:
            raise Killed(f"killed at statement {self.statements}: {sql[:40]}")
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        self.statements += 1
        if self.kill_at is not None and self.statements >= self.kill_at:
            raise Killed(f"killed at statement {self.statements}")
        return self.conn.executemany(sql, rows)


def kill_switch(store: RecordsStore, kill_at: int | None) -> list[CountingConnection]:
    """Every later write transaction on ``store`` runs on a counting connection; returns them, in order."""
    original = store.db.write
    used: list[CountingConnection] = []

    def write(fn: Callable[[Any], Any], *, timeout: float = 30.0) -> Any:
        def counted(c: sqlite3.Connection) -> Any:
            counting = CountingConnection(c, kill_at)
            used.append(counting)
            return fn(counting)

        return original(counted, timeout=timeout)

    store.db.write = write  # type: ignore[method-assign]
    return used


def dump(path: Path) -> list[str]:
    """Everything in the database file as SQL, through a connection of its own (what a restart would see)."""
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()
