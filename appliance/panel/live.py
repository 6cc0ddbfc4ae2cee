"""The box as it is now, for the dashboard: each line, the calls in progress with their transcript so far, the last
calls that ended and today's counters, kept by the events that go out to the browsers (:mod:`.events`).

Where the events come from, with the smallest hook in each place:

- calls: the call runner tells its :class:`~appliance.campaign.calls.CallWatch` (this board) when a call row is
  written, when it is answered, each turn as the conversation adds it, and when the attempt is over;
- lines: :class:`LineWatch`, one thread that looks at every line twice a second (and at once when a call starts
  or ends) and publishes a line whose view changed (state, fault, operator, signal, SIM, call). The line and its
  supervisor stay as they are: a line's state is a field the supervisor, the dialer and the call's watcher each
  set, and one reader sees them all. The same thread stores a signal sample per line every few minutes (the
  Modems page's chart) and asks a modem that came up what it is (``callbox modem probe``'s questions, through the
  line's own AT channel).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from appliance.campaign.calls import CallSummary
from appliance.panel.events import EventHub
from appliance.panel.lines import line_view
from appliance.records.signal import SignalLog, SignalSample
from appliance.telephony.line import Line
from appliance.telephony.ports import LinePort
from appliance.telephony.probe import ProbeResult, probe_line

__all__ = ["LineWatch", "LiveBoard"]

log = logging.getLogger(__name__)

MAX_TURNS = 200  # turns a call in progress keeps in memory (a call is capped in time: [calling] max_call_s)
RECENT = 5  # calls that ended, shown under those in progress


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class LiveBoard:
    """The dashboard's state and its event hub. ``counters``: today's figures (calls, connect rate, outcomes,
    tasks, outbox), read after each attempt; set by the box once the panel's service exists."""

    def __init__(self, *, max_streams: int = 4) -> None:
        self._lock = threading.RLock()
        self._lines: dict[str, dict[str, Any]] = {}
        self._calls: dict[str, dict[str, Any]] = {}  # call id (text) -> the call in progress
        self._ended: collections.deque[dict[str, Any]] = collections.deque(maxlen=RECENT)
        self.probes: dict[str, ProbeResult] = {}  # line -> what its modem said it is, when it last came up
        self.counters: Callable[[], dict[str, Any]] | None = None
        self._pokes: list[Callable[[], None]] = []  # told when a call starts or ends (the line watch looks at once)
        self.hub = EventHub(max_streams=max_streams, apply=self._apply, snapshot=self.snapshot)

    # -- the state -------------------------------------------------------------------------------------------------
    def _apply(self, kind: str, data: dict[str, Any]) -> None:
        with self._lock:
            if kind == "line":
                self._lines[data["name"]] = data
            elif kind == "call":
                self._calls[data["id"]] = data | {"turns": []}
            elif kind == "answered" and data["id"] in self._calls:
                self._calls[data["id"]]["answered"] = True
            elif kind == "turn" and data["id"] in self._calls:
                turns = self._calls[data["id"]]["turns"]
                if len(turns) < MAX_TURNS:
                    turns.append(data["turn"])
            elif kind == "call_ended":
                call = next((c for c in self._calls.values() if c["line"] == data["line"]), None)
                if call is not None:
                    del self._calls[call["id"]]
                    data["id"] = call["id"]  # the browsers learn which call ended
                    self._ended.appendleft(call | {k: v for k, v in data.items() if k != "line"})

    def snapshot(self) -> dict[str, Any]:
        """Lines, calls in progress (with their turns so far), calls that ended lately: copies."""
        with self._lock:
            return {
                "lines": [dict(v) for v in self._lines.values()],
                "calls": [c | {"turns": list(c["turns"])} for c in self._calls.values()],
                "ended": [dict(c) for c in self._ended],
            }

    def on_calls_changed(self, poke: Callable[[], None]) -> None:
        self._pokes.append(poke)

    def _poke(self) -> None:
        for poke in self._pokes:
            poke()

    def call_on(self, line: str) -> dict[str, Any] | None:
        """The call in progress on ``line`` (id, phone, customer_name, test), or None."""
        with self._lock:
            call = next((c for c in self._calls.values() if c["line"] == line), None)
            return {k: call[k] for k in ("id", "phone", "customer_name", "test")} if call else None

    # -- the call runner's watch (appliance.campaign.calls.CallWatch) ------------------------------------------
    def call_started(self, call_id: int | str, *, line: str, phone: str, ticket_id: str | None,
                     customer_name: str, attempt: int, max_attempts: int, test: bool = False) -> None:
        self.hub.publish("call", {"id": str(call_id), "line": line, "phone": phone, "ticket_id": ticket_id,
                                  "customer_name": customer_name, "attempt": attempt,
                                  "max_attempts": max_attempts, "started_at": _now(), "answered": False,
                                  "test": test})
        self._poke()

    def call_answered(self, call_id: int | str) -> None:
        self.hub.publish("answered", {"id": str(call_id)})

    def call_turn(self, call_id: int | str, turn: dict[str, Any]) -> None:
        self.hub.publish("turn", {"id": str(call_id), "turn": turn})

    def attempt_over(self, line: str | None, summary: CallSummary | None) -> None:
        if line is not None:  # a blocked attempt made no call; an error ended the one it made
            self.call_over(line, outcome=summary.outcome.value if summary else "failed",
                           disposition=summary.disposition if summary else None,
                           ticket_status=summary.ticket_status if summary else None)
        self.refresh_counters()

    def call_over(self, line: str, *, outcome: str, disposition: str | None = None,
                  ticket_status: str | None = None) -> None:
        if self.call_on(line) is not None:
            self.hub.publish("call_ended", {"line": line, "outcome": outcome, "disposition": disposition,
                                            "ticket_status": ticket_status, "ended_at": _now()})
            self._poke()

    def refresh_counters(self) -> None:
        """Today's counters, read now and sent to the browsers (a failure to read them is logged, not raised)."""
        if self.counters is None:
            return
        try:
            counters = self.counters()
        except Exception:
            log.exception("today's counters could not be read for the dashboard")
            return
        self.hub.publish("counters", counters)


