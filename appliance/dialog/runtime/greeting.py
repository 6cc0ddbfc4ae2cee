"""The callee's greeting: on answering, wait for their "Hello?" so the bot neither talks over it nor greets a
line that is still ringing (some networks report the call active at ringback), and tell a person from an
answering machine or the network's "number not in service".

A human usually speaks within a second or two of picking up; the first voiced frame (and the 300 ms before it)
opens a recognition session held to :data:`GREETING_PHRASES` for the recogniser's language, and the greeting ends
after a short silence. A frame is speech when the screen says so: above -40.8 dBFS and 10 dB over the line's
noise floor, and not a tone. Meanwhile :class:`~appliance.speech.amd.AnswerScreen` listens to the same frames:

* special-information tones: ``invalid_number`` at once (~0.9 s after the answer);
* a beep after speech: ``machine``;
* speech running past ``machine_speech_ms`` (2.8 s; people's greetings in the fixtures run 0.5-2.5 s): from
  then on the greeting is also heard free-form (from its start), to its next pause or ``decide_ms`` of speech,
  and the words decide: an operator's announcement (:data:`ANNOUNCEMENT_CUES`: "not in service", "cannot be
  reached", "the number you have dialed") is ``invalid_number``, anything else a ``machine``;
* a shorter greeting followed by a pause is a person's, whatever the recogniser made of it; the screen keeps
  listening through the bot's first prompt for a beep or tones (a voicemail that said "Hi, it's Tom." and
  paused, :class:`~appliance.dialog.runtime.conversation.Conversation` stops the prompt then).

The free-form words are only as good as the recogniser: PocketSphinx's free-form English is poor on the line
(announcements without tones come out as noise words, so they end ``machine``: retried later, never lost).
With Whisper (:data:`FREE_FORM_ENGINES`: Whisper alone, or the hybrid, whose Whisper is used directly) the
greeting is heard free-form from its first word, prompted with :data:`GREETING_PROMPT`; a pause in it starts
the decode (as in a turn), and speech running past ``words_after_ms`` is decoded so far then and every
``words_every_ms`` after (a probe session of its own), so its words decide within a few seconds. A voicemail's
words make even a short greeting a machine's ("Hey, it's Tom. Leave a message."). On the fixtures with
Whisper tiny.en: 21 of 21 right clean, no person taken for a machine (``bench/amd.py``, README "Who answered").
The time from the answer to the decision is kept (``decided_ms``), the decodes waited for included (the line's
frames queue meanwhile).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from appliance.dialog.runtime.ports import CallAudio
from appliance.phrases import phrase
from appliance.speech.amd import AmdSettings, AnswerScreen, Cue
from appliance.speech.asr.base import AsrEngine, AsrSession
from appliance.speech.asr.hybrid import HybridEngine

__all__ = ["ANNOUNCEMENT_CUES", "GREETING_PHRASES", "LATE_SCREEN_MS", "PREROLL_FRAMES", "VOICEMAIL_CUES",
           "AnsweredBy", "CalleeGreeting", "GreetingLimits", "is_announcement", "is_voicemail"]

LATE_SCREEN_MS = 10_000  # a beep or tones this long after the answer still tell a machine or the network
T = TypeVar("T")
EARLY_DECODE_MS = 200  # ``free``: a pause this long in the greeting starts its decode (as in a turn)
PREROLL_FRAMES = 15  # 300 ms of audio before the detected speech start goes to the recogniser
FRAME_MS = 20
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
# Words only an operator's announcement says (a voicemail may say "not available", never these).
ANNOUNCEMENT_CUES = {
    "en": (
        "not in service",
        "no longer in service",
        "cannot be reached",
        "can not be reached",
        "number you have dialed",
        "number you have dialled",
        "number you have called",
        "not been recognized",
        "not been recognised",
        "check the number",
        "number is not available",
        "subscriber",
        "has been disconnected",
        "is not reachable",
        "switched off",
        "does not exist",
        "not a working number",
        "number is incorrect",
    ),
}


# Words of a voicemail greeting that a person picking up does not say.
VOICEMAIL_CUES = {
    "en": (
        "leave a message",
        "leave your name",
        "leave your number",
        "after the beep",
        "after the tone",
        "you have reached",
        "you ve reached",
        "take your call",
        "missed your call",
        "voicemail",
        "voice mail",
        "mailbox",
        "mail box",
        "not available to take your call",
        "unable to take your call",
        "record your message",
        "at the tone",
        "at the beep",
        "after the signal",
    ),
}

# What callees say on picking up, the prompt of a free-form (Whisper) greeting: a person's words and a machine's
# side by side steer the spelling of both without favouring either. On the fixtures with Whisper tiny.en,
# announcements without tones were heard with their words 2 of 5 times without a prompt and 5 of 5 with it;
# no person's greeting came out with a machine's words either way (bench/amd.py).
GREETING_PROMPT = {
    "en": (
        "Hello?",
        "Yes, who is this?",
        "Hi, Sam speaking.",
        "We're sorry, the number you have dialed is not in service.",
        "Please check the number and try again.",
        "You have reached the voicemail of Sam.",
        "Please leave a message after the tone.",
    ),
}

# Engines that hear free-form speech well (Whisper, alone or in the hybrid): the greeting is heard free-form
# from its first word, and long speech is decoded while it goes on (:attr:`GreetingLimits.words_every_ms`).
# PocketSphinx and vosk keep the greeting grammar (their free-form English is poor on the line).
FREE_FORM_ENGINES = frozenset({"whisper", "hybrid"})


class AnsweredBy(StrEnum):
    HUMAN = "human"
    MACHINE = "machine"
    INVALID_NUMBER = "invalid_number"


def is_announcement(text: str, language: str = "en") -> bool:
    """Whether recognised ``text`` is an operator's announcement (the number cannot be called)."""
    words = " ".join(text.lower().replace("'", " ").split())
    return any(cue in words for cue in ANNOUNCEMENT_CUES.get(language.split("-")[0], ()))


