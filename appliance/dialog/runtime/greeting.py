"""The callee's greeting: on answering, wait for their "Hello?" so the bot neither talks over it nor greets a
line that is still ringing (some networks report the call active at ringback).

A human usually speaks within a second or two of picking up; the first voiced frame (and the 300 ms before it)
opens a recognition session held to :data:`GREETING_PHRASES` for the recogniser's language, and the greeting ends
after a short silence, or when it runs too long.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass

from appliance.dialog.runtime.ports import CallAudio
from appliance.speech.asr.base import AsrEngine, AsrSession
from appliance.speech.audio import rms_dbfs

__all__ = ["GREETING_PHRASES", "PREROLL_FRAMES", "VOICED_DBFS", "CalleeGreeting", "GreetingLimits", "is_voiced"]

PREROLL_FRAMES = 15  # 300 ms of audio before the detected speech start goes to the recogniser
FRAME_MS = 20
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
}


def is_voiced(frame: bytes) -> bool:
    return rms_dbfs(frame) > VOICED_DBFS


@dataclass(frozen=True)
class GreetingLimits:
    frame_timeout_s: float = 1.0
    wait_ms: int = 2000  # silence this long after answering: greet anyway
    end_ms: int = 400  # once they speak, greet after this much silence
    max_ms: int = 4000  # ... or when the greeting runs this long


@dataclass(frozen=True)
class CalleeGreeting:
    """What came of waiting for the greeting: ``answered`` False when the call ended first; ``text`` what the
    callee said ("" when they said nothing, or nothing the recogniser knew)."""

    answered: bool
    text: str = ""

    @classmethod
    def await_on(cls, audio: CallAudio, asr: AsrEngine, ended: threading.Event,
                 limits: GreetingLimits) -> CalleeGreeting:
        """Listen on ``audio`` until the callee has greeted, or stayed silent ``limits.wait_ms``."""
        waited = heard = quiet = 0
        session: AsrSession | None = None
        preroll: collections.deque[bytes] = collections.deque(maxlen=PREROLL_FRAMES)
        while not ended.is_set():
            frame = audio.read_frame(timeout=limits.frame_timeout_s)
            if frame is None:
                continue
            waited += FRAME_MS
            voiced = is_voiced(frame)
            if session is None:
                preroll.append(frame)
                if voiced:
                    phrases = GREETING_PHRASES.get(asr.language.split("-")[0])
                    session = asr.open_session(list(phrases) if phrases else None)
                    for f in preroll:
                        session.accept(f)
                elif waited >= limits.wait_ms:
                    return cls(answered=True)
                continue
            session.accept(frame)
            heard += FRAME_MS
            quiet = 0 if voiced else quiet + FRAME_MS
            if quiet >= limits.end_ms or heard >= limits.max_ms:
                return cls(answered=True, text=session.finish().text)
        if session is not None:
            session.cancel()
        return cls(answered=False)
