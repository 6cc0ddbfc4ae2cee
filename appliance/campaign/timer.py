"""The call tasks' timer: one named thread that, every ``interval_s``, fires the timers that are due and expires
the call tasks whose validity ended (``CallTasks.tick``). A timer fires at most once per due time, across
restarts: the due time it fired for is stored in the same transaction as the task it made."""

from __future__ import annotations

import logging
import threading

from appliance.campaign.call_tasks import CallTasks

__all__ = ["TaskTimer"]

log = logging.getLogger(__name__)


class TaskTimer:
    def __init__(self, tasks: CallTasks, *, interval_s: float = 20.0) -> None:
        self.tasks = tasks
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="call-task-timer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            if self._thread.is_alive():
                log.warning("the call task timer did not stop within %.0f s", timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tasks.tick()
            except Exception:  # a bad timer or a busy disk must not end the thread
                log.exception("call task timer tick failed")
            self._stop.wait(self.interval_s)
