"""The hybrid recogniser: PocketSphinx's grammar and Whisper hear every turn; agreement decides.

PocketSphinx with the node's phrases as a grammar is excellent when the customer
says one of those phrases and poor when they paraphrase (intent accuracy 0.33 on
paraphrases against Whisper's 0.92, issue 11); Whisper tiny.en follows
paraphrases but costs ~0.14 s of a core per closed answer (its 10 s window) and
~0.4 s per free-form turn. Every turn is heard by
both: the grammar decoder streams as today (in its worker processes) and the
Whisper session buffers the audio. When the turn ends:

* with a grammar: when every word of the grammar's phrase is in what Whisper
  heard and makes at least half of it, the two agree and the grammar's phrase
  answers (the flow's own wording, which its intents match best); otherwise
  Whisper's text answers (so "no" is not the answer in "yep, no problem"),
  with the grammar's phrase as ``Utterance.alternatives`` when it is a whole
  phrase of the grammar (not a partial path) and Whisper heard at least half
  of its words: the dialog takes it only when Whisper's words
  decide nothing (``FlowRun.hear``: "work time" beside "what time", "sure time
  when we'll be home" beside "sure"); when Whisper heard nothing the grammar's
  guess stands;
* without one (an open question, a slot, the knowledge base): Whisper, prompted
  with nothing; the grammar decoder is not run.

Why not "the grammar answers alone when its confidence is high" (the first
design): PocketSphinx's confidence does not tell right from wrong. On the 40
English answers of ``tests/fixtures/asr`` it gave "what" with confidence 1.00
for five different answers in 10 dB noise, and 0.06-0.16 to right one-word
answers in clean audio. Intent accuracy clean / 20 dB / 10 dB: grammar alone
0.75 / 0.75 / 0.33; Whisper alone 0.83 / 0.88 / 0.88; grammar when its
confidence >= 0.7, else Whisper 0.83 / 0.88 / 0.78 (Whisper on 28-37 of 40);
agreement as above 0.83 / 0.88 / 0.88 (0.85 clean without the "half of it"
condition, which guards paraphrases such as "yep, no problem"). ``grammar_sure`` still lets the grammar
answer alone above a confidence (off by default).

Where the misses were (``bench/asr_accuracy.py --recogniser hybrid --details``,
102 answers x 3 conditions, 53 misses before the alternative and Whisper's
covering prompt): clean and at 20 dB, 9 of 26 had the grammar's phrase right
beside Whisper's misheard words ("what time" / "work time", "who is calling" /
"it was calling": the rule gave the turn to the wrong side; the alternative
above) and 17 were Whisper mishearing where the grammar heard nothing (mostly:
PocketSphinx finds no path for "another day, please") or another phrase, 3 of
them Whisper copying a phrase of its prompt ("another day, please" heard "i'm not
home", "pardon me" heard "call me") and 1 the NLU on a fair transcript ("all
right tomorrow work": "work" is also not_home's word); at 10 dB, 3 of 27 had the
grammar right and 24 were Whisper mishearing. None was the endpoint (the bench
feeds whole files). The alternative is gated: offered on any shared word, or for a
partial path of the grammar, it turned noise into wrong intents at 10 dB ("can i
talk to an" beside "i can talk right now" became a request for a person, "what"
beside "what are your arms on saturday" a request to repeat).

Whisper's decode starts early, when the conversation says the customer paused
(``pause``), and is thrown away when they go on (``resume``), so most of it
overlaps the end-of-turn silence and the answer is ready when the turn ends.

``partial()`` comes from the grammar decoder where there is one (the
conversation shortens the end-of-turn silence on a closed answer with it), else
from Whisper's early decode (waiting for it, bounded, so "I live on ..." on a
free-form node still sounds unfinished: :data:`~appliance.speech.asr.whisper.PARTIAL_WAIT_S`).

The grammar decoder is a helper here, and each PocketSphinx decoder holds its
own copy of the model (about 97 MB resident): the factory builds the grammar
engine with a cap (``[speech] grammar_decoders``). A turn that finds every
grammar decoder busy is heard by Whisper alone (``decisions["grammar_busy"]``,
a DEBUG line), which on the fixtures is as accurate as the agreement (0.83 /
0.88 / 0.88 above) and costs the memory of a buffer, not of a model.

:attr:`HybridEngine.decisions` counts which recogniser answered each turn ("grammar", "whisper", "none") and
the turns opened without a grammar decoder because all were busy ("grammar_busy").
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
from collections.abc import Sequence

from appliance.errors import SpeechError
from appliance.events import Utterance
from appliance.speech.asr.base import AsrEngine, AsrSession, DecodersBusy, normalise_phrases

__all__ = ["GRAMMAR_SURE", "HybridEngine", "HybridSession"]

log = logging.getLogger(__name__)

GRAMMAR_SURE: float | None = None  # off: see the module docstring


class HybridEngine:
    """A grammar engine (PocketSphinx or vosk, maybe in workers) and a Whisper engine, heard together."""

    name = "hybrid"

    def __init__(self, grammar_engine: AsrEngine, whisper_engine: AsrEngine, *,
                 grammar_sure: float | None = GRAMMAR_SURE) -> None:
        self.grammar_engine = grammar_engine
        self.whisper_engine = whisper_engine
        self.language = grammar_engine.language
        self.fallback_reason: str | None = None
        self.grammar_sure = grammar_sure
        self._lock = threading.Lock()
        # "grammar", "whisper", "none"; "grammar_busy": turns without a grammar decoder (all were in use)
        self.decisions: collections.Counter[str] = collections.Counter()

    def describe(self) -> str:
        return f"hybrid ({self.grammar_engine.name} grammar, then {self.whisper_engine.name})"

    def open_session(self, grammar: Sequence[str] | None = None) -> HybridSession:
        phrases = normalise_phrases(grammar) if grammar else []
        grammar_session: AsrSession | None = None
        if phrases:
            try:
                grammar_session = self.grammar_engine.open_session(grammar)
            except DecodersBusy as exc:  # the cap on grammar decoders (memory): Whisper hears this turn alone
                log.debug("no grammar decoder free (%s); Whisper hears this turn alone", exc)
                self.decided("grammar_busy")
            except SpeechError as exc:  # e.g. no phrase in PocketSphinx's dictionary: Whisper alone this turn
                log.warning("grammar decoder refused the node's phrases (%s); Whisper hears this turn alone", exc)
        return HybridSession(self, grammar_session, self.whisper_engine.open_session(grammar), phrases)

    def decided(self, by: str) -> None:
        with self._lock:
            self.decisions[by] += 1

    def close(self) -> None:
        self.grammar_engine.close()
        self.whisper_engine.close()


def _agree(phrase: str, text: str) -> bool:
    """Every word of ``phrase`` is among the words of ``text`` and they make at least half of them."""
    words, said = phrase.lower().split(), text.lower().split()
    return all(w in said for w in words) and 2 * len(words) >= len(said)


def _overlap(phrase: str, text: str) -> bool:
    """Whisper heard at least half of the words of ``phrase`` (a grammar phrase with fewer in common with
    Whisper's words is, in noise, the grammar decoder forcing the noise onto the node's phrases: offered on
    any shared word, "can i talk to an" beside "i can talk right now" made a request for a person)."""
    words = set(phrase.lower().split())
    return bool(words) and 2 * len(words & set(text.lower().split())) >= len(words)


class HybridSession:
    """One turn heard by both recognisers; one owner thread."""

    def __init__(self, engine: HybridEngine, grammar: AsrSession | None, whisper: AsrSession,
                 phrases: list[str]) -> None:
        self._engine = engine
        self._grammar = grammar
        self._whisper = whisper
        self._phrases = set(phrases)
        self.decided_by = ""

    def _is_phrase(self, text: str) -> bool:
        return bool(text) and " ".join(text.lower().split()) in self._phrases

    def accept(self, frame: bytes) -> None:
        if self._grammar is not None:
            self._grammar.accept(frame)
        self._whisper.accept(frame)

    def partial(self) -> str:
        return self._grammar.partial() if self._grammar is not None else self._whisper.partial()

    def pause(self) -> None:
        if self._grammar is not None:
            self._grammar.pause()
        self._whisper.pause()

    def resume(self) -> None:
        if self._grammar is not None:
            self._grammar.resume()
        self._whisper.resume()

    def finish(self) -> Utterance:
        guess: Utterance | None = None
        if self._grammar is not None:
            try:
                guess = self._grammar.finish()
            except SpeechError as exc:
                log.warning("grammar decoder failed (%s); Whisper decides", exc)
            sure = self._engine.grammar_sure
            if guess is not None and sure is not None and guess.confidence >= sure and self._is_phrase(guess.text):
                self._whisper.cancel()
                return self._decide("grammar", guess)
        try:
            heard = self._whisper.finish()
        except SpeechError as exc:
            if guess is None:
                raise
            log.warning("Whisper failed (%s); the grammar's guess stands", exc)
            return self._decide("grammar", guess)
        if guess is not None and guess.text and (not heard.text or _agree(guess.text, heard.text)):
            return self._decide("grammar", guess)  # they agree, or Whisper heard nothing
        if guess is not None and heard.text and self._is_phrase(guess.text) and _overlap(guess.text, heard.text):
            # Whisper's words answer; the grammar's phrase, half of which Whisper heard too, is the reading the
            # dialog tries when they decide nothing ("work time" / "what time"). Only a whole phrase: a partial
            # path ("can i talk to an") is the grammar decoder failing to fit the audio to any phrase.
            heard = dataclasses.replace(heard, alternatives=(guess.text,))
        return self._decide("whisper" if heard.text else "none", heard)

    def _decide(self, by: str, heard: Utterance) -> Utterance:
        self.decided_by = by
        self._engine.decided(by)
        return heard

    def cancel(self) -> None:
        if self._grammar is not None:
            self._grammar.cancel()
        self._whisper.cancel()
