"""The Voice page's core: the voices and recognition models installed on the box, and a preview that renders a
sentence with a chosen voice and settings exactly as a call would hear it (the line's rate, the prompt cache).

A flow's voice, speed and volume live in the flow document's ``"voice"`` object (``appliance.dialog.flow``), so a
change is a new published version: checked, audited, rolled back like any other, and its prompts rendered again
with the new settings on the prerender thread.
"""

from __future__ import annotations

import io
import logging
import threading
import wave
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.errors import CallboxError
from appliance.speech.models.installed import list_models
from appliance.speech.models.packaged import packaged_models
from appliance.speech.tts.prompts import VoiceLibrary

__all__ = ["MAX_PREVIEW_CHARS", "PreviewInvalid", "VoiceAdmin", "VoiceChoice", "installed_models"]

log = logging.getLogger(__name__)

MAX_PREVIEW_CHARS = 200  # one or two sentences: a preview is not a way to synthesise a book on the box
PREVIEW_CACHE = 32  # WAV answers kept in memory (the prompt cache on disk keeps the audio itself)
SPEED_RANGE = (0.25, 4.0)  # piper's length scale: above 1 is slower (appliance.dialog.flow.settings)


class PreviewInvalid(CallboxError):
    """A preview request that cannot be rendered; ``field`` names the form field."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class VoiceChoice:
    """A voice and its settings as the Voice page sends them (None: the box's default)."""

    name: str | None = None
    speaker: int | str | None = None
    length_scale: float | None = None
    volume: float | None = None

    def key(self) -> tuple[object, ...]:
        return self.name, self.speaker, self.length_scale, self.volume


def installed_models(state_dir: Path | None) -> list[dict[str, Any]]:
    """Every model the box has: installed under ``<state>/models`` and shipped in packages."""
    found = [m.as_dict() for m in list_models(state_dir)] if state_dir is not None else []
    return found + [m.as_dict() for m in packaged_models()]


def wav_bytes(pcm: bytes, rate: int) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return out.getvalue()


class VoiceAdmin:
    """``voices`` is None on a box whose synthesiser is not piper (then there is nothing to choose or preview);
    ``models`` lists the installed models (:func:`installed_models` over the state directory)."""

    def __init__(self, voices: VoiceLibrary | None, *, models: Callable[[], list[dict[str, Any]]] = list) -> None:
        self.voices = voices
        self._models = models
        self._cache: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def catalogue(self) -> dict[str, Any]:
        """``{"default": {name, speaker, length_scale, volume} | None, "voices": [name...], "asr": [model...],
        "models": [every installed model]}``: the voices a flow can name, the box's default first."""
        models = self._models()
        default: dict[str, Any] | None = None
        names: list[str] = []
        if self.voices is not None:
            base = self.voices.default
            default = {"name": base.loaded.name, "speaker": base.speaker,
                       "length_scale": base.settings.length_scale, "volume": base.settings.volume}
            names.append(base.loaded.name)
        names += [m["name"] for m in models if m["kind"] == "piper" and m["name"] not in names]
        asr = [m for m in models if m["kind"] in ("vosk", "whisper")]
        return {"default": default, "voices": names, "asr": asr, "models": models}

    def check(self, choice: VoiceChoice) -> None:
        """PreviewInvalid for a voice that is not installed or a setting out of range."""
        if self.voices is None:
            raise PreviewInvalid("this box has no piper voice to preview", field="voice")
        low, high = SPEED_RANGE
        if choice.length_scale is not None and not low < choice.length_scale <= high:
            raise PreviewInvalid(f"must be above {low} and at most {high}", field="length_scale")
        if choice.volume is not None and not 0.0 < choice.volume <= 1.0:
            raise PreviewInvalid("must be above 0 and at most 1", field="volume")
        try:
            loaded = self.voices.load(choice.name or None)
        except CallboxError as exc:
            raise PreviewInvalid(str(exc), field="voice") from None
        try:
            loaded.speaker_id(choice.speaker)  # a speaker the voice does not have would fail every prompt
        except CallboxError as exc:
            raise PreviewInvalid(str(exc), field="speaker") from None

    def preview(self, text: str, *, name: str | None = None, speaker: int | str | None = None,
                length_scale: float | None = None, volume: float | None = None) -> bytes:
        """The sentence as a mono WAV at the line's rate, as a customer hears it; the same request answers from
        memory. PreviewInvalid for an empty or too long sentence or a bad choice."""
        choice = VoiceChoice(name or None, speaker, length_scale, volume)
        text = " ".join(text.split())
        if not text:
            raise PreviewInvalid("type a sentence to hear", field="text")
        if len(text) > MAX_PREVIEW_CHARS:
            raise PreviewInvalid(f"is longer than {MAX_PREVIEW_CHARS} characters", field="text")
        self.check(choice)
        assert self.voices is not None
        key = (*choice.key(), text)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        tts = self.voices.tts(name=choice.name or None, speaker=choice.speaker, length_scale=choice.length_scale,
                              volume=choice.volume)
        body = wav_bytes(tts.render(text), tts.line_rate)  # the prompt cache on disk keeps it too
        with self._lock:
            self._cache[key] = body
            while len(self._cache) > PREVIEW_CACHE:
                self._cache.popitem(last=False)
        log.info("voice preview rendered: %s, %d characters", choice.name or "default voice", len(text))
        return body
