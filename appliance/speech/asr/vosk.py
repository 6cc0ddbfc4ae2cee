"""vosk recognition: one Model per engine (load it once per language per process),
one KaldiRecognizer per session."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from appliance.errors import SpeechError
from appliance.events import LINE_RATE, Utterance, WordInfo
from appliance.speech.asr.base import make_utterance, normalise_phrases

__all__ = ["VoskEngine", "VoskSession"]

log = logging.getLogger(__name__)

UNKNOWN_WORD = "[unk]"


def _quiet_vosk() -> Any:
    import vosk  # lazy: an optional library (with its native code) loaded only when a vosk model is configured

    vosk.SetLogLevel(-1)
    return vosk


class VoskEngine:
    """A vosk model for one language. ``open_session`` is thread-safe."""

    name = "vosk"

    def __init__(self, model_dir: Path, language: str, *, sample_rate: int = LINE_RATE) -> None:
        self.model_dir = Path(model_dir)
        self.language = language
        self.sample_rate = sample_rate
        self.fallback_reason: str | None = None
        if not self.model_dir.is_dir():
            raise SpeechError(f"vosk model directory {self.model_dir} does not exist")
        vosk = _quiet_vosk()
        started = time.perf_counter()
        try:
            # Always with a path: vosk.Model() without one would try to download.
            self._model = vosk.Model(model_path=str(self.model_dir))
        except Exception as exc:  # vosk raises a bare Exception
            raise SpeechError(f"vosk could not load the model in {self.model_dir}: {exc}") from exc
        self.load_seconds = time.perf_counter() - started
        self._recognizer_class = vosk.KaldiRecognizer
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        log.info("vosk model %s (%s) loaded in %.2f s", self.model_dir, language, self.load_seconds)

    def knows_word(self, word: str) -> bool:
        """True when ``word`` is in the model's vocabulary (grammars may only use such words)."""
        return int(self._model.vosk_model_find_word(word)) >= 0

    def missing_words(self, phrases: Sequence[str]) -> list[str]:
        """Words of ``phrases`` the model cannot recognise, for flow validation."""
        missing: dict[str, None] = {}
        for phrase in normalise_phrases(phrases):
            for word in phrase.split():
                if not self.knows_word(word):
                    missing.setdefault(word, None)
        return list(missing)

    def close(self) -> None:
        """Nothing to release: the decoders are in this process and go with it."""

    def open_session(self, grammar: Sequence[str] | None = None) -> VoskSession:
        grammar_json: str | None = None
        if grammar is not None:
            phrases = normalise_phrases(grammar)
            if not phrases:
                raise SpeechError("a grammar needs at least one phrase")
            self._warn_missing(phrases)
            allowed = [*phrases, UNKNOWN_WORD] if self.knows_word(UNKNOWN_WORD) else phrases
            grammar_json = json.dumps(allowed, ensure_ascii=False)
        with self._lock:
            try:
                if grammar_json is None:
                    recognizer = self._recognizer_class(self._model, self.sample_rate)
                else:
                    recognizer = self._recognizer_class(self._model, self.sample_rate, grammar_json)
                recognizer.SetWords(True)
            except Exception as exc:
                raise SpeechError(f"vosk could not start a recogniser: {exc}") from exc
        return VoskSession(recognizer, self.sample_rate)

    def _warn_missing(self, phrases: list[str]) -> None:
        missing = [w for w in self.missing_words(phrases) if w not in self._warned]
        if missing:
            self._warned.update(missing)
            log.warning("vosk model %s does not know %s; those words will never be heard",
                        self.model_dir.name, ", ".join(missing))


class VoskSession:
    """One turn on a KaldiRecognizer. Not thread-safe: one owner (the call's thread)."""

    def __init__(self, recognizer: Any, sample_rate: int) -> None:
        self._recognizer = recognizer
        self._bytes_per_ms = sample_rate * 2 // 1000
        self._words: list[WordInfo] = []
        self._fed = 0
        self._finished = False

    def cancel(self) -> None:
        """Abandon the turn without a result."""
        self._finished = True

    def accept(self, frame: bytes) -> None:
        if self._finished:
            raise SpeechError("this recognition session has already finished")
        self._fed += len(frame)
        if self._recognizer.AcceptWaveform(frame):
            # vosk found an endpoint inside the turn; keep what it settled on.
            self._collect(self._recognizer.Result())

    def pause(self) -> None:
        """Nothing to start early: this engine decodes as the frames arrive."""

    def resume(self) -> None:
        """Nothing was started by ``pause``."""

    def partial(self) -> str:
        if self._finished:
            return " ".join(w.word for w in self._words)
        settled = " ".join(w.word for w in self._words)
        pending = str(json.loads(self._recognizer.PartialResult()).get("partial", ""))
        return " ".join(p for p in (settled, pending) if p)

    def finish(self) -> Utterance:
        if self._finished:
            raise SpeechError("this recognition session has already finished")
        self._finished = True
        self._collect(self._recognizer.FinalResult())
        return make_utterance(self._words, self._fed // self._bytes_per_ms)

    def _collect(self, result_json: str) -> None:
        result = json.loads(result_json)
        for item in result.get("result", []):
            word = str(item.get("word", ""))
            if not word or word == UNKNOWN_WORD:
                continue
            self._words.append(
                WordInfo(
                    word=word,
                    confidence=float(item.get("conf", 0.0)),
                    start=float(item.get("start", 0.0)),
                    end=float(item.get("end", 0.0)),
                )
            )
