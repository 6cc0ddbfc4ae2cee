"""End-of-utterance detection on line audio: webrtcvad per 20 ms frame plus an energy floor.

The endpointer is fed every frame the customer's side delivers while the bot
listens, and says when the customer started talking, when they stopped, when
they said nothing at all, and when they talked for too long. It is pure (no
clock, no threads): time is counted in frames, so it is deterministic.

States and the events that move between them::

    WAITING  --SPEECH_START-->  SPEAKING  --SPEECH_END / MAX_LENGTH-->  DONE
    WAITING  --NO_INPUT-->  DONE

In DONE further frames are ignored until :meth:`Endpointer.reset`.
"""

from __future__ import annotations

from enum import Enum

from appliance.errors import AudioError
from appliance.events import FRAME_MS, LINE_RATE
from appliance.speech.audio import rms_dbfs

__all__ = ["EndpointEvent", "EndpointState", "Endpointer"]


class EndpointEvent(str, Enum):
    SPEECH_START = "speech_start"
    SPEECH_END = "speech_end"
    NO_INPUT = "no_input"
    MAX_LENGTH = "max_length"


class EndpointState(str, Enum):
    WAITING = "waiting"
    SPEAKING = "speaking"
    DONE = "done"


_TRANSITIONS: dict[tuple[EndpointState, EndpointEvent], EndpointState] = {
    (EndpointState.WAITING, EndpointEvent.SPEECH_START): EndpointState.SPEAKING,
    (EndpointState.WAITING, EndpointEvent.NO_INPUT): EndpointState.DONE,
    (EndpointState.SPEAKING, EndpointEvent.SPEECH_END): EndpointState.DONE,
    (EndpointState.SPEAKING, EndpointEvent.MAX_LENGTH): EndpointState.DONE,
}


class Endpointer:
    """Per-turn endpointing; one instance per line, :meth:`reset` before each turn."""

    def __init__(
        self,
        *,
        end_silence_ms: int = 700,
        silence_timeout_ms: int = 7000,
        min_speech_ms: int = 120,
        max_utterance_ms: int = 15000,
        aggressiveness: int = 2,
        energy_floor_dbfs: float = -45.0,
        sample_rate: int = LINE_RATE,
        frame_ms: int = FRAME_MS,
    ) -> None:
        import webrtcvad

        if frame_ms not in (10, 20, 30):
            raise AudioError(f"webrtcvad takes 10, 20 or 30 ms frames, not {frame_ms}")
        if not 0 <= aggressiveness <= 3:
            raise AudioError(f"VAD aggressiveness is 0..3, not {aggressiveness}")
        for name, value in (("end_silence_ms", end_silence_ms), ("silence_timeout_ms", silence_timeout_ms),
                            ("min_speech_ms", min_speech_ms), ("max_utterance_ms", max_utterance_ms)):
            if value <= 0:
                raise AudioError(f"{name} must be positive, got {value}")
        self.end_silence_ms = end_silence_ms
        self.silence_timeout_ms = silence_timeout_ms
        self.min_speech_ms = min_speech_ms
        self.max_utterance_ms = max_utterance_ms
        self.energy_floor_dbfs = energy_floor_dbfs
        self.sample_rate = sample_rate
        self.frame_ms = frame_ms
        self.frame_bytes = sample_rate * frame_ms // 1000 * 2
        self._vad = webrtcvad.Vad(aggressiveness)
        self.reset()

    def reset(self, *, end_silence_ms: int | None = None) -> None:
        """Start a new turn; optionally with a different end-of-utterance silence."""
        if end_silence_ms is not None:
            if end_silence_ms <= 0:
                raise AudioError(f"end_silence_ms must be positive, got {end_silence_ms}")
            self.end_silence_ms = end_silence_ms
        self.state = EndpointState.WAITING
        self.elapsed_ms = 0
        self.speech_start_ms: int | None = None
        self.speech_end_ms: int | None = None
        self._run_ms = 0  # consecutive speech before SPEECH_START
        self._silence_ms = 0  # consecutive silence while SPEAKING

    def set_end_silence(self, end_silence_ms: int) -> None:
        """Change the end-of-utterance silence mid-turn (e.g. the answer looks unfinished)."""
        if end_silence_ms <= 0:
            raise AudioError(f"end_silence_ms must be positive, got {end_silence_ms}")
        self.end_silence_ms = end_silence_ms

    def is_speech(self, frame: bytes) -> bool:
        """Speech by webrtcvad and louder than the energy floor."""
        if len(frame) != self.frame_bytes:
            raise AudioError(f"expected {self.frame_bytes}-byte frames, got {len(frame)}")
        if rms_dbfs(frame) < self.energy_floor_dbfs:
            return False
        return bool(self._vad.is_speech(frame, self.sample_rate))

    @property
    def speech_ms(self) -> int:
        """How long the customer has been speaking in this turn (0 before SPEECH_START)."""
        if self.speech_start_ms is None:
            return 0
        end = self.speech_end_ms if self.speech_end_ms is not None else self.elapsed_ms
        return end - self.speech_start_ms

    def feed(self, frame: bytes) -> EndpointEvent | None:
        """Take one frame; return the event it caused, if any."""
        if self.state is EndpointState.DONE:
            return None
        speech = self.is_speech(frame)
        self.elapsed_ms += self.frame_ms
        event = self._step(speech)
        if event is not None:
            self.state = _TRANSITIONS[(self.state, event)]
        return event

    def _step(self, speech: bool) -> EndpointEvent | None:
        if self.state is EndpointState.WAITING:
            self._run_ms = self._run_ms + self.frame_ms if speech else 0
            if self._run_ms >= self.min_speech_ms:
                self.speech_start_ms = self.elapsed_ms - self._run_ms
                return EndpointEvent.SPEECH_START
            if self.elapsed_ms >= self.silence_timeout_ms:
                return EndpointEvent.NO_INPUT
            return None
        # SPEAKING
        self._silence_ms = 0 if speech else self._silence_ms + self.frame_ms
        if self._silence_ms >= self.end_silence_ms:
            self.speech_end_ms = self.elapsed_ms - self._silence_ms
            return EndpointEvent.SPEECH_END
        if self.speech_start_ms is not None and self.elapsed_ms - self.speech_start_ms >= self.max_utterance_ms:
            self.speech_end_ms = self.elapsed_ms
            return EndpointEvent.MAX_LENGTH
        return None
