"""The scheduler: one dispatcher hands the next due task to the free line that should take it, one worker per line
runs the call.

Which line: :func:`pick_line`, pure — among the ready, idle lines still under their SIM's daily cap, the one that
finished its last call longest ago (a line never used first), ties by name. One dispatcher decides for all lines
because least-recently-used is a comparison between lines: per-line workers that each claim for themselves would
have to agree on whose turn it is (the line that wakes first would win, not the one that rested longest); with one
decider the choice is a single function call on one snapshot, and each line's worker only runs what it is handed.

The daily cap counts the calls a line started (rows in the calls table) since the start of the box's day: the
``day_zone`` the box passes ([shop] time_zone, else the box's own clock). A line at its cap takes nothing until
the day turns, and :meth:`Scheduler.line_notes` says so for the panel's status.

Which task: ``RecordsStore.claim_due_task``, which never takes a task whose number is being called (one call per
number at a time, checked inside the claim's transaction).

Calling hours are a decision per task, on the callee's clock: the runner's guards (``compliance.hold``) move a
task that may not be called now to the first time it may, so a task is taken at most once per closing."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo

from appliance.campaign.calls import CallRunner, CallSummary
from appliance.campaign.conclude import recover, released
from appliance.campaign.hours import box_zone
from appliance.campaign.remarks import ENGLISH, Remarks
from appliance.config import RetryConfig
from appliance.logs import bind_line
from appliance.records.conclusion import Conclusion, TaskEnd
from appliance.records.store import RecordsStore, TaskRow, iso
from appliance.telephony.line import LineState
from appliance.telephony.ports import LinePort

log = logging.getLogger(__name__)

_NEVER = datetime.min.replace(tzinfo=UTC)

LineJob = Callable[[LinePort], None]  # something else a line's worker runs instead of a task (a panel test call)


def pick_line(
    lines: Sequence[str],
    last_used: Mapping[str, datetime],
    counts: Mapping[str, int],
    caps: Mapping[str, int | None],
) -> str | None:
    """The free line that takes the next attempt, or None if every one is at its daily cap.

    ``lines``: the free, ready lines; ``last_used``: when each finished its last call (absent: never);
    ``counts``: calls each started today; ``caps``: each one's daily cap (absent or None: no cap)."""
    under_cap = [name for name in lines if (cap := caps.get(name)) is None or counts.get(name, 0) < cap]
    return min(under_cap, key=lambda name: (last_used.get(name, _NEVER), name), default=None)


def start_of_day(now: datetime, zone: tzinfo) -> datetime:
    """Midnight of ``now``'s day on ``zone``'s clock (the moment a SIM's daily count starts)."""
    local = now.astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def recover_at_startup(records: RecordsStore, now: datetime, *, retry: RetryConfig,
                       remarks: Remarks = ENGLISH) -> int:
    """The attempts a crash left in flight end ``interrupted``, their tasks wait the retry table's delay for
    ``interrupted``: one transaction; remarks in ``remarks``' language. Returns how many were found."""
    found = records.recover_in_flight(lambda in_flight: recover(in_flight, now, retry=retry, remarks=remarks))
    if found:
        log.warning("%d call attempt(s) were in flight when the box stopped; ended as interrupted", found)
    return found


