"""What the panel and the API do with call recordings (``web.service.RecordingsService``): browse by customer and
time range, download one (or one side of it), delete a range, and the room left on the disk. The work is
``appliance.records.retention``'s; this turns a query's words into its selection and its rows into JSON."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from appliance.campaign.tickets import normalise_phone
from appliance.errors import QueryInvalid, TicketInvalid
from appliance.records.queries import call_duration
from appliance.records.recordings import CHANNELS, one_channel
from appliance.records.retention import Retention, Selection

__all__ = ["RecordingsAdmin", "query_phone"]


def query_phone(phone: str | None, region: str | None) -> str | None:
    """A query's phone number in E.164 (any form the box reads; ``region`` reads a national one), or a
    ``QueryInvalid`` naming the ``phone`` parameter."""
    if phone is None:
        return None
    try:
        return normalise_phone(phone, region)
    except TicketInvalid as exc:
        raise QueryInvalid(exc.message, parameter="phone") from None


class RecordingsAdmin:
    def __init__(self, retention: Retention, *, phone_region: str | None = None) -> None:
        self.retention = retention
        self.phone_region = phone_region

    def _selection(self, phone: str | None, since: datetime | None, until: datetime | None) -> Selection:
        if since is not None and until is not None and since >= until:
            raise QueryInvalid("must be later than since", parameter="until")
        return Selection(query_phone(phone, self.phone_region), since, until)

    def find(self, *, phone: str | None = None, since: datetime | None = None, until: datetime | None = None,
             limit: int = 100, offset: int = 0) -> dict[str, Any]:
        rows, total, size = self.retention.find(self._selection(phone, since, until), limit=limit, offset=offset)
        return {
            "recordings": [{"call_id": r["id"], "ticket_id": r["ticket_id"], "phone": r["phone"],
                            "customer_name": r["customer_name"], "started_at": r["started_at"],
                            "duration_s": call_duration(r["answered_at"], r["ended_at"]), "outcome": r["outcome"],
                            "bytes": r["recording_bytes"]} for r in rows],
            "total": total, "bytes": size, "limit": limit, "offset": offset,
        }

    def wav(self, call_id: int, channel: str | None = None) -> Path | bytes | None:
        """The stereo file, or one side as a mono WAV; None when the call has no kept recording (none, deleted,
        or still on the line)."""
        path = self.retention.kept_file(call_id)
        if path is None or channel is None:
            return path
        if channel not in CHANNELS:
            raise QueryInvalid(f"must be one of {', '.join(CHANNELS)}", parameter="channel")
        return one_channel(path, channel)

    def delete(self, *, phone: str | None = None, since: datetime | None = None,
               until: datetime | None = None) -> dict[str, int]:
        if phone is None and since is None and until is None:
            raise QueryInvalid("give phone, since or until: a delete names what it deletes", parameter="since")
        return self.retention.delete(self._selection(phone, since, until)).as_dict()

    def room(self) -> dict[str, Any]:
        return {**self.retention.room().as_dict(), "retention_days": self.retention.policy.retention_days,
                "keep_days": self.retention.policy.keep_days}