class LineWatch:
    """One thread (``live-lines``) that publishes each line's view when it changes, samples each line's signal
    every ``sample_every_s`` and probes a modem when its line comes up."""

    def __init__(self, board: LiveBoard, lines: Sequence[LinePort], *, signal: SignalLog | None = None,
                 notes: Callable[[], dict[str, str]] = dict, every_s: float = 0.5, sample_every_s: float = 300.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.board = board
        self.lines = list(lines)
        self.signal = signal
        self.notes = notes
        self.every_s = every_s
        self.sample_every_s = sample_every_s
        self.clock = clock
        self._seen: dict[str, dict[str, Any]] = {}
        self._next_sample = 0.0
        self._stop = threading.Event()
        self._look_now = threading.Event()  # a call started or ended: the line's call changed
        board.on_calls_changed(self._look_now.set)
        self._thread = threading.Thread(target=self._run, name="live-lines", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._look_now.set()
        if self._thread.ident is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("live-lines did not stop within %.0f s", timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.look()
            except Exception:  # the dashboard's view must outlive any bug
                log.exception("the line watch failed; going on")
            self._look_now.wait(self.every_s)
            self._look_now.clear()

    def look(self) -> None:
        """One look at every line: publish those that changed, probe those that came up, sample when due."""
        try:
            notes = self.notes()
        except Exception:
            log.exception("the lines' notes could not be read")
            notes = {}
        for line in self.lines:
            view = line_view(line, call=self.board.call_on(line.name), held=notes.get(line.name))
            before = self._seen.get(line.name)
            if view != before:
                self._seen[line.name] = view
                self.board.hub.publish("line", view)
                if view["state"] == "ready" and (before is None or (before["state"] != "ready"
                                                 and before["state"] != "in_call")):
                    self._probe(line)
        if self.signal is not None and time.monotonic() >= self._next_sample:
            self._next_sample = time.monotonic() + self.sample_every_s
            samples = [SignalSample(v["name"], v["signal_dbm"], v["signal_rssi"], v["state"])
                       for v in self._seen.values()]
            try:
                self.signal.add(samples, self.clock())
            except Exception:
                log.exception("the lines' signal samples could not be stored")

    def _probe(self, line: LinePort) -> None:
        if not isinstance(line, Line):
            return
        try:
            self.board.probes[line.name] = probe_line(line.modem, line.modem.at_port)
        except Exception as exc:  # the line works; the Modems page says the probe could not be read
            log.warning("line %s: the modem could not be probed: %s", line.name, exc)
