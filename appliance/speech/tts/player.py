"""What the conversation plays a prompt through: one interface, whether the audio is synthesised or recorded.

The conversation names the prompt it wants (:class:`Prompt`: the text, its node, which of the node's prompts it
is, and whether it was filled in at call time) and plays the parts a :class:`PromptPlayer` hands back, the first
while the next renders. Two players:

* :class:`~appliance.speech.tts.prompts.PromptSource`: a flow's prompts by node, in its broadcast mode
  (synthesised, recorded, or a mix), with the flow's own voice;
* :class:`SynthesizedPrompts`: one voice (a :class:`Synthesizer` such as
  :class:`~appliance.speech.tts.piper.PiperTts`) saying every prompt: a fixed prompt is cached whole once it has
  played, a templated one is streamed sentence by sentence and not cached.

Both can render a call's templated prompts into the cache while it rings (:meth:`PromptPlayer.render_ahead`,
:mod:`appliance.speech.tts.ahead`); a templated prompt found there whole plays from the cache in one chunk.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from appliance.speech.tts.ahead import RenderAhead
from appliance.speech.tts.piper import PiperTts

__all__ = ["Prompt", "PromptPlayer", "SynthesizedPrompts", "Synthesizer"]


@dataclass(frozen=True)
class Prompt:
    """A prompt the bot is about to say."""

    text: str
    node: str | None = None  # the node it is said at
    kind: str | None = None  # "say" or "reprompt"; None: none of the node's own prompts (a reply and a question...)
    templated: bool = False  # filled in at call time ({order_id}): streamed, never cached whole


class PromptPlayer(Protocol):
    """Prompts as line audio (S16LE mono at the line rate)."""

    def prompt_parts(self, prompt: Prompt) -> Iterator[bytes]:
        """The prompt in chunks, each rendered only when asked for (the first plays while the next renders)."""
        ...

    def render_prompt(self, prompt: Prompt) -> bytes:
        """The whole prompt as one buffer."""
        ...

    def render_ahead(self, texts: Sequence[str], *, call_id: int | str = "") -> RenderAhead | None:
        """Start rendering a call's filled-in prompts into the cache (None: nothing to render them with);
        the caller closes what it gets when the call is over."""
        ...


class Synthesizer(Protocol):
    """A voice: text to line audio, whole or a sentence at a time (:class:`~appliance.speech.tts.piper.PiperTts`)."""

    def render(self, text: str) -> bytes: ...
    def stream(self, text: str, *, store: bool = False) -> Iterator[bytes]: ...


class SynthesizedPrompts:
    """Every prompt said by one voice: the :class:`PromptPlayer` of a box or command with no flow-specific
    prompts (no recordings, the box's voice)."""

    def __init__(self, voice: Synthesizer) -> None:
        self.voice = voice

    def prompt_parts(self, prompt: Prompt) -> Iterator[bytes]:
        # a fixed prompt not yet in the cache plays as it renders, and is cached whole once it has played
        return self.voice.stream(prompt.text, store=not prompt.templated)

    def render_prompt(self, prompt: Prompt) -> bytes:
        return b"".join(self.prompt_parts(prompt))

    def render_ahead(self, texts: Sequence[str], *, call_id: int | str = "") -> RenderAhead | None:
        if not texts or not isinstance(self.voice, PiperTts) or self.voice.cache_dir is None:
            return None
        return RenderAhead(self.voice, texts, name=f"render-ahead-{call_id}", call_id=call_id)
