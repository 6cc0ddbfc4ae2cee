"""The dashboard's and the Modems page's service (``web.service.LiveService``): the live board's snapshot and
event streams, today's counters (ended calls of the shop's day, connect rate, outcomes; call tasks not ended
with their progress; what waits in the outbox per target), and the modems' page.

Today's counters are three indexed reads (the day's calls by ``started_at``, the call tasks by state, the
outbox by state), read when the page opens and after each attempt, never per event."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from appliance.campaign.call_tasks import CallTasks
from appliance.campaign.scheduler import start_of_day
from appliance.panel.events import Subscription
from appliance.panel.live import LiveBoard
from appliance.panel.modems import ModemsAdmin
from appliance.records.stats import CallFilter, StatsQuery
from appliance.records.store import RecordsStore

__all__ = ["LiveAdmin"]

TASKS_SHOWN = 10  # call tasks per state on the dashboard (the Tasks page lists them all)
OPEN_TASK_STATES = ("running", "pending", "paused")


class LiveAdmin:
    def __init__(self, *, board: LiveBoard, records: RecordsStore, zone: tzinfo, modems: ModemsAdmin,
                 call_tasks: CallTasks | None = None, sync_targets: Mapping[str, bool] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.board = board
        self.records = records
        self.zone = zone
        self.modems_admin = modems
        self.call_tasks = call_tasks
        self.sync_targets = dict(sync_targets or {})
        self.clock = clock

    # -- streams -------------------------------------------------------------------------------------------------
    def subscribe(self) -> Subscription | None:
        return self.board.hub.subscribe()

    # -- what the page draws -------------------------------------------------------------------------------------
    def dashboard(self) -> dict[str, Any]:
        """The board's snapshot (lines, calls in progress with their turns, calls that ended lately) and today's
        counters."""
        return self.board.snapshot() | {"counters": self.counters()}

    def lines(self) -> list[dict[str, Any]]:
        return list(self.board.snapshot()["lines"])

    def counters(self) -> dict[str, Any]:
        now = self.clock()
        total = self.records.stats(StatsQuery(group_by="day", calls=CallFilter(since=start_of_day(now, self.zone))),
                                   self.zone)["total"]
        tasks: list[dict[str, Any]] = []
        if self.call_tasks is not None:
            for state in OPEN_TASK_STATES:
                tasks += [{"id": t["id"], "name": t["name"], "state": t["state"], "flow_id": t["flow_id"],
                           "total": t["progress"]["total"], "finished": t["progress"]["finished"]}
                          for t in self.call_tasks.find(state=state, limit=TASKS_SHOWN)]
        outbox = self.records.outbox.status(now, self.sync_targets)["targets"]
        return {
            "day": now.astimezone(self.zone).date().isoformat(),
            "today": {"calls": total["calls"], "answered": total["answered"], "connected": total["connected"],
                      "connect_rate": total["connect_rate"], "outcomes": total["outcomes"]},
            "tasks": tasks,
            "outbox": {name: {"configured": t["configured"], "pending": t["pending"], "failed": t["failed"]}
                       for name, t in outbox.items()},
        }

    # -- the Modems page -----------------------------------------------------------------------------------------
    def modems(self) -> list[dict[str, Any]]:
        return self.modems_admin.modems()

    def signal(self, line: str, *, hours: int = 24) -> dict[str, Any]:
        return self.modems_admin.signal_history(line, hours=hours)

    def test_call(self, line: str, number: str) -> dict[str, Any]:
        return self.modems_admin.test_call(line, number)
