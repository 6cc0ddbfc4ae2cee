"""QA tags and the review queue in the records store.

The automatic tags are decided by ``appliance.campaign.qa`` (a pure function) and written by :func:`write_tags`
inside the transaction that ends the call (``records.conclusion``), before the call's upstream record is read, so
a call never exists without its tags and its record carries them. A reviewer adds manual tags with a note, removes
tags and marks a call reviewed (:class:`QaRecords`). The review queue is the tagged calls no reviewer has marked
reviewed, worst first: the most severe tag (:data:`SEVERITY`; a reviewer's own tag above any automatic one), then
the number of tags, then the intent strength's grade (D first, a call without one last), then the newest.

Tag counts over time are grouped by the minute in SQL (``qa_tags_time`` index) and then into the shop's days or
hours in Python, so a day is the shop's day in any zone, daylight saving included.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from appliance.errors import TagInvalid
from appliance.records.db import Database

__all__ = ["AUTO_TAGS", "GRADES", "SEVERITY", "QaRecords", "QueueQuery", "tags_of", "write_tags"]

# The automatic tags, most severe first: a decision that may be wrong, a customer who gave up, a bot that could not
# follow, a transcript that may be wrong, words not understood, then the milder signs.
AUTO_TAGS = ("intent_error", "hung_up_mid_flow", "fallback_used", "asr_error", "intent_not_triggered",
             "long_silence", "barge_in")
SEVERITY = {name: len(AUTO_TAGS) - i for i, name in enumerate(AUTO_TAGS)}
MANUAL_SEVERITY = len(AUTO_TAGS) + 1  # a person flagged the call
GRADES = ("A", "B", "C", "D")
BUCKETS = ("day", "hour")
MAX_BUCKETS = {"day": 3660, "hour": 24 * 92}  # ten years of days, a quarter of hours

TAG_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
MAX_NOTE = 2000
MAX_REVIEWER = 100

_SEVERITY_SQL = ("CASE WHEN t.source = 'manual' THEN {manual} ELSE CASE t.tag {cases} ELSE 0 END END".format(
    manual=MANUAL_SEVERITY, cases=" ".join(f"WHEN '{name}' THEN {rank}" for name, rank in SEVERITY.items())))
_GRADE_SQL = "CASE calls.strength_grade WHEN 'D' THEN 0 WHEN 'C' THEN 1 WHEN 'B' THEN 2 WHEN 'A' THEN 3 ELSE 4 END"
# the unreviewed tagged calls with their worst tag and number of tags
_OPEN = (f"SELECT t.call_id, MAX({_SEVERITY_SQL}) AS severity, COUNT(*) AS tag_count FROM qa_tags AS t"
         " WHERE NOT EXISTS (SELECT 1 FROM qa_reviews AS r WHERE r.call_id = t.call_id) GROUP BY t.call_id")


def write_tags(c: sqlite3.Connection, call_id: int, tags: Sequence[tuple[str, str]], ts: str) -> None:
    """The call's automatic tags ``(tag, reason)``, in the caller's transaction."""
    if not tags:
        return
    c.executemany("INSERT INTO qa_tags (call_id, tag, source, note, reviewer, created_at) VALUES (?,?,?,?,?,?)",
                  [(call_id, tag, "auto", reason, None, ts) for tag, reason in tags])


def _tag(r: sqlite3.Row) -> dict[str, Any]:
    return {"id": r["id"], "tag": r["tag"], "source": r["source"], "note": r["note"], "reviewer": r["reviewer"],
            "created_at": r["created_at"]}


def tags_of(c: sqlite3.Connection, call_id: int) -> list[dict[str, Any]]:
    """A call's tags, oldest first: id, tag, source (auto | manual), note (an automatic tag's reason, a
    reviewer's note), reviewer (None for automatic ones), created_at."""
    rows = c.execute("SELECT * FROM qa_tags WHERE call_id=? ORDER BY id", (call_id,)).fetchall()
    return [_tag(r) for r in rows]


