"""QA for the panel and the API (``web.service.QaService``): a reviewer's tags and notes, the review queue and
tag counts over time, over the records store (``appliance.records.qa``). Days and hours are the shop's."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from appliance.errors import QueryInvalid
from appliance.records.qa import BUCKETS, QueueQuery
from appliance.records.store import RecordsStore

__all__ = ["QaAdmin"]

log = logging.getLogger(__name__)

DEFAULT_SPAN = {"day": timedelta(days=30), "hour": timedelta(days=2)}  # counts without ``since``


class QaAdmin:
    def __init__(self, records: RecordsStore, *, zone: tzinfo = UTC,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.records = records
        self.zone = zone  # the shop's clock: what a day is in the counts
        self.clock = clock

    def call_tags(self, call_id: int) -> dict[str, Any]:
        """A call's ``tags`` and ``review`` (None: not reviewed yet), for its detail."""
        return {"tags": self.records.qa.tags(call_id), "review": self.records.qa.review(call_id)}

    def add_tag(self, call_id: int, *, tag: str, note: str, reviewer: str) -> dict[str, Any] | None:
        added = self.records.qa.add(call_id, tag, note, reviewer)
        if added is not None:
            log.info("call %s: tagged %s by %s", call_id, tag, reviewer)
        return added

    def remove_tag(self, call_id: int, tag_id: int) -> bool:
        removed = self.records.qa.remove(call_id, tag_id)
        if removed:
            log.info("call %s: tag %s removed", call_id, tag_id)
        return removed

    def mark_reviewed(self, call_id: int, *, reviewer: str) -> dict[str, Any] | None:
        return self.records.qa.mark_reviewed(call_id, reviewer)

    def queue(self, *, tag: str | None = None, grade: str | None = None, limit: int = 50,
              offset: int = 0) -> dict[str, Any]:
        return self.records.qa.queue(QueueQuery(tag=tag, grade=grade, limit=limit, offset=offset))

    def counts(self, *, since: datetime | None = None, until: datetime | None = None,
               by: str = "day") -> dict[str, Any]:
        """Tag counts per day (or hour) of the shop; ``until`` defaults to now, ``since`` to 30 days (by hour: 2
        days) before it. Raises ``QueryInvalid`` naming the parameter when the range cannot be counted."""
        if by not in BUCKETS:
            raise QueryInvalid(f"must be one of {', '.join(BUCKETS)}, not {by[:40]!r}", parameter="by")
        until = until or self.clock()
        since = since or until - DEFAULT_SPAN[by]
        if since >= until:
            raise QueryInvalid("must be before until", parameter="since")
        try:
            counted = self.records.qa.counts(since, until, zone=self.zone, by=by)
        except ValueError as exc:
            raise QueryInvalid(str(exc), parameter="since") from None
        return {**counted, "zone": str(self.zone)}
