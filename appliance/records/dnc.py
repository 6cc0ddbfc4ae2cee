"""The do-not-call list: numbers whose owner asked not to be called again.

A customer who says "stop calling me" ends the call in the ``do_not_call``
disposition; the number goes on this list in the same transaction as the call's
record, no rule will phone it again (a new ticket for it is stored but skipped,
saying why), and tasks already planned for it are cancelled before they dial.
Only an admin takes a number off (``callbox dnc remove`` or the panel).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from appliance.records.db import Database

__all__ = ["DoNotCall", "DoNotCallEntry"]


@dataclass(frozen=True)
class DoNotCallEntry:
    phone: str
    added_at: str
    reason: str
    ticket_id: str | None = None
    call_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"phone": self.phone, "added_at": self.added_at, "reason": self.reason,
                "ticket_id": self.ticket_id, "call_id": self.call_id}


def add_in(c: sqlite3.Connection, phone: str, reason: str, *, ticket_id: str | None = None,
           call_id: int | None = None, now: datetime | None = None) -> None:
    """Put ``phone`` on the list inside the caller's transaction (the first reason is kept)."""
    when = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    c.execute("INSERT OR IGNORE INTO do_not_call(phone, added_at, reason, ticket_id, call_id) VALUES (?,?,?,?,?)",
              (phone, when, reason, ticket_id, call_id))


class DoNotCall:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, phone: str, reason: str, *, ticket_id: str | None = None, call_id: int | None = None) -> None:
        self.db.write(lambda c: add_in(c, phone, reason, ticket_id=ticket_id, call_id=call_id))

    def entry(self, phone: str) -> DoNotCallEntry | None:
        row = self.db.read(lambda c: c.execute("SELECT * FROM do_not_call WHERE phone = ?", (phone,)).fetchone())
        return DoNotCallEntry(**dict(row)) if row is not None else None

    def entries(self) -> list[DoNotCallEntry]:
        rows = self.db.read(lambda c: c.execute("SELECT * FROM do_not_call ORDER BY added_at DESC").fetchall())
        return [DoNotCallEntry(**dict(r)) for r in rows]

    def remove(self, phone: str) -> bool:
        """Take a number off the list; False if it was not on it."""
        return bool(self.db.write(lambda c: c.execute("DELETE FROM do_not_call WHERE phone = ?", (phone,)).rowcount))
