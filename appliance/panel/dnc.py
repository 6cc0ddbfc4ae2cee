"""The do-not-call list on the Settings page: a page of it, a number added or taken off by the owner, a CSV import
(all the numbers or none: one bad row names its line and nothing is stored) and a CSV export that the import reads
back. Numbers are kept in E.164, read with the shop's country (``appliance.records.phones``)."""

from __future__ import annotations

import csv
import io
from typing import Any

from appliance.errors import SettingInvalid
from appliance.records.dnc import DoNotCall
from appliance.records.phones import PhoneNumberInvalid, e164

__all__ = ["EXPORT_COLUMNS", "MAX_IMPORT_ROWS", "DoNotCallAdmin"]

EXPORT_COLUMNS = ("phone", "added_at", "reason", "ticket_id", "call_id")
MAX_IMPORT_ROWS = 20_000
OWNER_REASON = "added by the owner"


class DoNotCallAdmin:
    def __init__(self, dnc: DoNotCall, *, region: str | None = None) -> None:
        self.dnc = dnc
        self.region = region

    def page(self, *, limit: int = 100, offset: int = 0) -> dict[str, Any]:
        """``{entries: [...], total, limit, offset}``, newest first."""
        entries, total = self.dnc.page(limit=limit, offset=offset)
        return {"entries": [e.as_dict() for e in entries], "total": total, "limit": limit, "offset": offset}

    def add(self, phone: str, reason: str = "") -> str:
        """The number in E.164, now on the list; ``SettingInvalid(field="phone")`` when it is not a number."""
        number = self._number(phone, "phone")
        self.dnc.add_many([(number, reason.strip()[:200] or OWNER_REASON)])
        return number

    def remove(self, phone: str) -> bool:
        return self.dnc.remove(phone)

    def import_csv(self, text: str) -> dict[str, int]:
        """``{"rows", "added"}`` (``added``: numbers not on the list before). A header row naming ``phone`` (and
        ``reason``) is read by name, else the first column is the number and the second the reason."""
        rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
        if not rows:
            raise SettingInvalid("the file holds no numbers", field="file")
        phone_at, reason_at, first = 0, 1, 0
        header = [cell.strip().lower() for cell in rows[0]]
        if "phone" in header:
            phone_at = header.index("phone")
            reason_at = header.index("reason") if "reason" in header else -1
            first = 1
        body = rows[first:]
        if len(body) > MAX_IMPORT_ROWS:
            raise SettingInvalid(f"holds {len(body)} rows; at most {MAX_IMPORT_ROWS} at once", field="file")
        numbers = []
        for n, row in enumerate(body, start=first + 1):
            raw = row[phone_at] if phone_at < len(row) else ""
            reason = row[reason_at].strip() if 0 <= reason_at < len(row) else ""
            numbers.append((self._number(raw, f"line {n}"), reason[:200] or OWNER_REASON))
        return {"rows": len(numbers), "added": self.dnc.add_many(numbers)}

    def export_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        for entry in self.dnc.entries():
            row = entry.as_dict()
            writer.writerow(["" if row[c] is None else row[c] for c in EXPORT_COLUMNS])
        return out.getvalue()

    def _number(self, raw: str, where: str) -> str:
        try:
            return e164(raw, self.region)
        except PhoneNumberInvalid as exc:
            raise SettingInvalid(str(exc), field=where) from None
