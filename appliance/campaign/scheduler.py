"""The scheduler: one worker thread per line takes the next due task and hands it to the call runner.

Calling hours are a decision per task, on the callee's clock: the runner's guards (``compliance.hold``) move a
task that may not be called now to the first time it may, so a task is taken at most once per closing."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from appliance.campaign.calls import CallRunner, CallSummary
from appliance.campaign.conclude import recover
from appliance.config import RetryConfig
from appliance.records.conclusion import Conclusion, TaskEnd
from appliance.records.store import RecordsStore, iso
from appliance.telephony.line import LineState
from appliance.telephony.ports import LinePort

log = logging.getLogger(__name__)


def recover_at_startup(records: RecordsStore, now: datetime, *, retry: RetryConfig) -> int:
    """The attempts a crash left in flight end ``interrupted``, their tasks wait the retry table's delay for
    ``interrupted``: one transaction. Returns how many were found."""
    found = records.recover_in_flight(lambda in_flight: recover(in_flight, now, retry=retry))
    if found:
        log.warning("%d call attempt(s) were in flight when the box stopped; ended as interrupted", found)
    return found


class Scheduler:
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
    ) -> None:
        self.records = records
        self.runner = runner
        self.lines = list(lines)
        self.on_call = on_call
        self.clock = clock
        self.idle_poll_s = idle_poll_s
        self.retry = retry or RetryConfig()  # the delays that start-up recovery follows
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        recover_at_startup(self.records, self.clock(), retry=self.retry)
        for line in self.lines:
            t = threading.Thread(target=self._work, args=(line,), name=f"line-worker:{line.name}", daemon=True)
            t.start()
            self._threads.append(t)

    def wake(self) -> None:
        """A new task arrived: look now instead of at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout=timeout)
            if t.is_alive():
                log.warning("%s did not stop within %.0f s", t.name, timeout)

    def _work(self, line: LinePort) -> None:
        while not self._stop.is_set():
            now = self.clock()
            if line.state is not LineState.READY:
                self._stop.wait(self.idle_poll_s)
                continue
            task = self.records.claim_due_task(now)
            if task is None:
                self._wake.wait(self.idle_poll_s)
                self._wake.clear()
                continue
            try:
                summary = self.runner.run(task, line)
            except Exception:
                log.exception("task %s on %s failed; queued again in 60 s", task.id, line.name)
                retry_at = iso(self.clock() + timedelta(seconds=60))
                self.records.record_conclusion(Conclusion(TaskEnd(task.id, "pending", "error", retry_at), None))
                continue
            if self.on_call is not None:
                self.on_call(summary)
