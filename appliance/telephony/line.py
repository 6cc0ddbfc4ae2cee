"""A line: one modem with its state machine (:mod:`appliance.telephony.linestate`), and the call it is carrying.

A line is watched by a :class:`~appliance.telephony.supervisor.Supervisor` thread that the
composition root starts with :func:`~appliance.telephony.supervisor.supervise` (this module does not
know it): SIM/registration/signal checks, the idle ping, and reopening (and power-cycling) a modem that
was unplugged or stopped answering, through :meth:`Line.try_open` and :meth:`Line.report_fault`. A call
in flight when its line fails ends ``interrupted`` with the cause in :attr:`ActiveCall.fault`.

:class:`Line` is a :class:`~appliance.telephony.ports.LinePort` and :class:`ActiveCall` a
:class:`~appliance.telephony.ports.CallPort`.
"""

from __future__ import annotations

import collections
import contextvars
import logging
import threading
import time

from appliance.errors import AtCommandError, AtTimeout, ModemError, PortError
from appliance.events import DialOutcome, DialResult
from appliance.log_repeats import RepeatedLog
from appliance.telephony.audio import AudioPump, Tap
from appliance.telephony.health import LineHealth, Supervision, check_health
from appliance.telephony.linestate import TRANSITIONS, IllegalTransition, LineNotReady, LineState, next_state
from appliance.telephony.modem import Modem
from appliance.telephony.sms import SmsTimeouts, send_sms

__all__ = ["TRANSITIONS", "ActiveCall", "IllegalTransition", "Line", "LineNotReady", "LineState", "next_state"]

log = logging.getLogger(__name__)


STOP_POLL_S = 0.05  # while stopping, how often a still-running open attempt's port is closed again


class ActiveCall:
    """An answered call: its audio pump, and how it ended."""

    def __init__(self, line: Line, number: str, audio: AudioPump) -> None:
        self.line = line
        self.number = number
        self.audio = audio
        self.ended = threading.Event()
        self.end_cause: int | None = None
        self.interrupted = False
        self.ended_by: str | None = None  # "bot", "remote", "port" or "stall" (no audio from the modem)
        self.fault: str | None = None  # why an interrupted call was interrupted
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=contextvars.copy_context().run, args=(self._watch,),  # the call's logs
                                         name=f"call-watch-{line.name}", daemon=True)
        self._watcher.start()

    def send_dtmf(self, digits: str) -> None:
        """Send DTMF digits to the far end (ModemError if the profile cannot)."""
        self.line.modem.send_dtmf(digits)

    def read_dtmf(self, timeout: float) -> str | None:
        """The next key the customer pressed, or None after ``timeout`` (or once the call has ended)."""
        if self.ended.is_set():
            return None
        return self.line.modem.read_dtmf(timeout)

    def hangup(self) -> None:
        """End the call from our side (idempotent). The line returns to ready."""
        if not self._finish("bot"):
            return
        self._release()

    def _release(self) -> None:
        self._stop.set()
        self.audio.stop()
        try:
            self.line.modem.hangup()
        except (AtTimeout, PortError) as exc:
            log.warning("line %s: hang-up of %s failed: %s", self.line.name, self.number, exc)
            self._join_watcher()
            self.ended.set()
            self.line.report_fault(f"hang-up failed: {exc}")
            return
        except AtCommandError as exc:
            log.warning("line %s: hang-up of %s failed: %s", self.line.name, self.number, exc)
        self._join_watcher()
        self.ended.set()
        self.line.finish_call(self)

    def interrupt(self, reason: str) -> bool:
        """The line failed under the call: end it as interrupted (idempotent). True if this ended it."""
        if not self._finish("port"):
            return False
        self.interrupted = True
        self.fault = reason
        log.error("line %s: call to %s interrupted: %s", self.line.name, self.number, reason)
        self._stop.set()
        self.audio.stop()
        self._join_watcher()
        self.ended.set()
        return True

    def _finish(self, by: str) -> bool:
        with self._lock:
            if self.ended_by is not None:
                return False
            self.ended_by = by
            return True

    def _join_watcher(self) -> None:
        if self._watcher is not threading.current_thread():
            self._watcher.join(2.0)

    def _audio_stalled(self, frames: int, since: float) -> tuple[int, float, bool]:
        """(frames seen, when they last moved, stalled?): the modem is the audio clock; no frames, no call."""
        now = time.monotonic()
        seen = self.audio.frames_in
        if seen != frames:
            return seen, now, False
        return frames, since, now - since >= self.line.supervision.audio_stall_s

    def _stall(self) -> None:
        limit = self.line.supervision.audio_stall_s
        reason = f"no audio from the modem for {limit:g} s"
        if not self._finish("stall"):
            return
        log.error("line %s: call to %s: %s; hanging up", self.line.name, self.number, reason)
        self.interrupted = True
        self.fault = reason
        self._release()

    def _watch(self) -> None:
        modem = self.line.modem
        frames, moved = -1, time.monotonic()
        while not self._stop.wait(0.05):
            frames, moved, stalled = self._audio_stalled(frames, moved)
            if stalled and self.ended_by is None:
                self._stall()
                return
            if modem.remote_ended.is_set():
                if self._finish("remote"):
                    self.end_cause = modem.end_cause
                    log.info("line %s: %s hung up (cause %s)", self.line.name, self.number, self.end_cause)
                    self.audio.stop()
                    self.ended.set()
                    self.line.finish_call(self)
                return
            if modem.port_failed.is_set() or (self.audio.closed.is_set() and self.audio.error is not None):
                if self._finish("port"):
                    reason = modem.fault or str(self.audio.error)
                    self.interrupted = True
                    self.fault = reason
                    log.error("line %s: call to %s interrupted: %s", self.line.name, self.number, reason)
                    self.audio.stop()
                    self.ended.set()
                    self.line.report_fault(reason)
                return
        self.ended.set()


