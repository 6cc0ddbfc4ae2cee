"""Simulated customers: what they do when called, and what they say.

A :class:`CustomerScript` is the directory entry for one number. During a call
a :class:`CustomerVoice` listens to the bot's audio frame by frame (energy per
20 ms frame), waits for the end of each bot prompt, then speaks its next reply.
"""

from __future__ import annotations

import logging
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from appliance.events import FRAME_BYTES, FRAME_MS, LINE_RATE

log = logging.getLogger(__name__)

BEHAVIOURS = ("answer", "busy", "no_answer", "reject", "silent", "hangup_mid_sentence", "voicemail", "sit",
              "announcement")
# Callees that are not people, and what they play on answering (``appliance/sim/voices``, rendered by
# tests/fixtures/amd/make_amd_fixtures.py): a voicemail greets, beeps and then records in silence until the
# caller hangs up; the network plays special-information tones and an announcement (or the announcement
# alone) and then releases the call.
MACHINE_GREETINGS = {
    "voicemail": "en_voicemail.wav",
    "sit": "en_sit_announcement.wav",
    "announcement": "en_announcement.wav",
}
NETWORK_BEHAVIOURS = ("sit", "announcement")
VOICES_DIR = Path(__file__).resolve().parent / "voices"
KEYS_PREFIX = "dtmf:"  # a reply "dtmf:12#" presses those keys instead of speaking


def reply_keys(reply: Path | str) -> str | None:
    """The keys a reply presses (``dtmf:1`` -> ``"1"``), or None for a spoken reply (a WAV)."""
    text = str(reply)
    return text[len(KEYS_PREFIX):] if text.startswith(KEYS_PREFIX) else None


@dataclass
class CustomerScript:
    behaviour: str = "answer"
    replies: list[Path] = field(default_factory=list)
    greeting: Path | None = None  # said on answering ("Hello?") before any bot prompt
    greeting_delay_ms: int = 300  # from the audio starting to the greeting
    ring_ms: int | None = None  # None: the modem's default
    max_call_s: float = 120.0  # safety: the customer hangs up after this
    reply_gap_ms: int = 300  # silence after the bot's prompt ends before the customer speaks
    prompt_end_ms: int = 600  # quiet after voiced bot audio that counts as "the prompt ended"
    voice_rms: float = 300.0  # bot frame RMS above this is voiced
    # The line echoes the bot back to the box: its audio, attenuated by echo_db (e.g. -12.0) and delayed
    # by echo_delay_ms, is mixed into what the customer sends. None: no echo.
    echo_db: float | None = None
    echo_delay_ms: int = 60
    # Barge-in: start each reply this long into the bot's (voiced) prompt instead of waiting for its end.
    barge_in_ms: int | None = None

    def __post_init__(self) -> None:
        if self.behaviour not in BEHAVIOURS:
            allowed = ", ".join(BEHAVIOURS)
            raise ValueError(f"unknown customer behaviour {self.behaviour!r} (one of {allowed})")
        self.replies = [Path(p) for p in self.replies]
        for reply in self.replies:
            keys = reply_keys(reply)
            if keys is not None and (not keys or set(keys.upper()) - set("0123456789*#ABCD")):
                raise ValueError(f"customer reply {str(reply)!r}: keys must be 0-9, *, #, A-D")
        if self.greeting is None and self.behaviour in MACHINE_GREETINGS:
            self.greeting = VOICES_DIR / MACHINE_GREETINGS[self.behaviour]
            self.greeting_delay_ms = min(self.greeting_delay_ms, 100)  # a machine answers at once
        if self.greeting is not None:
            self.greeting = Path(self.greeting)


