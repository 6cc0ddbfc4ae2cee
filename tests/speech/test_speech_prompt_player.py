"""One prompt-player interface: plain piper through SynthesizedPrompts and a flow's PromptSource both play a
``Prompt``, and the conversation names the prompt (node, kind, filled in at call time or not) for either."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from appliance.dialog.flow.load import parse_flow
from appliance.dialog.runtime.conversation import Conversation, ConversationLimits
from appliance.dialog.runtime.engine import FlowRun
from appliance.events import FRAME_BYTES
from appliance.speech.asr.base import AsrSession
from appliance.speech.audio import write_wav
from appliance.speech.tts.piper import PiperTts
from appliance.speech.tts.player import Prompt, PromptPlayer, SynthesizedPrompts
from appliance.speech.tts.prompts import PromptSource, RecordedPrompts
from appliance.speech.vad import Endpointer

SILENCE = bytes(FRAME_BYTES)


@pytest.fixture
def tts(piper_tts: PiperTts, tmp_path: Path) -> PiperTts:
    return piper_tts.with_settings(cache_dir=tmp_path / "cache")


def test_plain_piper_caches_a_fixed_prompt_whole_once_played_and_never_a_templated_one(tts: PiperTts) -> None:
    player: PromptPlayer = SynthesizedPrompts(tts)
    fixed = "Thank you. Goodbye."
    parts = list(player.prompt_parts(Prompt(fixed, node="bye", kind="say")))
    assert len(parts) == 2  # sentence by sentence the first time
    assert tts.cached(fixed) == b"".join(parts)
    filled = "Hello Ann. Your order is A-7."
    pcm = player.render_prompt(Prompt(filled, node="greet", kind="say", templated=True))
    assert len(pcm) > FRAME_BYTES * 25
    assert tts.cached(filled) is None  # an order number does not pile up on disk


def test_a_flow_prompt_source_plays_the_recording_of_the_prompt_it_is_named(tts: PiperTts, tmp_path: Path) -> None:
    recordings = RecordedPrompts(tmp_path / "recordings")
    greet = tts.render("Hello there.")  # any audio will do as the uploaded recording
    wav = tmp_path / "greet.wav"
    write_wav(wav, greet, tts.line_rate)
    recordings.save("f", "greet", wav.read_bytes(), kind="reprompt")
    source: PromptPlayer = PromptSource(tts, templates={("greet", "say"): "Hi {name}.", ("greet", "reprompt"): "Hi."},
                                        mode="mixed", recordings=recordings, flow_id="f")
    recorded = recordings.load("f", "greet", "reprompt", line_rate=tts.line_rate)
    assert recorded is not None
    assert list(source.prompt_parts(Prompt("Hi.", node="greet", kind="reprompt"))) == [recorded]
    assert source.render_prompt(Prompt("Hi.", node="greet", kind="reprompt")) == recorded
    synthesised = source.render_prompt(Prompt("Hi Bo.", node="greet", kind="say", templated=True))
    assert synthesised and synthesised != recorded


class QuietLine:
    """A call's audio (dialog's CallAudio) on which the callee never speaks; what the bot plays is kept."""

    def __init__(self) -> None:
        self.played: list[bytes] = []

    def read_frame(self, timeout: float) -> bytes | None:
        return SILENCE

    def read_frame_with_played(self, timeout: float) -> tuple[bytes, bytes] | None:
        # a frame when the caller waits for one; none already queued when it only looks (timeout 0)
        return (SILENCE, SILENCE) if timeout > 0 else None

    def play(self, pcm: bytes, *, more: bool = False) -> None:
        self.played.append(pcm)

    def flush_playback(self) -> int:
        return 0

    def playing(self) -> bool:
        return False

    def wait_played(self, timeout: float) -> bool:
        return True


class NoSpeech:
    """A recogniser that is never asked: the callee stays silent."""

    name = "none"
    language = "en"
    fallback_reason = None

    def open_session(self, grammar: Sequence[str] | None = None) -> AsrSession:
        raise AssertionError("nothing was said, so nothing should be recognised")


class KeptPrompts:
    """A PromptPlayer that keeps what it was asked to play."""

    def __init__(self) -> None:
        self.asked: list[Prompt] = []

    def prompt_parts(self, prompt: Prompt) -> Iterator[bytes]:
        self.asked.append(prompt)
        yield b"\x01\x00" * 800

    def render_prompt(self, prompt: Prompt) -> bytes:
        return b"".join(self.prompt_parts(prompt))


@pytest.mark.parametrize(("say", "templated"), [("Thank you {name}, goodbye.", True), ("Goodbye.", False)])
def test_the_conversation_names_the_prompt_it_plays(say: str, templated: bool) -> None:
    flow = parse_flow({"id": "f", "language": "en", "variables": ["name"], "start": "bye", "intents": {},
                       "nodes": {"bye": {"type": "hangup", "say": say, "disposition": "confirmed"}}})
    run = FlowRun(flow, {"name": "Ann"})
    line, prompts = QuietLine(), KeptPrompts()
    convo = Conversation(run, line, NoSpeech(), prompts, Endpointer(), ended=threading.Event(),
                         limits=ConversationLimits(greeting_wait_ms=60, frame_timeout_s=0.01))
    assert convo.execute()
    assert prompts.asked == [Prompt(say.format(name="Ann"), node="bye", kind="say", templated=templated)]
    assert line.played[0] == b"\x01\x00" * 800 and line.played[-1] == b""  # the part, then the end of the prompt
