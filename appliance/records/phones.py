"""Phone numbers in one form, E.164 (``+33612345678``), so that ``06 12 34 56 78`` typed by a shop in France and
``+33 6 12 34 56 78`` from its helpdesk are the same customer: for the do-not-call list, the per-number caps and
the customer's time zone.

A national number needs a region (the shop's country, ISO 3166 alpha-2 such as ``FR``); without one only the
international forms (``+…``, ``00…``) are understood. ``phonenumbers`` (Google's libphonenumber data) parses;
a number only has to be *possible* (the right length for its country), not assigned, so test numbers such as
``+15550100`` stay usable.
"""

from __future__ import annotations

import re
import sqlite3
import threading

import phonenumbers

__all__ = ["PhoneNumberInvalid", "e164", "e164_or_none", "normalise_stored_phones"]

_SEPARATORS = re.compile(r"[\s().\-/]")
_DIGITS = re.compile(r"^\+?[0-9]{3,17}$")


class PhoneNumberInvalid(ValueError):
    """Not a phone number, or a national number without a region to read it in; the message says which."""


# Numbers e164() returned lately: as it is idempotent, one of them is its own answer in any region, so the
# ticket's number, read once at intake, is not parsed again by the do-not-call check a moment later.
_RECENT: dict[str, None] = {}
_RECENT_MAX = 4096
_RECENT_LOCK = threading.Lock()


def e164(raw: str, region: str | None = None) -> str:
    """``raw`` in E.164. ``region`` reads national numbers (``0612345678`` with ``FR``). Idempotent."""
    compact = _SEPARATORS.sub("", raw.strip())
    if compact.startswith("00"):  # the international prefix most of the world dials
        compact = "+" + compact[2:]
    if compact in _RECENT:
        return compact
    if not _DIGITS.match(compact):
        raise PhoneNumberInvalid(f"{raw!r} is not a phone number")
    if not compact.startswith("+") and not region:
        raise PhoneNumberInvalid(f"{raw!r} is a national number: give it with its country code (+…), "
                                 "or set the shop's country")
    try:
        number = phonenumbers.parse(compact, region.upper() if region else None)
    except phonenumbers.NumberParseException as exc:
        raise PhoneNumberInvalid(f"{raw!r} is not a phone number ({exc._msg})") from None
    if not phonenumbers.is_possible_number(number):
        raise PhoneNumberInvalid(f"{raw!r} has the wrong number of digits for country code +{number.country_code}")
    canonical: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    with _RECENT_LOCK:
        if len(_RECENT) >= _RECENT_MAX:
            del _RECENT[next(iter(_RECENT))]  # the oldest
        _RECENT[canonical] = None
    return canonical


def e164_or_none(raw: str, region: str | None = None) -> str | None:
    try:
        return e164(raw, region)
    except PhoneNumberInvalid:
        return None


def normalise_stored_phones(c: sqlite3.Connection, region: str | None = None) -> int:
    """Rewrite the numbers already stored in E.164 where they can be read (international forms always, national
    ones when ``region`` is given), inside the caller's transaction. A do-not-call number that turns out to be
    one already listed keeps the earlier entry. Returns how many rows changed."""
    changed = 0
    for row in c.execute("SELECT phone, added_at FROM do_not_call ORDER BY added_at").fetchall():
        phone = e164_or_none(row[0], region)
        if phone is None or phone == row[0]:
            continue
        listed = c.execute("SELECT added_at FROM do_not_call WHERE phone=?", (phone,)).fetchone()
        if listed is not None and listed[0] <= row[1]:  # the same number, listed twice: the earlier entry stays
            c.execute("DELETE FROM do_not_call WHERE phone=?", (row[0],))
        else:
            c.execute("DELETE FROM do_not_call WHERE phone=?", (phone,))
            c.execute("UPDATE do_not_call SET phone=? WHERE phone=?", (phone, row[0]))
        changed += 1
    for table, column in (("tickets", "customer_phone"), ("calls", "phone")):
        for (raw,) in c.execute(f"SELECT DISTINCT {column} FROM {table}").fetchall():
            phone = e164_or_none(raw, region)
            if phone is not None and phone != raw:
                changed += c.execute(f"UPDATE {table} SET {column}=? WHERE {column}=?", (phone, raw)).rowcount
    return changed
