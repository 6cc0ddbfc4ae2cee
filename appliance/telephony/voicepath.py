"""A modem's voice path during a call: audio on and off (commands from the profile), the audio pump, DTMF.

The modem driver owns one :class:`VoicePath` and sends its AT commands for it; the path never talks to
the AT channel itself. The SIM7600 answers ``AT+CPCMREG=1`` with ERROR for a while after the call is
up, so switching audio on retries for ``audio_start_retry_s`` (until the call ends).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Protocol

from appliance.errors import AtCommandError, AtTimeout, ModemError, PortError
from appliance.telephony.audio import AudioPump, Tap
from appliance.telephony.profile import ModemProfile
from appliance.telephony.tones import DtmfDetector

log = logging.getLogger(__name__)

RETRY_GAP_S = 0.2  # between two refused audio-start commands


class Commands(Protocol):
    def command(self, cmd: str, *, timeout: float | None = None, expect: str | None = None) -> list[str]: ...


class VoicePath:
    def __init__(
        self,
        commands: Commands,
        profile: ModemProfile,
        audio_port: str,
        *,
        name: str,
        call_ended: threading.Event,
        start_timeout: float,
    ) -> None:
        self.commands = commands
        self.profile = profile
        self.audio_port = audio_port
        self.name = name
        self.call_ended = call_ended
        self.start_timeout = start_timeout
        self.dtmf_digits: queue.Queue[str] = queue.Queue()
        self._audio_on = False  # audio_start commands were sent and audio_stop not yet
        self._pump: AudioPump | None = None  # started early when the answer must be confirmed by speech

    def start(self, tap: Tap | None = None) -> AudioPump:
        """Audio on and the pump running; a pump already started to confirm the answer goes on."""
        pump, self._pump = self._pump, None
        if pump is not None:
            pump.tap = tap
            return pump
        return self.start_pump(tap)

    def start_pump(self, tap: Tap | None) -> AudioPump:
        """Audio on, DTMF detection on, a new pump started (kept for :meth:`start` if the answer is
        to be confirmed by speech)."""
        for cmd in self.profile.audio_start:
            self._command_retrying(cmd)
            self._audio_on = bool(self.profile.audio_stop)
        for cmd in self.profile.dtmf.detect_start:
            try:
                self.commands.command(cmd)
            except AtCommandError as exc:
                log.warning("modem %s: %s failed (%s): no DTMF detection", self.name, cmd, exc)
        observers = []
        if self.profile.dtmf.detect == "inband":
            detector = DtmfDetector()

            def detect(frame: bytes) -> None:
                for digit in detector.feed(frame):
                    self.dtmf_digits.put(digit)

            observers.append(detect)
        pump = AudioPump(
            self.audio_port,
            tap=tap,
            baudrate=self.profile.baudrate,
            name=self.name,
            device_rate=self.profile.audio.rate,
            observers=observers,
        )
        pump.start()
        self._pump = pump if self.profile.confirm_answer_by_speech else None
        return pump

    def drop_pump(self) -> None:
        """Stop a pump started for the answer check that no call will take over."""
        pump, self._pump = self._pump, None
        if pump is not None:
            pump.stop()

    def _command_retrying(self, cmd: str) -> None:
        give_up = time.monotonic() + self.profile.audio_start_retry_s
        while True:
            try:
                self.commands.command(cmd, timeout=self.start_timeout)
                return
            except AtCommandError as exc:
                if time.monotonic() >= give_up or self.call_ended.is_set():
                    raise
                log.info("modem %s: %s answered %s, retrying", self.name, cmd, exc.result)
                self.call_ended.wait(RETRY_GAP_S)

    def stop(self) -> None:
        self._audio_on = False
        for cmd in self.profile.audio_stop:
            self.commands.command(cmd)

    def stop_quietly(self) -> None:
        """Audio off (AT+CPCMREG=0) after a call that had it on, however that call ended."""
        if not self._audio_on:
            return
        try:
            self.stop()
        except (AtCommandError, AtTimeout, PortError) as exc:
            log.debug("modem %s: audio stop failed: %s", self.name, exc)

    def clear_dtmf(self) -> None:
        while True:
            try:
                self.dtmf_digits.get_nowait()
            except queue.Empty:
                return

    def send_dtmf(self, digits: str, call_idx: int) -> None:
        if not self.profile.dtmf.send:
            raise ModemError(f"profile {self.profile.name} cannot send DTMF")
        for digit in digits:
            self.commands.command(self.profile.dtmf_command(digit, call_idx))

    def read_dtmf(self, timeout: float) -> str | None:
        try:
            return self.dtmf_digits.get(timeout=timeout)
        except queue.Empty:
            return None
