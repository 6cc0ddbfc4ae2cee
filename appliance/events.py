"""Small typed events that the moving parts exchange.

Every layer may import this module; it imports nothing of Callbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

FRAME_MS = 20
LINE_RATE = 8000
FRAME_BYTES = LINE_RATE * FRAME_MS // 1000 * 2  # 320: 20 ms of S16LE mono at 8 kHz


class DialOutcome(str, Enum):
    """How a dial attempt ended before any conversation could happen."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class CallProgress:
    """A call-progress signal from the modem: dialing, alerting, active, released."""

    state: str
    call_index: int | None = None
    raw: str = ""


@dataclass(frozen=True)
class Hangup:
    """The far end or the network ended the call."""

    cause: int | None
    raw: str = ""


@dataclass(frozen=True)
class DialResult:
    outcome: DialOutcome
    cause: int | None = None
    detail: str = ""
    # how long the far end rang: from the alerting URC (or, when the modem never reports one, the dial's
    # acknowledgement) to the answer or the give-up; None when the dial ended before it was acknowledged
    ring_ms: int | None = None


@dataclass(frozen=True)
class WordInfo:
    word: str
    confidence: float
    start: float = 0.0
    end: float = 0.0


@dataclass(frozen=True)
class Utterance:
    """What the recogniser made of one customer turn. Empty text means silence.

    ``alternatives``: other readings of the same turn, best first, for the dialog to try when ``text``
    decides nothing (the hybrid's grammar phrase when Whisper's words won but may be misheard)."""

    text: str
    confidence: float = 0.0
    words: tuple[WordInfo, ...] = field(default_factory=tuple)
    duration_ms: int = 0
    alternatives: tuple[str, ...] = ()


class CallAudio(Protocol):
    """A call's audio, one 20 ms frame at a time (the modem is the clock): what the conversation plays and
    hears through. The audio pump of an answered call implements it; telephony's ``CallPort.audio`` and the
    conversation both name this one protocol."""

    def read_frame(self, timeout: float) -> bytes | None: ...
    def read_frame_with_played(self, timeout: float) -> tuple[bytes, bytes] | None: ...
    def play(self, pcm: bytes, *, more: bool = False) -> None: ...
    def flush_playback(self) -> int: ...
    def playing(self) -> bool: ...
    def wait_played(self, timeout: float) -> bool: ...
