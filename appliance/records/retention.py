"""Recordings that never fill the disk: retention in days, a quota, a free-space floor, and the owner's deletes.

One pass (:meth:`Retention.prune`) marks, in ONE transaction, (1) the recordings older than ``retention_days``
(``retention``), (2) the oldest while the kept ones take more than the quota (``quota``), (3) the oldest while the
disk has less free than ``min_free`` (``disk``), counting what the marked files will give back; then it removes
the marked files and clears each row's ``recording``. A power cut between the two leaves rows marked and files
still there, never a file gone behind an unmarked row, and the next pass (at start, hourly) finishes the
removal: every step is idempotent. A call in progress (dialing, ringing, answered) is never touched, and
nothing younger than the calling preset's legal minimum (``keep_days``) is deleted by the quota, the disk rule
or the owner: when only such recordings are left, calls wait (``appliance.campaign.guards.no_room``) rather than
the law being broken or the disk filled.

The oldest kept recordings and their sizes are read through the partial index ``calls_recordings_kept``
(``appliance.records.recordings``), so a pass and the disk-use figure cost one index walk, not a directory walk:
with 100,000 kept recordings on the 2-core test machine, the room (disk-use sum) takes ~22 ms, a pass with
nothing to delete ~35 ms, one that marks and clears 1,000 of them ~170 ms (the file removals aside).
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from appliance.config import MIN_RECORDS_DAYS, RecordingsConfig
from appliance.records.conclusion import IN_FLIGHT_CALL
from appliance.records.db import Database
from appliance.records.recordings import KEPT, UNLINKING
from appliance.records.store import iso

__all__ = ["MB", "Deletion", "PruneReport", "PruneThread", "Retention", "RetentionPolicy", "Room", "Selection"]

log = logging.getLogger(__name__)

MB = 1024 * 1024
_BATCH = 500  # rows marked or unlinked per step: a pass over a year of recordings never holds them all at once
_ENDED = f"state NOT IN ({', '.join(repr(s) for s in IN_FLIGHT_CALL)})"  # never a call in progress


@dataclass(frozen=True)
class RetentionPolicy:
    """``retention_days`` 0: no age limit; ``quota_bytes`` 0: no quota; ``keep_days``: the law's minimum (the
    calling preset's ``keep_records_days``), below which only retention itself could delete, and it may not."""

    retention_days: int = 90
    quota_bytes: int = 2048 * MB
    min_free_bytes: int = 200 * MB
    keep_days: int = 0

    @classmethod
    def from_config(cls, config: RecordingsConfig, preset: str) -> RetentionPolicy:
        """``[recordings]`` under the ``[calling] preset`` in force (its legal minimum)."""
        return cls(config.retention_days, config.quota_mb * MB, config.min_free_mb * MB,
                   MIN_RECORDS_DAYS.get(preset, 0))


@dataclass(frozen=True)
class Room:
    """The disk as the pre-call guard sees it: free bytes against the floor, the recordings' bytes against the
    quota."""

    free_bytes: int
    min_free_bytes: int
    used_bytes: int
    quota_bytes: int
    kept: int  # recordings kept

    @property
    def ok(self) -> bool:
        return self.free_bytes >= self.min_free_bytes

    @property
    def why(self) -> str:
        """The line state's words when there is no room ("" when there is)."""
        if self.ok:
            return ""
        return (f"no room for recordings: {self.free_bytes // MB} MB free, {self.min_free_bytes // MB} MB needed; "
                "calls wait")

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "free_mb": self.free_bytes // MB,
                               "min_free_mb": self.min_free_bytes // MB, "used_mb": round(self.used_bytes / MB, 1),
                               "quota_mb": self.quota_bytes // MB, "recordings": self.kept}
        if not self.ok:
            out["why"] = self.why
        return out


@dataclass(frozen=True)
class PruneReport:
    marked: dict[str, int]  # why -> recordings this pass marked
    removed: int  # files removed (with those an interrupted pass had marked)
    freed_bytes: int
    room: Room


