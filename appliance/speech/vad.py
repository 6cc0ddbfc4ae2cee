"""End-of-utterance detection on line audio: a speech classifier per 20 ms frame plus an energy floor.

The classifier is pluggable (:class:`SpeechClassifier`): webrtcvad
(:class:`WebrtcClassifier`, the default) or Silero VAD
(:class:`appliance.speech.silero.SileroClassifier`), picked by ``[speech] vad``.

The endpointer is fed every frame the customer's side delivers while the bot
listens, and says when the customer started talking, when they stopped, when
they said nothing at all, and when they talked for too long. It is pure (no
clock, no threads): time is counted in frames, so it is deterministic.

States and the events that move between them::

    WAITING  --SPEECH_START / BARGE_IN-->  SPEAKING  --SPEECH_END / MAX_LENGTH-->  DONE
    WAITING  --NO_INPUT-->  DONE

In DONE further frames are ignored until :meth:`Endpointer.reset`.

Turn taking on top of that (the conversation drives it, see
``appliance/dialog/runtime/conversation.py``):

* How long a silence ends the answer is decided per pause by
  :meth:`Endpointer.end_silence_for` from the recogniser's partial text:
  ``complete_answer_silence_ms`` when the partial already is one of the
  node's closed answers ("yes"), ``long_utterance_wait_ms`` when the node
  expects a long answer or the partial looks unfinished (ends with a
  connective such as "and", "on", "the"), ``end_silence_ms`` otherwise.
* Barge-in: :meth:`Endpointer.barge_in` counts speech heard while a prompt
  plays; ``barge_in_min_ms`` of it (gaps up to 100 ms bridged) stops the prompt.
* The bot's own echo is not speech: :class:`EchoGuard` is a Geigel-style
  double-talk test against what the bot played in the last ``window_ms``.
"""

from __future__ import annotations

import collections
import itertools
import re
from collections.abc import Iterable
from enum import Enum
from typing import Protocol

import numpy as np

from appliance.errors import AudioError
from appliance.events import FRAME_MS, LINE_RATE
from appliance.speech.audio import rms_dbfs

__all__ = [
    "UNFINISHED_WORDS",
    "EchoGuard",
    "EndpointEvent",
    "EndpointState",
    "Endpointer",
    "SpeechClassifier",
    "WebrtcClassifier",
    "is_complete_answer",
    "looks_unfinished",
    "peak_dbfs",
]


class EndpointEvent(str, Enum):
    SPEECH_START = "speech_start"
    SPEECH_END = "speech_end"
    NO_INPUT = "no_input"
    MAX_LENGTH = "max_length"
    BARGE_IN = "barge_in"


class EndpointState(str, Enum):
    WAITING = "waiting"
    SPEAKING = "speaking"
    DONE = "done"


_TRANSITIONS: dict[tuple[EndpointState, EndpointEvent], EndpointState] = {
    (EndpointState.WAITING, EndpointEvent.SPEECH_START): EndpointState.SPEAKING,
    (EndpointState.WAITING, EndpointEvent.BARGE_IN): EndpointState.SPEAKING,
    (EndpointState.WAITING, EndpointEvent.NO_INPUT): EndpointState.DONE,
    (EndpointState.SPEAKING, EndpointEvent.SPEECH_END): EndpointState.DONE,
    (EndpointState.SPEAKING, EndpointEvent.MAX_LENGTH): EndpointState.DONE,
}

# A partial transcript ending in one of these is unfinished: "I live on ..." / "at the ..." / "Friday and ...".
UNFINISHED_WORDS = frozenset({
    "and", "or", "but", "so", "because", "then", "on", "at", "in", "to", "of", "for", "from", "by", "with",
    "near", "the", "a", "an", "my", "our", "is", "um", "uh", "er",
})  # fmt: skip
_WORD = re.compile(r"[\w']+", re.UNICODE)
_BARGE_GAP_MS = 100  # a pause in the customer's speech this short does not restart the barge-in count


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def looks_unfinished(text: str) -> bool:
    """The partial transcript stops on a connective or preposition ("on", "and", "the"): more is coming."""
    words = _words(text)
    return bool(words) and words[-1] in UNFINISHED_WORDS


