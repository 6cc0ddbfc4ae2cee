"""The real box's flow administration, as the panel uses it: publish a checked flow (its prompts
rendered in the background), refuse one with problems without storing anything, try it in text."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from appliance.campaign.calls import SpeechKit
from appliance.config import Config
from appliance.flowadmin import FlowRejected
from appliance.service import Callbox
from appliance.speech.vad import Endpointer

EXAMPLE = Path(__file__).resolve().parents[2] / "flows" / "examples" / "payment-reminder.en.json"


def test_box_publishes_checks_and_tries_flows(tmp_path: Path, piper_tts: Any, pocketsphinx_engine: Any) -> None:
    kit = SpeechKit(asr=pocketsphinx_engine, tts=piper_tts, endpointer=lambda: Endpointer())
    box = Callbox(Config(state_dir=tmp_path), lines=[], speech=kit)
    try:
        document = json.loads(EXAMPLE.read_text())
        before = {f["id"] for f in box.list_flows()}
        assert document["id"] not in before  # only the built-in flow so far
        assert box.check_flow_document(document) == []
        assert box.publish_flow_document(document) == 1
        for thread in [t for t in threading.enumerate() if t.name == f"prerender-{document['id']}"]:
            thread.join(120)
        flow = box.flow_admin.flow_document(document["id"])
        assert flow is not None and flow[1] == document
        from appliance.dialog.flow.load import parse_flow

        report = box.prerender_flow(parse_flow(document))
        assert report is not None and report.total > 0 and report.rendered == 0  # all rendered on publishing

        broken = dict(document, start="nowhere")
        with pytest.raises(FlowRejected) as caught:
            box.publish_flow_document(broken)
        assert any("nowhere" in str(p) for p in caught.value.problems)
        assert box.flow_admin.configs.flow_versions(document["id"]) == [1]

        tried = box.try_flow(document["id"], variables={}, says=["", "", "", ""])
        assert tried is not None and tried["version"] == 1
        assert tried["turns"][0]["speaker"] == "bot"
        assert tried["disposition"] == "no_response"  # silence until the fallback
    finally:
        box.stop()
