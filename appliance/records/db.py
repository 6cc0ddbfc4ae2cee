"""SQLite plumbing: WAL, one writer thread, reads from any thread, numbered migrations."""

from __future__ import annotations

import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from appliance.errors import StorageError
from appliance.files import PRIVATE_FILE
from appliance.records.figures import add_call_figures
from appliance.records.phones import normalise_stored_phones
from appliance.records.recordings import index_recordings
from appliance.records.rollup import add_stats_rollup

log = logging.getLogger(__name__)
T = TypeVar("T")

Migration = str | Callable[[sqlite3.Connection], Any]  # a script, or Python for what SQL cannot do

MIGRATIONS: list[Migration] = [
    # 1: the first schema
    """
    CREATE TABLE tickets (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        subject TEXT NOT NULL,
        description TEXT NOT NULL,
        customer_name TEXT NOT NULL,
        customer_phone TEXT NOT NULL,
        order_id TEXT NOT NULL,
        order_status TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        decision TEXT NOT NULL,
        reason TEXT NOT NULL,
        flow_id TEXT,
        next_call_at TEXT,
        received_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX tickets_phone ON tickets(customer_phone, received_at);
    CREATE INDEX tickets_received ON tickets(received_at);
    CREATE TABLE webhook_messages (
        id TEXT PRIMARY KEY,
        ticket_id TEXT NOT NULL,
        received_at TEXT NOT NULL
    );
    CREATE TABLE tasks (
        id INTEGER PRIMARY KEY,
        ticket_id TEXT NOT NULL REFERENCES tickets(id),
        flow_id TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        next_attempt_at TEXT NOT NULL,
        last_outcome TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX tasks_due ON tasks(state, next_attempt_at);
    CREATE TABLE calls (
        id INTEGER PRIMARY KEY,
        task_id INTEGER NOT NULL REFERENCES tasks(id),
        ticket_id TEXT NOT NULL REFERENCES tickets(id),
        phone TEXT NOT NULL,
        line TEXT NOT NULL,
        flow_id TEXT NOT NULL,
        flow_version INTEGER NOT NULL,
        state TEXT NOT NULL,
        started_at TEXT NOT NULL,
        answered_at TEXT,
        ended_at TEXT,
        outcome TEXT,
        cause INTEGER,
        disposition TEXT,
        remark TEXT,
        recording TEXT
    );
    CREATE INDEX calls_phone_time ON calls(phone, started_at);
    CREATE INDEX calls_time ON calls(started_at);
    CREATE INDEX calls_ticket ON calls(ticket_id);
    CREATE TABLE turns (
        id INTEGER PRIMARY KEY,
        call_id INTEGER NOT NULL REFERENCES calls(id),
        seq INTEGER NOT NULL,
        speaker TEXT NOT NULL,
        text TEXT NOT NULL,
        intent TEXT,
        confidence REAL,
        node TEXT,
        at_ms INTEGER NOT NULL
    );
    CREATE INDEX turns_call ON turns(call_id, seq);
    CREATE TABLE ticket_operations (
        id INTEGER PRIMARY KEY,
        ticket_id TEXT NOT NULL REFERENCES tickets(id),
        call_id INTEGER REFERENCES calls(id),
        kind TEXT NOT NULL,
        detail TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX ticket_operations_ticket ON ticket_operations(ticket_id);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        topic TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try_at TEXT NOT NULL,
        delivered_at TEXT,
        last_error TEXT
    );
    CREATE INDEX outbox_pending ON outbox(delivered_at, next_try_at);
    CREATE TABLE users (
        username TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
    # 2: numbers that asked not to be called again ("stop calling me"), kept until an admin removes one
    """
    CREATE TABLE do_not_call (
        phone TEXT PRIMARY KEY,
        added_at TEXT NOT NULL,
        reason TEXT NOT NULL,
        ticket_id TEXT,
        call_id INTEGER
    );
    """,
    # 3: what the flow made of a call: the slots it filled and the intent strength (score, grade A-D, why)
    """
    ALTER TABLE calls ADD COLUMN slots TEXT;
    ALTER TABLE calls ADD COLUMN strength_score INTEGER;
    ALTER TABLE calls ADD COLUMN strength_grade TEXT;
    ALTER TABLE calls ADD COLUMN strength_reasons TEXT;
    """,
    # 4: states as the campaign's tables name them (appliance.campaign.attempt): a task ends `completed` (was
    # `done`) or `cancelled` (was `failed`, a flow not published); a call row keeps its terminal attempt state
    # (was `ended`, with the outcome beside it). A ticket has at most one live task: older duplicates are
    # cancelled, then a partial unique index holds it.
    """
    UPDATE tasks SET state='completed' WHERE state='done';
    UPDATE tasks SET state='cancelled' WHERE state='failed';
    UPDATE calls SET state=outcome WHERE state='ended' AND outcome IS NOT NULL;
    UPDATE tasks SET state='cancelled', last_outcome='duplicate'
        WHERE state IN ('pending', 'running', 'paused')
        AND id NOT IN (SELECT MIN(id) FROM tasks WHERE state IN ('pending', 'running', 'paused') GROUP BY ticket_id);
    CREATE UNIQUE INDEX tasks_one_live ON tasks(ticket_id) WHERE state IN ('pending', 'running', 'paused');
    """,
    # 5: phone numbers in E.164, so that a national and an international form of one number are one customer
    # (do-not-call list, caps): the international forms are rewritten here; national ones need the shop's
    # country and are rewritten when the store is opened with it (RecordsStore(phone_region=...))
    normalise_stored_phones,
    # 6: a ticket's own flow variables (the native payload's "vars" object: name -> text), as a JSON object
    """
    ALTER TABLE tickets ADD COLUMN vars TEXT NOT NULL DEFAULT '{}';
    """,
    # 7: the outbox's delivery (appliance.records.outbox): how many of an item's requests went through (a
    # helpdesk's internal note, then its status) and when the box gave up on an item the ticketing system refused
    """
    ALTER TABLE outbox ADD COLUMN steps_done INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE outbox ADD COLUMN gave_up_at TEXT;
    """,
    # 8: each call's attempt number (its task's `attempts` when it started: "attempt 2 of 3"). Calls made before
    # are numbered by their order within their task: every counted attempt that reached a line has a call row
    # (a guard holds a task before its call row is written, uncounted), so only an attempt a crash cut between
    # taking the task and writing the row is missing from the count
    """
    ALTER TABLE calls ADD COLUMN attempt INTEGER;
    UPDATE calls SET attempt = (SELECT COUNT(*) FROM calls AS earlier
                                WHERE earlier.task_id = calls.task_id AND earlier.id <= calls.id);
    CREATE INDEX calls_task ON calls(task_id, id);
    """,
    # 9: call tasks (appliance.campaign.calltask): a campaign an owner creates and controls, or the standing one a
    # trigger fills per flow; each ticket's task row names the call task it belongs to (NULL: made before, claimed
    # as before). ``finished`` counts its ticket tasks that have ended (the conclusion writes it); timers make call
    # tasks from a template at the times of a cron expression, at most once per due time (``last_due``)
    """
    CREATE TABLE call_tasks (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        source TEXT NOT NULL,
        flow_id TEXT NOT NULL,
        settings TEXT NOT NULL DEFAULT '{}',
        state TEXT NOT NULL,
        priority INTEGER NOT NULL DEFAULT 0,
        lines INTEGER,
        valid_until TEXT,
        total INTEGER NOT NULL DEFAULT 0,
        finished INTEGER NOT NULL DEFAULT 0,
        timer_id INTEGER,
        reason TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX call_tasks_state ON call_tasks(state, priority);
    CREATE UNIQUE INDEX call_tasks_one_standing ON call_tasks(flow_id)
        WHERE source = 'trigger' AND state IN ('pending', 'running', 'paused');
    ALTER TABLE tasks ADD COLUMN call_task_id INTEGER REFERENCES call_tasks(id);
    CREATE INDEX tasks_call_task ON tasks(call_task_id, state);
    CREATE TABLE call_task_timers (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        cron TEXT NOT NULL,
        template TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        last_due TEXT,
        created_at TEXT NOT NULL
    );
    """,
    # 10: the scenario the owner's rules picked for a ticket (appliance.campaign.rules): its call takes the
    # scenario's pinned flow version and variable mapping, and the ticket joins the scenario's standing call task
    # (one per scenario name now, not per flow: two scenarios may share a flow with different task settings)
    """
    ALTER TABLE tickets ADD COLUMN scenario TEXT;
    DROP INDEX call_tasks_one_standing;
    CREATE UNIQUE INDEX call_tasks_one_standing ON call_tasks(name)
        WHERE source = 'trigger' AND state IN ('pending', 'running', 'paused');
    """,
    # 11: the claim walks one call task's due ticket tasks in order (appliance.records.store.first_claimable)
    """
    CREATE INDEX tasks_claim ON tasks(call_task_id, state, next_attempt_at, id);
    """,
    # 12: one outbox, several targets (appliance.records.outbox): `ticket` (ticket operations to the ticketing
    # system, as before) and `upstream` (each finished call's record, appliance.records.upstream). `order_key`
    # holds a target's rows in order (a ticket's operations: the ticket id; a call's records: call:<id>), read
    # through an index instead of each payload's JSON, so a backlog of 10,000 records stays cheap to walk
    """
    ALTER TABLE outbox ADD COLUMN target TEXT NOT NULL DEFAULT 'ticket';
    ALTER TABLE outbox ADD COLUMN order_key TEXT;
    UPDATE outbox SET order_key = CAST(json_extract(payload, '$.ticket') AS TEXT) WHERE json_valid(payload);
    CREATE INDEX outbox_target_pending ON outbox(target, id) WHERE delivered_at IS NULL AND gave_up_at IS NULL;
    CREATE INDEX outbox_target_order ON outbox(target, order_key, id)
        WHERE delivered_at IS NULL AND gave_up_at IS NULL;
    CREATE INDEX outbox_target_delivered ON outbox(target, delivered_at);
    """,
    # 13: each turn's event as the flow engine named it (appliance.dialog.runtime.steps.TurnRecord.event):
    # prompt, no_input, no_match, barge_in, kb, dtmf, greeting, ... ('' for an ordinary turn; NULL before)
    """
    ALTER TABLE turns ADD COLUMN event TEXT;
    """,
    # 14: recordings indexed for retention (appliance.records.recordings, .retention): each call's recording size
    # (written when the call ends) and its deletion mark (when, and why: retention, quota, disk, owner, missing);
    # a partial index of the kept recordings oldest first (what the quota deletes and /metrics sums) and one of
    # the marked ones whose file is still there. The recordings on disk get their sizes here; a call whose file
    # is gone is marked deleted, ``missing``
    index_recordings,
    # 15: what each call keeps for statistics (appliance.records.figures): ring, duration and each side's talk
    # time, customer turns, interruptions, silences and the longest, no-matches, knowledge-base answers, the
    # intent, and the call task and scenario copied onto the row, so that statistics group one covering index
    # (calls_stats) without a join; calls recorded before get what their rows, turns, tasks and tickets tell
    add_call_figures,
    # 16: QA (appliance.records.qa): each customer turn's recognition confidence and its intent's lead over the
    # runner-up (NULL for turns stored before, and for turns without them); the calls' QA tags, automatic ones
    # written with the call's conclusion and a reviewer's manual ones with a note; and which calls a reviewer has
    # seen (the review queue is the tagged calls without a review). Calls made before have no tags and no review.
    """
    ALTER TABLE turns ADD COLUMN asr_confidence REAL;
    ALTER TABLE turns ADD COLUMN margin REAL;
    CREATE TABLE qa_tags (
        id INTEGER PRIMARY KEY,
        call_id INTEGER NOT NULL REFERENCES calls(id),
        tag TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('auto', 'manual')),
        note TEXT NOT NULL DEFAULT '',
        reviewer TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX qa_tags_call ON qa_tags(call_id, id);
    CREATE INDEX qa_tags_time ON qa_tags(created_at, tag);
    CREATE INDEX qa_tags_tag ON qa_tags(tag, call_id);
    CREATE TABLE qa_reviews (
        call_id INTEGER PRIMARY KEY REFERENCES calls(id),
        reviewed_at TEXT NOT NULL,
        reviewer TEXT NOT NULL
    );
    """,
    # 17: re-analysis of stored recordings (appliance.records.reanalysis, `callbox recordings reanalyse`): a run
    # row per pass over a time range (resumable: ``done`` of ``total``) and one row per call it handled, with
    # what it heard again (turns, intent, slots, intent strength) or why it skipped the call; the call row and
    # its turns keep the original values. New tables: nothing to backfill
    """
    CREATE TABLE reanalysis_runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        since TEXT NOT NULL,
        until TEXT,
        flow TEXT,
        recogniser TEXT NOT NULL,
        state TEXT NOT NULL,
        done INTEGER NOT NULL DEFAULT 0,
        total INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE reanalysis (
        call_id INTEGER NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
        run_id INTEGER NOT NULL REFERENCES reanalysis_runs(id) ON DELETE CASCADE,
        turns TEXT NOT NULL DEFAULT '[]',
        intent TEXT,
        slots TEXT,
        strength_score INTEGER,
        strength_grade TEXT,
        strength_reasons TEXT,
        changed INTEGER NOT NULL DEFAULT 0,
        skipped TEXT,
        created_at TEXT NOT NULL,
        PRIMARY KEY (run_id, call_id)
    );
    CREATE INDEX reanalysis_call ON reanalysis(call_id, run_id);
    """,
    # 18: the console's access (appliance.records.access): each user's role (admin | reviewer) and language; API
    # tokens kept as SHA-256 hashes with a name, who made them and when last used; the audit log of configuration
    # changes (who, when, what, before -> after as JSON). Backfill: every existing user was the admin, so "admin";
    # no language chosen yet (the browser's is used)
    """
    ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'reviewer'));
    ALTER TABLE users ADD COLUMN lang TEXT;
    CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_used_at TEXT
    );
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        who TEXT NOT NULL,
        what TEXT NOT NULL,
        before TEXT,
        after TEXT
    );
    CREATE INDEX audit_log_at ON audit_log(at);
    """,
    # 19: the console's task list counts each call task's calls by outcome from this index alone (a call task of
    # 20,000 calls in milliseconds, not a row read per call); calls already stored are indexed as it is made
    """
    CREATE INDEX calls_call_task ON calls(call_task_id, outcome, state);
    """,
    # 20: each line's signal, sampled every few minutes by the panel's line watch (appliance.records.signal), for
    # the Modems page's chart of the last day; pruned after two days. A new table: nothing to backfill
    """
    CREATE TABLE line_signal (
        line TEXT NOT NULL,
        at TEXT NOT NULL,
        dbm INTEGER,
        rssi INTEGER,
        state TEXT NOT NULL
    );
    CREATE INDEX line_signal_line ON line_signal(line, at);
    CREATE INDEX line_signal_at ON line_signal(at);
    """,
    # 21: the Statistics page's running totals (appliance.records.rollup): ended calls counted per UTC hour and
    # per UTC day with their filters and values, kept by triggers on calls in the transaction that writes the
    # call; the calls stored before are counted here
    add_stats_rollup,
    # 22: the panel's sessions are revocable (web.auth): each user's session generation, copied into the signed cookie
    # at sign-in and bumped by signing out, a password change or a role change, so every cookie made before no
    # longer signs anyone in, across restarts too. Backfill: 1 for every user (cookies made before this carry no
    # generation, so they end once: everyone signs in again after the upgrade)
    """
    ALTER TABLE users ADD COLUMN session_gen INTEGER NOT NULL DEFAULT 1;
    """,
]


def _private(path: Path) -> None:
    """The database file made 0600 before SQLite opens it, and so its -wal and -shm too (SQLite gives them the
    database file's mode); an existing one, and its -wal and -shm, made 0600 (customers' numbers and words)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    except OSError:
        return  # not a file we may create: sqlite3 says why when it opens it
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if file.stat().st_mode & 0o077:
                file.chmod(PRIVATE_FILE)
        except OSError:
            pass  # no -wal or -shm yet (or not ours: sqlite3 reports it)


