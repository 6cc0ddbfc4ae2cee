"""Call recordings on disk: stereo WAV, customer on the left channel, bot on the right.

Each call row names its file (``calls.recording``) and, once the call has ended, its size
(``recording_bytes``, written in the conclusion's transaction by :func:`note_size`). A recording that retention,
the quota, the free-space rule or the owner deletes is first marked (``recording_deleted_at`` and
``recording_deleted_why``), then its file is removed and ``recording`` cleared (``appliance.records.retention``);
the two partial indexes below hold the kept recordings oldest first and the marked ones whose file is still
there, so neither the pruning nor the disk-use figure ever walks the directory or the whole calls table."""

from __future__ import annotations

import io
import os
import re
import sqlite3
import threading
import wave
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from appliance.files import PRIVATE_FILE, private_dir
from appliance.records.talk import TalkMeter, TalkTally

_UNSAFE = re.compile(r"[^0-9A-Za-z+_-]")


def recording_path(root: Path, phone: str, call_id: int, when: datetime) -> Path:
    """recordings/<phone>/<YYYY-MM-DD>/<call-id>.wav"""
    return root / _UNSAFE.sub("_", phone) / f"{when:%Y-%m-%d}" / f"{call_id}.wav"


def _open_private(path: Path) -> wave.Wave_write:
    """A new WAV file only the box's user can read (0600), in folders only it can open (0700): a customer's voice."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    try:
        if os.fstat(fd).st_mode & 0o077:  # an older file of the same name kept its mode
            os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)
    return wave.open(str(path), "wb")  # by name, so that closing the writer closes the file; the mode stays


class StereoRecorder:
    """Takes aligned (customer, bot) frame pairs from the audio pump and writes them to a WAV file; a
    :class:`~appliance.records.talk.TalkMeter` measures the two channels as they are written (:attr:`tally`)."""

    def __init__(self, path: Path, *, rate: int = 8000) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            wav = _open_private(path)
        except FileNotFoundError:  # a prune removed the emptied day folder between mkdir and open
            wav = _open_private(path)
        self._wav: wave.Wave_write | None = wav
        self._wav.setnchannels(2)
        self._wav.setsampwidth(2)
        self._wav.setframerate(rate)
        self.frames = 0
        self.meter = TalkMeter()

    @property
    def tally(self) -> TalkTally:
        """Who talked and for how long in what was recorded so far (all zeros before the answer)."""
        return self.meter.tally

    def write(self, customer: bytes, bot: bytes) -> None:
        left = np.frombuffer(customer, dtype="<i2")
        right = np.frombuffer(bot, dtype="<i2")
        n = max(len(left), len(right))
        stereo = np.zeros((n, 2), dtype="<i2")
        stereo[: len(left), 0] = left
        stereo[: len(right), 1] = right
        with self._lock:
            if self._wav is not None:
                self._wav.writeframes(stereo.tobytes())
                self.frames += 1
                self.meter.feed(customer, bot)

    def close(self) -> None:
        with self._lock:
            if self._wav is not None:
                self._wav.close()
                self._wav = None


# the deletion reasons a call row's recording_deleted_why may hold
DELETED_WHY = ("retention", "quota", "disk", "owner", "missing")
KEPT = "recording IS NOT NULL AND recording_deleted_at IS NULL"  # the calls_recordings_kept index's condition
UNLINKING = "recording IS NOT NULL AND recording_deleted_at IS NOT NULL"  # marked, file not removed yet
CHANNELS = {"customer": 0, "bot": 1}  # which channel of the stereo file holds whom


def index_recordings(c: sqlite3.Connection) -> None:
    """The migration that indexes the recordings: each call's recording size and deletion mark, the two partial
    indexes, and the sizes of the recordings already on disk (a call whose file is gone is marked ``missing``)."""
    c.execute("ALTER TABLE calls ADD COLUMN recording_bytes INTEGER")
    c.execute("ALTER TABLE calls ADD COLUMN recording_deleted_at TEXT")
    c.execute("ALTER TABLE calls ADD COLUMN recording_deleted_why TEXT")
    c.execute(f"CREATE INDEX calls_recordings_kept ON calls(started_at, id, recording_bytes) WHERE {KEPT}")
    c.execute(f"CREATE INDEX calls_recordings_unlinking ON calls(id) WHERE {UNLINKING}")
    ts = datetime.now(UTC).isoformat(timespec="milliseconds")
    for row in c.execute("SELECT id FROM calls WHERE recording IS NOT NULL").fetchall():
        note_size(c, row[0], ts)


def note_size(c: sqlite3.Connection, call_id: int, ts: str) -> None:
    """Record the size of call ``call_id``'s recording file (inside the caller's transaction); a call whose file
    is not there has its recording marked deleted, ``missing``."""
    row = c.execute("SELECT recording FROM calls WHERE id=? AND recording_deleted_at IS NULL",
                    (call_id,)).fetchone()
    if row is None or not row[0]:
        return
    try:
        size = os.stat(row[0]).st_size
    except OSError:
        c.execute("UPDATE calls SET recording=NULL, recording_bytes=0, recording_deleted_at=?,"
                  " recording_deleted_why='missing' WHERE id=?", (ts, call_id))
        return
    c.execute("UPDATE calls SET recording_bytes=? WHERE id=?", (size, call_id))


def one_channel(path: Path, channel: str) -> bytes:
    """One side of a stereo recording (``customer`` or ``bot``) as a mono WAV at the same rate."""
    with wave.open(str(path), "rb") as stereo:
        rate, width, channels = stereo.getframerate(), stereo.getsampwidth(), stereo.getnchannels()
        frames = stereo.readframes(stereo.getnframes())
    if width != 2:
        raise ValueError(f"{path.name}: {8 * width}-bit samples; the box records 16-bit")
    samples = np.frombuffer(frames, dtype="<i2").reshape(-1, channels)
    side = samples[:, min(CHANNELS[channel], channels - 1)]
    out = io.BytesIO()
    with wave.open(out, "wb") as mono:
        mono.setnchannels(1)
        mono.setsampwidth(2)
        mono.setframerate(rate)
        mono.writeframes(np.ascontiguousarray(side).tobytes())
    return out.getvalue()
