"""A simulated Huawei E1550 with voice: AT dialect on one pty, PCM on another.

The driver opens :attr:`SimulatedHuaweiModem.at_port` and
:attr:`SimulatedHuaweiModem.audio_port` exactly as it would open /dev/ttyUSB2
and /dev/ttyUSB1. Once audio is started the sim writes one 320-byte frame of
customer audio every 20 ms on a monotonic clock (the sim is the clock) and
reads whatever bot audio the driver writes back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from appliance.events import FRAME_BYTES, FRAME_MS
from appliance.sim.customer import CustomerScript, CustomerVoice, load_pcm, reply_keys
from appliance.sim.faults import SimFaults
from appliance.sim.pty import PtyPair
from appliance.sim.sms import SimSmsCenter
from appliance.telephony.at import LineAssembler
from appliance.telephony.rtprio import raise_thread_priority

log = logging.getLogger(__name__)

_STATIC = {
    "AT": [],
    "ATZ": [],
    "AT^CVOICE?": ["^CVOICE:0,8000,16,20"],
    "AT+CPIN?": ["+CPIN: READY"],
    "AT+CSQ": ["+CSQ: 20,99"],
    "AT+CREG?": ["+CREG: 0,1"],
    "AT+COPS?": ['+COPS: 0,0,"Sim Mobile",0'],
    "AT+CGMI": ["huawei"],
    "AT+CGMM": ["E1550"],
    "AT+CGMR": ["11.608.13.02.00"],
    "AT+CGSN": ["351234567890123"],
    "ATI": ["Manufacturer: huawei", "Model: E1550", "Revision: 11.608.13.02.00"],
}


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


class _CallRun:
    """State of the call in progress, shared by the AT, call and voice threads."""

    def __init__(self, record: SimCall, script: CustomerScript, ring_ms: int) -> None:
        self.record = record
        self.script = script
        self.ring_ms = ring_ms
        self.originated = False
        self.active = False
        self.audio = False
        self.hangup = threading.Event()
        self.voice: CustomerVoice | None = None
        self.silent_until = 0.0  # early answer: the line is open but nobody picked up yet


class SimulatedHuaweiModem:
    def __init__(
        self,
        directory: Callable[[str], CustomerScript],
        *,
        ring_ms: int = 800,
        orig_delay_ms: int = 30,
        voice_enabled: bool = True,
        echo: bool = True,
        name: str = "sim",
        faults: SimFaults | None = None,
    ) -> None:
        self.faults = faults or SimFaults()  # appliance/sim/faults.py: hooks marked "fault hook"
        self.directory = directory
        self.ring_ms = ring_ms
        self.orig_delay_ms = orig_delay_ms
        self.voice_enabled = voice_enabled
        self.echo = echo
        self.name = name
        self.calls: list[SimCall] = []
        self.frames_sent = 0
        self.frames_dropped = 0
        self._at = PtyPair()
        self._voice = PtyPair()
        self.at_port = self._at.path
        self.audio_port = self._voice.path
        self.sms = SimSmsCenter(self._send, self._at.write, name=name)  # AT+CMGF / AT+CMGS
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._call: _CallRun | None = None
        self._threads: list[threading.Thread] = []
        self._call_thread: threading.Thread | None = None
        self._pcm_cache: dict[Path, bytes] = {}

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        for target, label in ((self._at_loop, "at"), (self._voice_loop, "voice")):
            thread = threading.Thread(target=target, name=f"sim-{label}-{self.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        with self._lock:
            run = self._call
        if run is not None:
            run.hangup.set()
        for thread in [*self._threads, self._call_thread]:
            if thread is not None:
                thread.join(timeout)
                if thread.is_alive():
                    log.warning("%s did not stop within %.1fs", thread.name, timeout)
        self._threads.clear()
        self._at.close()
        self._voice.close()

    def unplug(self) -> None:
        """Yank the stick: both ports disappear under the driver."""
        self._at.close()
        self._voice.close()
        with self._lock:
            run = self._call
        if run is not None:
            run.record.ended_by = run.record.ended_by or "unplugged"
            run.hangup.set()

    def replug(self) -> None:
        """Plug the stick back in: new ports (new paths), the AT and voice loops run again."""
        for thread in self._threads:
            thread.join(2.0)
        self._threads.clear()
        self.echo = True
        self.at_port = self._at.reopen()
        self.audio_port = self._voice.reopen()
        self.start()

    def inject(self, data: bytes) -> None:
        """Write raw bytes on the AT port (fault injection: garbage, URCs)."""
        self._at.write(data)

    def __enter__(self) -> SimulatedHuaweiModem:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- AT side -------------------------------------------------------------

    def _send(self, *lines: str) -> None:
        self._at.write(b"".join(b"\r\n" + line.encode() + b"\r\n" for line in lines))

    def _at_loop(self) -> None:
        assembler = LineAssembler()
        while not self._stop.is_set() and not self._at.closed:
            data = self._at.read(0.05)
            if not data:
                continue
            if self.faults.mute.is_set():  # fault hook: the modem stopped answering
                continue
            if self.echo:
                self._at.write(data)
            data = self.sms.feed(data)  # a PDU being typed after the "> " prompt
            for line in assembler.feed(data):
                try:
                    self._handle(line)
                except Exception:
                    log.exception("sim %s: failed on %r", self.name, line)
                    self._send("ERROR")

    def _handle(self, line: str) -> None:
        cmd = line.strip()
        upper = cmd.upper()
        if self.sms.handle(cmd):
            return
        override = self.faults.intercept(cmd)  # fault hook: +CME bursts, refusals, registration
        if override is not None:
            self._send(*override)
            return
        if upper in ("ATE0", "ATE1"):
            self.echo = upper == "ATE1"
            self._send("OK")
        elif upper.startswith(("AT+CMEE=", "AT+CREG=")):
            self._send("OK")
        elif upper == "AT^CVOICE?":
            if self.voice_enabled:
                self._send(*_STATIC[upper], "OK")
            else:
                self._send("ERROR")
        elif upper in _STATIC:
            self._send(*_STATIC[upper], "OK")
        elif upper.startswith("ATD") and upper.endswith(";"):
            self._dial(cmd[3:-1])
        elif upper == "AT^DDSETEX=2":
            self._start_audio()
        elif upper in ("AT+CHUP", "ATH", "ATH0"):
            self._hangup()
        elif upper == "AT+CLCC":
            self._clcc()
        else:
            self._send("ERROR")

    def _dial(self, number: str) -> None:
        with self._lock:
            if self._call is not None:
                self._send("+CME ERROR: 3")
                return
            script = self.directory(number)
            record = SimCall(number=number, behaviour=script.behaviour)
            run = _CallRun(record, script, script.ring_ms if script.ring_ms is not None else self.ring_ms)
            self._call = run
            self.calls.append(record)
        self._send("OK")
        self._call_thread = threading.Thread(
            target=self._call_flow, args=(run,), name=f"sim-call-{self.name}", daemon=True
        )
        self._call_thread.start()

    def _start_audio(self) -> None:
        with self._lock:
            run = self._call
            if run is None or not run.active:
                self._send("ERROR")
                return
            run.voice = self._customer_voice(run.script)
            run.audio = True
        self._send("OK")

    def _customer_voice(self, script: CustomerScript) -> CustomerVoice:
        """The customer's side of the call: their greeting, spoken replies and key presses."""
        replies = [(str(p), b"") if reply_keys(p) is not None else (p.stem, self._pcm(p)) for p in script.replies]
        greeting = script.greeting
        hello = (greeting.stem, self._pcm(greeting)) if greeting is not None else None
        return CustomerVoice(script, replies, hello, press=self._press_later)

    def _press_later(self, keys: str) -> None:
        """A scripted customer presses keys (called from the voice loop, no lock held)."""
        press = getattr(self, "press", None)
        if press is None:
            log.warning("sim %s: this modem cannot report key presses; %s ignored", self.name, keys)
            return
        press(keys)

    def _pcm(self, path: Path) -> bytes:
        if path not in self._pcm_cache:
            self._pcm_cache[path] = load_pcm(path)
        return self._pcm_cache[path]

    def _hangup(self) -> None:
        with self._lock:
            run = self._call
        self._send("OK")
        if run is not None:
            run.record.ended_by = run.record.ended_by or "bot"
            run.hangup.set()

    def _clcc(self) -> None:
        with self._lock:
            run = self._call
        if run is not None and run.originated:
            stat = 0 if run.active else 3
            self._send(f'+CLCC: 1,0,{stat},0,0,"{run.record.number}",129', "OK")
        else:
            self._send("OK")

    # -- call flow (one thread per call) -------------------------------------

    def _call_flow(self, run: _CallRun) -> None:
        rec, behaviour = run.record, run.script.behaviour
        try:
            if run.hangup.wait(self.orig_delay_ms / 1000):
                rec.result = "cancelled_before_orig"  # the E1550 quirk: OK, and no ^CEND
                return
            run.originated = True
            self._send("^ORIG:1,0")
            if run.hangup.wait(0.02):
                self._release(run, "no_answer", 16)
                return
            self._send("^CONF:1")
            if behaviour == "no_answer":
                run.hangup.wait(run.script.max_call_s)
                self._release(run, "no_answer", 16 if rec.ended_by == "bot" else 19)
                return
            if run.hangup.wait((run.ring_ms // 2 if behaviour == "busy" else run.ring_ms) / 1000):
                self._release(run, "no_answer", 16)
                return
            if behaviour == "busy":
                self._release(run, "busy", 17)
                return
            if behaviour == "reject":
                self._release(run, "rejected", 21)
                return
            if self.faults.early_answer_ms > 0:  # fault hook: ^CONN at ringback, pick-up later
                run.active = True
                self._send("^CONN:1,0")
                run.silent_until = time.monotonic() + self.faults.early_answer_ms / 1000
                if run.hangup.wait(self.faults.early_answer_ms / 1000):
                    self._release(run, "no_answer", 16)
                    return
            run.active = True
            rec.result = "answered"
            rec.connected_at = time.monotonic()
            if self.faults.early_answer_ms <= 0:
                self._send("^CONN:1,0")
            deadline = time.monotonic() + run.script.max_call_s
            while not run.hangup.wait(0.02):
                if run.voice is not None and run.voice.wants_hangup:
                    rec.ended_by = "customer"
                    break
                if time.monotonic() >= deadline:
                    rec.ended_by = "timeout"
                    break
            self._release(run, "answered", 16)
        finally:
            rec.ended.set()
            with self._lock:
                if self._call is run:
                    self._call = None

    def _release(self, run: _CallRun, result: str, cause: int) -> None:
        rec = run.record
        if rec.result != "answered":
            rec.result = result
        rec.cause = cause
        duration = int(time.monotonic() - rec.connected_at) if rec.connected_at else 0
        run.audio = False
        run.active = False
        if run.voice is not None:
            rec.said = list(run.voice.said)
        self._send(f"^CEND:1,{duration},104,{cause}")
        log.info("sim %s: call to %s ended: %s (cause %d)", self.name, rec.number, rec.result, cause)

    # -- voice side ----------------------------------------------------------

    def _voice_loop(self) -> None:
        # This thread is the modem's hardware clock: real time, like the pumps that follow it.
        raise_thread_priority(f"simulated modem {self.name} clock")
        period = FRAME_MS / 1000
        next_tick = time.monotonic()
        inbound = bytearray()  # bot audio written by the driver
        outbound = bytearray()  # customer audio not yet accepted by the pty
        while not self._stop.is_set() and not self._voice.closed:
            next_tick += period
            while (left := next_tick - time.monotonic()) > 0 and not self._stop.is_set():
                inbound += self._voice.read(left)
            if -left > 0.2:  # fell far behind (paused process): resynchronise, don't burst
                next_tick = time.monotonic()
            with self._lock:
                run = self._call
            if run is None or not run.audio or run.voice is None:
                inbound.clear()
                outbound.clear()
                continue
            whole = len(inbound) - len(inbound) % FRAME_BYTES
            for i in range(0, whole, FRAME_BYTES):
                frame = bytes(inbound[i : i + FRAME_BYTES])
                if self.faults.downlink_muted:  # fault hook: the customer hears nothing
                    frame = bytes(FRAME_BYTES)
                run.record.heard += frame
                run.voice.hear(frame)
            del inbound[:whole]
            if self.faults.uplink_muted:  # fault hook: nothing reaches the box
                run.voice.speak()
                continue
            if time.monotonic() < run.silent_until:  # fault hook: early answer, still ringing
                outbound += bytes(FRAME_BYTES)
                self.frames_sent += 1
            elif len(outbound) < 8 * FRAME_BYTES:
                outbound += run.voice.speak()
                self.frames_sent += 1
            else:  # the driver is not reading: the line drops audio, whole frames only
                self.frames_dropped += 1
            written = self._voice.write(bytes(outbound))
            del outbound[:written]
