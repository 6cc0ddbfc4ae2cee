"""Flows choose their voice and broadcast mode; publishing renders their static prompts ahead."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from appliance.box import Callbox
from appliance.campaign.calls import SpeechKit
from appliance.cli import main
from appliance.config import Config, parse_config
from appliance.dialog.flow.load import builtin_flow_path, load_flow, parse_flow
from appliance.dialog.flow.model import FlowVoice
from appliance.errors import FlowError, SpeechError
from appliance.speech.tts import prompts
from appliance.speech.tts.piper import PiperTts

BUILTIN = json.loads(builtin_flow_path("delivery-confirmation.en").read_text(encoding="utf-8"))


def flow_doc(**top: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BUILTIN)
    doc.update(top)
    return doc


def small_flow(**top: Any) -> dict[str, Any]:
    """Two short prompts: cheap to synthesise."""
    doc = {
        "id": "tiny",
        "start": "ask",
        "variables": ["order_id"],
        "intents": {"yes": {"examples": ["yes"]}},
        "nodes": {
            "ask": {"type": "dialogue", "say": "Order {order_id}. Is that right?", "intents": {"yes": "bye"},
                    "no_input": "bye", "no_match": "bye"},
            "bye": {"type": "hangup", "say": "Goodbye.", "disposition": "confirmed"},
        },
    }
    doc.update(top)
    return doc


def test_flow_voice_and_broadcast_parse() -> None:
    flow = parse_flow(flow_doc(voice={"name": "en_US-joe-medium", "speaker": 0, "length_scale": 1.2, "volume": 0.8},
                               broadcast="mixed"))
    assert flow.voice == FlowVoice("en_US-joe-medium", 0, 1.2, 0.8)
    assert flow.broadcast == "mixed"
    plain = parse_flow(flow_doc())
    assert plain.voice is None and plain.broadcast == "tts"
    assert set(prompts.BROADCAST_MODES) == {"tts", "recorded", "mixed"}
    templates = plain.prompt_templates()
    assert templates[("greet", "no_input.1")].startswith("Are you still there?")  # the flow's VUI rules per node
    assert ("confirmed", "no_input.1") not in templates and ("confirmed", "say") in templates


@pytest.mark.parametrize(
    ("top", "field"),
    [
        ({"broadcast": "radio"}, "broadcast"),
        ({"voice": "joe"}, "voice"),
        ({"voice": {"pitch": 2}}, "voice"),
        ({"voice": {"name": ""}}, "voice.name"),
        ({"voice": {"speaker": -1}}, "voice.speaker"),
        ({"voice": {"speaker": True}}, "voice.speaker"),
        ({"voice": {"length_scale": 0}}, "voice.length_scale"),
        ({"voice": {"length_scale": "slow"}}, "voice.length_scale"),
        ({"voice": {"volume": 3}}, "voice.volume"),
    ],
)
def test_bad_voice_settings_name_the_field(top: dict[str, Any], field: str) -> None:
    with pytest.raises(FlowError) as caught:
        parse_flow(flow_doc(**top))
    assert caught.value.field == field


def test_speech_config_takes_speaker_and_prerender_switch() -> None:
    cfg = parse_config({"speech": {"speaker": "ann", "prerender_on_publish": False}})
    assert cfg.speech.speaker == "ann" and cfg.speech.prerender_on_publish is False
    assert Config().speech.prerender_on_publish is True


@pytest.fixture
def box(tmp_path: Path, piper_tts: PiperTts) -> Any:
    tts = piper_tts.with_settings(cache_dir=tmp_path / "state" / "prompt-cache")
    kit = SpeechKit(asr=None, tts=tts, endpointer=lambda: None)  # type: ignore[arg-type]
    callbox = Callbox(Config(state_dir=tmp_path / "state"), speech=kit)
    yield callbox
    callbox.configs.close()
    callbox.records.close()


def test_publishing_a_flow_renders_its_static_prompts_with_progress(box: Any) -> None:
    source = box.prompts.for_flow(parse_flow(small_flow()))
    assert box.prompts.for_flow(parse_flow(small_flow())).tts is source.tts  # one synthesiser per voice setting
    model_runs = source.tts.loaded.synth_calls  # the session model: count from here
    seen: list[tuple[int, int]] = []
    version = box.flows.publish(small_flow(), progress=lambda done, total, _text: seen.append((done, total)))
    assert version == 1
    assert seen == [(1, 2), (2, 2)]  # "Is that right?" and "Goodbye."
    assert source.tts.synth_calls == 2 and source.tts.loaded.synth_calls == model_runs + 2
    assert source.tts.cached("Goodbye.") is not None and source.tts.cached("Is that right?") is not None
    assert box.flows.publish(small_flow()) == 1  # same document: same version, nothing new to render
    assert source.tts.synth_calls == 2
    pcm = b"".join(source.stream("Order 12. Is that right?", node="ask"))
    assert source.tts.synth_calls == 3  # only "Order 12." was synthesised
    assert len(pcm) > 8000
    with pytest.raises(FlowError):
        box.flows.publish(small_flow(start="nowhere"))


def test_a_flow_voice_changes_the_synthesiser_not_the_model(box: Any) -> None:
    slow = box.prompts.for_flow(parse_flow(small_flow(voice={"length_scale": 1.4, "volume": 0.5})))
    assert slow.tts.loaded is box.speech.tts.loaded
    assert (slow.tts.settings.length_scale, slow.tts.settings.volume) == (1.4, 0.5)
    assert slow.tts.cache_key("Goodbye.") != box.speech.tts.cache_key("Goodbye.")
    with pytest.raises(SpeechError, match="no piper voice named 'amy-low'"):
        box.prompts.for_flow(parse_flow(small_flow(voice={"name": "amy-low"})))
    with pytest.raises(SpeechError, match="speaker"):
        box.flows.publish(small_flow(voice={"speaker": 3}))  # joe has one speaker
    assert box.configs.flow("tiny") is None  # refused before it was stored


def test_cli_records_a_prompt_and_prerenders_a_recorded_flow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    flow_file = tmp_path / "tiny.json"
    flow_file.write_text(json.dumps(small_flow(broadcast="recorded")), encoding="utf-8")
    wav = tmp_path / "bye.wav"
    subprocess.run(["sox", "-n", "-r", "44100", "-c", "2", "-b", "16", str(wav), "synth", "0.3", "sine", "440"],
                   check=True, capture_output=True)
    base = ["--config", str(tmp_path / "none.toml"), "--state-dir", str(state), "flow"]
    assert main([*base, "record", str(flow_file), "bye", str(wav)]) == 0
    assert (state / "recordings-prompts" / "tiny" / "bye.wav").read_bytes() == wav.read_bytes()
    assert main([*base, "record", str(flow_file), "nowhere", str(wav)]) == 2
    (tmp_path / "junk.wav").write_bytes(b"not audio")
    assert main([*base, "record", str(flow_file), "ask", str(tmp_path / "junk.wav")]) == 2
    assert "not a WAV file" in capsys.readouterr().err
    # recorded mode: nothing to synthesise, and the node still without a recording is named
    assert main([*base, "prerender", str(flow_file)]) == 1
    out = capsys.readouterr().out
    assert "0 prompt(s)" in out and "no recording for ask (say): MISSING" in out
    assert load_flow(flow_file).broadcast == "recorded"


def test_serve_renders_what_published_flows_lack(tmp_path: Path, piper_tts: PiperTts) -> None:
    """The built-in flow is installed without prerendering; `callbox serve` fills the gaps before it starts."""
    kit = SpeechKit(asr=None, tts=piper_tts, endpointer=lambda: None)  # type: ignore[arg-type]
    box = Callbox(Config(state_dir=tmp_path / "state"), speech=kit)  # the session's cache: shared, maybe warm
    try:
        box.configs.publish_flow(small_flow(voice={"length_scale": 1.1}))  # stored as is, nothing rendered
        tiny = box.prompts.for_flow(parse_flow(small_flow(voice={"length_scale": 1.1})))
        assert tiny.tts.cached("Goodbye.") is None
        assert box.flows.prerender_published() >= 2
        assert tiny.tts.cached("Goodbye.") is not None
        builtin = box.prompts.for_flow(parse_flow(BUILTIN))
        assert all(builtin.tts.cached(t) for t in prompts.prerender_texts(builtin.templates.values()))
        assert box.flows.prerender_published() == 0
    finally:
        box.configs.close()
        box.records.close()


RICH = {
    "id": "rich", "language": "en", "variables": ["name"], "start": "greet",
    "intents": {
        "confirm": {"examples": ["yes"]},
        "later": {"examples": ["call me later"]},
        "stop": {"examples": ["stop calling me"]},
    },
    "global_intents": {"stop": {"next": "bye", "reply": "Understood."}},
    "knowledge_base": [{"id": "fee", "questions": ["is delivery free"], "answer": "Delivery is free."}],
    "vui": {"no_input_prompts": ["Are you still there?"], "barge_in_prompt": "Go ahead.", "fallback_node": "bye"},
    "nodes": {
        "greet": {"type": "dialogue", "say": "Hello {name}. Is someone home?",
                  "intents": {"confirm": {"next": "bye", "reply": "Great."}, "later": "when"},
                  "dtmf": {"1": "confirm"}},
        "when": {"type": "dialogue", "say": "When should we call?",
                 "slots": [{"name": "time", "type": "time", "ask": "What time?", "reask": ["Say a time."]}],
                 "next": "bye"},
        "bye": {"type": "hangup", "say": "Thank you. Goodbye.", "disposition": "confirmed"},
    },
}


def test_every_text_a_flow_can_say_is_a_prompt_and_joined_prompts_play_from_the_cache(
    box: Any,
) -> None:
    flow = parse_flow(RICH)
    templates = flow.prompt_templates()
    assert templates[("greet", "reply.confirm")] == "Great."
    assert templates[("when", "ask.time")] == "What time?" and templates[("when", "reask.time.1")] == "Say a time."
    assert templates[("greet", "no_input.1")] == "Are you still there?"
    assert templates[("when", "barge_in")] == "Go ahead."
    assert templates[("_global", "reply.stop")] == "Understood."
    assert templates[("_kb", "answer.fee")] == "Delivery is free."
    assert ("bye", "barge_in") not in templates  # a hangup node does not listen
    source = box.prompts.for_flow(flow)
    report = source.prerender()
    texts = prompts.prerender_texts(templates.values())
    assert "Is someone home?" in texts and "Thank you. Goodbye." in texts  # a sentence, and a whole prompt
    assert report.total == len(texts)
    assert report.synthesised == report.total - 1  # the whole "Thank you. Goodbye." came from its sentences
    runs = source.tts.synth_calls
    # what the engine says after "yes": the branch reply joined to the next node's prompt
    chunks = list(source.stream("Great. Thank you. Goodbye."))
    assert len(chunks) == 3 and source.tts.synth_calls == runs
    assert source.locate("Delivery is free.") == ("_kb", "answer.fee")
    assert source.locate("Hello Ann. Is someone home?") == ("greet", "say")


def _tone(path: Path, freq: int) -> bytes:
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(path), "synth", "0.4", "sine", str(freq)],
                   check=True, capture_output=True)
    return path.read_bytes()


def test_joined_prompts_play_from_their_own_recordings(box: Any, tmp_path: Path) -> None:
    recordings = prompts.RecordedPrompts(box.paths.prompt_recordings)
    recordings.save("rich", "greet", _tone(tmp_path / "great.wav", 500), kind="reply.confirm")
    recordings.save("rich", "bye", _tone(tmp_path / "bye.wav", 1500))
    recorded = box.prompts.for_flow(parse_flow({**RICH, "broadcast": "recorded"}))
    # what the engine says after "yes": the branch's reply, then the hang-up node's prompt
    assert recorded.segments("Great. Thank you. Goodbye.") == [
        ("Great.", ("greet", "reply.confirm")), ("Thank you. Goodbye.", ("bye", "say"))]
    chunks = list(recorded.stream("Great. Thank you. Goodbye."))
    assert len(chunks) == 2 and recorded.tts.synth_calls == 0
    gap = int(0.2 * 8000) * 2
    assert chunks[1][:gap] == b"\x00" * gap and len(chunks[1]) == gap + 2 * 3200
    # a part without a recording fails before anything plays
    with pytest.raises(SpeechError, match=r"_global has no recorded reply\.stop prompt"):
        next(recorded.stream("Understood. Thank you. Goodbye."))
    mixed = box.prompts.for_flow(parse_flow({**RICH, "broadcast": "mixed"}))
    parts = list(mixed.stream("Understood. Thank you. Goodbye."))
    assert mixed.tts.synth_calls == 1  # "Understood." synthesised, the rest recorded
    assert parts[-1].endswith(chunks[1][gap:])