def is_voicemail(text: str, language: str = "en") -> bool:
    """Whether recognised ``text`` has a voicemail greeting's words."""
    words = " ".join(text.lower().replace("'", " ").split())
    return any(cue in words for cue in VOICEMAIL_CUES.get(language.split("-")[0], ()))


@dataclass(frozen=True)
class GreetingLimits:
    frame_timeout_s: float = 1.0
    wait_ms: int = 2000  # silence this long after answering: greet anyway
    end_ms: int = 400  # once they speak, greet after this much silence
    max_ms: int = 4000  # ... or when the greeting runs this long (a person's: a long one is screened below)
    decide_ms: int = 5000  # long speech: decide machine / announcement after at most this much of it
    # speech longer than this is also heard free-form, for its words (from its start): at the long-speech
    # mark, so a person's "Hello?" costs no free-form decode
    words_after_ms: int = 2800
    # with an engine that hears free-form speech well (:data:`FREE_FORM_ENGINES`), long speech is decoded at
    # ``words_after_ms`` of it and again every this much, until its words decide or ``decide_ms``
    words_every_ms: int = 1500
    amd: AmdSettings = field(default_factory=AmdSettings)


@dataclass(frozen=True)
class CalleeGreeting:
    """What came of waiting for the greeting: ``answered`` False when the call ended first; ``text`` what the
    callee said ("" when they said nothing, or nothing the recogniser knew); ``answered_by`` who it was,
    ``why`` what gave it away and ``decided_ms`` how long after the answer it was decided."""

    answered: bool
    text: str = ""
    answered_by: AnsweredBy = AnsweredBy.HUMAN
    why: str = ""
    decided_ms: int = 0
    # the screen that heard it, still listening: a person's greeting may yet turn out a voicemail's, when its
    # beep comes during the bot's first prompt (Conversation feeds it then)
    screen: AnswerScreen | None = field(default=None, compare=False, repr=False)
    beep: bool = False  # a machine given away by its beep: it records from now

    @property
    def screened(self) -> bool:
        """A machine or the network answered: no conversation."""
        return self.answered and self.answered_by is not AnsweredBy.HUMAN

    def later(self, frame: bytes) -> CalleeGreeting | None:
        """A frame heard after a person's greeting (during the bot's first prompt): what it turned out to be
        when the screen now hears a beep or tones, else None. Listens ``LATE_SCREEN_MS`` from the answer."""
        screen = self.screen
        if screen is None or self.screened or screen.elapsed_ms >= LATE_SCREEN_MS:
            return None
        cue = screen.feed(frame)
        if cue is Cue.BEEP:
            why = phrase("a beep after the greeting, during the bot's first words")
            return CalleeGreeting(True, self.text, AnsweredBy.MACHINE, why, screen.elapsed_ms, beep=True,
                                  screen=screen)
        if cue is Cue.SIT:
            return CalleeGreeting(True, self.text, AnsweredBy.INVALID_NUMBER,
                                  phrase("special-information tones"), screen.elapsed_ms, screen)
        return None

    @classmethod
    def await_on(cls, audio: CallAudio, asr: AsrEngine, ended: threading.Event,
                 limits: GreetingLimits) -> CalleeGreeting:
        """Listen on ``audio`` until the callee has greeted, or stayed silent ``limits.wait_ms``."""
        return _Listener(audio, asr, ended, limits).run()


