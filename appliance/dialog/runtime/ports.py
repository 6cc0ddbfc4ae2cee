"""What a conversation uses of a call's audio and of the endpointer, as complete protocols (no ``getattr``).

:class:`CallAudio` is the one protocol in :mod:`appliance.events` that telephony's call port names too (the
audio pump of an answered call implements it).
:class:`EndpointerLike` is what :class:`appliance.speech.vad.Endpointer` offers.
:class:`TurnObserver` is told each turn's figures (the box's ``/metrics`` histograms); the dialog room knows no
metrics library.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from appliance.events import CallAudio
from appliance.speech.vad import EndpointEvent

__all__ = ["CallAudio", "EndpointerLike", "TurnObserver"]


class TurnObserver(Protocol):
    """Told by a conversation, on its own thread, as each turn goes; must return at once and never raise."""

    def turn_latency(self, seconds: float) -> None:
        """From the customer's endpoint to the first frame of the bot's reply handed to the line."""
        ...

    def recognised(self, confidence: float) -> None:
        """A customer turn's recognition confidence (0..1); turns with nothing heard are not counted."""
        ...


class EndpointerLike(Protocol):
    """What the conversation needs of :class:`appliance.speech.vad.Endpointer`."""

    barge_in_min_ms: int
    complete_answer_silence_ms: int
    frame_ms: int
    end_silence_ms: int

    @property
    def silence_ms(self) -> int: ...
    @property
    def barge_in_ms(self) -> int: ...

    def feed(self, frame: bytes, played: bytes | None = None) -> EndpointEvent | None: ...
    def reset(self, *, end_silence_ms: int | None = None, long_answer: bool = False,
              long_wait_ms: int | None = None, silence_timeout_ms: int | None = None) -> None: ...
    def set_end_silence(self, end_silence_ms: int) -> EndpointEvent | None: ...
    def end_silence_for(self, partial: str, phrases: Iterable[str] = ()) -> int: ...
    def begin_prompt(self) -> None: ...
    def barge_in(self, frame: bytes, played: bytes | None = None) -> bool: ...
    def start_barged_in(self, speech_ms: int) -> EndpointEvent: ...
