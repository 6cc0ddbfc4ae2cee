"""`callbox call ... --json` against the simulated modem, with real piper and PocketSphinx."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.campaign.calls import SpeechKit
from appliance.cli import build_parser, main
from appliance.cli.call import parse_vars, run_call_command
from appliance.errors import ConfigError
from appliance.sim.customer import CustomerScript
from appliance.sim.faults import PluggableModem, SimFaults
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.speech.vad import Endpointer

VOICES = Path(__file__).resolve().parents[2] / "appliance" / "sim" / "voices"
CUSTOMERS = {
    "+15550200001": CustomerScript(
        "answer", replies=[VOICES / "en_confirm.wav"], greeting=VOICES / "en_hello.wav", max_call_s=60
    ),
    "+15550200003": CustomerScript("busy"),
    "+15550200004": CustomerScript("silent", greeting=VOICES / "en_hello.wav", max_call_s=60),
}


@pytest.fixture
def sim() -> Iterator[SimulatedHuaweiModem]:
    directory = lambda n: CUSTOMERS.get(n, CustomerScript("no_answer"))  # noqa: E731
    modem = SimulatedHuaweiModem(directory, ring_ms=300, faults=SimFaults())
    modem.start()
    yield modem
    modem.stop()


@pytest.fixture(scope="module")
def kit(piper_tts: Any, pocketsphinx_engine: Any) -> SpeechKit:
    return SpeechKit(
        asr=pocketsphinx_engine,
        tts=piper_tts,
        endpointer=lambda: Endpointer(end_silence_ms=700, silence_timeout_ms=2500),
    )


def call_json(capsys: pytest.CaptureFixture[str], kit: SpeechKit, *args: str) -> tuple[int, dict[str, Any]]:
    opts = build_parser().parse_args(["call", *args, "--json", "--ring-timeout", "3", "--max-call", "40"])
    code = run_call_command(opts, speech=kit)
    return code, json.loads(capsys.readouterr().out)


def test_int_callcmd_answered_call_runs_the_delivery_flow(sim, kit, capsys, tmp_path):
    wav = tmp_path / "call.wav"
    code, record = call_json(
        capsys, kit, "+15550200001", "--profile", "huawei-e1550", "--at-port", sim.at_port,
        "--audio", f"serial:{sim.audio_port}", "--var", "order_id=A-7731", "--var", "name=Ann",
        "--recording", str(wav),
    )  # fmt: skip
    assert code == 0
    assert record["outcome"] == "completed" and record["disposition"] == "confirmed"
    assert record["flow"] == "delivery-confirmation" and record["ended_by"] == "bot"
    turns = record["turns"]
    assert turns[0]["speaker"] == "customer" and turns[0]["node"] == "answer"  # the callee's hello first
    assert any(t["speaker"] == "bot" and "A-7731" in t["text"] for t in turns)
    said = [t for t in turns if t["speaker"] == "customer" and t["node"] != "answer"]
    assert said and said[0]["intent"] == "confirm"
    assert 0.2 < record["dial_s"] < 3.0 and record["talk_s"] > 1.0
    assert record["total_s"] >= record["dial_s"] + record["talk_s"] - 0.01
    assert record["recording"] == str(wav) and wav.stat().st_size > 8000
    assert record["line_state"]["state"] == "ready" and record["line_state"]["health"]["sim"] == "READY"
    assert sim.calls[-1].said == ["en_hello", "en_confirm"]


def test_int_callcmd_busy_through_the_cli(sim, capsys, monkeypatch, kit):
    import appliance.box as box

    monkeypatch.setattr(box, "build_speech", lambda config: kit)  # models already loaded
    code = main(["call", "+15550200003", "--profile", "huawei-e1550", "--at-port", sim.at_port,
                 "--audio", f"serial:{sim.audio_port}", "--json", "--ring-timeout", "3"])  # fmt: skip
    record = json.loads(capsys.readouterr().out)
    assert code == 1
    assert record["outcome"] == "busy" and record["cause"] == 17 and record["turns"] == []
    assert record["disposition"] is None and record["talk_s"] == 0.0


def test_int_callcmd_line_fails_mid_call_is_interrupted_with_cause(kit, capsys):
    faults = SimFaults()
    modem = SimulatedHuaweiModem(lambda n: CUSTOMERS["+15550200004"], ring_ms=200, faults=faults)
    modem.start()
    plug = PluggableModem(modem)
    try:
        threading.Timer(2.0, plug.unplug).start()
        started = time.monotonic()
        code, record = call_json(
            capsys, kit, "+15550200004", "--profile", "huawei-e1550", "--at-port", plug.at_port,
            "--audio", f"serial:{plug.audio_port}",
        )  # fmt: skip
        assert time.monotonic() - started < 10
    finally:
        modem.stop()
        plug.close()
    assert code == 1
    assert record["outcome"] == "interrupted" and record["ended_by"] == "port"
    assert "failed" in record["fault"] or "closed" in record["fault"]
    assert record["line_state"]["faults"] >= 1


def test_int_callcmd_one_way_audio_ends_in_bounded_time(sim, kit, capsys):
    sim.faults.uplink_muted = True  # the box hears nothing at all, not even silence
    started = time.monotonic()
    code, record = call_json(
        capsys, kit, "+15550200004", "--profile", "huawei-e1550", "--at-port", sim.at_port,
        "--audio", f"serial:{sim.audio_port}",
    )  # fmt: skip
    took = time.monotonic() - started
    # the modem is the audio clock: no frames from it for 5 s ends the call, recorded as interrupted
    assert code == 1 and record["outcome"] == "interrupted" and record["ended_by"] == "stall"
    assert record["fault"] == "no audio from the modem for 5 s" and record["disposition"] is None
    assert 5.0 < took < 12, took
    assert record["line_state"]["state"] == "ready"  # the line itself is fine
    assert not [t for t in record["turns"] if t["speaker"] == "customer" and t["text"]]


def test_int_callcmd_rejects_bad_arguments(sim, kit):
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_vars(["novalue"])
    opts = build_parser().parse_args(
        ["call", "1", "--profile", "huawei-e1550", "--at-port", sim.at_port, "--audio", "/dev/ttyUSB1"]
    )
    with pytest.raises(ConfigError, match="serial:PATH"):
        run_call_command(opts, speech=kit)