class Scheduler:
    """``caps``: line name -> calls it may start per day (absent or None: no cap)."""

    def __init__(
        self,
        *,
        records: RecordsStore,
        runner: CallRunner,
        lines: Sequence[LinePort],
        on_call: Callable[[CallSummary], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        idle_poll_s: float = 1.0,
        retry: RetryConfig | None = None,
        caps: Mapping[str, int | None] | None = None,
        day_zone: tzinfo | None = None,
        on_start: Callable[[TaskRow, str], None] | None = None,
        remarks: Remarks = ENGLISH,
    ) -> None:
        self.records = records
        self.runner = runner
        self.lines = list(lines)
        self.on_call = on_call
        self.on_start = on_start  # (task, line name) as a line worker takes a task, before the call runs
        self.clock = clock
        self.idle_poll_s = idle_poll_s
        self.retry = retry or RetryConfig()  # the delays that start-up recovery follows
        self.remarks = remarks  # the language of start-up recovery's remarks on tickets
        self.caps: dict[str, int | None] = dict(caps or {})
        self.day_zone = day_zone or box_zone()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()  # guards _busy, _last_used and _capped
        self._busy: set[str] = set()
        self._last_used: dict[str, datetime] = {}
        self._capped: dict[str, int] = {}  # line -> its cap, for the lines that reached it today
        self._slots: dict[str, queue.Queue[TaskRow | LineJob | None]] = {line.name: queue.Queue()
                                                                         for line in self.lines}
        self._threads: list[threading.Thread] = []
        self.heartbeat = time.monotonic()  # the dispatcher's last turn (the watchdog's "hung" test)

    def start(self) -> None:
        recover_at_startup(self.records, self.clock(), retry=self.retry, remarks=self.remarks)
        self._last_used = self.records.line_last_call()
        for line in self.lines:
            t = threading.Thread(target=self._work, args=(line,), name=f"line-worker:{line.name}", daemon=True)
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._dispatch, name="scheduler", daemon=True)
        t.start()
        self._threads.append(t)

    def wake(self) -> None:
        """A new task arrived: look now instead of at the next poll."""
        self._wake.set()

    def begin_stop(self) -> None:
        """The box stops (SIGTERM): no task is handed out from now on, a task handed out but not dialed yet goes
        back to pending, and each call in progress says goodbye after its current prompt (``runner.closing``).
        Returns at once; :meth:`stop` waits for the calls to end."""
        self._stop.set()
        self._wake.set()
        closing = getattr(self.runner, "closing", None)  # a runner that makes no calls (a test's) has none
        if closing is not None:
            closing.set()

    def stop(self, timeout: float = 10.0) -> None:
        """The dispatcher first (no task is handed out after this), then each worker after the call it runs."""
        self.begin_stop()
        dispatcher, workers = self._threads[-1:], self._threads[:-1]
        self._join(dispatcher, timeout)
        for slot in self._slots.values():
            slot.put(None)
        self._join(workers, timeout)

    def dead_parts(self, hung_after_s: float) -> list[str]:
        """Its threads that died, and the dispatcher if it has not turned for ``hung_after_s`` (it turns at
        least every ``idle_poll_s``): for the box's watchdog. [] before start and while all is well."""
        dead = [t.name for t in self._threads if not t.is_alive()]
        if self._threads and not dead and time.monotonic() - self.heartbeat > hung_after_s:
            dead.append(f"scheduler (hung {time.monotonic() - self.heartbeat:.0f} s)")
        return dead

    @staticmethod
    def _join(threads: list[threading.Thread], timeout: float) -> None:
        for t in threads:
            t.join(timeout=timeout)
            if t.is_alive():
                log.warning("%s did not stop within %.0f s", t.name, timeout)

    def line_notes(self) -> dict[str, str]:
        """line name -> why it takes no calls although it is ready (its daily cap), for the panel's status."""
        with self._lock:
            return {name: f"daily cap of {cap} call(s) reached; calls again tomorrow"
                    for name, cap in self._capped.items()}

    def run_on(self, line_name: str, job: LineJob) -> bool:
        """Run ``job`` on the worker of ``line_name`` while no task is handed to that line (the panel's test call:
        the box's own line, never two calls on it). False when the line is unknown, not ready or busy."""
        with self._lock:
            line = next((ln for ln in self.lines if ln.name == line_name), None)
            if line is None or line.state is not LineState.READY or line_name in self._busy or self._stop.is_set():
                return False
            self._busy.add(line_name)
        self._slots[line_name].put(job)
        return True

    # -- the dispatcher --------------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        while not self._stop.is_set():
            self.heartbeat = time.monotonic()
            self._wake.clear()  # before looking: a wake() from here on is not lost
            try:
                handed = self._hand_one()
            except Exception:
                log.exception("the scheduler could not hand out a task; trying again in %.1f s", self.idle_poll_s)
                handed = False
            if not handed:
                self._wake.wait(self.idle_poll_s)

    def _hand_one(self) -> bool:
        """Give the next due task to the line whose turn it is. False if there was no free line or no task."""
        now = self.clock()
        counts = self.records.calls_started_by_line(start_of_day(now, self.day_zone))
        capped = {name: cap for name, cap in self.caps.items() if cap is not None and counts.get(name, 0) >= cap}
        with self._lock:
            for name in set(self._capped) - set(capped):
                log.info("line %s: a new day; takes calls again", name)
            for name in set(capped) - set(self._capped):
                log.warning("line %s: daily cap of %d call(s) reached; no more calls today", name, capped[name])
            self._capped = capped
            free = [ln.name for ln in self.lines if ln.state is LineState.READY and ln.name not in self._busy]
            last_used = dict(self._last_used)
        if not free:
            return False
        chosen = pick_line(free, last_used, counts, self.caps)
        if chosen is None:
            return False
        task = self.records.claim_due_task(now)
        if task is None:
            return False
        with self._lock:
            self._busy.add(chosen)
        self._slots[chosen].put(task)
        return True

    def _run_job(self, line: LinePort, job: LineJob) -> None:
        try:
            job(line)
        except Exception:
            log.exception("a job on line %s failed", line.name)
        finally:
            with self._lock:
                self._busy.discard(line.name)
            self._wake.set()

    def _release(self, task: TaskRow, line: LinePort) -> None:
        try:
            self.records.record_conclusion(released(task))
            log.info("task %s: not dialed, the box is stopping; pending again", task.id)
        except Exception:
            log.exception("task %s: could not be put back; the next start finds it in flight", task.id)
        finally:
            with self._lock:
                self._busy.discard(line.name)

    # -- one worker per line ---------------------------------------------------------------------------------
    def _work(self, line: LinePort) -> None:
        bind_line(line.name)  # this thread's log records name its line
        slot = self._slots[line.name]
        while True:
            task = slot.get()
            if task is None:
                return
            if not isinstance(task, TaskRow):
                self._run_job(line, task)
                continue
            if self._stop.is_set():  # handed out as the box began to stop: not started, so not an attempt
                self._release(task, line)
                continue
            made_call = False
            if self.on_start is not None:
                try:
                    self.on_start(task, line.name)
                except Exception:
                    log.exception("task %s on %s: the start listener failed", task.id, line.name)
            try:
                summary = self.runner.run(task, line)
                made_call = summary.call_id != 0
            except Exception:
                log.exception("task %s on %s failed; queued again in 60 s", task.id, line.name)
                retry_at = iso(self.clock() + timedelta(seconds=60))
                self.records.record_conclusion(Conclusion(TaskEnd(task.id, "pending", "error", retry_at), None))
                summary = None
            finally:
                with self._lock:
                    if made_call:
                        self._last_used[line.name] = self.clock()
                    self._busy.discard(line.name)
                self._wake.set()
            if summary is not None and self.on_call is not None:
                self.on_call(summary)
