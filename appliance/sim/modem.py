"""The simulated modem: AT commands on one pty, PCM on another (or a file-backed sound card), any family.

The driver opens :attr:`SimulatedModem.at_port` and :attr:`SimulatedModem.audio_port`
exactly as it would open /dev/ttyUSB2 and /dev/ttyUSB1. What the family says and
answers is its :class:`~appliance.sim.dialect.Dialect` (the tables are in
:mod:`appliance.sim.families`); the call flow (:mod:`appliance.sim.call`),
customers, faults and text messages are the same for every family. Once audio
is on, :class:`~appliance.sim.voice.VoiceClock` paces it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from appliance.sim.call import CallInProgress, Progress, SimCall, run_call
from appliance.sim.card import FifoCard, VoicePath, WideVoice
from appliance.sim.customer import CustomerScript, CustomerVoice, Keypad, load_pcm, reply_keys
from appliance.sim.dialect import CAUSE_TEXT, COMMON_COMMANDS, DTMF_KEYS, Action, Command, Dialect, find_command
from appliance.sim.faults import SimFaults
from appliance.sim.pty import PtyPair
from appliance.sim.sms import SimSmsCenter
from appliance.sim.voice import VoiceClock
from appliance.telephony.at import LineAssembler
from appliance.telephony.tones import dtmf_pcm

log = logging.getLogger(__name__)


class SimulatedModem:
    def __init__(
        self,
        directory: Callable[[str], CustomerScript],
        *,
        dialect: Dialect,
        ring_ms: int = 800,
        orig_delay_ms: int = 30,
        voice_enabled: bool = True,
        echo: bool = True,
        name: str = "sim",
        faults: SimFaults | None = None,
    ) -> None:
        self.dialect = dialect
        self.faults = faults or SimFaults()  # appliance/sim/faults.py: hooks marked "fault hook"
        self.directory = directory
        self.ring_ms = ring_ms
        self.orig_delay_ms = orig_delay_ms
        self.voice_enabled = voice_enabled
        self.echo = echo
        self.name = name
        self.calls: list[SimCall] = []
        self.commands: list[str] = []  # the family's own commands received (dialect.commands), in order
        self.switches: set[str] = set()  # settings the box turned on (Action.SWITCH_ON, "pcm" by AT+QPCMV)
        self.dtmf_sent: list[str] = []  # digits the box sent
        self.last_cause: int | None = None  # of the last release, for AT+CEER
        self.pcm_refused = 0  # audio starts answered ERROR inside dialect.audio_start_refused_ms
        self.rate = 8000  # of the device side of the audio (Action.PCM_RATE)
        self._at = PtyPair()
        self._card = FifoCard(prefix=dialect.card_prefix) if dialect.audio_device == "card" else None
        self._narrow: VoicePath = self._card if self._card is not None else PtyPair()
        self._voice: VoicePath = self._narrow
        self.at_port = self._at.path
        self.audio_port = self._voice.path
        self.sms = SimSmsCenter(self._send, self._at.write, name=name)  # AT+CMGF / AT+CMGS
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._call: CallInProgress | None = None
        self._threads: list[threading.Thread] = []
        self._call_thread: threading.Thread | None = None
        self._pcm_cache: dict[Path, bytes] = {}
        self._clock = VoiceClock(name, self.faults, self._current_call)

    @property
    def frames_sent(self) -> int:
        return self._clock.frames_sent

    @property
    def frames_dropped(self) -> int:
        return self._clock.frames_dropped

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

    def _voice_loop(self) -> None:
        self._clock.run(lambda: self._voice, self._stop)

    def _current_call(self) -> CallInProgress | None:
        with self._lock:
            return self._call

    def inject(self, data: bytes) -> None:
        """Write raw bytes on the AT port (fault injection: garbage, URCs)."""
        self._at.write(data)

    def __enter__(self) -> SimulatedModem:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what the customer does ----------------------------------------------

    def press(self, digits: str) -> None:
        """The customer presses keys: reported one line per key, or played as tones where the family does not
        report them (then only on a call with audio)."""
        template = self.dialect.key_report
        if template is not None:
            for digit in digits:
                self._send(template.format(digit=digit, ascii=ord(digit)))
            return
        with self._lock:
            run = self._call
            if run is None or run.voice is None:
                raise RuntimeError("no call with audio to press keys on")
            voice = run.voice.voice if isinstance(run.voice, Keypad) else run.voice
            run.voice = Keypad(voice, dtmf_pcm(digits))

    # -- AT side -------------------------------------------------------------

    def _send(self, *lines: str) -> None:
        if lines:
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
        if self.sms.handle(cmd):
            return
        found = find_command(self.dialect.commands, cmd)
        if found is not None:
            self.commands.append(cmd)
        else:
            found = find_command(COMMON_COMMANDS, cmd)
        override = self.faults.intercept(cmd)  # fault hook: +CME bursts, refusals, registration
        if override is not None:
            self._send(*override)
        elif found is None:
            self._send("ERROR")
        else:
            self._do(*found)

    def _do(self, command: Command, arg: str) -> None:
        action = command.action
        if action is Action.ANSWER:
            self._send(*command.lines, "OK")
        elif action is Action.ECHO:
            self.echo = arg == "1"
            self._send("OK")
        elif action is Action.VOICE_QUERY:
            if self.voice_enabled:
                self._send(*command.lines, "OK")
            else:
                self._send("ERROR")
        elif action is Action.DIAL:
            self._dial(arg)
        elif action is Action.HANGUP:
            self._hangup()
        elif action is Action.CALL_LIST:
            self._call_list()
        elif action is Action.AUDIO_ON:
            self._audio_on()
        elif action is Action.AUDIO_OFF:
            self._audio_off()
        elif action is Action.PCM_RATE:
            self._pcm_rate(int(command.value or 8000))
        elif action is Action.PCM_PORT_QUERY:
            on = "pcm" in self.switches
            self._send(f"+QPCMV: {1 if on else 0},{self.dialect.pcm_port if on else 0}", "OK")
        elif action is Action.PCM_PORT_SET:
            self._pcm_port(arg)
        elif action is Action.SWITCH_ON:
            self.switches.add(str(command.value))
            self._send("OK")
        elif action is Action.SEND_KEYS:
            self._send_keys(arg)
        elif action is Action.CAUSE_REPORT:
            cause = self.last_cause if self.last_cause is not None else -1
            self._send(f"+CEER: {CAUSE_TEXT.get(cause, 'No cause information')}", "OK")

    def _dial(self, number: str) -> None:
        with self._lock:
            if self._call is not None:
                self._send("+CME ERROR: 3")
                return
            script = self.directory(number)
            record = SimCall(number=number, behaviour=script.behaviour)
            run = CallInProgress(record, script, script.ring_ms if script.ring_ms is not None else self.ring_ms)
            self._call = run
            self.calls.append(record)
        self._send("OK")
        self._call_thread = threading.Thread(target=self._call_thread_main, args=(run,),
                                             name=f"sim-call-{self.name}", daemon=True)
        self._call_thread.start()

    def _hangup(self) -> None:
        with self._lock:
            run = self._call
        self._send("OK")
        if run is not None:
            run.record.ended_by = run.record.ended_by or "bot"
            run.hangup.set()

    def _call_list(self) -> None:
        with self._lock:
            run = self._call
        if run is not None and run.originated:
            stat = 0 if run.active else 3
            self._send(f'+CLCC: 1,0,{stat},0,0,"{run.record.number}",129', "OK")
        else:
            self._send("OK")

    def _audio_on(self) -> None:
        with self._lock:
            run = self._call
            if run is None or not run.active:
                self._send("ERROR")
                return
            if time.monotonic() - run.active_at < self.dialect.audio_start_refused_ms / 1000:
                self.pcm_refused += 1  # the module's audio path is not up yet
                self._send("ERROR")
                return
            run.voice = self._customer_voice(run.script)
            run.audio = True
        self._send("OK")

    def _audio_off(self) -> None:
        with self._lock:
            run = self._call
            if run is not None:
                run.audio = False
        self._send("OK")

    def _pcm_rate(self, rate: int) -> None:
        self.rate = rate
        self._voice = WideVoice(self._narrow, rate // 8000) if rate != 8000 else self._narrow
        self._send("OK")

    def _pcm_port(self, arg: str) -> None:
        parts = [p.strip() for p in arg.split(",")]
        if parts == ["0"]:
            self.switches.discard("pcm")
            self._send("OK")
        elif parts != ["1", str(self.dialect.pcm_port)]:
            self._send("ERROR")  # this stick is wired the other way (the EC25's two tables)
        elif self.dialect.pcm_port_needs is not None and self.dialect.pcm_port_needs not in self.switches:
            self._send("+CME ERROR: 3")  # the NMEA port still carries GPS sentences
        else:
            self.switches.add("pcm")
            self._send("OK")

    def _send_keys(self, arg: str) -> None:
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

    # -- the call, reported in the dialect ----------------------------------

    def _call_thread_main(self, run: CallInProgress) -> None:
        try:
            run_call(run, self, self.faults, orig_delay_ms=self.orig_delay_ms)
        finally:
            run.record.ended.set()
            with self._lock:
                if self._call is run:
                    self._call = None
        if run.record.result == "cancelled_before_orig" and self.dialect.released_when_cancelled:
            self.last_cause = 16
            self._send(*self._progress_lines(self.dialect.released, run.record.number, duration=0, cause=16))

    def _progress_lines(self, templates: tuple[str, ...], number: str, **values: int) -> list[str]:
        needs = self.dialect.progress_needs
        if needs is not None and needs not in self.switches:
            return []
        return [t.format(number=number, **values) for t in templates]

    def progress(self, call: CallInProgress, state: Progress) -> None:
        if state == "active":
            call.active_at = time.monotonic()
            self._audio_when_active(call)
        templates = {"dialing": self.dialect.dialing, "alerting": self.dialect.alerting, "active": self.dialect.active}
        self._send(*self._progress_lines(templates[state], call.record.number))

    def release(self, call: CallInProgress, result: str, cause: int) -> None:
        duration = call.end(result, cause)
        self.last_cause = cause
        lines = self._progress_lines(self.dialect.released, call.record.number, duration=duration, cause=cause)
        if self.dialect.final_code and call.record.ended_by != "bot":  # the box asked for this one: no final code
            lines.append(self.dialect.final_code_by_cause.get(cause, self.dialect.final_code_otherwise))
        self._send(*lines)
        log.info("sim %s: call to %s ended: %s (cause %d)", self.name, call.record.number, call.record.result, cause)

    def _audio_when_active(self, call: CallInProgress) -> None:
        """Families whose audio needs no start command open it as the call becomes active."""
        dialect = self.dialect
        if not dialect.audio_opens_when_active or (dialect.audio_needs and dialect.audio_needs not in self.switches):
            return
        if self._card is not None:
            self._card.drain()  # audio the box never read, left over from an earlier call
        voice = self._customer_voice(call.script)
        with self._lock:
            call.voice = voice
            call.audio = True

    def _customer_voice(self, script: CustomerScript) -> CustomerVoice:
        """The customer's side of the call: their greeting, spoken replies and key presses."""
        replies = [(str(p), b"") if reply_keys(p) is not None else (p.stem, self._pcm(p)) for p in script.replies]
        greeting = script.greeting
        hello = (greeting.stem, self._pcm(greeting)) if greeting is not None else None
        return CustomerVoice(script, replies, hello, press=self.press)

    def _pcm(self, path: Path) -> bytes:
        if path not in self._pcm_cache:
            self._pcm_cache[path] = load_pcm(path)
        return self._pcm_cache[path]
