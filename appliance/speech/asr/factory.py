"""The choice of recognition engine: vosk when its model loads, else PocketSphinx, in worker processes if asked;
with Whisper beside it (the hybrid) or alone when the ``recogniser`` setting says so and Whisper loads.

The engines implement :class:`~appliance.speech.asr.base.AsrEngine`; this module is where one is chosen
(the worker process builds the engine it was told to, :class:`~appliance.speech.asr.worker.EngineSpec`).
No engine imports it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from appliance.errors import SpeechError
from appliance.speech.asr.base import AsrEngine
from appliance.speech.asr.chinese import is_chinese, load_chinese_engine
from appliance.speech.asr.hybrid import HybridEngine
from appliance.speech.asr.sphinx import PocketSphinxEngine
from appliance.speech.asr.vosk import VoskEngine
from appliance.speech.asr.whisper import WINDOW_S, WhisperEngine
from appliance.speech.asr.worker import EngineSpec, WorkerEngine

__all__ = ["RECOGNISERS", "grammar_decoder_layout", "load_engine", "load_grammar_engine"]

log = logging.getLogger(__name__)

# "hybrid": the grammar decoder answers when sure, Whisper otherwise; "whisper": Whisper alone;
# "grammar": vosk or PocketSphinx alone (as before Whisper).
RECOGNISERS = ("hybrid", "whisper", "grammar")


def load_engine(*, vosk_model_dir: Path | None, language: str, workers: int = 0, recogniser: str = "grammar",
                whisper_model_dir: Path | None = None, whisper_decodes: int = 1,
                whisper_threads: int = 1, whisper_window_s: float | None = None, zh_whisper: bool = False,
                zh_model_dir: Path | None = None, grammar_decoders: int = 2) -> AsrEngine:
    """The recogniser ``recogniser`` names, or the grammar engine alone with ``fallback_reason`` saying why not.

    ``hybrid`` and ``whisper`` load Whisper (``whisper_model_dir``, default the packaged tiny.en) with
    ``whisper_decodes`` decodes at once; where it is not installed, does not load, or does not speak
    ``language`` (tiny.en is English only), the grammar engine answers alone (vosk for a language with a
    model, such as Korean, says nothing of it: Whisper was never a candidate there).
    Chinese (experimental) is Whisper base (``zh_model_dir``) when ``zh_whisper`` is on, whatever
    ``recogniser`` says: :mod:`appliance.speech.asr.chinese`.

    In the hybrid, PocketSphinx holds at most ``grammar_decoders`` decoders in all (each is a copy of its
    model, ~97 MB): ``min(workers, grammar_decoders)`` worker processes with ``ceil(grammar_decoders /
    workers)`` each (a worker beyond the cap would only hold an idle model). Alone, it is not capped.
    """
    if grammar_decoders < 1:
        raise SpeechError(f"the hybrid needs at least one grammar decoder, not {grammar_decoders}")
    if recogniser not in RECOGNISERS:
        raise SpeechError(f"unknown recogniser {recogniser!r}: one of {', '.join(RECOGNISERS)}")
    if is_chinese(language):
        return load_chinese_engine(enabled=zh_whisper, model_dir=zh_model_dir, workers=whisper_decodes,
                                   threads=whisper_threads,
                                   fallback=lambda why: _without(why, vosk_model_dir, language, workers))
    whisper: WhisperEngine | None = None
    why_not = ""
    if recogniser != "grammar":
        try:
            whisper = load_whisper(language, whisper_model_dir, whisper_decodes, whisper_threads,
                                   in_worker=workers > 0, window_s=whisper_window_s)
        except SpeechError as exc:
            why_not = f"Whisper is not used: {exc}"
            log.warning("speech recognition without Whisper: %s", exc)
    if whisper is not None and recogniser == "whisper":
        return whisper
    if whisper is not None:
        processes, cap = grammar_decoder_layout(workers, grammar_decoders)
        return HybridEngine(load_grammar_engine(vosk_model_dir=vosk_model_dir, language=language,
                                                workers=processes, max_decoders=cap), whisper)
    grammar = load_grammar_engine(vosk_model_dir=vosk_model_dir, language=language, workers=workers)
    if why_not and not isinstance(grammar, VoskEngine):
        grammar.fallback_reason = "; ".join(r for r in (why_not, grammar.fallback_reason) if r)
    return grammar


def load_whisper(language: str, model_dir: Path | None, decodes: int, threads: int, *,
                 in_worker: bool, window_s: float | None = None) -> WhisperEngine:
    """Whisper, its model in this process or (``in_worker``, as the box runs it when its recognition has
    worker processes) in one worker process of its own: CTranslate2 releases the GIL while it computes, but
    faster-whisper's Python around it (features, tokens, segments) does not, and a webhook or an audio pump
    waiting for the GIL behind it is late. One process holds the one model; ``decodes`` run there at once."""
    window = WINDOW_S if window_s is None else window_s
    if not in_worker:
        return WhisperEngine(language, model_dir, decodes, cpu_threads=threads, window_s=window)
    remote = WorkerEngine(EngineSpec("whisper", language, model_dir=str(model_dir) if model_dir else "",
                                     decodes=decodes, threads=threads, window_s=window), workers=1)
    try:
        return WhisperEngine(language, model_dir, decodes, cpu_threads=threads, remote=remote, window_s=window)
    except SpeechError:
        remote.close()
        raise


def _without(why: str, vosk_model_dir: Path | None, language: str, workers: int) -> AsrEngine:
    """The grammar engine for a language Whisper does not serve here, ``why`` first in its fallback reason."""
    grammar = load_grammar_engine(vosk_model_dir=vosk_model_dir, language=language, workers=workers)
    if not isinstance(grammar, VoskEngine):
        grammar.fallback_reason = "; ".join(r for r in (why, grammar.fallback_reason) if r)
    return grammar


def grammar_decoder_layout(workers: int, grammar_decoders: int) -> tuple[int, int]:
    """(worker processes, decoders each) for the hybrid's ``grammar_decoders`` over ``workers`` processes
    (0: in this process, which then holds them all)."""
    if grammar_decoders < 1 or workers < 0:
        raise SpeechError(f"no layout for {grammar_decoders} grammar decoder(s) over {workers} worker(s)")
    processes = min(workers, grammar_decoders)
    return processes, (-(-grammar_decoders // processes) if processes else grammar_decoders)


def load_grammar_engine(*, vosk_model_dir: Path | None, language: str, workers: int = 0,
                        max_decoders: int | None = None) -> AsrEngine:
    """vosk on ``vosk_model_dir`` when it loads; otherwise PocketSphinx (English), saying why.

    ``max_decoders`` caps PocketSphinx's decoders (per worker process, or in this process); vosk shares one
    model among its recognisers and is not capped.

    The reason is logged as a WARNING and kept in ``engine.fallback_reason`` so
    ``callbox doctor`` and the panel can show it. With ``workers`` > 0 PocketSphinx
    decodes in that many worker processes (:mod:`appliance.speech.asr.worker`): its
    binding holds the GIL while it decodes, which would stall the audio pump. vosk
    releases the GIL and always runs in this process (its model is shared by every line).
    """
    reason: str
    if vosk_model_dir is None:
        reason = f"no vosk model is configured for language {language!r}"
    elif not Path(vosk_model_dir).is_dir():
        reason = f"vosk model directory {vosk_model_dir} does not exist"
    else:
        try:
            return VoskEngine(Path(vosk_model_dir), language)
        except SpeechError as exc:
            reason = str(exc)
    if language.split("-")[0].lower() != "en":
        reason += f"; PocketSphinx only knows English, so {language!r} speech will not be understood"
    log.warning("speech recognition falls back to PocketSphinx (bundled en-us model): %s", reason)
    if workers > 0:
        return WorkerEngine(EngineSpec("pocketsphinx", "en", fallback_reason=reason, max_decoders=max_decoders or 0),
                            workers=workers)
    return PocketSphinxEngine(language="en", fallback_reason=reason, max_decoders=max_decoders)