def load_pcm(path: Path) -> bytes:
    """A WAV file (any rate, 8/16/32-bit, mono or stereo) as 8 kHz S16LE mono."""
    with wave.open(str(path), "rb") as wav:
        rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
        raw = wav.readframes(wav.getnframes())
    if width == 1:
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 4:
        samples = np.frombuffer(raw, dtype="<i4").astype(np.float32) / 2147483648.0
    else:
        raise ValueError(f"{path}: unsupported sample width {width}")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    if rate != LINE_RATE:
        import soxr

        samples = soxr.resample(samples, rate, LINE_RATE)
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def frame_rms(frame: bytes) -> float:
    samples = np.frombuffer(frame[: len(frame) - len(frame) % 2], dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0


class CustomerVoice:
    """The customer's side of an active call, one 20 ms tick at a time.

    Call :meth:`hear` with each bot frame and :meth:`speak` once per tick for
    the frame to send; :attr:`wants_hangup` turns True when the customer hangs up.
    """

    def __init__(
        self,
        script: CustomerScript,
        replies: list[tuple[str, bytes]],
        greeting: tuple[str, bytes] | None = None,
        press: Callable[[str], None] | None = None,
    ) -> None:
        """``replies`` are (name, audio); a name ``dtmf:<keys>`` with no audio presses the keys through
        ``press`` (the simulated modem's, which reports them as its family does)."""
        self.script = script
        self.press = press
        self.replies = list(replies)
        self.greeting = greeting
        self._ticks = 0
        self._greeted = False
        self.said: list[str] = []
        self.wants_hangup = False
        self._heard_voice = False
        self._quiet_ms = 0
        self._current: bytes = b""
        self._pos = 0
        self._stop_at: int | None = None  # byte offset where a mid-sentence hang-up happens
        self._voice_ms = 0  # voiced bot audio heard since the customer last spoke (for barge-in)
        self.barged_in = 0  # replies started over the bot's prompt
        self._echo = bytearray()  # the bot's audio on its way back (echo_delay_ms of it, then what was heard)
        if script.echo_db is not None:
            self._echo += bytes(script.echo_delay_ms * LINE_RATE // 1000 * 2)
            self._echo_gain = 10 ** (script.echo_db / 20)

    @property
    def speaking(self) -> bool:
        return self._pos < len(self._current)

    def hear(self, frame: bytes) -> None:
        if self.script.echo_db is not None and len(self._echo) < 2 * LINE_RATE * 2:  # at most 2 s behind
            self._echo += frame
        if self.speaking or self.script.behaviour == "silent" or self.script.behaviour in MACHINE_GREETINGS:
            return  # (a machine does not answer the bot's prompts)
        if frame_rms(frame) >= self.script.voice_rms:
            self._heard_voice = True
            self._quiet_ms = 0
            self._voice_ms += FRAME_MS
        elif self._heard_voice:
            self._quiet_ms += FRAME_MS

    def speak(self) -> bytes:
        self._ticks += 1
        if self.greeting is not None and self._ticks * FRAME_MS >= self.script.greeting_delay_ms:
            name, pcm = self.greeting
            self.greeting = None
            if self.script.behaviour != "silent":
                self._greeted = True
                self.said.append(name)
                self._current, self._pos = pcm, 0
        if self.greeting is None and not self.speaking and self.script.behaviour in NETWORK_BEHAVIOURS:
            self.wants_hangup = True  # the announcement is over: the network releases the call
        if not self.speaking and (self._prompt_over() or self._barge_in_now()):
            if self._replied < len(self.replies):
                self._start_reply()
            elif self.script.behaviour == "hangup_mid_sentence":
                self.wants_hangup = True  # nothing to say: hang up once the bot stops talking
        if not self.speaking:
            return self._with_echo(bytes(FRAME_BYTES))
        frame = self._current[self._pos : self._pos + FRAME_BYTES]
        self._pos += FRAME_BYTES
        if self._stop_at is not None and self._pos >= self._stop_at:
            self.wants_hangup = True
            self._current, self._pos = b"", 0
        return self._with_echo(frame + bytes(FRAME_BYTES - len(frame)))

    def _with_echo(self, frame: bytes) -> bytes:
        if self.script.echo_db is None:
            return frame
        back = bytes(self._echo[:FRAME_BYTES])
        del self._echo[:FRAME_BYTES]
        back += bytes(FRAME_BYTES - len(back))
        mixed = np.frombuffer(frame, dtype="<i2").astype(np.float64)
        mixed += np.frombuffer(back, dtype="<i2").astype(np.float64) * self._echo_gain
        return np.clip(mixed, -32768, 32767).astype("<i2").tobytes()

    def _barge_in_now(self) -> bool:
        start = self.script.barge_in_ms
        return start is not None and self._voice_ms >= start and not self.wants_hangup

    @property
    def _replied(self) -> int:
        return len(self.said) - (1 if self._greeted else 0)

    def _prompt_over(self) -> bool:
        return (
            self._heard_voice
            and self._quiet_ms >= self.script.prompt_end_ms + self.script.reply_gap_ms
            and not self.wants_hangup
        )

    def _start_reply(self) -> None:
        name, pcm = self.replies[self._replied]
        if self._barge_in_now() and not self._prompt_over():
            self.barged_in += 1
        self.said.append(name)
        keys = reply_keys(name)
        if keys is not None:
            log.debug("customer presses %s", keys)
            self._heard_voice = False
            self._quiet_ms = 0
            self._voice_ms = 0
            if self.press is not None:
                self.press(keys)
            return
        self._current, self._pos = pcm, 0
        self._heard_voice = False
        self._quiet_ms = 0
        self._voice_ms = 0
        if self.script.behaviour == "hangup_mid_sentence":
            half = len(pcm) // 2
            self._stop_at = max(FRAME_BYTES, half - half % FRAME_BYTES)
        log.debug("customer says %s (%d ms)", name, len(pcm) * 1000 // (2 * LINE_RATE))


class Keypad:
    """The customer pressing keys on a line that does not report them: the DTMF tones play in the audio
    in place of the customer's voice, then the voice goes on."""

    def __init__(self, voice: CustomerVoice, tones: bytes) -> None:
        self.voice = voice
        self.tones = tones

    def speak(self) -> bytes:
        if not self.tones:
            return self.voice.speak()
        frame, self.tones = self.tones[:FRAME_BYTES], self.tones[FRAME_BYTES:]
        return frame + bytes(FRAME_BYTES - len(frame))

    def hear(self, frame: bytes) -> None:
        self.voice.hear(frame)

    @property
    def said(self) -> list[str]:
        return self.voice.said

    @property
    def wants_hangup(self) -> bool:
        return self.voice.wants_hangup
