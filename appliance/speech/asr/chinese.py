"""Chinese recognition, experimental: Whisper base (multilingual) with ``language="zh"`` behind ``[speech] zh_whisper``.

There is no other Chinese recogniser here (no vosk Chinese model exists in any registry reachable from the
box; PocketSphinx knows English only), so a Chinese flow is understood only when ``zh_whisper = true`` and
``callbox models install whisper-base`` has put the joined model in ``<state>/models/whisper-base/``
(:mod:`appliance.speech.models.whisper_base`). Otherwise :func:`load_chinese_engine` returns the grammar
fallback with ``fallback_reason`` saying which of the two is missing.

The prompt is the node's expected answers in Simplified Chinese, each ending with "。" and no spaces between
them (:func:`chinese_prompt`): without a prompt Whisper base writes espeak-ng's Mandarin in Traditional
characters (是的沒問題, 別再給我的電話了), with one it writes Simplified and takes the flow's wording
(是的 没问题, 别再给我打电话了); the NLU folds the Traditional characters it still writes
(:mod:`appliance.dialog.nlu.hanzi`). Measured on this machine (``bench/asr_zh.py``): about 1 s of one core
per utterance, twice tiny.en.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from appliance.errors import SpeechError
from appliance.events import Utterance
from appliance.speech.asr.base import AsrEngine, normalise_phrases
from appliance.speech.asr.whisper import (
    MAX_NEW_TOKENS,
    NO_SPEECH_MAX,
    WHISPER_RATE,
    WhisperEngine,
    WhisperSession,
    _utterance,
)

__all__ = ["PROMPT_MAX_CHARS", "ChineseWhisperEngine", "chinese_prompt", "is_chinese", "load_chinese_engine"]

PROMPT_MAX_CHARS = 150  # Whisper keeps the last 223 prompt tokens; a Chinese character is one to three of them
# With a prompt, Whisper base says one of the prompt's sentences over digital silence (我现在很忙。,
# no_speech_prob 0.28-0.53, avg_logprob -1.2 to -1.7; line hiss at -50 dBFS gave nothing): a turn whose peak
# stays under SILENCE_PEAK (-50 dBFS) is not decoded, and a segment this likely to be silence and this unsure
# is dropped (Whisper's own rule, with a lower threshold; the fixture answers, even at 10 dB, stay <= 0.3).
SILENCE_PEAK = 0.003
NO_SPEECH_ZH = 0.45
LOGPROB_FLOOR = -1.0
# In noise it sometimes repeats a prompt sentence until max_new_tokens (转人工。转人工。...): a segment that
# compresses this well (Whisper's own measure, gzip ratio) is a loop, not an answer.
COMPRESSION_MAX = 2.4


def is_chinese(language: str) -> bool:
    """``zh``, ``zh-CN``, ``zh-Hans``, ``cmn``... (Whisper has one Chinese: ``zh``)."""
    return language.split("-")[0].split("_")[0].lower() in ("zh", "cmn")


def chinese_prompt(phrases: Sequence[str] | None) -> str | None:
    """The ``initial_prompt`` for a node's Chinese answers: "是的。不是。晚点再打。" (None for none)."""
    if not phrases:
        return None
    sentences = dict.fromkeys(p.replace(" ", "") + "。" for p in normalise_phrases(phrases, lower=False))
    out = ""
    for sentence in sentences:
        if len(out) + len(sentence) > PROMPT_MAX_CHARS:
            break
        out += sentence
    return out or None


class ChineseWhisperEngine(WhisperEngine):
    """Whisper with ``language="zh"`` and a Simplified-Chinese prompt from the node's answers."""

    name = "whisper-zh"

    def __init__(self, model_dir: Path, workers: int = 1, *, cpu_threads: int = 1) -> None:
        super().__init__("zh", model_dir, workers, cpu_threads=cpu_threads)

    def open_session(self, grammar: Sequence[str] | None = None) -> WhisperSession:
        if self._closed:
            raise SpeechError("the Whisper engine is closed")
        return WhisperSession(self, chinese_prompt(grammar))

    def decode(self, pcm: bytes, prompt: str | None) -> Utterance:
        """As :meth:`WhisperEngine.decode`, without the prompt said over silence and the repetition loops."""
        duration_ms = len(pcm) * 1000 // (2 * self.line_rate)
        audio = self._whisper_audio(pcm)
        if audio is None:
            return Utterance(text="", confidence=0.0, duration_ms=duration_ms)
        try:
            segments, _info = self._model.transcribe(
                audio, language="zh", task="transcribe", beam_size=1, best_of=1, temperature=0.0,
                max_new_tokens=MAX_NEW_TOKENS, condition_on_previous_text=False, without_timestamps=True,
                initial_prompt=prompt, vad_filter=False, no_speech_threshold=NO_SPEECH_MAX,
            )
            found = [seg for seg in segments if _kept(seg)]
        except Exception as exc:  # CTranslate2 errors are RuntimeError; never let one take the call down
            raise SpeechError(f"Whisper failed to decode the utterance: {exc}") from exc
        return _utterance(found, duration_ms)

    def _whisper_audio(self, pcm: bytes) -> Any:
        samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.float32) / 32768.0
        if samples.size < self.line_rate // 10 or float(np.abs(samples).max()) < SILENCE_PEAK:
            return None  # under 100 ms, or silence: nothing Whisper could hear
        return soxr.resample(samples, self.line_rate, WHISPER_RATE)


def _kept(seg: Any) -> bool:
    if seg.no_speech_prob > NO_SPEECH_ZH and seg.avg_logprob < LOGPROB_FLOOR:
        return False
    return bool(seg.compression_ratio <= COMPRESSION_MAX)


def load_chinese_engine(*, enabled: bool, model_dir: Path | None, workers: int, threads: int,
                        fallback: Callable[[str], AsrEngine]) -> AsrEngine:
    """Whisper base for Chinese when ``enabled`` and the model is in ``model_dir``; else ``fallback(reason)``,
    an engine whose ``fallback_reason`` says why Chinese speech will not be understood."""
    if not enabled:
        return fallback("Chinese is recognised only by Whisper base, which is off ([speech] zh_whisper = false)")
    if model_dir is None or not (Path(model_dir) / "model.bin").is_file():
        where = f" (nothing in {model_dir})" if model_dir is not None else ""
        return fallback(f"[speech] zh_whisper is on but Whisper base is not installed{where}: "
                        "callbox models install whisper-base")
    try:
        return ChineseWhisperEngine(Path(model_dir), workers, cpu_threads=threads)
    except SpeechError as exc:
        return fallback(f"Whisper base did not load for Chinese: {exc}")
