"""A call's stored recording heard again: the customer's utterance in a stretch of the stereo WAV.

The box records each call as stereo WAV at the line rate, the customer on the left channel and the bot on the right
(``appliance.records.recordings``), from the moment the call is answered; a turn's ``at_ms`` is counted from the
same moment. Between the turn before a customer turn (the bot's question, from its first word: a customer may talk
over it) and the customer turn itself (stored when its recognition ended) lies what the customer said.
:func:`find_utterance` finds it as the box did live: the endpointer's speech classifier and energy floor on the
left channel, with the echo guard fed the right channel frame by frame (what the bot played in the same tick, so its
echo on a real line is not taken for the customer). Pauses up to the endpointer's long wait stay inside one
utterance (the live turn may have waited that long for an unfinished answer); of several utterances in the stretch
the last one is the answer (a short "mm" under the prompt before it was not). The recogniser gets it with
:data:`PREROLL_MS` before and :data:`TAIL_MS` after, as it got the live turn's pre-roll and end silence.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from appliance.errors import AudioError
from appliance.events import FRAME_MS, LINE_RATE
from appliance.speech.audio import frames
from appliance.speech.vad import Endpointer, EndpointEvent, EndpointState

__all__ = ["PREROLL_MS", "TAIL_MS", "StereoRecording", "find_utterance"]

PREROLL_MS = 300  # as the live turn's pre-roll (appliance.dialog.runtime.greeting.PREROLL_FRAMES)
TAIL_MS = 300  # the end-of-turn silence the recogniser heard live: 300 ms (a closed answer) to 700 ms


@dataclass(frozen=True)
class StereoRecording:
    """The two channels of a call recording as 16-bit mono PCM at the line rate."""

    customer: bytes
    bot: bytes
    rate: int = LINE_RATE

    @classmethod
    def read(cls, path: Path) -> StereoRecording:
        """A recording as the box writes it; an ``AudioError`` saying why for anything else."""
        try:
            with wave.open(str(path), "rb") as wav:
                channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
                data = wav.readframes(wav.getnframes())
        except (wave.Error, EOFError) as exc:
            raise AudioError(f"{path}: not a WAV file the box wrote ({exc})") from None
        if (channels, width, rate) != (2, 2, LINE_RATE):
            raise AudioError(f"{path}: {channels} channel(s) of {8 * width}-bit audio at {rate} Hz; a call recording "
                             f"is 2 channels of 16-bit audio at {LINE_RATE} Hz")
        both = np.frombuffer(data[: len(data) - len(data) % 4], dtype="<i2").reshape(-1, 2)
        return cls(both[:, 0].tobytes(), both[:, 1].tobytes(), rate)

    @property
    def duration_ms(self) -> int:
        return len(self.customer) // 2 * 1000 // self.rate

    def _offset(self, ms: int) -> int:
        return max(0, min(len(self.customer), ms * self.rate // 1000 * 2))

    def customer_audio(self, start_ms: int, end_ms: int) -> bytes:
        return self.customer[self._offset(start_ms): self._offset(end_ms)]

    def frames(self, start_ms: int, end_ms: int) -> list[tuple[bytes, bytes]]:
        """(customer, bot) 20 ms frame pairs from ``start_ms`` to ``end_ms``."""
        a, b = self._offset(start_ms), self._offset(end_ms)
        return list(zip(frames(self.customer[a:b]), frames(self.bot[a:b]), strict=True))


def find_utterance(recording: StereoRecording, start_ms: int, end_ms: int,
                   endpointer: Endpointer) -> tuple[int, int] | None:
    """Where the customer's utterance lies between ``start_ms`` and ``end_ms`` of the recording, with pre-roll and
    tail, in ms (None: the endpointer hears no speech there). ``endpointer`` is the call's own (its echo guard
    learns the call's echo from one turn to the next)."""
    start_ms = max(0, start_ms - start_ms % FRAME_MS)
    pairs = recording.frames(start_ms, end_ms)
    if not pairs:
        return None
    wait_ms = (len(pairs) + 1) * FRAME_MS  # no "no input" inside the stretch: only speech matters here
    endpointer.reset(long_answer=True, silence_timeout_ms=wait_ms)
    segments: list[tuple[int, int]] = []  # frame indexes [first, end)
    base = 0  # the frame the endpointer's turn began at
    for i, (heard, played) in enumerate(pairs):
        event = endpointer.feed(heard, played)
        if event in (EndpointEvent.SPEECH_END, EndpointEvent.MAX_LENGTH):
            began, ended = endpointer.speech_start_ms, endpointer.speech_end_ms
            assert began is not None and ended is not None
            segments.append((base + began // FRAME_MS, base + ended // FRAME_MS))
            endpointer.reset(long_answer=True, silence_timeout_ms=wait_ms)
            base = i + 1
    if endpointer.state is EndpointState.SPEAKING and endpointer.speech_start_ms is not None:  # to its last word
        spoken_ms = endpointer.elapsed_ms - endpointer.silence_ms
        segments.append((base + endpointer.speech_start_ms // FRAME_MS, base + spoken_ms // FRAME_MS))
    if not segments:
        return None
    first, end = segments[-1]
    for earlier_first, earlier_end in reversed(segments[:-1]):  # a turn cut at the longest utterance goes on
        if first - earlier_end > 1:
            break
        first = earlier_first
    return (start_ms + max(0, first * FRAME_MS - PREROLL_MS),
            start_ms + min(len(pairs) * FRAME_MS, end * FRAME_MS + TAIL_MS))
