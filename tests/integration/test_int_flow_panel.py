"""The real box's flow administration, as the panel uses it: publish a checked flow (its prompts
rendered in the background), refuse one with problems without storing anything, try it in text."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from appliance.box import Callbox
from appliance.campaign.calls import SpeechKit
from appliance.config import Config, ShopConfig
from appliance.errors import FlowRejected
from appliance.speech.vad import Endpointer

EXAMPLE = Path(__file__).resolve().parents[2] / "flows" / "examples" / "payment-reminder.en.json"


def test_box_publishes_checks_and_tries_flows(tmp_path: Path, piper_tts: Any, pocketsphinx_engine: Any) -> None:
    kit = SpeechKit(asr=pocketsphinx_engine, tts=piper_tts, endpointer=lambda: Endpointer())
    box = Callbox(Config(state_dir=tmp_path), lines=[], speech=kit)
    try:
        document = json.loads(EXAMPLE.read_text())
        before = {f["id"] for f in box.panel.flows.list_flows()}
        assert document["id"] not in before  # only the built-in flow so far
        assert box.panel.flows.check_document(document) == []
        assert box.panel.flows.publish_document(document) == 1
        assert box.flows.wait_idle(120)  # the box's one prerender thread rendered it
        flow = box.panel.flows.flow_document(document["id"])
        assert flow is not None and flow[1] == document
        from appliance.dialog.flow.load import parse_flow

        report = box.flows.prerender_flow(parse_flow(document))
        assert report is not None and report.total > 0 and report.rendered == 0  # all rendered on publishing

        broken = dict(document, start="nowhere")
        with pytest.raises(FlowRejected) as caught:
            box.panel.flows.publish_document(broken)
        assert any("nowhere" in str(p) for p in caught.value.problems)
        assert box.panel.flows.configs.flow_versions(document["id"]) == [1]

        tried = box.panel.flows.try_flow(document["id"], variables={}, says=["", "", "", ""])
        assert tried is not None and tried["version"] == 1
        assert tried["turns"][0]["speaker"] == "bot"
        assert tried["disposition"] == "no_response"  # silence until the fallback
    finally:
        box.stop()


def test_publishing_renders_on_one_thread_that_the_box_joins(tmp_path: Path, piper_tts: Any,
                                                             pocketsphinx_engine: Any) -> None:
    """Two publishes from the panel share the box's one prerender thread; stopping the box joins it."""
    kit = SpeechKit(asr=pocketsphinx_engine, tts=piper_tts, endpointer=lambda: Endpointer())
    box = Callbox(Config(state_dir=tmp_path), lines=[], speech=kit)
    document = json.loads(EXAMPLE.read_text())
    try:
        assert box.panel.flows.publish_document(document) == 1
        assert box.panel.flows.publish_document(dict(document, name="Payment reminder, second draft")) == 2
        renderers = [t for t in threading.enumerate() if t.name == "prerender"]
        assert len(renderers) == 1
    finally:
        box.stop()
    assert not renderers[0].is_alive()


def test_the_box_calls_in_the_configured_shop_name(tmp_path: Path, piper_tts: Any, pocketsphinx_engine: Any) -> None:
    kit = SpeechKit(asr=pocketsphinx_engine, tts=piper_tts, endpointer=lambda: Endpointer())
    config = Config(state_dir=tmp_path, shop=ShopConfig(name="Ann's Bikes"))
    box = Callbox(config, lines=[], speech=kit)
    try:
        assert box.shop_name == box.runner.shop_name == "Ann's Bikes"  # [shop] name, spoken as {shop}
    finally:
        box.stop()
    box = Callbox(config, lines=[], speech=kit, shop_name="Corner Shop")  # a caller's own name wins
    try:
        assert box.runner.shop_name == "Corner Shop"
    finally:
        box.stop()