def review_of(c: sqlite3.Connection, call_id: int) -> dict[str, Any] | None:
    row = c.execute("SELECT reviewed_at, reviewer FROM qa_reviews WHERE call_id=?", (call_id,)).fetchone()
    return {"reviewed_at": row["reviewed_at"], "reviewer": row["reviewer"]} if row is not None else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _stored(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds")  # as created_at is stored: UTC text


def _check_manual(tag: str, note: str, reviewer: str) -> None:
    if not TAG_NAME.fullmatch(tag):
        raise TagInvalid(f"must be a lower-case name of letters, digits and _ (at most 40, starting with a "
                         f"letter), not {tag[:60]!r}", field="tag")
    if len(note) > MAX_NOTE:
        raise TagInvalid(f"must be at most {MAX_NOTE} characters, not {len(note)}", field="note")
    if not reviewer.strip() or len(reviewer) > MAX_REVIEWER:
        raise TagInvalid(f"must be a name of 1 to {MAX_REVIEWER} characters", field="reviewer")


@dataclass(frozen=True)
class QueueQuery:
    """The review queue's filters: calls with this tag among theirs, calls of this grade (A-D)."""

    tag: str | None = None
    grade: str | None = None
    limit: int = 50
    offset: int = 0


class QaRecords:
    """The reviewer's side of QA over the records database: manual tags, reviews, the queue, counts."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def tags(self, call_id: int) -> list[dict[str, Any]]:
        return self.db.read(lambda c: tags_of(c, call_id))

    def review(self, call_id: int) -> dict[str, Any] | None:
        """When and by whom the call was marked reviewed; None: not yet."""
        return self.db.read(lambda c: review_of(c, call_id))

    def add(self, call_id: int, tag: str, note: str, reviewer: str) -> dict[str, Any] | None:
        """A reviewer's tag with a note on call ``call_id``; the stored tag, or None when there is no such call.
        Raises ``TagInvalid`` naming the field for a tag name, note or reviewer that cannot be stored."""
        _check_manual(tag, note, reviewer)

        def tx(c: sqlite3.Connection) -> dict[str, Any] | None:
            if c.execute("SELECT 1 FROM calls WHERE id=?", (call_id,)).fetchone() is None:
                return None
            cur = c.execute(
                "INSERT INTO qa_tags (call_id, tag, source, note, reviewer, created_at) VALUES (?,?,?,?,?,?)",
                (call_id, tag, "manual", note, reviewer, _now()))
            return _tag(c.execute("SELECT * FROM qa_tags WHERE id=?", (cur.lastrowid,)).fetchone())

        return self.db.write(tx)

    def remove(self, call_id: int, tag_id: int) -> bool:
        """Take tag ``tag_id`` off call ``call_id`` (a reviewer's, or an automatic one judged wrong); False when
        the call has no such tag."""
        return self.db.write(lambda c: c.execute("DELETE FROM qa_tags WHERE id=? AND call_id=?",
                                                 (tag_id, call_id)).rowcount > 0)

    def mark_reviewed(self, call_id: int, reviewer: str) -> dict[str, Any] | None:
        """The call leaves the review queue (marking it again updates when and by whom); None: no such call."""
        if not reviewer.strip() or len(reviewer) > MAX_REVIEWER:
            raise TagInvalid(f"must be a name of 1 to {MAX_REVIEWER} characters", field="reviewer")

        def tx(c: sqlite3.Connection) -> dict[str, Any] | None:
            if c.execute("SELECT 1 FROM calls WHERE id=?", (call_id,)).fetchone() is None:
                return None
            c.execute("INSERT INTO qa_reviews (call_id, reviewed_at, reviewer) VALUES (?,?,?) ON CONFLICT(call_id)"
                      " DO UPDATE SET reviewed_at=excluded.reviewed_at, reviewer=excluded.reviewer",
                      (call_id, _now(), reviewer))
            return review_of(c, call_id)

        return self.db.write(tx)

    def queue(self, q: QueueQuery) -> dict[str, Any]:
        """A page of the review queue: ``{"items": [{call_id, started_at, phone, customer_name, outcome,
        disposition, grade, score, severity, tags: [...]}], "total", "limit", "offset"}``, worst first."""
        return self.db.read(lambda c: _queue(c, q))

    def counts(self, since: datetime, until: datetime, *, zone: tzinfo, by: str = "day") -> dict[str, Any]:
        """Tags set in ``[since, until)`` per day (or hour) on the clock of ``zone``: ``{"by", "since", "until",
        "buckets": [{"start", "counts": {tag: n}, "total"}] (every bucket of the range, oldest first), "totals"}``.
        Raises ``ValueError`` for an unknown ``by`` or a range of more buckets than :data:`MAX_BUCKETS`."""
        if by not in BUCKETS:
            raise ValueError(f"by must be one of {', '.join(BUCKETS)}")
        starts = _bucket_starts(since, until, zone, by)
        rows = self.db.read(lambda c: c.execute(
            "SELECT substr(created_at, 1, 16) AS minute, tag, COUNT(*) AS n FROM qa_tags"
            " WHERE created_at >= ? AND created_at < ? GROUP BY minute, tag", (_stored(since), _stored(until))
        ).fetchall())
        per: dict[str, dict[str, int]] = {label: {} for label in starts}
        totals: dict[str, int] = {}
        for r in rows:
            at = datetime.fromisoformat(r["minute"]).replace(tzinfo=UTC).astimezone(zone)
            label = _label(at, by)
            counts = per.setdefault(label, {})
            counts[r["tag"]] = counts.get(r["tag"], 0) + r["n"]
            totals[r["tag"]] = totals.get(r["tag"], 0) + r["n"]
        return {
            "by": by, "since": _stored(since), "until": _stored(until),
            "buckets": [{"start": label, "counts": dict(sorted(counts.items())), "total": sum(counts.values())}
                        for label, counts in sorted(per.items())],
            "totals": dict(sorted(totals.items())),
        }


def _label(at: datetime, by: str) -> str:
    """A day as 2024-05-01; an hour as 2024-05-01T14:00+02:00 (with its offset: the hour a clock goes back
    through twice is two buckets)."""
    return at.date().isoformat() if by == "day" else at.replace(minute=0).isoformat(timespec="minutes")


def _bucket_starts(since: datetime, until: datetime, zone: tzinfo, by: str) -> list[str]:
    """The label of every bucket from the one holding ``since`` to the one holding the last moment before
    ``until`` (none when the range is empty)."""
    if until <= since:
        return []
    first, last = since.astimezone(zone), (until - timedelta(microseconds=1)).astimezone(zone)
    labels: list[str] = []
    if by == "day":
        day, end = first.date(), last.date()
        if (end - day).days + 1 > MAX_BUCKETS[by]:
            raise ValueError(f"at most {MAX_BUCKETS[by]} days at a time")
        while day <= end:
            labels.append(day.isoformat())
            day += timedelta(days=1)
        return labels
    at = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if (until - at) / timedelta(hours=1) > MAX_BUCKETS[by]:
        raise ValueError(f"at most {MAX_BUCKETS[by]} hours at a time")
    while at < until:
        labels.append(_label(at.astimezone(zone), by))
        at += timedelta(hours=1)
    return list(dict.fromkeys(labels))


def _queue(c: sqlite3.Connection, q: QueueQuery) -> dict[str, Any]:
    where: list[str] = []
    args: list[Any] = []
    if q.grade is not None:
        where.append("calls.strength_grade = ?")
        args.append(q.grade)
    if q.tag is not None:
        where.append("open.call_id IN (SELECT call_id FROM qa_tags WHERE tag = ?)")
        args.append(q.tag)
    base = (f" FROM ({_OPEN}) AS open JOIN calls ON calls.id = open.call_id"
            " LEFT JOIN tickets ON tickets.id = calls.ticket_id" + (" WHERE " + " AND ".join(where) if where else ""))
    total = c.execute("SELECT COUNT(*)" + base, args).fetchone()[0]
    rows = c.execute(
        "SELECT calls.id, calls.started_at, calls.phone, tickets.customer_name, COALESCE(calls.outcome, calls.state)"
        " AS outcome, calls.disposition, calls.strength_grade, calls.strength_score, open.severity, open.tag_count"
        + base + f" ORDER BY open.severity DESC, open.tag_count DESC, {_GRADE_SQL}, calls.id DESC LIMIT ? OFFSET ?",
        (*args, q.limit, q.offset)).fetchall()
    tags: dict[int, list[dict[str, Any]]] = {r["id"]: [] for r in rows}
    if tags:
        marks = ",".join("?" * len(tags))
        for t in c.execute(f"SELECT * FROM qa_tags WHERE call_id IN ({marks}) ORDER BY id", list(tags)).fetchall():
            tags[t["call_id"]].append(_tag(t))
    items = [{"call_id": r["id"], "started_at": r["started_at"], "phone": r["phone"],
              "customer_name": r["customer_name"], "outcome": r["outcome"], "disposition": r["disposition"],
              "grade": r["strength_grade"], "score": r["strength_score"], "severity": r["severity"],
              "tags": tags[r["id"]]} for r in rows]
    return {"items": items, "total": total, "limit": q.limit, "offset": q.offset}
