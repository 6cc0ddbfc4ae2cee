"""The do-not-call list: numbers whose owner asked not to be called again.

A customer who says "stop calling me" ends the call in the ``do_not_call``
disposition; the number goes on this list in the same transaction as the call's
record, no rule will phone it again (a new ticket for it is stored but skipped,
saying why), and tasks already planned for it are cancelled before they dial.
Only an admin takes a number off (``callbox dnc remove`` or the panel).

Numbers are kept and compared in E.164 (``appliance.records.phones``): ``0612345678`` read with the shop's
country and ``+33 6 12 34 56 78`` are one entry.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from appliance.records.db import Database
from appliance.records.phones import e164, e164_or_none

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
    phone = e164_or_none(phone) or phone  # a ticket's number is E.164 already
    c.execute("INSERT OR IGNORE INTO do_not_call(phone, added_at, reason, ticket_id, call_id) VALUES (?,?,?,?,?)",
              (phone, when, reason, ticket_id, call_id))


class DoNotCall:
    """The list; ``region`` (the shop's country) reads national numbers."""

    def __init__(self, db: Database, *, region: str | None = None) -> None:
        self.db = db
        self.region = region

    def add(self, phone: str, reason: str, *, ticket_id: str | None = None, call_id: int | None = None) -> str:
        """Put a number on the list; returns it in E.164. ``PhoneNumberInvalid`` (nothing written) if it is not
        one."""
        number = e164(phone, self.region)
        self.db.write(lambda c: add_in(c, number, reason, ticket_id=ticket_id, call_id=call_id))
        return number

    def _key(self, phone: str) -> str:
        """What the list is searched by: E.164, or the text as given when it is no number (found nowhere)."""
        return e164_or_none(phone, self.region) or phone.strip()

    def entry(self, phone: str) -> DoNotCallEntry | None:
        key = self._key(phone)
        row = self.db.read(lambda c: c.execute("SELECT * FROM do_not_call WHERE phone = ?", (key,)).fetchone())
        return DoNotCallEntry(**dict(row)) if row is not None else None

    def entries(self) -> list[DoNotCallEntry]:
        rows = self.db.read(lambda c: c.execute("SELECT * FROM do_not_call ORDER BY added_at DESC").fetchall())
        return [DoNotCallEntry(**dict(r)) for r in rows]

    def remove(self, phone: str) -> bool:
        """Take a number off the list; False if it was not on it."""
        key = self._key(phone)
        return bool(self.db.write(lambda c: c.execute("DELETE FROM do_not_call WHERE phone = ?", (key,)).rowcount))

    # -- the panel's Settings page: a page of the list, and a CSV import whole or not at all --------------------
    def page(self, *, limit: int, offset: int = 0) -> tuple[list[DoNotCallEntry], int]:
        """A page of the list, newest first, and how many numbers it holds in all."""
        def read(c: sqlite3.Connection) -> tuple[list[DoNotCallEntry], int]:
            rows = c.execute("SELECT * FROM do_not_call ORDER BY added_at DESC, phone LIMIT ? OFFSET ?",
                             (limit, offset)).fetchall()
            total = c.execute("SELECT COUNT(*) FROM do_not_call").fetchone()[0]
            return [DoNotCallEntry(**dict(r)) for r in rows], total
        return self.db.read(read)

    def add_many(self, numbers: list[tuple[str, str]]) -> int:
        """Put (E.164 number, reason) pairs on the list in one transaction; how many were not on it yet."""
        def tx(c: sqlite3.Connection) -> int:
            before = c.total_changes
            for phone, reason in numbers:
                add_in(c, phone, reason)
            return c.total_changes - before
        return int(self.db.write(tx))
