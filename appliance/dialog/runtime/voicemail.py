"""Leaving the flow's message on an answering machine: when to start speaking.

A flow with a voicemail node (``"type": "voicemail"``, :attr:`~appliance.dialog.flow.model.Flow.voicemail`) leaves
its message when the greeting's screen (:mod:`appliance.dialog.runtime.greeting`) says a machine answered. A
mailbox records from its beep: a message started earlier loses its first words. So the bot speaks

* at once when the screen decided on the beep itself;
* else when the beep comes (the screen keeps listening: the greeting may still run, its words or its length
  decided first);
* else, for a mailbox that does not beep, once the greeting has been over ``silence_ms``;

and leaves nothing when the call ends, the network's tones come, or nothing of that happens within ``max_ms`` of
the answer (a greeting that never ends is no place for a message).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum

from appliance.dialog.runtime.ports import CallAudio
from appliance.events import FRAME_MS
from appliance.speech.amd import AnswerScreen, Cue

__all__ = ["BeepWait", "RecordFrom", "await_recording"]


class RecordFrom(StrEnum):
    BEEP = "beep"  # the mailbox beeped: it records from now
    SILENCE = "silence"  # no beep, the greeting is over: it records (or nothing does)


@dataclass(frozen=True)
class BeepWait:
    silence_ms: int = 1500  # the greeting has been over this long, no beep: speak (pauses inside run < 1 s)
    max_ms: int = 20_000  # from the answer: no beep and no end of the greeting by then, no message
    frame_timeout_s: float = 1.0


def await_recording(screen: AnswerScreen, audio: CallAudio, ended: threading.Event,
                    limits: BeepWait) -> RecordFrom | None:
    """Feed the screen the callee's frames until the mailbox records: its beep, or the end of its greeting
    (``silence_ms`` with neither speech nor a tone). None: no message (the call ended, special-information
    tones, or ``max_ms`` from the answer)."""
    quiet = 0
    while not ended.is_set() and screen.elapsed_ms < limits.max_ms:
        frame = audio.read_frame(timeout=limits.frame_timeout_s)
        if frame is None:
            continue
        cue = screen.feed(frame)
        if cue is Cue.BEEP:
            return RecordFrom.BEEP
        if cue is Cue.SIT:
            return None
        quiet = 0 if screen.voiced or screen.is_tone else quiet + FRAME_MS
        if quiet >= limits.silence_ms:
            return RecordFrom.SILENCE
    return None
