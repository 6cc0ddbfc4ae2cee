"""The Modems page: each line's probe result and profile, its signal over the last day, and a test call.

A test call is a real call through the box's own path: the scheduler hands it to the line's own worker
(``Scheduler.run_on``, so no task is dialled on that line meanwhile), which dials, plays a one-prompt flow with the
box's voice and hangs up (``place_and_converse``, as every call). It writes no ticket, task or call row — like
``callbox call``, it tests the SIM and the modem — but the dashboard shows it live like any call, and the page keeps
its result. It is refused, before anything is dialled, for a number that cannot be read, one on the do-not-call
list, and when the calling rules do not allow a call to it now (hours in its time zone, caps, quiet time)."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from appliance.campaign.compliance import CallingRules, hold
from appliance.campaign.dialing import SpeechKit, place_and_converse
from appliance.campaign.hours import callee_zones
from appliance.config import VuiConfig
from appliance.dialog.flow.load import parse_flow
from appliance.dialog.runtime.conversation import ConversationLimits
from appliance.errors import TestCallRefused
from appliance.panel.live import LiveBoard
from appliance.records.phones import PhoneNumberInvalid, e164
from appliance.records.signal import SignalLog
from appliance.records.store import RecordsStore
from appliance.speech.tts.player import SynthesizedPrompts
from appliance.telephony.line import Line
from appliance.telephony.ports import LinePort

__all__ = ["TEST_FLOW", "ModemsAdmin", "TestCaller"]

log = logging.getLogger(__name__)

# The test call's flow: one prompt, then hang up (nothing is heard or decided).
TEST_FLOW: dict[str, Any] = {
    "id": "test-call", "name": "Test call", "language": "en", "variables": ["shop"], "start": "hello",
    "intents": {},
    "nodes": {"hello": {"type": "hangup", "disposition": "confirmed",
                        "say": "Hello, this is a test call from {shop}. The line works. Goodbye."}},
}

RunOn = Callable[[str, Callable[[LinePort], None]], bool]  # Scheduler.run_on


@dataclass(frozen=True)
class TestCaller:
    """What a test call needs of the box."""

    __test__ = False  # not a pytest class

    speech: SpeechKit
    rules: CallingRules
    run_on: RunOn
    shop_name: str = "the shop"
    ring_timeout_s: float = 30.0
    max_call_s: float = 60.0
    vui: VuiConfig = field(default_factory=VuiConfig)  # the greeting's timings


class ModemsAdmin:
    def __init__(self, *, board: LiveBoard, lines: Sequence[LinePort], records: RecordsStore,
                 caller: TestCaller | None = None, phone_region: str | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.board = board
        self.lines = list(lines)
        self.records = records
        self.signal = SignalLog(records.db)
        self.caller = caller
        self.phone_region = phone_region
        self.clock = clock
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._results: dict[str, dict[str, Any]] = {}  # line -> its last test call

    def modems(self) -> list[dict[str, Any]]:
        """Each line: its view (as the dashboard's), the profile it runs and why, the probe, the last test call."""
        lines = {v["name"]: v for v in self.board.snapshot()["lines"]}
        out = []
        for line in self.lines:
            probe = self.board.probes.get(line.name)
            configured = line.modem.profile.name if isinstance(line, Line) else None
            with self._lock:
                last = self._results.get(line.name)
            out.append({
                "name": line.name,
                "line": lines.get(line.name) or {"name": line.name, "state": line.state.value},
                "at_port": line.modem.at_port if isinstance(line, Line) else None,
                "profile": configured,
                "profile_description": line.modem.profile.description if isinstance(line, Line) else None,
                "matched_profile": probe.profile if probe else None,
                "probe": probe.as_dict() if probe else None,
                "test_call": dict(last) if last else None,
            })
        return out

    def signal_history(self, line: str, *, hours: int = 24) -> dict[str, Any]:
        """``{line, points: [[unix seconds, dBm or None]]}`` of the last ``hours`` (None where it was unknown)."""
        since = self.clock() - timedelta(hours=hours)
        points = [[int(datetime.fromisoformat(at).timestamp()), dbm] for at, dbm, _state in
                  self.signal.history(line, since)]
        return {"line": line, "hours": hours, "points": points}

    # -- the test call -------------------------------------------------------------------------------------------
    def test_call(self, line_name: str, number: str) -> dict[str, Any]:
        """Place a test call to ``number`` on ``line_name``; returns at once (``{id, line, phone}``), the call goes
        on on the line's worker. Raises :class:`TestCallRefused`, with nothing dialled."""
        caller = self.caller
        line = next((ln for ln in self.lines if ln.name == line_name), None)
        if caller is None or line is None:
            raise TestCallRefused("line", f"there is no line {line_name!r} that can place calls")
        try:
            phone = e164(number, self.phone_region)
        except PhoneNumberInvalid as exc:
            raise TestCallRefused("number", str(exc)) from None
        if self.records.do_not_call.entry(phone) is not None:
            raise TestCallRefused("do_not_call", f"{phone} is on the do-not-call list")
        now = self.clock()
        stop = hold(now, rules=caller.rules, zones=callee_zones(phone, caller.rules.fallback_zone),
                    history=self.records.phone_history(phone, now - caller.rules.look_back))
        if stop is not None:
            raise TestCallRefused("hours", stop.guard.why,
                                  until=stop.until.isoformat(timespec="minutes") if stop.until else None)
        call_id = f"test-{next(self._ids)}"
        with self._lock:  # before the hand-over: the line's worker may be done with it before run_on returns
            before = self._results.get(line.name)
            self._results[line.name] = {"id": call_id, "phone": phone, "state": "placing", "outcome": None,
                                        "started_at": now.isoformat(timespec="seconds")}
        if not caller.run_on(line.name, lambda on: self._place(on, phone, call_id, caller)):
            with self._lock:
                if before is None:
                    del self._results[line.name]
                else:
                    self._results[line.name] = before
            raise TestCallRefused("busy", f"line {line.name} is {line.state.value.replace('_', ' ')} or busy")
        log.info("test call %s to %s on line %s", call_id, phone, line.name)
        return {"id": call_id, "line": line.name, "phone": phone}

    def _place(self, line: LinePort, phone: str, call_id: str, caller: TestCaller) -> None:
        """On the line's worker: the call, told to the dashboard as it goes."""
        board = self.board
        board.call_started(call_id, line=line.name, phone=phone, ticket_id=None, customer_name="", attempt=1,
                           max_attempts=1, test=True)
        outcome, cause = "failed", None
        try:
            result = place_and_converse(
                line, phone, parse_flow(TEST_FLOW), {"shop": caller.shop_name}, caller.speech,
                voice=SynthesizedPrompts(caller.speech.tts), ring_timeout=caller.ring_timeout_s,
                limits=ConversationLimits.configured(caller.max_call_s, caller.vui), call_id=call_id,
                on_answered=lambda: board.call_answered(call_id),
                on_turn=lambda turn: board.call_turn(call_id, turn), voicemail=False,
            )
            outcome, cause = result.outcome.value, result.cause
        finally:
            with self._lock:
                self._results[line.name] |= {"state": "ended", "outcome": outcome, "cause": cause,
                                             "ended_at": self.clock().isoformat(timespec="seconds")}
            board.call_over(line.name, outcome=outcome)
            log.info("test call %s to %s: %s", call_id, phone, outcome)