@dataclass(frozen=True)
class Deletion:
    """The owner's bulk delete: what went, and what stayed and why."""

    deleted: int
    freed_bytes: int
    kept_by_law: int  # younger than the calling preset's legal minimum
    in_progress: int  # calls still on the line

    def as_dict(self) -> dict[str, int]:
        return {"deleted": self.deleted, "freed_bytes": self.freed_bytes, "kept_by_law": self.kept_by_law,
                "in_progress": self.in_progress}


@dataclass(frozen=True)
class Selection:
    """The kept recordings of one customer (E.164) and a time range (``since`` in, ``until`` out)."""

    phone: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self, *, ended: bool = True) -> tuple[str, list[Any]]:
        """The SQL condition and its arguments: of ended calls, or (``ended=False``) of calls on the line."""
        clauses, args = [KEPT, _ENDED if ended else f"NOT ({_ENDED})"], []
        for clause, value in (("phone = ?", self.phone), ("started_at >= ?", self.since and iso(self.since)),
                              ("started_at < ?", self.until and iso(self.until))):
            if value is not None:
                clauses.append(clause)
                args.append(value)
        return " AND ".join(clauses), args


def disk_free(root: Path) -> int:
    """Free bytes on the file system that holds ``root`` (or would: its nearest existing parent)."""
    where = root
    while not where.exists() and where != where.parent:
        where = where.parent
    return shutil.disk_usage(where).free


