"""The hybrid recogniser: the grammar decoder answers when it is sure, Whisper when it is not.

PocketSphinx with the node's phrases as a grammar is excellent when the customer
says one of those phrases and poor when they paraphrase (intent accuracy 0.33 on
paraphrases against Whisper's 0.92, issue 11); Whisper tiny.en follows
paraphrases but costs 0.35-0.5 s of a core per turn. So every turn is heard by
both: the grammar decoder streams as today (in its worker processes) and the
Whisper session buffers the audio. When the turn ends:

* with a grammar, the grammar result answers at once when it is one of the
  node's phrases with a confidence of at least ``grammar_sure`` (:data:`GRAMMAR_SURE`,
  measured with ``bench/asr_cost.py --confidences``);
* otherwise (unsure, empty, or no grammar: an open question, a slot, the
  knowledge base) Whisper decodes the turn with the node's phrases as its
  prompt; an empty Whisper result leaves the grammar's guess standing.

Whisper's decode starts early, when the conversation says the customer paused
(``pause``), and is thrown away when they go on (``resume``), so most of it
overlaps the end-of-turn silence. It is skipped when the grammar's partial
already is one of the phrases (the grammar will most likely answer: no CPU
spent), and decoded at the end if the grammar then turns out unsure.

``partial()`` comes from the grammar decoder where there is one (the
conversation shortens the end-of-turn silence on a closed answer with it), else
from Whisper's early decode.

:attr:`HybridEngine.decisions` counts which recogniser answered each turn.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Sequence

from appliance.errors import SpeechError
from appliance.events import Utterance
from appliance.speech.asr.base import AsrEngine, AsrSession, normalise_phrases

__all__ = ["GRAMMAR_SURE", "HybridEngine", "HybridSession"]

log = logging.getLogger(__name__)

GRAMMAR_SURE = 0.5


class HybridEngine:
    """A grammar engine (PocketSphinx or vosk, maybe in workers) and a Whisper engine, heard together."""

    name = "hybrid"

    def __init__(self, grammar_engine: AsrEngine, whisper_engine: AsrEngine, *,
                 grammar_sure: float = GRAMMAR_SURE) -> None:
        self.grammar_engine = grammar_engine
        self.whisper_engine = whisper_engine
        self.language = grammar_engine.language
        self.fallback_reason: str | None = None
        self.grammar_sure = grammar_sure
        self._lock = threading.Lock()
        self.decisions: collections.Counter[str] = collections.Counter()  # "grammar", "whisper", "none"

    def describe(self) -> str:
        return f"hybrid ({self.grammar_engine.name} grammar, then {self.whisper_engine.name})"

    def open_session(self, grammar: Sequence[str] | None = None) -> HybridSession:
        phrases = normalise_phrases(grammar) if grammar else []
        grammar_session: AsrSession | None = None
        if phrases:
            try:
                grammar_session = self.grammar_engine.open_session(grammar)
            except SpeechError as exc:  # e.g. no phrase in PocketSphinx's dictionary: Whisper alone this turn
                log.warning("grammar decoder refused the node's phrases (%s); Whisper hears this turn alone", exc)
        return HybridSession(self, grammar_session, self.whisper_engine.open_session(grammar), phrases)

    def decided(self, by: str) -> None:
        with self._lock:
            self.decisions[by] += 1

    def close(self) -> None:
        self.grammar_engine.close()
        self.whisper_engine.close()


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
            if self._is_phrase(self._grammar.partial()):
                return  # the grammar has a phrase: it most likely answers, Whisper need not start yet
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
            if guess is not None and guess.confidence >= self._engine.grammar_sure and self._is_phrase(guess.text):
                self._whisper.cancel()
                return self._decide("grammar", guess)
        try:
            heard = self._whisper.finish()
        except SpeechError as exc:
            if guess is None:
                raise
            log.warning("Whisper failed (%s); the grammar's guess stands", exc)
            return self._decide("grammar", guess)
        if heard.text or guess is None:
            return self._decide("whisper" if heard.text else "none", heard)
        return self._decide("grammar" if guess.text else "none", guess)

    def _decide(self, by: str, heard: Utterance) -> Utterance:
        self.decided_by = by
        self._engine.decided(by)
        return heard

    def cancel(self) -> None:
        if self._grammar is not None:
            self._grammar.cancel()
        self._whisper.cancel()
