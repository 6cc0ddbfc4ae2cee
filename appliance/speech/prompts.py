"""Prompt audio for a flow: synthesised, recorded, or a mix, always as line PCM.

Interface for the dialogue layer (``Conversation``)::

    source = PromptSource(tts, templates=flow.prompt_templates(), mode=flow.broadcast,
                          recordings=RecordedPrompts(state / "recordings-prompts"), flow_id=flow.id)
    for chunk in source.stream(step.node, step.say):   # S16LE mono at tts.line_rate
        port.play(chunk)                                # queue it; the next sentence renders meanwhile
    pcm = source.render(step.node, step.say)            # the same, as one buffer

``templates`` maps ``(node_id, kind)`` (kind ``"say"`` or ``"reprompt"``) to the
prompt's template. A static prompt (no ``{variable}``) is rendered whole and
cached on disk; a templated one is streamed sentence by sentence, its static
sentences coming from the cache. The kind of a prompt is worked out from the
text (which template it fits), or given with ``kind=``.

Broadcast modes: ``tts`` synthesises every prompt; ``recorded`` plays the
uploaded WAV of each prompt (a missing one is a :class:`SpeechError`);
``mixed`` plays a recording where the prompt has one and synthesises elsewhere.
Recordings live at ``<root>/<flow>/<node>.wav`` (``<node>.<kind>.wav`` for kinds
other than ``say``) exactly as uploaded; they are converted (any rate, channels,
8/16/24/32-bit PCM, float, G.711 A-law/u-law) to mono S16LE at the line rate with
soxr when played, and the result is kept in memory.

:func:`prerender` renders a flow's static prompts, and the static sentences of
its templated prompts, into the cache ahead of the first call.
"""

from __future__ import annotations

import logging
import os
import re
import string
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from appliance.errors import AudioError, SpeechError
from appliance.speech.audio import to_line_rate
from appliance.speech.tts import LoadedVoice, PiperTts, split_sentences

__all__ = [
    "BROADCAST_MODES",
    "PrerenderReport",
    "PromptSource",
    "RecordedPrompts",
    "VoiceLibrary",
    "decode_wav",
    "is_static",
    "prerender",
    "prerender_texts",
    "spoken_static",
]

log = logging.getLogger(__name__)

BROADCAST_MODES = ("tts", "recorded", "mixed")
MAX_RECORDING_BYTES = 50 * 1024 * 1024
_KINDS = ("say", "reprompt")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


