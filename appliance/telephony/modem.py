"""Modem driver: one modem, driven entirely by its profile (no vendor branches).

Call progress arrives as URCs on the AT reader thread; the driver feeds them
to the call-state table (:mod:`appliance.telephony.callstate`), turns them into
:class:`CallProgress` events on a queue that :meth:`Modem.dial` consumes, and
:attr:`Modem.remote_ended` is set when the far end releases an active call.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import re
import threading
import time
from dataclasses import dataclass

from appliance.errors import AtCommandError, AtTimeout, ModemError, PortError
from appliance.events import CallProgress, DialOutcome, DialResult
from appliance.telephony.at import AtChannel
from appliance.telephony.audio import AudioPump, Tap
from appliance.telephony.callstate import ORIGINATED_STATES, CallState, CallTracker, IllegalCallTransition
from appliance.telephony.profile import ModemProfile
from appliance.telephony.tones import SpeechDetector
from appliance.telephony.voicepath import VoicePath

log = logging.getLogger(__name__)

# The unsolicited form is "+CREG: <stat>[,<lac>,<ci>...]" (the answer to AT+CREG? is "+CREG: <n>,<stat>",
# but answers never reach the URC handler).
_REGISTRATION_URC = re.compile(r"^\+CE?REG:\s*(\d+)\s*(?:,|$)")

_FINAL = "final"  # CallProgress.state for a bare final code (BUSY, NO CARRIER) seen as a URC


@dataclass(frozen=True)
class ModemTimeouts:
    command: float = 5.0  # ordinary AT commands
    dial_ack: float = 10.0  # the dial command's own final result code
    hangup: float = 5.0  # wait for the release URC after hanging up
    audio_start: float = 5.0
    release_settle: float = 0.3  # after a release without a cause, wait this long for BUSY / NO CARRIER


class Modem:
    def __init__(
        self,
        profile: ModemProfile,
        at_port: str,
        audio_port: str,
        *,
        timeouts: ModemTimeouts | None = None,
        name: str | None = None,
    ) -> None:
        self.profile = profile
        self.at_port = at_port
        self.audio_port = audio_port
        self.timeouts = timeouts or ModemTimeouts()
        self.name = name or at_port.rsplit("/", 1)[-1]
        self._call = CallTracker()
        self.remote_ended = self._call.remote_ended  # the far end hung up an answered call
        self.port_failed = threading.Event()
        # set when the box stops (SIGTERM): a dial still ringing gives up at once instead of ringing on
        self.abort_dial = threading.Event()
        # set by a +CREG/+CEREG URC saying the modem left the network; the line supervisor checks at once
        self.registration_lost = threading.Event()
        self.fault: str | None = None
        self._progress: queue.Queue[CallProgress] = queue.Queue()
        # open()/close() may race (a dial thread failing while the supervisor reopens): one lock, and
        # close() takes the channel out before closing it, so a newly opened channel is never dropped open.
        self._port_lock = threading.Lock()
        self._channel: AtChannel | None = None
        self._generation = 0  # bumped by every open and close: a dial in flight ends when it changes
        self._call_idx = 1
        self._ringing_since: float | None = None  # the current dial: when the far end began to ring (monotonic)
        self.voice = VoicePath(self, profile, audio_port, name=self.name, call_ended=self._call.ended,
                               start_timeout=self.timeouts.audio_start)
        self.dtmf_digits = self.voice.dtmf_digits
        detect = profile.dtmf.detect
        self._dtmf_re = re.compile(detect) if detect and detect != "inband" else None

    # -- lifecycle -----------------------------------------------------------

    def open(self) -> None:
        """Open the AT port and run the profile's init sequence; raise ModemError/PortError."""
        channel = AtChannel(
            self.at_port,
            baudrate=self.profile.baudrate,
            on_urc=self._on_urc,
            on_close=self._on_port_closed,
            default_timeout=self.timeouts.command,
            urc_prefixes=self.profile.urc_prefixes,
            name=self.name,
        )
        with self._port_lock:
            stale, self._channel = self._channel, None
        if stale is not None:
            stale.close()
        channel.open()
        with self._port_lock:
            self._channel = channel
            self._generation += 1
        self.port_failed.clear()
        self.registration_lost.clear()
        try:
            for step in self.profile.init:
                try:
                    lines = channel.command(step.command)
                except AtCommandError as exc:
                    if step.optional:
                        continue
                    raise ModemError(step.error or f"init command failed: {exc}") from exc
                if step.expect is not None and not any(step.expect.match(line) for line in lines):
                    raise ModemError(step.error or f"{step.command} answered {lines!r}")
        except ModemError:
            with self._port_lock:
                if self._channel is channel:
                    self._channel = None
            channel.close()
            raise
        log.info("modem %s ready (%s)", self.name, self.profile.name)

    def close(self) -> None:
        with self._port_lock:
            channel, self._channel = self._channel, None
            self._generation += 1
        if channel is not None:
            channel.close()

    def command(self, cmd: str, *, timeout: float | None = None, expect: str | None = None) -> list[str]:
        channel = self._channel
        if channel is None:
            raise PortError(f"modem {self.name} is not open")
        return channel.command(cmd, timeout=timeout, expect=expect)

    def command_with_prompt(
        self,
        cmd: str,
        payload: str,
        *,
        prompt_timeout: float | None = None,
        timeout: float | None = None,
        expect: str | None = None,
    ) -> list[str]:
        """A command that takes ``payload`` after a ``> `` prompt (AT+CMGS); see AtChannel."""
        channel = self._channel
        if channel is None:
            raise PortError(f"modem {self.name} is not open")
        return channel.command_with_prompt(
            cmd, payload, prompt_timeout=prompt_timeout, timeout=timeout, expect=expect
        )

    # -- calls ---------------------------------------------------------------

    def dial(self, number: str, *, ring_timeout: float) -> DialResult:
        """Dial and block until answered or a terminal outcome; never longer than ring_timeout (+ hang-up). The
        result says how long the far end rang (``ring_ms``): from the alerting URC, or from the dial's
        acknowledgement on a modem that reports none, to the answer (confirmed by speech where the profile asks)
        or the give-up."""
        self._ringing_since = None
        result = self._dial(number, ring_timeout=ring_timeout)
        since = self._ringing_since
        if since is None:
            return result
        return dataclasses.replace(result, ring_ms=round((time.monotonic() - since) * 1000))

    def _dial(self, number: str, *, ring_timeout: float) -> DialResult:
        self.voice.stop_quietly()  # the last call ended at the far end with audio still on
        self._reset_call()
        cmd = self.profile.dial_command(number)
        generation = self._generation
        try:
            self.command(cmd, timeout=self.timeouts.dial_ack)
        except AtCommandError as exc:
            outcome = self.profile.outcome_for_final_code(exc.result)
            log.info("modem %s: dial %s answered %s -> %s", self.name, number, exc.result, outcome.value)
            return DialResult(outcome, detail=exc.result)
        except AtTimeout as exc:
            self.try_hangup()
            return DialResult(DialOutcome.FAILED, detail=f"dial not acknowledged: {exc}")
        deadline = time.monotonic() + ring_timeout
        self._ringing_since = time.monotonic()  # acknowledged; an alerting URC moves it to when the ringing began
        alerted = False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                log.info("modem %s: no answer from %s within %.1fs", self.name, number, ring_timeout)
                self.try_hangup()
                return DialResult(DialOutcome.NO_ANSWER, detail="ring timeout")
            if self.port_failed.is_set() or self._generation != generation:  # failed, or closed and reopened
                return DialResult(DialOutcome.INTERRUPTED, detail=self.fault or "AT port failed")
            if self.abort_dial.is_set():
                log.info("modem %s: the box is stopping; giving up the dial to %s", self.name, number)
                self.try_hangup()
                return DialResult(DialOutcome.INTERRUPTED, detail="the box stopped while it rang")
            try:
                event = self._progress.get(timeout=min(left, 0.1))
            except queue.Empty:
                continue
            if event.state == "alerting" and not alerted:
                alerted = True
                self._ringing_since = time.monotonic()
            if event.state == "active":
                if self.profile.confirm_answer_by_speech:
                    return self._confirm_answer(number, event.raw, deadline)
                return DialResult(DialOutcome.ANSWERED, detail=event.raw)
            if event.state == "released":
                return self._release_outcome(event.raw)
            if event.state == _FINAL:
                return self._final_outcome(event.raw)

    def _release_outcome(self, raw: str) -> DialResult:
        """The outcome of a call released before it was answered: the URC's cause, else the final
        code that follows the release (BUSY, NO ANSWER), else what ``cause_query`` (AT+CEER) says."""
        cause = self.end_cause
        if cause is not None:
            return DialResult(self.profile.outcome_for_cause(cause), cause=cause, detail=raw)
        final: str | None = None
        try:
            while final is None:
                event = self._progress.get(timeout=self.timeouts.release_settle)
                if event.state == _FINAL:
                    final = event.raw
        except queue.Empty:
            pass
        if final is not None and final != "NO CARRIER":
            return DialResult(self.profile.outcome_for_final_code(final), detail=f"{raw}; {final}")
        asked = self._ask_cause()
        if asked is not None:
            return asked
        if final is not None:
            return DialResult(self.profile.outcome_for_final_code(final), detail=f"{raw}; {final}")
        return DialResult(self.profile.default_outcome, detail=raw)

    def _final_outcome(self, code: str) -> DialResult:
        """A bare final code ended the attempt; NO CARRIER says little, so ask for the cause."""
        if code == "NO CARRIER":
            asked = self._ask_cause()
            if asked is not None:
                return asked
        return DialResult(self.profile.outcome_for_final_code(code), detail=code)

    def _ask_cause(self) -> DialResult | None:
        """What ``cause_query`` (AT+CEER) says about the last call, if the profile can tell."""
        if not self.profile.cause_query or self.profile.cause_pattern is None:
            return None
        try:
            lines = self.command(self.profile.cause_query)
        except (AtCommandError, AtTimeout) as exc:
            log.warning("modem %s: %s failed: %s", self.name, self.profile.cause_query, exc)
            return None
        return self.profile.outcome_from_cause_report(lines)

    def _confirm_answer(self, number: str, raw: str, deadline: float) -> DialResult:
        """The network said "active", but some say so at ringback: start audio and wait for a voice."""
        detector = SpeechDetector()
        heard = threading.Event()

        def listen(frame: bytes) -> None:
            if not heard.is_set() and detector.feed(frame):
                heard.set()

        try:
            pump = self.voice.start_pump(None)
        except (AtCommandError, ModemError) as exc:
            self.try_hangup()
            return DialResult(DialOutcome.FAILED, detail=f"audio did not start: {exc}")
        pump.observers.append(listen)
        limit = min(deadline, time.monotonic() + self.profile.answer_confirm_s)
        while time.monotonic() < limit:
            if heard.wait(0.05):
                pump.observers.remove(listen)
                log.info("modem %s: answer by %s confirmed by speech", self.name, number)
                return DialResult(DialOutcome.ANSWERED, detail=f"{raw}; speech heard")
            if self.port_failed.is_set():
                self.voice.drop_pump()
                return DialResult(DialOutcome.INTERRUPTED, detail=self.fault or "AT port failed")
            if self._call.ended.is_set():
                self.voice.drop_pump()
                return self._release_outcome(raw)
        log.info("modem %s: %s reported active but no voice within %.1fs", self.name, number,
                 self.profile.answer_confirm_s)
        self.voice.drop_pump()
        self.try_hangup()
        return DialResult(DialOutcome.NO_ANSWER, detail="reported active, no voice heard")

    @property
    def end_cause(self) -> int | None:
        """The Q.850 cause of the last release, when the modem reported one."""
        return self._call.end_cause

    # -- audio and DTMF (the voice path) --------------------------------------

    def start_audio(self, tap: Tap | None = None) -> AudioPump:
        """Switch the modem's audio on (retrying while it answers ERROR, as the SIM7600's
        AT+CPCMREG=1 does for a while) and start the pump; DTMF detection goes on too."""
        return self.voice.start(tap)

    def stop_audio(self) -> None:
        self.voice.stop()

    def send_dtmf(self, digits: str) -> None:
        """Send DTMF digits on the active call, one command per digit."""
        self.voice.send_dtmf(digits, self._call_idx)

    def read_dtmf(self, timeout: float) -> str | None:
        """The next digit the far end pressed, or None after ``timeout``."""
        return self.voice.read_dtmf(timeout)

    def hangup(self) -> None:
        """Hang up; wait (bounded) for the release only if the modem will send one."""
        before = self._call.handle("hangup")  # a release from now on is ours, not the far end's
        originated, released = before in ORIGINATED_STATES, before is CallState.ENDED
        self.voice.stop_quietly()
        self.command(self.profile.hangup)
        if released or not self.profile.release_after_hangup:
            return
        if originated or not self.profile.release_needs_origination:
            if not self._call.ended.wait(self.timeouts.hangup):
                log.warning("modem %s: no release after %s", self.name, self.profile.hangup)
        else:
            log.debug("modem %s: hung up before origination, not waiting for a release", self.name)

    def try_hangup(self) -> bool:
        """Hang up an attempt that is being abandoned; a failure is logged, not raised. True if it worked."""
        try:
            self.hangup()
        except (AtCommandError, AtTimeout, PortError) as exc:
            log.warning("modem %s: hang-up failed: %s", self.name, exc)
            return False
        return True

    @property
    def in_call(self) -> bool:
        return self._call.in_call

    @property
    def call_state(self) -> CallState:
        return self._call.state

    # -- URCs (reader thread: must not block, must not send commands) --------

    def _reset_call(self) -> None:
        self._call.handle("dial")
        self.voice.drop_pump()
        self.voice.clear_dtmf()
        while True:
            try:
                self._progress.get_nowait()
            except queue.Empty:
                break

    def _on_urc(self, line: str) -> None:
        if self._dtmf_re is not None:
            dtmf = self._dtmf_re.match(line)
            if dtmf is not None:
                groups = dtmf.groupdict()
                digit = groups.get("digit") or chr(int(groups["ascii"]))
                self.dtmf_digits.put(digit)
                return
        registration = _REGISTRATION_URC.match(line)
        if registration is not None:
            if int(registration.group(1)) not in (1, 5):  # 1 home, 5 roaming
                log.warning("modem %s: left the network (%s)", self.name, line)
                self.registration_lost.set()
            return
        found = self.profile.classify(line)
        if found is None:
            if line in self.profile.final_code_outcomes:
                if self._track(_FINAL, line):
                    self._progress.put(CallProgress(_FINAL, None, line))
            else:
                log.debug("modem %s: URC %s", self.name, line)
            return
        state, match = found
        groups = match.groupdict()
        idx = int(groups["idx"]) if groups.get("idx") else None
        if idx is not None:
            self._call_idx = idx
        cause = groups.get("cause")
        if not self._track(state, line, cause=int(cause) if cause else None):
            return
        log.debug("modem %s: %s %s", self.name, state, line)
        self._progress.put(CallProgress(state, idx, line))

    def _track(self, event: str, line: str, *, cause: int | None = None) -> bool:
        """Feed a call-progress URC to the call-state table; False (logged) when it does not fit the call."""
        try:
            self._call.handle(event, cause=cause)
        except IllegalCallTransition as exc:
            log.warning("modem %s: URC %s dropped: %s", self.name, line, exc)
            return False
        return True

    def _on_port_closed(self, error: Exception | None) -> None:
        self.fault = str(error) if error else "AT port closed"
        self.port_failed.set()