@dataclass
class Retention:
    """The recordings under ``root`` as the records index them. ``free_bytes`` measures the disk (tests inject
    one); ``clock`` is the time that retention counts from."""

    db: Database
    root: Path
    policy: RetentionPolicy
    free_bytes: Callable[[], int] | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # a call's guard prunes again only this long after the last pass: with the disk short, every due task is
    # held in turn, and one pass a minute is enough to find what may go
    guard_gap_s: float = 60.0
    last_room: Room | None = field(default=None, init=False)  # what the last look at the disk found
    _last_pass: float | None = field(default=None, init=False, repr=False)  # time.monotonic() of the last pass
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    # -- the disk ------------------------------------------------------------------------------------------------
    def room(self) -> Room:
        used, kept = self.db.read(lambda c: c.execute(
            f"SELECT COALESCE(SUM(recording_bytes), 0), COUNT(*) FROM calls WHERE {KEPT}").fetchone())
        free = self.free_bytes() if self.free_bytes is not None else disk_free(self.root)
        self.last_room = Room(free, self.policy.min_free_bytes, int(used), self.policy.quota_bytes, int(kept))
        return self.last_room

    def ensure_room(self) -> Room:
        """The room before a call: when the disk is below the floor, a pass first, then a second look."""
        room = self.room()
        if room.ok or (self._last_pass is not None and time.monotonic() - self._last_pass < self.guard_gap_s):
            return room
        return self.prune().room

    # -- one pass ------------------------------------------------------------------------------------------------
    def prune(self) -> PruneReport:
        """Mark (one transaction), then remove the marked files; returns what it did and the room after."""
        with self._lock:  # the hourly pass, a call's guard and the owner never prune at once
            marked = self.db.write(lambda c: self._mark(c, self.clock()))
            removed, freed = self._unlink_marked()
            self._last_pass = time.monotonic()
        if any(marked.values()) or removed:
            log.info("recordings pruned: %s marked, %d file(s) removed, %.1f MB freed",
                     ", ".join(f"{n} {why}" for why, n in marked.items() if n) or "none", removed, freed / MB)
        return PruneReport(marked, removed, freed, self.room())

    def mark(self) -> dict[str, int]:
        """The first half of a pass alone (what a power cut right after it leaves): why -> rows marked."""
        with self._lock:
            return self.db.write(lambda c: self._mark(c, self.clock()))

    def _mark(self, c: sqlite3.Connection, now: datetime) -> dict[str, int]:
        policy, ts = self.policy, iso(now)
        marked = {"retention": 0, "quota": 0, "disk": 0}
        if policy.retention_days > 0:
            cutoff = iso(now - timedelta(days=policy.retention_days))
            marked["retention"] = c.execute(
                f"UPDATE calls SET recording_deleted_at=?, recording_deleted_why='retention'"
                f" WHERE {KEPT} AND {_ENDED} AND started_at < ?", (ts, cutoff)).rowcount
        young = iso(now - timedelta(days=policy.keep_days))  # the law keeps what started after this
        if policy.quota_bytes > 0:
            used = c.execute(f"SELECT COALESCE(SUM(recording_bytes), 0) FROM calls WHERE {KEPT}").fetchone()[0]
            marked["quota"], left = _mark_oldest(c, used - policy.quota_bytes, "quota", young, ts)
            if left > 0:
                log.warning("recordings take %.0f MB, over the quota of %d MB; the rest are younger than the "
                            "law's %d days or still on the line", used / MB, policy.quota_bytes // MB,
                            policy.keep_days)
        if policy.min_free_bytes > 0:
            coming = c.execute(f"SELECT COALESCE(SUM(recording_bytes), 0) FROM calls WHERE {UNLINKING}").fetchone()[0]
            free = (self.free_bytes() if self.free_bytes is not None else disk_free(self.root)) + coming
            marked["disk"], left = _mark_oldest(c, policy.min_free_bytes - free, "disk", young, ts)
            if left > 0:
                log.warning("the disk has %.0f MB free, less than the %d MB calls need, and no recording may go",
                            free / MB, policy.min_free_bytes // MB)
        return marked

    def _unlink_marked(self) -> tuple[int, int]:
        """Remove the files of the marked rows, then clear their ``recording``: (files removed, bytes freed)."""
        removed = freed = 0
        root = self.root.resolve()
        while True:
            rows = self.db.read(lambda c: c.execute(
                f"SELECT id, recording, COALESCE(recording_bytes, 0) FROM calls WHERE {UNLINKING} ORDER BY id"
                " LIMIT ?", (_BATCH,)).fetchall())
            if not rows:
                return removed, freed
            done: list[int] = []
            for call_id, stored, size in rows:
                path = Path(stored).resolve()
                if not path.is_relative_to(root):
                    log.warning("call %s: its recording %s is not under %s; left in place", call_id, stored, root)
                else:
                    try:
                        path.unlink()
                    except FileNotFoundError:
                        pass  # removed before a power cut, or never written
                    except OSError as exc:
                        log.warning("call %s: recording %s not removed (%s); tried again next pass", call_id,
                                    stored, exc)
                        continue
                    else:
                        removed, freed = removed + 1, freed + int(size)
                    _drop_empty_parents(path.parent, root)
                done.append(int(call_id))
            if not done:
                return removed, freed  # every file of the batch refused: the next pass tries again
            self.db.write(_cleared(done))

    # -- the owner -----------------------------------------------------------------------------------------------
    def delete(self, selection: Selection) -> Deletion:
        """The owner's bulk delete of ``selection`` (reason ``owner``): marked in one transaction, then removed.
        Calls in progress and recordings younger than the law's minimum stay, and are counted."""
        now = self.clock()
        cutoff = iso(now - timedelta(days=self.policy.keep_days))
        where, args = selection.where()
        on_line, on_line_args = selection.where(ended=False)

        def tx(c: sqlite3.Connection) -> Deletion:
            in_progress = c.execute(f"SELECT COUNT(*) FROM calls WHERE {on_line}", on_line_args).fetchone()[0]
            by_law = c.execute(f"SELECT COUNT(*) FROM calls WHERE {where} AND started_at >= ?",
                               (*args, cutoff)).fetchone()[0]
            freed = c.execute(f"SELECT COALESCE(SUM(recording_bytes), 0) FROM calls WHERE {where} AND started_at < ?",
                              (*args, cutoff)).fetchone()[0]
            deleted = c.execute(f"UPDATE calls SET recording_deleted_at=?, recording_deleted_why='owner'"
                                f" WHERE {where} AND started_at < ?", (iso(now), *args, cutoff)).rowcount
            return Deletion(deleted, int(freed), int(by_law), int(in_progress))

        with self._lock:
            done = self.db.write(tx)
            self._unlink_marked()
        log.info("the owner deleted %d recording(s) (%.1f MB); %d kept by law, %d on the line", done.deleted,
                 done.freed_bytes / MB, done.kept_by_law, done.in_progress)
        return done

    # -- browsing ------------------------------------------------------------------------------------------------
    def find(self, selection: Selection, *, limit: int, offset: int = 0) -> tuple[list[dict[str, Any]], int, int]:
        """The kept recordings of ``selection``, newest first: (a page of rows, how many in all, their bytes)."""
        where, args = selection.where()

        def read(c: sqlite3.Connection) -> tuple[list[dict[str, Any]], int, int]:
            total, size = c.execute(f"SELECT COUNT(*), COALESCE(SUM(recording_bytes), 0) FROM calls WHERE {where}",
                                    args).fetchone()
            rows = c.execute(
                "SELECT calls.id, calls.ticket_id, calls.phone, tickets.customer_name, calls.started_at,"
                " calls.answered_at, calls.ended_at, calls.outcome, calls.recording_bytes FROM calls"
                f" JOIN tickets ON tickets.id = calls.ticket_id WHERE {where}"
                " ORDER BY calls.started_at DESC, calls.id DESC LIMIT ? OFFSET ?",
                (*args, limit, offset)).fetchall()
            return [dict(r) for r in rows], int(total), int(size)

        return self.db.read(read)

    def kept_file(self, call_id: int) -> Path | None:
        """The WAV of an ended call whose recording is kept, if its file is there."""
        row = self.db.read(lambda c: c.execute(
            f"SELECT recording FROM calls WHERE id=? AND {KEPT} AND {_ENDED}", (call_id,)).fetchone())
        path = Path(row[0]) if row is not None else None
        return path if path is not None and path.is_file() else None


def _mark_oldest(c: sqlite3.Connection, need: int, why: str, young: str, ts: str) -> tuple[int, int]:
    """Mark the oldest kept recordings of ended calls that started before ``young`` until their bytes reach
    ``need``: (rows marked, bytes still needed)."""
    marked = 0
    while need > 0:
        rows = c.execute(f"SELECT id, COALESCE(recording_bytes, 0) FROM calls WHERE {KEPT} AND {_ENDED}"
                         " AND started_at < ? ORDER BY started_at, id LIMIT ?", (young, _BATCH)).fetchall()
        if not rows:
            break
        chosen = []
        for call_id, size in rows:
            chosen.append((ts, why, call_id))
            need -= size
            if need <= 0:
                break
        c.executemany("UPDATE calls SET recording_deleted_at=?, recording_deleted_why=? WHERE id=?", chosen)
        marked += len(chosen)
    return marked, max(need, 0)


def _cleared(ids: list[int]) -> Callable[[sqlite3.Connection], object]:
    """The write that says these rows' files are gone."""
    return lambda c: c.executemany("UPDATE calls SET recording=NULL WHERE id=?", [(i,) for i in ids])


def _drop_empty_parents(folder: Path, root: Path) -> None:
    """Remove the emptied day and phone folders up to (not including) ``root``; a folder a new call has just
    written into is not empty, and stays."""
    while folder != root and folder.is_relative_to(root):
        try:
            os.rmdir(folder)
        except OSError:
            return
        folder = folder.parent


class PruneThread:
    """The ``recordings-prune`` thread: a pass at start, then every ``interval_s`` (hourly)."""

    def __init__(self, retention: Retention, *, interval_s: float = 3600.0) -> None:
        self.retention = retention
        self.interval_s = interval_s
        self.passes = 0  # finished passes, for tests and the log
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="recordings-prune", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            if self._thread.is_alive():
                log.warning("the recordings pruner did not stop within %.0f s", timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.retention.prune()
            except Exception:  # a busy disk or a locked database must not end the thread
                log.exception("recordings prune failed; trying again in %.0f s", self.interval_s)
            self.passes += 1
            self._stop.wait(self.interval_s)
