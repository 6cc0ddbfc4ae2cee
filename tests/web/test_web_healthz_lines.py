"""/healthz on a real box says each line's state and how many can call, and is not ok (HTTP 503) when none can:
a simulated modem that opens, beside a modem that is not plugged in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from appliance.box import Callbox, build_line
from appliance.campaign.calls import SpeechKit
from appliance.config import Config, LineConfig
from appliance.sim.customer import CustomerScript
from appliance.sim.huawei import SimulatedHuaweiModem
from web import create_app


def health(box: Callbox) -> tuple[int, Any]:
    response = create_app(box.panel, test_config={"TESTING": True}).test_client().get("/healthz")
    return response.status_code, response.get_json()


def test_healthz_names_ready_and_faulted_lines(tmp_path: Path, pocketsphinx_engine: object) -> None:
    sim = SimulatedHuaweiModem(lambda n: CustomerScript("busy"))
    sim.start()
    gone = str(tmp_path / "ttyUSB-gone")
    kit = SpeechKit(asr=pocketsphinx_engine, tts=None, endpointer=lambda: None)  # type: ignore[arg-type]
    box = Callbox(Config(state_dir=tmp_path / "state"), speech=kit,
                  lines=[build_line(LineConfig("sim0", sim.at_port, sim.audio_port)),
                         build_line(LineConfig("gone", gone, gone))])
    try:
        box.start()
        status, body = health(box)
        assert status == 200 and body["ok"] is True
        assert body["lines"] == {"sim0": "ready", "gone": "faulted"} and body["ready_lines"] == 1
        assert body["recordings"]["ok"] is True  # kept
    finally:
        box.stop()
        sim.stop()


def test_healthz_is_503_while_the_only_line_is_faulted(tmp_path: Path, pocketsphinx_engine: object) -> None:
    gone = str(tmp_path / "ttyUSB-gone")
    kit = SpeechKit(asr=pocketsphinx_engine, tts=None, endpointer=lambda: None)  # type: ignore[arg-type]
    box = Callbox(Config(state_dir=tmp_path / "state"), speech=kit, lines=[build_line(LineConfig("only", gone, gone))])
    try:
        box.start()
        status, body = health(box)
        assert status == 503 and body["ok"] is False
        assert body["lines"] == {"only": "faulted"} and body["ready_lines"] == 0
        assert "recordings" in body
    finally:
        box.stop()
