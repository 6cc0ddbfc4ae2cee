"""PocketSphinx recognition with the bundled US English model: the fallback engine.

The bundled acoustic model wants 16 kHz audio (its filterbank reaches 6800 Hz,
above the 4 kHz Nyquist limit of line audio, so ``Decoder(samprate=8000)``
refuses it); each session upsamples the line frames with a streaming soxr
resampler. Creating a Decoder costs about half a second, so the engine keeps a
small pool and reuses decoders between sessions (each session owns one decoder
exclusively until it finishes). Each Decoder loads its own copy of the model
(about 97 MB resident per concurrent turn, ``bench/asr_cost.py``), so where the
decoder is only a helper (the hybrid, beside Whisper) the engine is built with
``max_decoders``: a session that would need one more decoder than that raises
:class:`~appliance.speech.asr.base.DecodersBusy` instead. Without it (the grammar
recogniser alone) the pool grows to the number of concurrent turns: a turn never
fails for want of a decoder.

Cepstral mean: the model's default initial mean (``40,3,-1``) is for wide-band
microphone speech; telephone-band audio (300-3400 Hz, upsampled) sits far from
it, and the first second or two of every utterance came out as noise words.
:data:`TELEPHONE_CMN` is the mean PocketSphinx itself converged to on piper
speech passed through a 300-3400 Hz band at 8 kHz. Every session re-initialises
the feature extraction (``reinit_feat``: cepstral mean back to this value, noise
estimate cleared), so results do not depend on which call used the decoder
before.

Grammars become a JSGF rule ``public <answer> = ( phrase | phrase ... ) ;`` on
the language model's dictionary (one phrase per answer); words the dictionary
lacks are dropped with a warning. Measured with ``bench/asr_accuracy.py`` (40
English answers, 5 espeak-ng voices and piper, telephone band), intent accuracy
clean / 20 dB / 10 dB pink noise: one phrase 0.78 / 0.78 / 0.30 at a CPU
real-time factor of 0.02; the looping rule ``( ... )+`` that lets a customer say
two phrases in a row 0.60 / 0.58 / 0.43 at 0.26-0.69. One phrase is kept: it is
right more often except in heavy noise and costs a tenth of the CPU, and "no,
call me tomorrow" still lands on one of its phrases with the same intent
(``phrase_loop=True`` restores the loop). Keyword spotting (``add_kws``) at
thresholds 1e-5..1e-30 either missed everything or spotted "no" and "hello"
many times in every answer.

Free-form decoding skips the second, flat-lexicon pass (``fwdflat``): it is
most of the work left when the customer stops talking (the end of an utterance
took 99 ms with it, 31 ms without, on this machine) and made no difference to
accuracy (0.43 / 0.65 / 0.33 with it, 0.45 / 0.60 / 0.35 without).

Confidence: PocketSphinx gives the posterior probability of the whole
hypothesis (``get_prob``), which shrinks with every word; the utterance's
confidence is its geometric mean per word, ``p ** (1 / n_words)``, and every
word carries that value. It ranks hypotheses; it is not a calibrated probability.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import soxr

from appliance.errors import SpeechError
from appliance.events import LINE_RATE, Utterance, WordInfo
from appliance.speech.asr.base import DecodersBusy, make_utterance, normalise_phrases

__all__ = ["PocketSphinxEngine", "PocketSphinxSession"]

log = logging.getLogger(__name__)

DECODER_RATE = 16000
TELEPHONE_CMN = "46.0,31.8,-34.4,28.9,-19.6,-12.3,11.5,-28.2,4.9,-2.2,-6.2,7.1,-15.3"
_FRAME_RATE = 100  # PocketSphinx feature frames per second
_FILLERS = ("<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]", "[BREATH]", "[COUGH]", "[UM]", "[UH]")


def _base_word(word: str) -> str:
    """'tomorrow(2)' -> 'tomorrow' (alternative pronunciations carry a suffix)."""
    return word.split("(", 1)[0]


class _PooledDecoder:
    """A decoder and the names of the grammar searches already added to it."""

    def __init__(self, decoder: Any) -> None:
        self.decoder = decoder
        self.searches: set[str] = set()


class PocketSphinxEngine:
    """The bundled en-us model; ``open_session`` is thread-safe.

    ``max_decoders`` caps the decoders that exist at once (None: no cap); ``pool_size`` is how many idle ones
    are kept (at least ``max_decoders``, so a capped engine never re-creates one).
    """

    name = "pocketsphinx"

    def __init__(self, language: str = "en", *, fallback_reason: str | None = None,
                 pool_size: int = 2, line_rate: int = LINE_RATE,
                 initial_cmn: str | None = TELEPHONE_CMN, phrase_loop: bool = False,
                 max_decoders: int | None = None) -> None:
        if language.split("-")[0].lower() != "en":
            raise SpeechError(f"PocketSphinx's bundled model is English only, not {language!r}")
        if max_decoders is not None and max_decoders < 1:
            raise SpeechError(f"PocketSphinx needs at least one decoder, not {max_decoders}")
        self.language = "en"
        self.fallback_reason = fallback_reason
        self.line_rate = line_rate
        self.max_decoders = max_decoders
        self.pool_size = max(1, pool_size, max_decoders or 0)
        self._lock = threading.Lock()
        self._idle: list[_PooledDecoder] = []
        self.decoders = 1  # decoders that exist (idle or in a session)
        self.peak_decoders = 1
        self._initial_cmn = initial_cmn
        self.phrase_loop = phrase_loop
        started = time.perf_counter()
        first = self._new_decoder()
        self.load_seconds = time.perf_counter() - started
        self._idle.append(_PooledDecoder(first))
        log.info("PocketSphinx en-us decoder created in %.2f s", self.load_seconds)

    def _new_decoder(self) -> Any:
        options: dict[str, Any] = {"samprate": DECODER_RATE, "loglevel": "FATAL", "fwdflat": False}
        if self._initial_cmn:
            options["cmninit"] = self._initial_cmn
        try:
            import pocketsphinx  # lazy: the C extension loads only where a PocketSphinx engine is built

            return pocketsphinx.Decoder(**options)
        except Exception as exc:  # the C extension raises RuntimeError/ValueError
            raise SpeechError(f"PocketSphinx could not create a decoder: {exc}") from exc

    def _take(self) -> _PooledDecoder:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            if self.max_decoders is not None and self.decoders >= self.max_decoders:
                raise DecodersBusy(f"all {self.max_decoders} PocketSphinx decoder(s) are in use")
            self.decoders += 1  # counted before it exists, so two sessions cannot both pass the cap
            self.peak_decoders = max(self.peak_decoders, self.decoders)
        log.debug("PocketSphinx pool empty; creating another decoder")
        try:
            return _PooledDecoder(self._new_decoder())
        except SpeechError:
            self._drop()
            raise

    def _drop(self) -> None:
        """A decoder is gone (not kept idle, or in an unknown state)."""
        with self._lock:
            self.decoders -= 1

    def _give_back(self, decoder: _PooledDecoder) -> None:
        with self._lock:
            if len(self._idle) < self.pool_size:
                self._idle.append(decoder)
                return
            self.decoders -= 1

    def _recycle(self, pooled: _PooledDecoder) -> None:
        """Return a decoder whose session was dropped without ``finish``."""
        try:
            pooled.decoder.end_utt()
        except Exception:  # the decoder is in an unknown state: drop it
            log.debug("dropping a PocketSphinx decoder that could not end its utterance")
            self._drop()
            return
        self._give_back(pooled)

    def known_words(self, decoder: Any, phrases: Sequence[str]) -> tuple[list[str], list[str]]:
        """Split the words of ``phrases`` into (known, missing) for ``decoder``'s dictionary."""
        known: dict[str, None] = {}
        missing: dict[str, None] = {}
        for phrase in phrases:
            for word in phrase.split():
                target = known if decoder.lookup_word(word) is not None else missing
                target.setdefault(word, None)
        return list(known), list(missing)

    def _grammar_search(self, pooled: _PooledDecoder, grammar: Sequence[str]) -> str:
        decoder = pooled.decoder
        phrases = normalise_phrases(grammar)
        kept: list[str] = []
        dropped: set[str] = set()
        for phrase in phrases:
            _, missing = self.known_words(decoder, [phrase])
            if missing:
                dropped.update(missing)
            else:
                kept.append(phrase)
        if dropped:
            log.warning("PocketSphinx's dictionary lacks %s; phrases with them are left out",
                        ", ".join(sorted(dropped)))
        if not kept:
            raise SpeechError(f"no phrase of the grammar {list(grammar)!r} is in PocketSphinx's dictionary")
        repeat = "+" if self.phrase_loop else ""
        name = "g" + hashlib.sha1(("\n".join(kept) + repeat).encode("utf-8")).hexdigest()[:16]
        if name not in pooled.searches:
            jsgf = (
                "#JSGF V1.0;\ngrammar callbox;\n"
                f"public <answer> = ( {' | '.join(kept)} ){repeat} ;\n"
            )
            try:
                decoder.add_jsgf_string(name, jsgf)
            except (ValueError, RuntimeError) as exc:
                raise SpeechError(f"PocketSphinx rejected the grammar: {exc}") from exc
            pooled.searches.add(name)
        return name

    def close(self) -> None:
        """Nothing to release: the decoders are in this process and go with it."""

    def open_session(self, grammar: Sequence[str] | None = None) -> PocketSphinxSession:
        pooled = self._take()
        decoder = pooled.decoder
        try:
            if grammar is None:
                decoder.activate_search()
            else:
                decoder.activate_search(self._grammar_search(pooled, grammar))
            # Fresh feature state (cepstral mean, noise estimate) for every turn:
            # results must not depend on what the decoder heard before.
            decoder.reinit_feat()
            if self._initial_cmn:
                # reinit_feat keeps the cepstral mean the last turn converged to; start from the line's.
                decoder.set_cmn(self._initial_cmn)
            decoder.start_utt()
        except SpeechError:
            self._give_back(pooled)
            raise
        except Exception as exc:  # the decoder is in an unknown state: drop it
            self._drop()
            raise SpeechError(f"PocketSphinx could not start an utterance: {exc}") from exc
        return PocketSphinxSession(self, pooled, self.line_rate)


