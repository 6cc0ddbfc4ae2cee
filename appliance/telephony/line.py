"""A line: one modem with its state machine, and the call it is carrying.

``absent -> initialising -> ready <-> in_call``, ``-> faulted -> initialising``.
The table below is the whole truth; an event not in it for the current state
raises :class:`IllegalTransition`.
"""

from __future__ import annotations

import logging
import threading
from enum import StrEnum

from appliance.errors import AtCommandError, AtTimeout, CallboxError, ModemError, PortError
from appliance.events import DialOutcome, DialResult
from appliance.telephony.audio import AudioPump, Tap
from appliance.telephony.modem import Modem

log = logging.getLogger(__name__)


class LineState(StrEnum):
    ABSENT = "absent"
    INITIALISING = "initialising"
    READY = "ready"
    IN_CALL = "in_call"
    FAULTED = "faulted"


S = LineState
TRANSITIONS: dict[tuple[LineState, str], LineState] = {
    (S.ABSENT, "start"): S.INITIALISING,
    (S.FAULTED, "start"): S.INITIALISING,
    (S.INITIALISING, "opened"): S.READY,
    (S.INITIALISING, "fault"): S.FAULTED,
    (S.READY, "dial"): S.IN_CALL,
    (S.IN_CALL, "call_ended"): S.READY,
    (S.IN_CALL, "fault"): S.FAULTED,
    (S.READY, "fault"): S.FAULTED,
    (S.READY, "stop"): S.ABSENT,
    (S.IN_CALL, "stop"): S.ABSENT,
    (S.FAULTED, "stop"): S.ABSENT,
    (S.INITIALISING, "stop"): S.ABSENT,
    (S.ABSENT, "stop"): S.ABSENT,
}


class IllegalTransition(CallboxError):
    def __init__(self, state: LineState, event: str) -> None:
        super().__init__(f"line event {event!r} is not allowed in state {state.value!r}")
        self.state = state
        self.event = event


def next_state(state: LineState, event: str) -> LineState:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(state, event) from None


class ActiveCall:
    """An answered call: its audio pump, and how it ended."""

    def __init__(self, line: Line, number: str, audio: AudioPump) -> None:
        self.line = line
        self.number = number
        self.audio = audio
        self.ended = threading.Event()
        self.end_cause: int | None = None
        self.interrupted = False
        self.ended_by: str | None = None  # "bot", "remote" or "port"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name=f"call-watch-{line.name}", daemon=True)
        self._watcher.start()

    def hangup(self) -> None:
        """End the call from our side (idempotent). The line returns to ready."""
        if not self._finish("bot"):
            return
        self._stop.set()
        self.audio.stop()
        try:
            self.line.modem.hangup()
        except (AtCommandError, AtTimeout, PortError) as exc:
            log.warning("line %s: hang-up of %s failed: %s", self.line.name, self.number, exc)
        self._join_watcher()
        self.ended.set()
        self.line._call_over(self)

    def _finish(self, by: str) -> bool:
        with self._lock:
            if self.ended_by is not None:
                return False
            self.ended_by = by
            return True

    def _join_watcher(self) -> None:
        if self._watcher is not threading.current_thread():
            self._watcher.join(2.0)

    def _watch(self) -> None:
        modem = self.line.modem
        while not self._stop.wait(0.05):
            if modem.remote_ended.is_set():
                if self._finish("remote"):
                    self.end_cause = modem.end_cause
                    log.info("line %s: %s hung up (cause %s)", self.line.name, self.number, self.end_cause)
                    self.audio.stop()
                    self.ended.set()
                    self.line._call_over(self)
                return
            if modem.port_failed.is_set() or (self.audio.closed.is_set() and self.audio.error is not None):
                if self._finish("port"):
                    reason = modem.fault or str(self.audio.error)
                    self.interrupted = True
                    log.error("line %s: call to %s interrupted: %s", self.line.name, self.number, reason)
                    self.audio.stop()
                    self.ended.set()
                    self.line._fault(reason)
                return
        self.ended.set()


class Line:
    def __init__(self, name: str, modem: Modem) -> None:
        self.name = name
        self.modem = modem
        self.state = LineState.ABSENT
        self.fault_reason: str | None = None
        self.call: ActiveCall | None = None
        self._lock = threading.RLock()

    def _event(self, event: str) -> LineState:
        with self._lock:
            new = next_state(self.state, event)
            if new is not self.state:
                log.info("line %s: %s --%s--> %s", self.name, self.state.value, event, new.value)
            self.state = new
            return new

    def start(self) -> LineState:
        self._event("start")
        self.fault_reason = None
        try:
            self.modem.open()
        except (ModemError, PortError) as exc:
            self._fault(str(exc))
            return self.state
        return self._event("opened")

    def place_call(
        self, number: str, *, ring_timeout: float, tap: Tap | None = None
    ) -> tuple[DialResult, ActiveCall | None]:
        self._event("dial")
        try:
            result = self.modem.dial(number, ring_timeout=ring_timeout)
            if result.outcome is DialOutcome.INTERRUPTED:
                self._fault(result.detail)
                return result, None
            if result.outcome is not DialOutcome.ANSWERED:
                self._event("call_ended")
                return result, None
            pump = self.modem.start_audio(tap)
        except (PortError, AtTimeout) as exc:
            self._fault(str(exc))
            return DialResult(DialOutcome.INTERRUPTED, detail=str(exc)), None
        except (AtCommandError, ModemError) as exc:
            self.modem._hangup_quietly()
            self._event("call_ended")
            return DialResult(DialOutcome.FAILED, detail=str(exc)), None
        call = ActiveCall(self, number, pump)
        with self._lock:
            self.call = call
        return result, call

    def _call_over(self, call: ActiveCall) -> None:
        with self._lock:
            if self.call is call:
                self.call = None
            if self.state is LineState.IN_CALL:
                self._event("call_ended")

    def _fault(self, reason: str) -> None:
        with self._lock:
            self.fault_reason = reason
            self.call = None
            if (self.state, "fault") in TRANSITIONS:
                self._event("fault")
        self.modem.close()

    def stop(self) -> None:
        call = self.call
        if call is not None:
            call.hangup()
        self.modem.close()
        self._event("stop")
