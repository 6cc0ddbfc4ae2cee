"""What the simulated modem families share: the Huawei sim's call flow in another dialect.

:class:`DialectModem` answers family commands before the Huawei table and
translates the call flow's Huawei URCs on their way out (``^CONN`` becomes the
family's "active" lines, ``^CEND`` its "released" lines plus a final code);
subclasses in :mod:`appliance.sim.families` fill in the per-family lines.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import ClassVar

from appliance.events import FRAME_BYTES
from appliance.sim.customer import CustomerScript, CustomerVoice
from appliance.sim.huawei import SimulatedHuaweiModem, _CallRun

log = logging.getLogger(__name__)

_CEND = re.compile(r"^\^CEND:(?P<idx>\d+),(?P<dur>\d+),\d+,(?P<cause>\d+)$")
CAUSE_TEXT = {
    16: "Normal call clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call rejected",
}
DTMF_KEYS = "0123456789*#ABCD"


class DialectModem(SimulatedHuaweiModem):
    """Shared machinery: command dispatch before the Huawei table, URC translation, DTMF."""

    identity: ClassVar[dict[str, list[str]]] = {}
    family = "generic"

    def __init__(self, directory: Callable[[str], CustomerScript], **kw: object) -> None:
        super().__init__(directory, **kw)  # type: ignore[arg-type]
        self.dtmf_sent: list[str] = []  # digits the box sent with AT+VTS
        self.last_cause: int | None = None
        self.commands: list[str] = []  # dialect commands received, in order

    # -- commands --------------------------------------------------------------

    def _dialect(self, upper: str, cmd: str) -> Callable[[], None] | None:
        """The handler for a family command, or None to use the shared (Huawei) table."""
        if upper in self.identity:
            return lambda: self._send(*self.identity[upper], "OK")
        if upper == "AT^CVOICE?":
            return lambda: self._send("ERROR")
        if upper == "AT+CEREG?":
            return lambda: self._send("+CEREG: 0,1", "OK")
        if upper == "AT+CEER":
            return self._ceer
        if upper.startswith("AT+VTS="):
            return lambda: self._vts(cmd[len("AT+VTS=") :])
        return None

    def _handle(self, line: str) -> None:
        cmd = line.strip()
        handler = self._dialect(cmd.upper(), cmd)
        if handler is None:
            super()._handle(line)
            return
        self.commands.append(cmd)
        faults = getattr(self, "faults", None)
        override = faults.intercept(cmd) if faults is not None else None  # fault hook, as in the base
        if override is not None:
            self._send(*override)
            return
        handler()

    def _ok(self) -> None:
        self._send("OK")

    def _ceer(self) -> None:
        cause = self.last_cause
        text = CAUSE_TEXT.get(cause, "No cause information") if cause is not None else "No cause information"
        self._send(f"+CEER: {text}", "OK")

    def _vts(self, arg: str) -> None:
        digits = arg.strip().strip('"').replace(",", "")
        if not digits or any(d not in DTMF_KEYS for d in digits.upper()):
            self._send("+CME ERROR: 50")
            return
        with self._lock:
            run = self._call
        if run is None or not run.active:
            self._send("+CME ERROR: 3")
            return
        self.dtmf_sent.extend(digits.upper())
        self._send("OK")

    # -- what the customer does ------------------------------------------------

    def press(self, digits: str) -> None:
        """The customer presses keys: the modem reports each digit (the family's URC)."""
        for digit in digits:
            SimulatedHuaweiModem._send(self, *self._dtmf_urc(digit))

    def _dtmf_urc(self, digit: str) -> list[str]:
        raise NotImplementedError

    # -- URC translation -------------------------------------------------------

    def _send(self, *lines: str) -> None:
        out: list[str] = []
        for line in lines:
            out.extend(self._translate(line))
        if out:
            super()._send(*out)

    def _translate(self, line: str) -> list[str]:
        run = self._call
        number = run.record.number if run is not None else ""
        if line.startswith("^ORIG:"):
            return self._dialing(number)
        if line.startswith("^CONF:"):
            return self._alerting(number)
        if line.startswith("^CONN:"):
            if run is not None:
                self._connected(run)
            return self._active(number)
        match = _CEND.match(line)
        if match:
            cause = int(match["cause"])
            self.last_cause = cause
            by_bot = run is not None and run.record.ended_by == "bot"
            final = [] if by_bot else [self._final_code(run, cause)]
            return [*self._released(number, int(match["dur"])), *final]
        return [line]

    def _final_code(self, run: _CallRun | None, cause: int) -> str:
        if run is not None and run.record.result == "busy":
            return "BUSY"
        if cause == 19:
            return "NO ANSWER"
        return "NO CARRIER"

    def _connected(self, run: _CallRun) -> None:
        """The call became active: families whose audio needs no start command open it now."""

    def _call_flow(self, run: _CallRun) -> None:
        super()._call_flow(run)
        if run.record.result == "cancelled_before_orig":  # only the Huawei stick keeps quiet then
            self.last_cause = 16
            SimulatedHuaweiModem._send(self, *self._released(run.record.number, 0))

    def _voice_on(self, run: _CallRun) -> None:
        """Open the customer's side of the audio without answering a command (auto-start families)."""
        voice = self._customer_voice(run.script)
        with self._lock:
            run.voice = voice
            run.audio = True

    # per family
    def _dialing(self, number: str) -> list[str]:
        return []

    def _alerting(self, number: str) -> list[str]:
        return []

    def _active(self, number: str) -> list[str]:
        return []

    def _released(self, number: str, duration: int) -> list[str]:
        return []


class Keypad:
    """Stands in for the customer's voice while DTMF tones play, then hands back to it."""

    def __init__(self, voice: CustomerVoice, tones: bytes) -> None:
        self.voice = voice
        self.tones = tones

    def speak(self) -> bytes:
        if not self.tones:
            return self.voice.speak()
        frame, self.tones = self.tones[:FRAME_BYTES], self.tones[FRAME_BYTES:]
        return frame + bytes(FRAME_BYTES - len(frame))

    def __getattr__(self, name: str) -> object:
        return getattr(self.voice, name)
