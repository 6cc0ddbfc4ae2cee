"""Speech recognition: the engine and session interfaces, and the helpers every engine shares.

An engine holds a loaded model (one per language per process); a session is one
customer turn: feed it 20 ms line frames (8 kHz S16LE), read partial text while
the customer speaks, and ``finish()`` for the :class:`~appliance.events.Utterance`.
A session with a grammar only hears the listed phrases, which is faster and far
more accurate on short answers; without one it is free-form.

Engines: vosk (:mod:`appliance.speech.asr.vosk`) for a language with an
installed model; PocketSphinx (:mod:`appliance.speech.asr.sphinx`) with its
bundled US English model; Whisper tiny.en (:mod:`appliance.speech.asr.whisper`);
and the hybrid (:mod:`appliance.speech.asr.hybrid`) that answers from the grammar
decoder when it is sure and asks Whisper otherwise.
:func:`appliance.speech.asr.factory.load_engine` picks one and says why when it
had to fall back; this module imports no engine.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from appliance.errors import SpeechError
from appliance.events import Utterance, WordInfo

__all__ = [
    "AsrEngine",
    "AsrSession",
    "DecodersBusy",
    "make_utterance",
    "normalise_phrases",
]

log = logging.getLogger(__name__)


class DecodersBusy(SpeechError):
    """Every decoder an engine may hold is in use (a capped pool: the hybrid's grammar decoders)."""


@runtime_checkable
class AsrSession(Protocol):
    """One turn of recognition; not shared between threads."""

    def accept(self, frame: bytes) -> None:
        """Feed one frame of line audio (8 kHz S16LE mono)."""
        ...

    def partial(self) -> str:
        """The text heard so far (may change until ``finish``)."""
        ...

    def pause(self) -> None:
        """The customer has paused (the end-of-turn silence may have begun): an engine that decodes the
        whole turn at its end (Whisper) may start now. Frames fed after this are the silence."""
        ...

    def resume(self) -> None:
        """The customer talks again after a ``pause``: what the pause started is thrown away."""
        ...

    def finish(self) -> Utterance:
        """End the turn and return what was heard; the session cannot be fed after this."""
        ...

    def cancel(self) -> None:
        """End the turn without a result (no input, hang-up), releasing what the session holds."""
        ...


@runtime_checkable
class AsrEngine(Protocol):
    """A loaded recogniser for one language; thread-safe ``open_session``."""

    name: str
    language: str
    fallback_reason: str | None

    def open_session(self, grammar: Sequence[str] | None = None) -> AsrSession:
        """Start a turn; ``grammar`` restricts recognition to those phrases."""
        ...

    def close(self) -> None:
        """Release what the engine holds beyond memory (worker processes); idempotent."""
        ...


_PUNCTUATION = re.compile(r"[^\w\s'\-\[\]]+", re.UNICODE)


def normalise_phrases(phrases: Sequence[str], *, lower: bool = True) -> list[str]:
    """Grammar phrases without punctuation, single-spaced, de-duplicated, order kept."""
    seen: dict[str, None] = {}
    for phrase in phrases:
        cleaned = " ".join(_PUNCTUATION.sub(" ", phrase).split())
        if lower:
            cleaned = cleaned.lower()
        if cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)


def make_utterance(words: Sequence[WordInfo], duration_ms: int) -> Utterance:
    """An Utterance whose confidence is the mean of its words' confidences (0 when empty)."""
    kept = tuple(w for w in words if w.word)
    text = " ".join(w.word for w in kept)
    confidence = sum(w.confidence for w in kept) / len(kept) if kept else 0.0
    return Utterance(text=text, confidence=round(confidence, 4), words=kept, duration_ms=duration_ms)
