"""One simulated call on the network's side: when it is originated, rings, is answered or released.

:func:`run_call` plays the callee's script against the clock (the same for
every family) and tells a :class:`CallReports` (the simulated modem) each step;
the modem turns the steps into its dialect's lines.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Literal, Protocol

from appliance.sim.customer import CustomerScript, CustomerVoice, Keypad
from appliance.sim.faults import SimFaults

Progress = Literal["dialing", "alerting", "active"]


@dataclass
class SimCall:
    """What happened on one simulated call (read by tests and the demo)."""

    number: str
    behaviour: str
    result: str = "dialing"  # answered, busy, rejected, no_answer, cancelled_before_orig, failed
    ended_by: str | None = None  # bot, customer, timeout
    cause: int | None = None
    heard: bytearray = field(default_factory=bytearray)  # bot audio the customer heard, 8 kHz S16LE
    said: list[str] = field(default_factory=list)  # reply names the customer spoke
    started: float = field(default_factory=time.monotonic)
    connected_at: float | None = None
    ended: threading.Event = field(default_factory=threading.Event)


class CallInProgress:
    """State of the call in progress, shared by the AT, call and voice threads."""

    def __init__(self, record: SimCall, script: CustomerScript, ring_ms: int) -> None:
        self.record = record
        self.script = script
        self.ring_ms = ring_ms
        self.originated = False
        self.active = False
        self.active_at = 0.0  # when the network reported the call active (early answer: at ringback)
        self.audio = False
        self.hangup = threading.Event()
        self.voice: CustomerVoice | Keypad | None = None
        self.silent_until = 0.0  # early answer: the line is open but nobody picked up yet

    def end(self, result: str, cause: int) -> int:
        """Record the release; the seconds the call was connected."""
        rec = self.record
        if rec.result != "answered":
            rec.result = result
        rec.cause = cause
        self.audio = False
        self.active = False
        if self.voice is not None:
            rec.said = list(self.voice.said)
        return int(time.monotonic() - rec.connected_at) if rec.connected_at else 0


class CallReports(Protocol):
    """What the network tells the modem about the call (the modem reports it in its dialect)."""

    def progress(self, call: CallInProgress, state: Progress) -> None: ...

    def release(self, call: CallInProgress, result: str, cause: int) -> None: ...


def run_call(call: CallInProgress, modem: CallReports, faults: SimFaults, *, orig_delay_ms: int) -> None:
    """The call from ``ATD`` to its release, following the customer's script (on the call's thread)."""
    rec, behaviour = call.record, call.script.behaviour
    if call.hangup.wait(orig_delay_ms / 1000):
        rec.result = "cancelled_before_orig"  # hung up before the network took it: no release to report
        return
    call.originated = True
    modem.progress(call, "dialing")
    if call.hangup.wait(0.02):
        modem.release(call, "no_answer", 16)
        return
    modem.progress(call, "alerting")
    if behaviour == "no_answer":
        call.hangup.wait(call.script.max_call_s)
        modem.release(call, "no_answer", 16 if rec.ended_by == "bot" else 19)
        return
    if call.hangup.wait((call.ring_ms // 2 if behaviour == "busy" else call.ring_ms) / 1000):
        modem.release(call, "no_answer", 16)
        return
    if behaviour == "busy":
        modem.release(call, "busy", 17)
        return
    if behaviour == "reject":
        modem.release(call, "rejected", 21)
        return
    if faults.early_answer_ms > 0:  # fault hook: active at ringback, pick-up later
        call.active = True
        modem.progress(call, "active")
        call.silent_until = time.monotonic() + faults.early_answer_ms / 1000
        if call.hangup.wait(faults.early_answer_ms / 1000):
            modem.release(call, "no_answer", 16)
            return
    call.active = True
    rec.result = "answered"
    rec.connected_at = time.monotonic()
    if faults.early_answer_ms <= 0:
        modem.progress(call, "active")
    deadline = time.monotonic() + call.script.max_call_s
    while not call.hangup.wait(0.02):
        if call.voice is not None and call.voice.wants_hangup:
            rec.ended_by = "customer"
            break
        if time.monotonic() >= deadline:
            rec.ended_by = "timeout"
            break
    modem.release(call, "answered", 16)
