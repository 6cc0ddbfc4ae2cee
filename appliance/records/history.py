"""What the caps and the refusal rule need to know about one number: when it was called, and when its owner last
asked not to be called. Read by phone (E.164) through the ``calls_phone_time`` index."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["PhoneHistory", "phone_history"]

REFUSAL_DISPOSITION = "do_not_call"  # the customer said "stop calling me" during a call
# the flow's message was left on an answering machine (appliance.dialog.runtime.engine.VOICEMAIL_LEFT)
VOICEMAIL_DISPOSITION = "voicemail_left"


@dataclass(frozen=True)
class PhoneHistory:
    calls: tuple[datetime, ...]  # when each call to the number started, since the time asked for, oldest first
    refused_at: datetime | None = None  # the last refusal: on a call, or the number put on the do-not-call list


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def phone_history(c: sqlite3.Connection, phone: str, since: datetime) -> PhoneHistory:
    """The calls to ``phone`` that started at or after ``since``, and its last refusal whenever it was."""
    after = since.astimezone(UTC).isoformat(timespec="milliseconds")  # as stored: UTC text
    rows = c.execute("SELECT started_at FROM calls WHERE phone=? AND started_at>=? ORDER BY started_at",
                     (phone, after)).fetchall()
    calls = tuple(_when(r[0]) for r in rows if r[0] is not None and _when(r[0]) >= since)
    refusals: list[datetime] = []
    row = c.execute("SELECT MAX(started_at) FROM calls WHERE phone=? AND disposition=?",
                    (phone, REFUSAL_DISPOSITION)).fetchone()
    if row is not None and row[0] is not None:
        refusals.append(_when(row[0]))
    row = c.execute("SELECT added_at FROM do_not_call WHERE phone=?", (phone,)).fetchone()
    if row is not None:
        refusals.append(_when(row[0]))
    return PhoneHistory(calls, max(refusals) if refusals else None)