class Line:
    def __init__(self, name: str, modem: Modem, *, supervision: Supervision | None = None) -> None:
        self.name = name
        self.modem = modem
        self.supervision = supervision or Supervision()
        self.state = LineState.ABSENT
        self.fault_reason: str | None = None
        self.faults = 0  # how many times this line went faulted
        self.fault_log: collections.deque[str] = collections.deque(maxlen=20)  # recent reasons, oldest first
        self.health: LineHealth | None = None
        self.call: ActiveCall | None = None
        self.last_ok = time.monotonic()  # last successful exchange with the modem
        self.power_cycles: list[tuple[bool, str]] = []  # (ok, what happened), recorded by the supervisor
        self._stopping = threading.Event()  # set by stop(): no open attempt may start after it
        self._in_call_fault: str | None = None
        self._lock = threading.RLock()
        self._open_lock = threading.Lock()  # one open attempt at a time (start() vs the supervisor)
        self._fault_log = RepeatedLog(log)

    def _event(self, event: str) -> LineState:
        with self._lock:
            new = next_state(self.state, event)
            if new is not self.state and event in ("start", "fault"):  # a reopen cycle repeats: said once, counted
                self._fault_log.log(logging.INFO, ("cycle", event), "line %s: %s --%s--> %s", self.name,
                                    self.state.value, event, new.value)
            elif new is not self.state:
                log.info("line %s: %s --%s--> %s", self.name, self.state.value, event, new.value)
            self.state = new
            return new

    @property
    def ready(self) -> bool:
        return self.state is LineState.READY

    def start(self) -> LineState:
        """Open the modem once (bounded by its command timeouts); returns the state reached.

        A line that could not open is ``faulted``; a supervisor (started by the composition root)
        keeps reopening it, so a modem absent at boot joins later."""
        self._stopping.clear()
        if self.state in (LineState.ABSENT, LineState.FAULTED):
            self.try_open()
        return self.state

    def try_open(self) -> tuple[bool, bool]:
        """One open attempt of an absent or faulted line: (ready?, was the modem missing or mute?)."""
        with self._open_lock:
            if self.state not in (LineState.ABSENT, LineState.FAULTED):
                return self.state is LineState.READY, False
            if self._stopping.is_set():
                return False, False
            self._event("start")
            try:
                self.modem.open()
                if self.faults:  # a modem that went mute or vanished may still hold the call we lost
                    self._clear_leftover_call()
                health = None
                if self.supervision.enabled:
                    sv = self.supervision
                    health = check_health(
                        self.modem, timeout=sv.ping_timeout_s, check_registration=sv.check_registration
                    )
            except (PortError, AtTimeout) as exc:
                self.report_fault(str(exc))
                return False, True
            except ModemError as exc:
                self.report_fault(str(exc))
                return False, False
            with self._lock:
                if self.state is not LineState.INITIALISING:  # faulted (or stopped) while it opened
                    log.info("line %s: reopened, but it is %s now; trying again later", self.name, self.state.value)
                    return False, False
                self.health = health
                self.fault_reason = None
                self.last_ok = time.monotonic()
                self._event("opened")
                for key in ("fault", ("cycle", "start"), ("cycle", "fault")):
                    self._fault_log.clear(key)  # the next fault is news again
            return True, False

    def _clear_leftover_call(self) -> None:
        try:
            self.modem.command(self.modem.profile.hangup, timeout=self.supervision.ping_timeout_s)
        except AtCommandError as exc:
            log.debug("line %s: clearing a leftover call: %s", self.name, exc)

    def place_call(
        self, number: str, *, ring_timeout: float, tap: Tap | None = None
    ) -> tuple[DialResult, ActiveCall | None]:
        self._event("dial")
        self._in_call_fault = None  # why the line failed under this attempt, if it did
        self.last_ok = time.monotonic()
        try:
            result = self.modem.dial(number, ring_timeout=ring_timeout)
            if result.outcome is DialOutcome.INTERRUPTED and self.modem.abort_dial.is_set():
                return self._dial_over(result), None  # the box stops: no fault of the line's
            if result.outcome is DialOutcome.INTERRUPTED:
                self._fault_dial(result.detail)
                return result, None
            if result.outcome is not DialOutcome.ANSWERED:
                return self._dial_over(result), None
            pump = self.modem.start_audio(tap)
        except (PortError, AtTimeout) as exc:
            self._fault_dial(str(exc))
            return DialResult(DialOutcome.INTERRUPTED, detail=str(exc)), None
        except (AtCommandError, ModemError) as exc:
            self.modem.try_hangup()
            return self._dial_over(DialResult(DialOutcome.FAILED, detail=str(exc))), None
        with self._lock:
            if self.state is not LineState.IN_CALL:  # the supervisor faulted the line while it connected
                pump.stop()
                reason = self._in_call_fault or self.fault_reason or "line faulted"
                return DialResult(DialOutcome.INTERRUPTED, detail=reason), None
            call = ActiveCall(self, number, pump)
            self.call = call
        return result, call

    def _dial_over(self, result: DialResult) -> DialResult:
        """A dial that ended without a call: the line is ready again, unless the supervisor faulted it
        meanwhile (then the attempt was interrupted by the line, whatever the modem said last)."""
        with self._lock:
            if self.state is not LineState.IN_CALL:
                reason = self._in_call_fault or self.fault_reason or result.detail
                return DialResult(DialOutcome.INTERRUPTED, detail=reason)
            self._event("call_ended")
        return result

    def finish_call(self, call: ActiveCall) -> None:
        """``call`` has ended and the modem is free: the line is ready again (unless it faulted)."""
        with self._lock:
            if self.call is call:
                self.call = None
            if self.state is LineState.IN_CALL:
                self._event("call_ended")

    def _fault_dial(self, reason: str) -> None:
        """A dial ended by the line failing: fault the line, unless the supervisor already did (it may be
        reopening the modem by now, and a late fault from this thread would close what it opened)."""
        with self._lock:
            if self.state is not LineState.IN_CALL:
                log.info("line %s: dial ended by a fault already handled (%s)", self.name, reason)
                return
            self.report_fault(reason)

    def report_fault(self, reason: str) -> None:
        """The modem failed (gone, mute, SIM or network lost): fault the line, interrupt its call and
        close the modem. A no-op on the state when the line is not up (already faulted, or stopped)."""
        with self._lock:
            if self.state is LineState.IN_CALL:
                self._in_call_fault = reason
            call, self.call = self.call, None
            self.fault_reason = reason
            if (self.state, "fault") in TRANSITIONS:
                self._event("fault")
                self.faults += 1
                self.fault_log.append(reason)
                # an absent modem faults again at every reopen (every few seconds): said once, then counted
                self._fault_log.warning("fault", "line %s faulted: %s", self.name, reason)
        if call is not None:
            call.interrupt(reason)
        # A dial in progress watches port_failed: a mute modem must end it too.
        if not self.modem.port_failed.is_set():
            self.modem.fault = reason
            self.modem.port_failed.set()
        self.modem.close()

    def stop(self) -> None:
        """Hang up, close the modem, ``absent``. Stop the line's supervisor first (``Supervisor.stop``
        does both, in that order)."""
        self._stopping.set()
        call = self.call
        if call is not None:
            call.hangup()
        self.modem.close()  # also ends a command a supervisor is waiting on
        # An open attempt that began just before the close opens the port again and waits on its first
        # command: close again until it gives up and lets go (found under load: a stop that took the
        # whole 5 s command timeout).
        while not self._open_lock.acquire(timeout=STOP_POLL_S):
            self.modem.close()
        try:
            self.modem.close()  # the open attempt has finished; close what it opened
            self._event("stop")
        finally:
            self._open_lock.release()

    def describe(self) -> dict[str, object]:
        """State, fault and health, for the panel, `callbox call --json` and tests."""
        return {
            "name": self.name,
            "state": self.state.value,
            "fault": self.fault_reason,
            "faults": self.faults,
            "fault_log": list(self.fault_log),
            "health": self.health.as_dict() if self.health else None,
            "power_cycles": [{"ok": ok, "result": what} for ok, what in self.power_cycles],
        }

    def send_text(self, number: str, text: str, *, submit_timeout_s: float = 60.0) -> list[int]:
        """Send an SMS over this line's modem; the network's message reference for each part.

        Raises :class:`LineNotReady` unless the line is ``ready`` (no text during a call or while
        faulted), ``ValueError`` for a bad number or empty text, and the modem's errors (see
        :func:`~appliance.telephony.sms.send_sms`)."""
        if not self.ready:
            why = f": {self.fault_reason}" if self.state is LineState.FAULTED and self.fault_reason else ""
            raise LineNotReady(f"line {self.name} is {self.state.value}{why}; no text message sent")
        refs = send_sms(self.modem, number, text, timeouts=SmsTimeouts(submit=submit_timeout_s))
        self.last_ok = time.monotonic()
        return refs