class PocketSphinxSession:
    """One turn on a pooled decoder; not thread-safe (one owner)."""

    def __init__(self, engine: PocketSphinxEngine, pooled: _PooledDecoder, line_rate: int) -> None:
        self._engine = engine
        self._pooled = pooled
        self._decoder = pooled.decoder
        self._line_rate = line_rate
        self._resampler = soxr.ResampleStream(line_rate, DECODER_RATE, 1, dtype="int16", quality="HQ")
        self._fed = 0
        self._finished = False
        # A session dropped without finish() (the caller hung up) still returns its decoder.
        self._finalizer = weakref.finalize(self, engine._recycle, pooled)

    def cancel(self) -> None:
        """Abandon the turn without a result; the decoder goes back to the pool."""
        if not self._finished:
            self._finished = True
            self._finalizer()

    def accept(self, frame: bytes) -> None:
        if self._finished:
            raise SpeechError("this recognition session has already finished")
        usable = len(frame) - len(frame) % 2
        self._fed += usable
        self._process(self._resampler.resample_chunk(np.frombuffer(frame[:usable], dtype="<i2")))

    def _process(self, samples: np.ndarray) -> None:
        if samples.size:
            try:
                self._decoder.process_raw(samples.astype("<i2").tobytes(), False, False)
            except RuntimeError as exc:
                raise SpeechError(f"PocketSphinx failed on a frame: {exc}") from exc

    def pause(self) -> None:
        """Nothing to start early: this engine decodes as the frames arrive."""

    def resume(self) -> None:
        """Nothing was started by ``pause``."""

    def partial(self) -> str:
        if self._finished:
            return ""
        hyp = self._decoder.hyp()
        return str(hyp.hypstr) if hyp is not None else ""

    def finish(self) -> Utterance:
        if self._finished:
            raise SpeechError("this recognition session has already finished")
        self._finished = True
        self._finalizer.detach()
        decoder = self._decoder
        try:
            self._process(self._resampler.resample_chunk(np.zeros(0, dtype=np.int16), last=True))
            decoder.end_utt()
            hyp = decoder.hyp()
            segments = [
                (_base_word(seg.word), seg.start_frame, seg.end_frame)
                for seg in decoder.seg()
                if seg.word not in _FILLERS and not seg.word.startswith("[")
            ] if hyp is not None else []
            posterior = float(decoder.get_prob()) if hyp is not None else 0.0
        except (RuntimeError, SpeechError) as exc:  # the decoder is in an unknown state: drop it
            self._engine._drop()
            raise SpeechError(f"PocketSphinx failed to finish the utterance: {exc}") from exc
        self._engine._give_back(self._pooled)
        confidence = posterior ** (1.0 / len(segments)) if segments and posterior > 0 else 0.0
        words = [
            WordInfo(word=word, confidence=round(min(1.0, confidence), 4),
                     start=start / _FRAME_RATE, end=(end + 1) / _FRAME_RATE)
            for word, start, end in segments
        ]
        return make_utterance(words, self._fed * 1000 // (2 * self._line_rate))