class _Listener:
    def __init__(self, audio: CallAudio, asr: AsrEngine, ended: threading.Event, limits: GreetingLimits) -> None:
        self.audio = audio
        self.asr = asr
        self.ended = ended
        self.limits = limits
        self.language = asr.language.split("-")[0]
        self.screen = AnswerScreen(limits.amd)
        # Whisper hears the greeting free-form from its first word (one session, its words decide); other
        # engines hold it to the greeting grammar and open ``words`` free-form only for long speech
        self.free = asr.name in FREE_FORM_ENGINES
        self.session: AsrSession | None = None  # the greeting (held to the grammar unless ``free``)
        self.words: AsrSession | None = None  # the same audio free-form, once it runs past words_after_ms
        self.heard: list[bytes] = []  # the greeting's audio so far (preroll included), until ``words`` opens
        self.paused = False  # ``free``: the session was told of a pause (its decode may have started)
        self.next_look_ms = limits.words_after_ms  # ``free``: the speech span of the next look at the words
        self.waited_ms = 0  # time spent waiting for decodes (frames queue meanwhile): part of the decision time

    def _cancel(self) -> None:
        for session in (self.session, self.words):
            if session is not None:
                session.cancel()
        self.session = self.words = None

    def _result(self, by: AnsweredBy, why: str, text: str = "") -> CalleeGreeting:
        return CalleeGreeting(True, text, by, why, self.screen.elapsed_ms + self.waited_ms, self.screen)

    def _done(self, by: AnsweredBy, why: str) -> CalleeGreeting:
        self._cancel()
        return self._result(by, why)

    def _timed(self, decode: Callable[[], T]) -> T:
        started = time.monotonic()
        try:
            return decode()
        finally:
            self.waited_ms += int((time.monotonic() - started) * 1000)

    def _heard(self, long: bool) -> CalleeGreeting:
        session, free_words = self.session, self.words
        text = self._timed(session.finish).text if session is not None else ""
        words = self._timed(free_words.finish).text if free_words is not None else ""
        self.session = self.words = None
        if self.free:
            words = text
        lang = self.language
        if is_announcement(words, lang) or is_announcement(text, lang):
            heard = words or text
            why = phrase("an operator announcement: “{words}”", words=heard)
            return self._result(AnsweredBy.INVALID_NUMBER, why, heard)
        if long:
            span = self.screen.speech_span_ms / 1000
            why = phrase("a greeting of {seconds} s without a pause", seconds=round(span, 1))
            return self._result(AnsweredBy.MACHINE, why, words or text)
        if is_voicemail(words, lang):
            return self._result(AnsweredBy.MACHINE, phrase("a voicemail's words: “{words}”", words=words), words)
        return self._result(AnsweredBy.HUMAN, phrase("a short greeting, then a pause"), text)

    def run(self) -> CalleeGreeting:
        lim = self.limits
        waited = heard = quiet = 0
        long = False
        preroll: collections.deque[bytes] = collections.deque(maxlen=PREROLL_FRAMES)
        while not self.ended.is_set():
            frame = self.audio.read_frame(timeout=lim.frame_timeout_s)
            if frame is None:
                continue
            waited += FRAME_MS
            cue = self.screen.feed(frame)
            if cue is Cue.SIT:
                return self._done(AnsweredBy.INVALID_NUMBER, phrase("special-information tones"))
            if cue is Cue.BEEP:
                self._cancel()
                return CalleeGreeting(True, "", AnsweredBy.MACHINE, phrase("a beep after the greeting"),
                                      self.screen.elapsed_ms + self.waited_ms, beep=True, screen=self.screen)
            long = long or cue is Cue.LONG_SPEECH
            voiced = self.screen.voiced  # speech above the line's noise floor, not a tone
            session = self.session
            if session is None:
                preroll.append(frame)
                if voiced:
                    session = self.session = self._open()
                    for f in preroll:
                        session.accept(f)
                    self.heard.extend(preroll)
                elif waited >= lim.wait_ms and self.screen.tone is None:
                    return self._result(AnsweredBy.HUMAN, phrase("silence"))
                continue
            session.accept(frame)
            if self.free:
                self.heard.append(frame)
            heard += FRAME_MS
            quiet = 0 if voiced else quiet + FRAME_MS
            if self.free:
                early = self._look(session, voiced, quiet)
                if early is not None:
                    return early
            else:
                self._words(frame)
            if long and (quiet >= lim.end_ms or self.screen.speech_span_ms >= lim.decide_ms):
                return self._heard(long=True)
            if not long and (quiet >= lim.end_ms or heard >= max(lim.max_ms, lim.decide_ms)):
                return self._heard(long=False)
        self._cancel()
        return CalleeGreeting(answered=False)

    def _open(self) -> AsrSession:
        """The greeting's session: held to :data:`GREETING_PHRASES`, or (``free``) Whisper alone (the hybrid's
        grammar decoder has nothing to add: the words of a machine are no greeting phrase) prompted with
        :data:`GREETING_PROMPT`."""
        if not self.free:
            phrases = GREETING_PHRASES.get(self.language)
            return self.asr.open_session(list(phrases) if phrases else None)
        engine = self.asr.whisper_engine if isinstance(self.asr, HybridEngine) else self.asr
        prompt = GREETING_PROMPT.get(self.language)
        return engine.open_session(list(prompt) if prompt else None)

    def _probe(self) -> str:
        """``free``: the greeting so far, decoded now (a session of its own, so the greeting's own session keeps
        its audio and its early decode); the listener waits for it (the line's frames queue meanwhile)."""
        probe = self._open()
        for f in self.heard:
            probe.accept(f)
        return self._timed(probe.finish).text

    def _look(self, session: AsrSession, voiced: bool, quiet: int) -> CalleeGreeting | None:
        """``free``: the session decodes in a pause (the end of the greeting may have begun: the decode overlaps
        the silence) and, while speech runs on past ``words_after_ms``, the greeting so far is decoded every
        ``words_every_ms`` of it (:meth:`_probe`), so an announcement or a voicemail is told by its words within
        a few seconds, not at its end."""
        lim = self.limits
        if voiced and self.paused:
            session.resume()
            self.paused = False
        elif quiet >= EARLY_DECODE_MS and not self.paused:
            session.pause()
            self.paused = True
        span = self.screen.speech_span_ms
        if not voiced or span < self.next_look_ms or span >= lim.decide_ms:
            return None
        self.next_look_ms = span + lim.words_every_ms
        text = self._probe()
        if is_announcement(text, self.language):
            self._cancel()
            why = phrase("an operator announcement: “{words}”", words=text)
            return self._result(AnsweredBy.INVALID_NUMBER, why, text)
        if is_voicemail(text, self.language):
            self._cancel()
            return self._result(AnsweredBy.MACHINE, phrase("a voicemail's words: “{words}”", words=text), text)
        return None

    def _words(self, frame: bytes) -> None:
        """Past ``words_after_ms`` of speech the greeting is heard free-form too, from its start: its words tell
        an operator's announcement from a voicemail (a grammar of greetings would force them onto "hello")."""
        if self.words is not None:
            self.words.accept(frame)
            return
        self.heard.append(frame)
        if self.screen.speech_span_ms >= self.limits.words_after_ms:
            self.words = self.asr.open_session(None)
            for f in self.heard:
                self.words.accept(f)
            self.heard.clear()
