"""A conversation: plays the flow's prompts on a call's audio and listens for the answers.

The audio port, the recogniser and the synthesiser come in as interfaces, so
this layer never touches a modem or loads a model itself.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from appliance.dialog.engine import FlowRun, Step
from appliance.events import Utterance
from appliance.speech.asr import AsrEngine, AsrSession
from appliance.speech.audio import rms_dbfs

log = logging.getLogger(__name__)

PREROLL_FRAMES = 15
VOICED_DBFS = -40.8  # RMS 300 of 32768: above line noise, below any voice
# What a callee says on picking up, as a grammar: cheaper and steadier than free-form recognition, which in
# PocketSphinx holds the GIL long enough at the end of an utterance to stall the audio pump.
GREETING_PHRASES = {
    "en": (
        "hello",
        "hi",
        "yes",
        "yeah",
        "speaking",
        "hello who is this",
        "who is this",
        "good morning",
        "good afternoon",
        "good evening",
    ),
}  # 300 ms of audio before the detected speech start goes to the recogniser


class AudioPort(Protocol):
    def read_frame(self, timeout: float) -> bytes | None: ...
    def play(self, pcm: bytes) -> None: ...
    def flush_playback(self) -> None: ...
    def playing(self) -> bool: ...


class Synthesizer(Protocol):
    def render(self, text: str) -> bytes: ...


class EndpointerLike(Protocol):
    def feed(self, frame: bytes) -> object | None: ...
    def reset(self) -> None: ...


@dataclass(frozen=True)
class ConversationLimits:
    max_call_s: float = 300.0
    frame_timeout_s: float = 1.0
    # On answering, wait this long for the callee's "Hello?" before greeting; a human usually speaks
    # within a second or two, and some networks report "answered" while it still rings.
    greeting_wait_ms: int = 2000
    # ... and once they speak, greet after this much silence (or when the greeting runs too long).
    greeting_end_ms: int = 400
    greeting_max_ms: int = 4000


class Conversation:
    def __init__(
        self,
        run: FlowRun,
        port: AudioPort,
        asr: AsrEngine,
        tts: Synthesizer,
        endpointer: EndpointerLike,
        *,
        ended: threading.Event,
        limits: ConversationLimits | None = None,
        use_grammar: bool = True,
        call_id: int | str = "-",
    ) -> None:
        self.run = run
        self.port = port
        self.asr = asr
        self.tts = tts
        self.endpointer = endpointer
        self.ended = ended
        self.limits = limits or ConversationLimits()
        self.use_grammar = use_grammar
        self.call_id = call_id
        self._t0 = time.monotonic()
        self.turn_times_ms: list[int] = []

    def _now_ms(self) -> int:
        return int((time.monotonic() - self._t0) * 1000)

    def _over_time(self) -> bool:
        return time.monotonic() - self._t0 > self.limits.max_call_s

    def _mark_turns(self) -> None:
        while len(self.turn_times_ms) < len(self.run.turns):
            self.turn_times_ms.append(self._now_ms())

    def execute(self) -> bool:
        """Run the flow to its end. Returns False if the customer hung up (or time ran out) first."""
        if not self._await_callee():
            return False
        step = self.run.start()
        while True:
            self._mark_turns()
            log.info("call %s: bot says (%s): %s", self.call_id, step.node, step.say)
            if not self._say(step):
                return False
            if not step.listen:
                return True
            utterance = self._listen(step)
            if utterance is None:
                return False
            log.info("call %s: customer said %r (confidence %.2f)", self.call_id, utterance.text, utterance.confidence)
            step = self.run.hear(utterance.text, confidence=utterance.confidence)
            self._mark_turns()

    def _await_callee(self) -> bool:
        """Listen for the callee's greeting, so the bot neither talks over it nor greets a ringing line."""
        lim = self.limits
        frames_ms = 20
        waited = heard = quiet = 0
        session: AsrSession | None = None
        preroll: collections.deque[bytes] = collections.deque(maxlen=PREROLL_FRAMES)
        while not self.ended.is_set():
            frame = self.port.read_frame(timeout=lim.frame_timeout_s)
            if frame is None:
                continue
            waited += frames_ms
            voiced = self._voiced(frame)
            if session is None:
                preroll.append(frame)
                if voiced:
                    phrases = GREETING_PHRASES.get(str(getattr(self.asr, "language", "")).split("-")[0])
                    session = self.asr.open_session(list(phrases) if phrases else None)
                    for f in preroll:
                        session.accept(f)
                elif waited >= lim.greeting_wait_ms:
                    return True
                continue
            session.accept(frame)
            heard += frames_ms
            quiet = 0 if voiced else quiet + frames_ms
            if quiet >= lim.greeting_end_ms or heard >= lim.greeting_max_ms:
                text = session.finish().text
                if text:
                    log.info("call %s: callee answered with %r", self.call_id, text)
                    self.run.note_greeting(text)
                return True
        if session is not None:
            session.cancel()
        return False

    @staticmethod
    def _voiced(frame: bytes) -> bool:
        return rms_dbfs(frame) > VOICED_DBFS

    def _say(self, step: Step) -> bool:
        audio = self.tts.render(step.say)
        self.port.play(audio)
        # Drain what the customer sends while the bot talks (no barge-in in this version).
        while self.port.playing():
            if self.ended.is_set() or self._over_time():
                self.port.flush_playback()
                return False
            self.port.read_frame(timeout=0.1)
        return not self.ended.is_set()

    def _listen(self, step: Step) -> Utterance | None:
        grammar = list(step.grammar) if self.use_grammar and step.grammar else None
        session = self.asr.open_session(grammar)
        self.endpointer.reset()
        preroll: collections.deque[bytes] = collections.deque(maxlen=PREROLL_FRAMES)
        in_speech = False
        while not self.ended.is_set() and not self._over_time():
            frame = self.port.read_frame(timeout=self.limits.frame_timeout_s)
            if frame is None:
                continue
            event = self.endpointer.feed(frame)
            name = getattr(event, "name", None)
            if in_speech:
                session.accept(frame)
            else:
                preroll.append(frame)
            if name == "SPEECH_START" and not in_speech:
                in_speech = True
                for f in preroll:
                    session.accept(f)
                preroll.clear()
            elif name in ("SPEECH_END", "MAX_LENGTH"):
                return session.finish()
            elif name == "NO_INPUT":
                session.cancel()
                return Utterance(text="", confidence=0.0)
        session.cancel()
        return None
