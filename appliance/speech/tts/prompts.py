"""Prompt audio for a flow: synthesised, recorded, or a mix, always as line PCM.

Interface for the dialogue layer (``Conversation``): a :class:`PromptSource` is a
:class:`~appliance.speech.tts.player.PromptPlayer` (``prompt_parts(prompt)``,
``render_prompt(prompt)``), as plain piper is through
:class:`~appliance.speech.tts.player.SynthesizedPrompts`. By text::

    source = PromptSource(tts, templates=flow.prompt_templates(), mode=flow.broadcast,
                          recordings=RecordedPrompts(state / "recordings-prompts"), flow_id=flow.id)
    for chunk in source.stream(step.say, node=step.node):  # S16LE mono at tts.line_rate
        port.play(chunk)                                    # queue it; the next sentence renders meanwhile
    pcm = source.render(step.say)                           # the same, as one buffer

``templates`` maps ``(node_id, kind)`` (kind ``"say"`` or ``"reprompt"``) to the
prompt's template. A static prompt (no ``{variable}``) comes from the cache in
one chunk (the first time: sentence by sentence, then cached whole); a templated
one is streamed sentence by sentence, its static sentences coming from the cache
and nothing of it written there. Which node's prompt a text is, is given with
``node=`` (and ``kind=``), or worked out from the text (the template it fits).

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
import re
import string
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import SpeechError
from appliance.speech.tts.ahead import RenderAhead
from appliance.speech.tts.piper import SENTENCE_GAP_S, LoadedVoice, PiperTts
from appliance.speech.tts.player import Prompt
from appliance.speech.tts.recorded import RecordedPrompts, decode_wav
from appliance.speech.tts.sentences import split_sentences

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
    """What to render ahead for these templates: every static sentence of each, then each static
    template of several sentences whole; in order, without repeats or empty texts.

    The engine joins prompts (a reply before the next question, an answer
    before the question again), so the cache works by sentence: a joined text
    streams from the cache when each of its sentences is there. The whole
    entries are put together from the cached sentences without synthesis.
    """
    out: dict[str, None] = {}
    for template in templates:
        if not template.strip():
            continue
        sentences = split_sentences(template)
        for sentence in sentences:
            if is_static(sentence):
                out[spoken_static(sentence)] = None
        if len(sentences) > 1 and is_static(template):
            out[spoken_static(template)] = None
    return list(out)


@dataclass(frozen=True)
class PrerenderReport:
    total: int
    rendered: int  # put in the cache now
    cached: int  # already in the cache
    seconds: float
    synthesised: int = 0  # piper runs it took (a whole prompt of cached sentences takes none)


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
    runs_before = tts.synth_calls
    rendered = cached = 0
    for done, text in enumerate(todo, start=1):
        if tts.cached(text) is not None:
            cached += 1
        else:
            tts.render(text)
            rendered += 1
        if progress is not None:
            progress(done, len(todo), text)
    report = PrerenderReport(len(todo), rendered, cached, time.perf_counter() - started,
                             synthesised=tts.synth_calls - runs_before)
    log.info("prerendered %d prompt(s) for %s: %d new (%d piper runs), %d cached, %.1f s",
             report.total, tts.voice_id, rendered, report.synthesised, cached, report.seconds)
    return report


# -- voices by name -----------------------------------------------------------
class VoiceLibrary:
    """Voices by name for per-flow settings; each voice file is loaded once per process.

    ``resolve(name)`` turns a flow's voice name into the ``.onnx`` file (the
    composition root passes :func:`appliance.speech.models.installed.resolve_model`);
    without it, or when it finds nothing, ``<name>.onnx`` is looked for under
    ``search_dirs``. A path to an ``.onnx`` file works as a name too.
    """

    def __init__(
        self,
        default: PiperTts,
        *,
        resolve: Callable[[str], Path | None] | None = None,
        search_dirs: Iterable[Path] = (),
    ) -> None:
        self.default = default
        self.resolve = resolve
        self.search_dirs = tuple(Path(d) for d in search_dirs)
        self._loaded: dict[Path, LoadedVoice] = {default.model_path.resolve(): default.loaded}
        self._views: dict[tuple[object, ...], PiperTts] = {}
        self._lock = threading.Lock()

    def _model(self, name: str) -> Path:
        given = Path(name)
        if given.suffix == ".onnx" and given.is_file():
            return given
        if self.resolve is not None:
            found = self.resolve(name)
            if found is not None and found.is_file():
                return found
        for root in self.search_dirs:
            if root.is_dir():
                matches = sorted(root.rglob(f"{name}.onnx"))
                if matches:
                    return matches[0]
        looked = ", ".join(str(d) for d in self.search_dirs) or "the installed models"
        raise SpeechError(f"no piper voice named {name!r} (the default is {self.default.loaded.name}; "
                          f"looked in {looked})")

    def load(self, name: str | None) -> LoadedVoice:
        if not name or name == self.default.loaded.name:
            return self.default.loaded
        model = self._model(name).resolve()
        with self._lock:
            known = self._loaded.get(model)
        if known is not None:
            return known
        loaded = LoadedVoice(model)  # a second or so: not under the lock, calls on other voices go on
        with self._lock:
            return self._loaded.setdefault(model, loaded)

    def tts(
        self,
        *,
        name: str | None = None,
        speaker: int | str | None = None,
        length_scale: float | None = None,
        volume: float | None = None,
        line_rate: int | None = None,
    ) -> PiperTts:
        """A synthesiser with these settings (the same object for the same settings);
        ``None`` keeps the default voice's setting."""
        base = self.default
        loaded = self.load(name)
        same_voice = loaded is base.loaded
        key = (loaded.model_path, speaker, length_scale, volume, line_rate)
        with self._lock:
            view = self._views.get(key)
        if view is not None:
            return view
        view = PiperTts(
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
        with self._lock:
            return self._views.setdefault(key, view)


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

    def locate(self, text: str, node: str | None = None) -> tuple[str, str] | None:
        """The (node, kind) whose template ``text`` is, looking only at ``node``'s prompts when given.
        An exact static prompt wins over a template match; the flow's order breaks ties."""
        keys = [key for key in self.templates if node is None or key[0] == node]
        for key in keys:
            template = self.templates[key]
            if is_static(template) and spoken_static(template) == text:
                return key
        for key in keys:
            pattern = self._patterns.get(key)
            if pattern is not None and pattern.fullmatch(text):
                return key
        return None

    def missing_recordings(self) -> list[tuple[str, str]]:
        """(node, kind) of every prompt with no recording (all of them in mode ``tts``)."""
        if self.recordings is None:
            return sorted(self.templates)
        return sorted(key for key in self.templates if not self.recordings.has(self.flow_id, *key))

    def segments(self, text: str, node: str | None = None) -> list[tuple[str, tuple[str, str] | None]]:
        """``text`` as the prompts it is made of, each with its (node, kind) or None.

        The engine joins prompts (a branch's reply and the next node's question, a
        knowledge-base answer and the question again); the longest run of
        sentences that is one prompt is taken first, from the left.
        """
        key = self.locate(text, node)
        if key is not None:
            return [(text, key)]
        sentences = split_sentences(text)
        out: list[tuple[str, tuple[str, str] | None]] = []
        i = 0
        while i < len(sentences):
            found: tuple[int, str, tuple[str, str]] | None = None
            for j in range(len(sentences), i, -1):
                for sep in (" ", ""):  # no space between sentences in Chinese and Japanese
                    part = sep.join(sentences[i:j])
                    part_key = self.locate(part)
                    if part_key is not None:
                        found = (j, part, part_key)
                        break
                if found is not None:
                    break
            if found is None:
                out.append((sentences[i], None))
                i += 1
            else:
                out.append((found[1], found[2]))
                i = found[0]
        return out

    def _recording(self, part: str, key: tuple[str, str] | None) -> bytes | None:
        if self.recordings is None:
            return None
        if key is None:
            if self.mode == "recorded":
                raise SpeechError(f"flow {self.flow_id}: {part!r} is none of its prompts, so it has no recording")
            return None
        pcm = self.recordings.load(self.flow_id, key[0], key[1], line_rate=self.line_rate)
        if pcm is None and self.mode == "recorded":
            path = self.recordings.path(self.flow_id, key[0], key[1])
            raise SpeechError(f"flow {self.flow_id}: node {key[0]} has no recorded {key[1]} prompt ({path})")
        return pcm

    def stream(self, text: str, *, node: str | None = None, kind: str | None = None) -> Iterator[bytes]:
        """The prompt as line PCM chunks: a recording or a static prompt (cached) in one chunk,
        a templated prompt one sentence at a time, synthesised as the caller asks for it.

        ``node`` (and ``kind``) say which prompt ``text`` is; without them it is
        found by its text (see :meth:`segments`). In mode ``recorded`` a text
        with a part that has no recording fails before anything plays.
        """
        if self.mode == "tts":
            # a static prompt not yet in the cache plays as it renders, and is cached whole once it has played
            yield from self.tts.stream(text, store=text in self._static)
            return
        if node is not None and kind is not None:
            parts: list[tuple[str, tuple[str, str] | None]] = [(text, (node, kind))]
        else:
            parts = self.segments(text, node)
        played = [(part, self._recording(part, key)) for part, key in parts]  # all looked up before playing
        gap = b"\x00\x00" * int(SENTENCE_GAP_S * self.line_rate)
        for index, (part, pcm) in enumerate(played):
            lead = gap if index else b""
            if pcm is not None:
                yield lead + pcm
                continue
            for chunk_index, chunk in enumerate(self.tts.stream(part, store=part in self._static)):
                yield (lead + chunk) if chunk_index == 0 else chunk

    def render(self, text: str, *, node: str | None = None, kind: str | None = None) -> bytes:
        return b"".join(self.stream(text, node=node, kind=kind))

    # -- the conversation's PromptPlayer (appliance.speech.tts.player): which prompt it is, not how it was filled
    # in, decides the audio here (a recording, or the cache for the flow's fixed prompts)
    def prompt_parts(self, prompt: Prompt) -> Iterator[bytes]:
        return self.stream(prompt.text, node=prompt.node, kind=prompt.kind)

    def render_prompt(self, prompt: Prompt) -> bytes:
        return self.render(prompt.text, node=prompt.node, kind=prompt.kind)

    def render_ahead(self, texts: Sequence[str], *, call_id: int | str = "") -> RenderAhead | None:
        """A call's filled-in prompts into the cache while it rings (those it will synthesise: none in mode
        ``recorded``, those without a recording in mode ``mixed``); the flow's fixed texts stay cached after."""
        if self.mode == "recorded" or self.tts.cache_dir is None:
            return None
        if self.mode == "mixed":
            missing = set(self.missing_recordings())
            texts = [t for t in texts if (key := self.locate(t)) is None or key in missing]
        if not texts:
            return None
        keep = prerender_texts(self.templates.values())
        return RenderAhead(self.tts, texts, name=f"render-ahead-{call_id}", keep=keep, call_id=call_id)

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