class Database:
    """One SQLite file: every write runs on one writer thread, reads on the caller's thread."""

    def __init__(self, path: Path, *, synchronous: str = "FULL") -> None:
        self.path = path
        self._synchronous = synchronous
        path.parent.mkdir(parents=True, exist_ok=True)
        _private(path)
        self._local = threading.local()
        self._jobs: queue.Queue[tuple[Callable[[sqlite3.Connection], Any], Future[Any]] | None] = queue.Queue()
        self._stop = threading.Event()
        self._writer_conn = self._connect()
        self._migrate(self._writer_conn)
        self._thread = threading.Thread(target=self._run_writer, name=f"sqlite-writer:{path.name}", daemon=True)
        self._thread.start()

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=10, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open {self.path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS, start=1):
            if number <= current:
                continue
            log.info("migrating %s to schema %d", self.path, number)
            if isinstance(script, str):
                conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
                continue
            conn.execute("BEGIN")
            try:
                script(conn)
                conn.execute(f"PRAGMA user_version={number}")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        return int(self.read(lambda c: c.execute("PRAGMA user_version").fetchone()[0]))

    def _run_writer(self) -> None:
        conn = self._writer_conn
        while True:
            job = self._jobs.get()
            if job is None:
                break
            fn, fut = job
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                conn.execute("BEGIN IMMEDIATE")
                result = fn(conn)
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                fut.set_exception(exc)
            else:
                fut.set_result(result)
        conn.close()

    def write(self, fn: Callable[[sqlite3.Connection], T], *, timeout: float = 30.0) -> T:
        """Run fn in one transaction on the writer thread; returns once it is committed."""
        if self._stop.is_set():
            raise StorageError("database is closed")
        fut: Future[T] = Future()
        self._jobs.put((fn, fut))
        try:
            return fut.result(timeout=timeout)
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        try:
            return fn(conn)
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._jobs.put(None)
        self._thread.join(timeout=10)