def is_complete_answer(text: str, phrases: Iterable[str]) -> bool:
    """The partial transcript already is one of the node's closed answers (word for word, case and
    punctuation ignored)."""
    words = _words(text)
    return bool(words) and any(words == _words(p) for p in phrases)


def peak_dbfs(frame: bytes) -> float:
    """The frame's largest absolute sample in dB full scale (-120 for digital silence)."""
    samples = np.frombuffer(frame[: len(frame) - len(frame) % 2], dtype="<i2")
    if not samples.size:
        return -120.0
    peak = int(np.max(np.abs(samples.astype(np.int32))))
    return -120.0 if peak == 0 else 20.0 * float(np.log10(peak / 32768.0))


class EchoGuard:
    """Double-talk test: the customer's side counts as speech only when it is ``margin_db`` louder than the
    echo of the bot predicted from what the bot played.

    Feed it, per tick, what the bot wrote (:meth:`played`) before asking about the frame heard in the same
    tick (:meth:`allows`). The echo path is learnt from the call itself, Geigel-style but per delay: over
    the last ``history_ms`` of ticks where the bot was loud, for each delay up to ``window_ms`` the level
    difference between the bot frame and the frame heard that much later is taken; the delay where that
    difference is steadiest is the echo's, and its median is the echo return loss. Customer speech over the
    bot (double talk) only disturbs the median while it lasts less than half the history. Until enough of
    the bot's audio has been heard back, the classic Geigel rule stands in: the loudest bot frame of the
    window minus ``initial_loss_db`` (with the 6 dB margin: louder than half the bot's level). A clean line
    learns a loss of 60 dB or more, so nothing is withheld.
    """

    def __init__(self, *, window_ms: int = 200, margin_db: float = 6.0, history_ms: int = 3000,
                 initial_loss_db: float = 12.0, frame_ms: int = FRAME_MS) -> None:
        if window_ms < frame_ms:
            raise AudioError(f"echo window {window_ms} ms is shorter than a frame")
        self.margin_db = margin_db
        self.initial_loss_db = initial_loss_db
        self._lags = window_ms // frame_ms
        self._history = max(history_ms // frame_ms, 4 * self._lags)
        self._far: collections.deque[float] = collections.deque(maxlen=self._history + self._lags)
        self._near: collections.deque[float] = collections.deque(maxlen=self._history)
        self._ticks = 0
        self.delay_frames: int | None = None  # learnt echo delay
        self.loss_db: float | None = None  # learnt echo return loss

    def played(self, frame: bytes | None) -> None:
        self._far.append(rms_dbfs(frame) if frame else -120.0)
        self._ticks += 1
        if self._ticks % 10 == 0:
            self._learn()

    @property
    def far_dbfs(self) -> float:
        """Loudest bot audio in the window (-120 when the bot was silent)."""
        return max(itertools.islice(reversed(self._far), self._lags), default=-120.0)

    def predicted_echo_dbfs(self) -> float:
        """The level the bot's echo should have in the frame heard now."""
        far = self._far
        if not far:
            return -120.0
        if self.delay_frames is None or self.loss_db is None:
            return self.far_dbfs - self.initial_loss_db
        d = self.delay_frames
        near_lags = [far[-1 - k] for k in (d - 1, d, d + 1) if 0 <= k < len(far)]
        return max(near_lags, default=-120.0) - self.loss_db

    def allows(self, frame: bytes) -> bool:
        near = rms_dbfs(frame)
        self._near.append(near)
        echo = self.predicted_echo_dbfs()
        return echo <= -90.0 or near > echo + self.margin_db

    def _learn(self) -> None:
        n = min(len(self._near), len(self._far) - self._lags + 1)
        if n < 2 * self._lags:
            return
        far = np.array(self._far, dtype=np.float64)
        near = np.array(self._near, dtype=np.float64)[-n:]
        best: tuple[float, int, float] | None = None
        for d in range(self._lags):
            # the near frame at index i (of the last n) heard the far frame played d ticks before it
            f = far[len(far) - n - d : len(far) - d]
            loud = f > -45.0
            if int(loud.sum()) < 25:
                return
            diff = f[loud] - near[loud]
            med = float(np.median(diff))
            spread = float(np.median(np.abs(diff - med)))
            if best is None or spread < best[0]:
                best = (spread, d, med)
        if best is not None:
            _, self.delay_frames, self.loss_db = best

    def clear(self) -> None:
        self._far.clear()
        self._near.clear()
        self.delay_frames = self.loss_db = None


class SpeechClassifier(Protocol):
    """Whether one line frame is speech. ``hears_every_frame``: the classifier has memory and must hear the
    call's every frame in order (Silero); otherwise it is only asked about frames that are loud enough and
    not the bot's echo (webrtcvad)."""

    name: str
    hears_every_frame: bool

    def is_speech(self, frame: bytes) -> bool: ...


class WebrtcClassifier:
    """webrtcvad at ``aggressiveness`` 0..3 (its GMM adapts to the noise it is shown)."""

    name = "webrtc"
    hears_every_frame = False

    def __init__(self, aggressiveness: int = 2, *, sample_rate: int = LINE_RATE, frame_ms: int = FRAME_MS) -> None:
        import webrtcvad  # lazy: an optional C extension, loaded with the first endpointer only

        if frame_ms not in (10, 20, 30):
            raise AudioError(f"webrtcvad takes 10, 20 or 30 ms frames, not {frame_ms}")
        if not 0 <= aggressiveness <= 3:
            raise AudioError(f"VAD aggressiveness is 0..3, not {aggressiveness}")
        self.sample_rate = sample_rate
        self._vad = webrtcvad.Vad(aggressiveness)

    def is_speech(self, frame: bytes) -> bool:
        return bool(self._vad.is_speech(frame, self.sample_rate))


class Endpointer:
    """Per-turn endpointing; one instance per line, :meth:`reset` before each turn.

    ``classifier`` decides speech per frame (default: webrtcvad at ``aggressiveness``); it belongs to this
    endpointer alone (one per call: Silero's state is the call's)."""

    DEFAULT_ENERGY_FLOOR_DBFS = -45.0  # webrtcvad calls quieter noise speech

    def __init__(
        self,
        *,
        end_silence_ms: int = 700,
        silence_timeout_ms: int = 7000,
        min_speech_ms: int = 120,
        max_utterance_ms: int = 15000,
        aggressiveness: int = 2,
        energy_floor_dbfs: float = DEFAULT_ENERGY_FLOOR_DBFS,
        sample_rate: int = LINE_RATE,
        frame_ms: int = FRAME_MS,
        long_utterance_wait_ms: int = 1500,
        complete_answer_silence_ms: int = 300,
        barge_in_min_ms: int = 300,
        echo_margin_db: float = 6.0,
        echo_window_ms: int = 200,
        classifier: SpeechClassifier | None = None,
    ) -> None:
        if classifier is None:
            classifier = WebrtcClassifier(aggressiveness, sample_rate=sample_rate, frame_ms=frame_ms)
        for name, value in (("end_silence_ms", end_silence_ms), ("silence_timeout_ms", silence_timeout_ms),
                            ("min_speech_ms", min_speech_ms), ("max_utterance_ms", max_utterance_ms),
                            ("long_utterance_wait_ms", long_utterance_wait_ms),
                            ("complete_answer_silence_ms", complete_answer_silence_ms),
                            ("barge_in_min_ms", barge_in_min_ms)):
            if value <= 0:
                raise AudioError(f"{name} must be positive, got {value}")
        self.default_end_silence_ms = end_silence_ms
        self.end_silence_ms = end_silence_ms
        self.silence_timeout_ms = silence_timeout_ms
        self.min_speech_ms = min_speech_ms
        self.max_utterance_ms = max_utterance_ms
        self.long_utterance_wait_ms = long_utterance_wait_ms
        self.complete_answer_silence_ms = complete_answer_silence_ms
        self.barge_in_min_ms = barge_in_min_ms
        self.energy_floor_dbfs = energy_floor_dbfs
        self.sample_rate = sample_rate
        self.frame_ms = frame_ms
        self.frame_bytes = sample_rate * frame_ms // 1000 * 2
        self.echo = EchoGuard(window_ms=echo_window_ms, margin_db=echo_margin_db, frame_ms=frame_ms)
        self.classifier = classifier
        self._barge_ms = 0
        self._barge_gap_ms = 0
        self.reset()

    def reset(self, *, end_silence_ms: int | None = None, long_answer: bool = False,
              long_wait_ms: int | None = None, silence_timeout_ms: int | None = None) -> None:
        """Start a new turn; optionally with a different end-of-utterance silence (kept for later turns).
        For this turn only: ``long_answer`` waits the long wait from the start, ``long_wait_ms`` replaces
        ``long_utterance_wait_ms`` and ``silence_timeout_ms`` the no-input time (a flow node's own rules).

        The echo guard keeps its memory of what was played: the tail of a prompt's echo arrives after it."""
        if end_silence_ms is not None:
            if end_silence_ms <= 0:
                raise AudioError(f"end_silence_ms must be positive, got {end_silence_ms}")
            self.default_end_silence_ms = end_silence_ms
        for name, value in (("long_wait_ms", long_wait_ms), ("silence_timeout_ms", silence_timeout_ms)):
            if value is not None and value <= 0:
                raise AudioError(f"{name} must be positive, got {value}")
        self.long_answer = long_answer
        self._long_ms = long_wait_ms or self.long_utterance_wait_ms
        self._timeout_ms = silence_timeout_ms or self.silence_timeout_ms
        self._base_end_ms = self._long_ms if long_answer else self.default_end_silence_ms
        self.end_silence_ms = self._base_end_ms
        self.state = EndpointState.WAITING
        self.elapsed_ms = 0
        self.speech_start_ms: int | None = None
        self.speech_end_ms: int | None = None
        self._run_ms = 0  # consecutive speech before SPEECH_START
        self._silence_ms = 0  # consecutive silence while SPEAKING

    @property
    def silence_ms(self) -> int:
        """Silence since the customer's last speech frame in this turn (0 unless SPEAKING)."""
        return self._silence_ms if self.state is EndpointState.SPEAKING else 0

    def set_end_silence(self, end_silence_ms: int) -> EndpointEvent | None:
        """Change the end-of-utterance silence mid-turn (until the customer speaks again). When the silence
        already heard is that long, the utterance ends now: returns SPEECH_END."""
        if end_silence_ms <= 0:
            raise AudioError(f"end_silence_ms must be positive, got {end_silence_ms}")
        self.end_silence_ms = end_silence_ms
        if self.state is EndpointState.SPEAKING and self._silence_ms >= end_silence_ms:
            self.speech_end_ms = self.elapsed_ms - self._silence_ms
            self.state = _TRANSITIONS[(self.state, EndpointEvent.SPEECH_END)]
            return EndpointEvent.SPEECH_END
        return None

    def end_silence_for(self, partial: str, phrases: Iterable[str] = ()) -> int:
        """The end-of-utterance silence the partial transcript calls for (see the module docstring)."""
        if is_complete_answer(partial, phrases):
            return self.complete_answer_silence_ms
        if self.long_answer or looks_unfinished(partial):
            return max(self._long_ms, self._base_end_ms)
        return self._base_end_ms

    def is_speech(self, frame: bytes) -> bool:
        """Speech by the classifier, louder than the energy floor and not the bot's own echo."""
        if len(frame) != self.frame_bytes:
            raise AudioError(f"expected {self.frame_bytes}-byte frames, got {len(frame)}")
        not_echo = self.echo.allows(frame)  # first: the guard hears every frame, to learn the echo path
        if self.classifier.hears_every_frame:
            voiced = self.classifier.is_speech(frame)
            return voiced and not_echo and rms_dbfs(frame) >= self.energy_floor_dbfs
        if not not_echo or rms_dbfs(frame) < self.energy_floor_dbfs:
            return False
        return self.classifier.is_speech(frame)

    @property
    def speech_ms(self) -> int:
        """How long the customer has been speaking in this turn (0 before SPEECH_START)."""
        if self.speech_start_ms is None:
            return 0
        end = self.speech_end_ms if self.speech_end_ms is not None else self.elapsed_ms
        return end - self.speech_start_ms

    def feed(self, frame: bytes, played: bytes | None = None) -> EndpointEvent | None:
        """Take one frame (and what the bot wrote in the same tick, for the echo guard);
        return the event it caused, if any."""
        self.echo.played(played)
        if self.state is EndpointState.DONE:
            return None
        speech = self.is_speech(frame)
        self.elapsed_ms += self.frame_ms
        event = self._step(speech)
        if event is not None:
            self.state = _TRANSITIONS[(self.state, event)]
        return event

    # -- barge-in ------------------------------------------------------------

    def begin_prompt(self) -> None:
        """A prompt starts playing: count barge-in speech from zero."""
        self._barge_ms = 0
        self._barge_gap_ms = 0

    def barge_in(self, frame: bytes, played: bytes | None = None) -> bool:
        """Take a frame heard while a prompt plays; True once the customer has talked over it for
        ``barge_in_min_ms`` (echo excluded, pauses up to 100 ms bridged)."""
        self.echo.played(played)
        if self.is_speech(frame):
            self._barge_ms += self.frame_ms + self._barge_gap_ms
            self._barge_gap_ms = 0
        elif self._barge_ms:
            self._barge_gap_ms += self.frame_ms
            if self._barge_gap_ms > _BARGE_GAP_MS:
                self._barge_ms = self._barge_gap_ms = 0
        return self._barge_ms >= self.barge_in_min_ms

    @property
    def barge_in_ms(self) -> int:
        return self._barge_ms

    def start_barged_in(self, speech_ms: int) -> EndpointEvent:
        """After a barge-in: this turn starts with the customer already ``speech_ms`` into talking."""
        if self.state is not EndpointState.WAITING:
            raise AudioError(f"barge-in needs a fresh turn, the endpointer is {self.state.value}")
        self.elapsed_ms = speech_ms
        self.speech_start_ms = 0
        self.state = _TRANSITIONS[(self.state, EndpointEvent.BARGE_IN)]
        return EndpointEvent.BARGE_IN

    # -- per-frame state machine ---------------------------------------------

    def _step(self, speech: bool) -> EndpointEvent | None:
        if self.state is EndpointState.WAITING:
            self._run_ms = self._run_ms + self.frame_ms if speech else 0
            if self._run_ms >= self.min_speech_ms:
                self.speech_start_ms = self.elapsed_ms - self._run_ms
                return EndpointEvent.SPEECH_START
            if self.elapsed_ms >= self._timeout_ms:
                return EndpointEvent.NO_INPUT
            return None
        # SPEAKING
        if speech:
            self._silence_ms = 0
            self.end_silence_ms = self._base_end_ms  # a new pause is judged afresh
        else:
            self._silence_ms += self.frame_ms
        if self._silence_ms >= self.end_silence_ms:
            self.speech_end_ms = self.elapsed_ms - self._silence_ms
            return EndpointEvent.SPEECH_END
        if self.speech_start_ms is not None and self.elapsed_ms - self.speech_start_ms >= self.max_utterance_ms:
            self.speech_end_ms = self.elapsed_ms
            return EndpointEvent.MAX_LENGTH
        return None