# -- static and templated prompts ---------------------------------------------
def _fields(template: str) -> list[str]:
    try:
        return [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise SpeechError(f"bad prompt template {template!r}: {exc}") from exc


def is_static(template: str) -> bool:
    """True when ``template`` has no ``{variable}``: its audio is the same on every call."""
    return not _fields(template)


def spoken_static(template: str) -> str:
    """What a static template says (``{{`` and ``}}`` unescaped, as ``str.format`` does)."""
    return template.format()


def prerender_texts(templates: Iterable[str]) -> list[str]:
    """What to render ahead for these templates: each static one whole, and the static
    sentences of each templated one; in order, without repeats or empty texts."""
    out: dict[str, None] = {}
    for template in templates:
        if not template.strip():
            continue
        if is_static(template):
            out[spoken_static(template)] = None
            continue
        for sentence in split_sentences(template):
            if is_static(sentence):
                out[spoken_static(sentence)] = None
    return list(out)


@dataclass(frozen=True)
class PrerenderReport:
    total: int
    rendered: int  # synthesised now
    cached: int  # already in the cache
    seconds: float


def prerender(
    tts: PiperTts, texts: Iterable[str], *, progress: Callable[[int, int, str], None] | None = None
) -> PrerenderReport:
    """Render each static text (see :func:`prerender_texts`) of ``texts`` into ``tts``'s cache.

    ``progress(done, total, text)`` is called after each text. Templates may be
    passed as they are; only their static parts are rendered.
    """
    if tts.cache_dir is None:
        raise SpeechError("prerendering needs a voice with a prompt cache directory")
    todo = prerender_texts(texts)
    started = time.perf_counter()
    rendered = cached = 0
    for done, text in enumerate(todo, start=1):
        if tts.cached(text) is not None:
            cached += 1
        else:
            tts.render(text)
            rendered += 1
        if progress is not None:
            progress(done, len(todo), text)
    report = PrerenderReport(len(todo), rendered, cached, time.perf_counter() - started)
    log.info("prerendered %d prompt(s) for %s: %d new, %d cached, %.1f s",
             report.total, tts.voice_id, rendered, cached, report.seconds)
    return report


# -- voices by name -----------------------------------------------------------
class VoiceLibrary:
    """Voices by name for per-flow settings; each voice file is loaded once per process."""

    def __init__(self, default: PiperTts, *, search_dirs: Iterable[Path] = ()) -> None:
        self.default = default
        self.search_dirs = tuple(Path(d) for d in search_dirs)
        self._loaded: dict[Path, LoadedVoice] = {default.model_path.resolve(): default.loaded}
        self._lock = threading.Lock()

    def _model(self, name: str) -> Path:
        given = Path(name)
        if given.suffix == ".onnx" and given.is_file():
            return given
        for root in self.search_dirs:
            if root.is_dir():
                found = sorted(root.rglob(f"{name}.onnx"))
                if found:
                    return found[0]
        looked = ", ".join(str(d) for d in self.search_dirs) or "no model directories"
        raise SpeechError(f"no piper voice named {name!r} (the default is {self.default.loaded.name}; "
                          f"looked in {looked})")

    def load(self, name: str | None) -> LoadedVoice:
        if not name or name == self.default.loaded.name:
            return self.default.loaded
        model = self._model(name).resolve()
        with self._lock:
            if model not in self._loaded:
                self._loaded[model] = LoadedVoice(model)
            return self._loaded[model]

    def tts(
        self,
        *,
        name: str | None = None,
        speaker: int | str | None = None,
        length_scale: float | None = None,
        volume: float | None = None,
        line_rate: int | None = None,
    ) -> PiperTts:
        """A synthesiser with these settings; ``None`` keeps the default voice's setting."""
        base = self.default
        loaded = self.load(name)
        same_voice = loaded is base.loaded
        return PiperTts(
            loaded.model_path,
            loaded.config_path,
            line_rate=line_rate or base.line_rate,
            speaker=speaker if speaker is not None else (base.speaker if same_voice else None),
            length_scale=length_scale if length_scale is not None else base.settings.length_scale,
            volume=volume if volume is not None else base.settings.volume,
            noise_scale=base.settings.noise_scale if same_voice else None,
            noise_w_scale=base.settings.noise_w_scale if same_voice else None,
            cache_dir=base.cache_dir,
            loaded=loaded,
        )


# -- WAV files ------------------------------------------------------------------
_FMT_PCM, _FMT_FLOAT, _FMT_ALAW, _FMT_ULAW, _FMT_EXTENSIBLE = 1, 3, 6, 7, 0xFFFE


def _ulaw(codes: np.ndarray) -> np.ndarray:
    u = ~codes.astype(np.int32) & 0xFF
    magnitude = ((((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)) - 0x84
    return np.where(u & 0x80, -magnitude, magnitude).astype(np.float32) / 32768.0


def _alaw(codes: np.ndarray) -> np.ndarray:
    a = codes.astype(np.int32) ^ 0x55
    exponent = (a & 0x70) >> 4
    mantissa = a & 0x0F
    magnitude = np.where(exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0))
    return np.where(a & 0x80, magnitude, -magnitude).astype(np.float32) / 32768.0


def _samples(raw: bytes, fmt: int, width: int) -> np.ndarray:
    """Interleaved samples as float32 in [-1, 1]."""
    if fmt == _FMT_PCM:
        if width == 1:
            return (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
        if width == 2:
            return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
        if width == 3:
            b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
            value = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
            value = np.where(value & 0x800000, value - 0x1000000, value)
            return value.astype(np.float32) / 8388608.0
        if width == 4:
            return (np.frombuffer(raw, dtype="<i4").astype(np.float64) / 2147483648.0).astype(np.float32)
    elif fmt == _FMT_FLOAT and width in (4, 8):
        data = np.frombuffer(raw, dtype="<f4" if width == 4 else "<f8").astype(np.float32)
        return np.clip(np.nan_to_num(data), -1.0, 1.0)
    elif fmt in (_FMT_ALAW, _FMT_ULAW) and width == 1:
        codes = np.frombuffer(raw, dtype=np.uint8)
        return _alaw(codes) if fmt == _FMT_ALAW else _ulaw(codes)
    raise AudioError(f"unsupported WAV encoding (format {fmt:#x}, {width * 8}-bit)")


def decode_wav(data: bytes, *, name: str = "recording") -> tuple[np.ndarray, int]:
    """A WAV file's audio as (mono float32 samples in [-1, 1], rate); AudioError if it is not one."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioError(f"{name} is not a WAV file (no RIFF/WAVE header)")
    fmt: tuple[int, int, int, int] | None = None  # format, channels, rate, bytes per sample
    raw: bytes | None = None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = data[pos + 8 : pos + 8 + size]
        if chunk_id == b"fmt ":
            if len(body) < 16:
                raise AudioError(f"{name}: broken WAV (fmt chunk of {len(body)} bytes)")
            tag, channels, rate, _, align, bits = struct.unpack_from("<HHIIHH", body)
            if tag == _FMT_EXTENSIBLE:
                if len(body) < 26:
                    raise AudioError(f"{name}: broken WAV (short extensible fmt chunk)")
                (tag,) = struct.unpack_from("<H", body, 24)  # first two bytes of the sub-format GUID
            if channels < 1 or rate < 1 or align < channels or bits < 1:
                raise AudioError(f"{name}: broken WAV ({channels} channel(s), {rate} Hz, {bits}-bit)")
            fmt = (tag, channels, rate, align // channels)
        elif chunk_id == b"data":
            raw = body
            break
        pos += 8 + size + (size & 1)
    if fmt is None:
        raise AudioError(f"{name}: broken WAV (no fmt chunk)")
    if raw is None:
        raise AudioError(f"{name}: broken WAV (no data chunk)")
    tag, channels, rate, width = fmt
    frame = channels * width
    usable = len(raw) - len(raw) % frame
    if usable == 0:
        raise AudioError(f"{name}: the WAV file holds no audio")
    samples = _samples(raw[:usable], tag, width)
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.float32)
    return samples, rate


class RecordedPrompts:
    """Uploaded prompt recordings under ``root/<flow>/<node>[.<kind>].wav``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._memo: dict[tuple[Path, int, int, int], bytes] = {}
        self._lock = threading.Lock()

    def path(self, flow_id: str, node_id: str, kind: str = "say") -> Path:
        for part, what in ((flow_id, "flow id"), (node_id, "node id")):
            if not _SAFE_NAME.match(part):
                raise SpeechError(f"{what} {part!r} cannot name a recording file")
        if kind not in _KINDS:
            raise SpeechError(f"prompt kind must be one of {', '.join(_KINDS)}, not {kind!r}")
        return self.root / flow_id / (f"{node_id}.wav" if kind == "say" else f"{node_id}.{kind}.wav")

    def save(self, flow_id: str, node_id: str, data: bytes, kind: str = "say") -> Path:
        """Check ``data`` is a usable WAV and store it (atomically) as the prompt's recording."""
        path = self.path(flow_id, node_id, kind)
        if len(data) > MAX_RECORDING_BYTES:
            raise AudioError(f"recording for {flow_id}/{node_id} is larger than {MAX_RECORDING_BYTES} bytes")
        decode_wav(data, name=f"recording for {flow_id}/{node_id}")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".wav", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def remove(self, flow_id: str, node_id: str, kind: str = "say") -> bool:
        path = self.path(flow_id, node_id, kind)
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed

    def has(self, flow_id: str, node_id: str, kind: str = "say") -> bool:
        return self.path(flow_id, node_id, kind).is_file()

    def load(self, flow_id: str, node_id: str, kind: str = "say", *, line_rate: int) -> bytes | None:
        """The recording as line PCM (mono S16LE at ``line_rate``), or None when there is none."""
        path = self.path(flow_id, node_id, kind)
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        memo_key = (path, st.st_mtime_ns, st.st_size, line_rate)
        with self._lock:
            hit = self._memo.get(memo_key)
        if hit is not None:
            return hit
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise AudioError(f"cannot read recording {path}: {exc}") from exc
        samples, rate = decode_wav(data, name=str(path))
        pcm = to_line_rate(samples, rate, line_rate)
        with self._lock:
            self._memo[memo_key] = pcm
        return pcm


# -- one flow's prompts -------------------------------------------------------------
def _pattern(template: str) -> re.Pattern[str]:
    parts = [re.escape(literal) + (".*?" if field is not None else "")
             for literal, field, _, _ in string.Formatter().parse(template)]
    return re.compile("".join(parts), re.DOTALL)


class PromptSource:
    """A flow's prompts as line audio, by node, according to the broadcast mode."""

    def __init__(
        self,
        tts: PiperTts,
        *,
        templates: Mapping[tuple[str, str], str] | None = None,
        mode: str = "tts",
        recordings: RecordedPrompts | None = None,
        flow_id: str = "",
    ) -> None:
        if mode not in BROADCAST_MODES:
            raise SpeechError(f"broadcast mode must be one of {', '.join(BROADCAST_MODES)}, not {mode!r}")
        if mode != "tts" and (recordings is None or not flow_id):
            raise SpeechError(f"broadcast mode {mode!r} needs the flow id and a recordings directory")
        self.tts = tts
        self.mode = mode
        self.recordings = recordings
        self.flow_id = flow_id
        self.templates = dict(templates or {})
        self._patterns = {key: _pattern(t) for key, t in self.templates.items() if not is_static(t)}
        self._static = {spoken_static(t) for t in self.templates.values() if is_static(t)}

    @property
    def line_rate(self) -> int:
        return self.tts.line_rate

    def kind_of(self, node_id: str, text: str) -> str:
        """Which of the node's prompts ``text`` is (its say or its reprompt); "say" when unsure."""
        for kind in _KINDS:
            template = self.templates.get((node_id, kind))
            if template is None:
                continue
            if is_static(template) and spoken_static(template) == text:
                return kind
            pattern = self._patterns.get((node_id, kind))
            if pattern is not None and pattern.fullmatch(text):
                return kind
        return "say"

    def missing_recordings(self) -> list[tuple[str, str]]:
        """(node, kind) of every prompt with no recording (all of them in mode ``tts``)."""
        if self.recordings is None:
            return sorted(self.templates)
        return sorted(key for key in self.templates if not self.recordings.has(self.flow_id, *key))

    def _recording(self, node_id: str, text: str, kind: str | None) -> bytes | None:
        if self.mode == "tts" or self.recordings is None:
            return None
        kind = kind or self.kind_of(node_id, text)
        pcm = self.recordings.load(self.flow_id, node_id, kind, line_rate=self.line_rate)
        if pcm is None and self.mode == "recorded":
            path = self.recordings.path(self.flow_id, node_id, kind)
            raise SpeechError(f"flow {self.flow_id}: node {node_id} has no recorded {kind} prompt ({path})")
        return pcm

    def stream(self, node_id: str, text: str, *, kind: str | None = None) -> Iterator[bytes]:
        """The prompt as line PCM chunks: a recording or a cached static prompt in one chunk,
        a templated prompt one sentence at a time (synthesised as the caller asks for it)."""
        recorded = self._recording(node_id, text, kind)
        if recorded is not None:
            yield recorded
            return
        if text in self._static:
            yield self.tts.render(text)
            return
        yield from self.tts.stream(text)

    def render(self, node_id: str, text: str, *, kind: str | None = None) -> bytes:
        return b"".join(self.stream(node_id, text, kind=kind))

    def prerender(self, *, progress: Callable[[int, int, str], None] | None = None) -> PrerenderReport:
        """Render ahead what this flow will synthesise (nothing for prompts played from recordings)."""
        if self.mode == "recorded":
            wanted: list[str] = []
        elif self.mode == "mixed":
            missing = set(self.missing_recordings())
            wanted = [t for key, t in self.templates.items() if key in missing]
        else:
            wanted = list(self.templates.values())
        return prerender(self.tts, wanted, progress=progress)
