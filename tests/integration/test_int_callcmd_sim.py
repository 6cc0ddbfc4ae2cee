"""`callbox sim modem --profile P --customer SCRIPT --fault F`, driven by `callbox call` and `callbox modem probe`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from appliance.campaign.calls import SpeechKit
from appliance.cli import build_parser
from appliance.cli.call import run_call_command
from appliance.sim.run import customer_from_spec, run_sim_modem
from appliance.speech.vad import Endpointer
from appliance.telephony.probe import probe_modem


@pytest.fixture(scope="module")
def kit(piper_tts: Any, pocketsphinx_engine: Any) -> SpeechKit:
    return SpeechKit(asr=pocketsphinx_engine, tts=piper_tts, endpointer=lambda: Endpointer(silence_timeout_ms=2500))


@pytest.fixture
def sim_cli() -> Iterator[Callable[..., dict[str, str]]]:
    runs: list[tuple[threading.Event, threading.Thread]] = []

    def start(*args: str) -> dict[str, str]:
        stop, ready = threading.Event(), threading.Event()
        ports: dict[str, str] = {}

        def on_ready(p: dict[str, str]) -> None:
            ports.update(p)
            ready.set()

        thread = threading.Thread(
            target=run_sim_modem, args=(["--ring-ms", "200", *args],), kwargs={"stop": stop, "on_ready": on_ready},
            name="test-sim-cli", daemon=True,
        )  # fmt: skip
        thread.start()
        runs.append((stop, thread))
        assert ready.wait(5)
        return ports

    yield start
    for stop, thread in runs:
        stop.set()
        thread.join(5)
        assert not thread.is_alive()


def call(kit: SpeechKit, capsys: pytest.CaptureFixture[str], ports: dict[str, str], number: str) -> dict[str, Any]:
    capsys.readouterr()
    opts = build_parser().parse_args([
        "call", number, "--profile", ports["profile"], "--at-port", ports["at_port"], "--audio", ports["audio"],
        "--json", "--ring-timeout", "3", "--max-call", "30",
    ])  # fmt: skip
    run_call_command(opts, speech=kit)
    lines = capsys.readouterr().out.splitlines()  # the sim's own notices share stdout
    start = lines.index("{")
    result: dict[str, Any] = json.loads("\n".join(lines[start : lines.index("}", start) + 1]))
    return result


def test_int_callcmd_sim_prints_ports_and_serves_a_busy_customer(sim_cli, kit, capsys):
    ports = sim_cli("--profile", "simcom-sim7600", "--customer", "busy", "--json")
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["at_port"] == ports["at_port"] and printed["audio"].startswith("serial:")
    assert probe_modem(ports["at_port"], timeout=1.0).profile == "simcom-sim7600"
    record = call(kit, capsys, ports, "5550100")
    assert record["outcome"] == "busy" and record["turns"] == []


def test_int_callcmd_sim_registration_lost_fault(sim_cli, kit, capsys):
    ports = sim_cli("--fault", "registration_lost")
    result = probe_modem(ports["at_port"], timeout=1.0)
    assert result.registration == "searching" and not result.registered
    opts = build_parser().parse_args([
        "call", "5550100", "--profile", "huawei-e1550", "--at-port", ports["at_port"], "--audio", ports["audio"],
    ])  # fmt: skip
    with pytest.raises(Exception, match="not registered"):
        run_call_command(opts, speech=kit)


def test_int_callcmd_sim_unplug_fault_interrupts_then_the_modem_returns(sim_cli, kit, capsys):
    ports = sim_cli("--customer", "silent", "--fault", "unplug")
    record = call(kit, capsys, ports, "5550100")
    assert record["outcome"] == "interrupted" and record["fault"]
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        try:
            if probe_modem(ports["at_port"], timeout=0.5).responding:
                break
        except Exception:
            time.sleep(0.2)
    else:
        pytest.fail("the simulated modem did not come back on the same path")


def test_int_callcmd_sim_customer_script_file(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"behaviour": "answer", "replies": ["yes.wav"], "ring_ms": 50}))
    script = customer_from_spec(str(tmp_path / "c.json"))
    assert script.behaviour == "answer" and script.replies == [tmp_path / "yes.wav"] and script.ring_ms == 50
    assert customer_from_spec("busy").behaviour == "busy"
    (tmp_path / "bad.json").write_text(json.dumps({"behavior": "answer"}))
    with pytest.raises(ValueError, match="unknown keys"):
        customer_from_spec(str(tmp_path / "bad.json"))
    with pytest.raises(ValueError, match="not a behaviour"):
        customer_from_spec("grumpy")


def test_int_callcmd_sim_cli_runs_a_modem_and_cleans_up_on_sigterm(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "appliance.cli", "sim", "modem", "--profile", "sim800", "--json", "--fault", "garbage"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        ports = json.loads(proc.stdout.readline())
        assert ports["profile"] == "sim800" and ports["audio"].startswith("fifo:")
        assert ports["faults"] == ["garbage bytes sent on the AT port"]
        result = probe_modem(ports["at_port"], timeout=1.0)
        assert result.profile == "sim800" and result.model == "SIMCOM_SIM800C"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
    assert not os.path.exists(ports["at_port"])  # links and ptys gone


@pytest.mark.parametrize(("customer", "outcome", "why"), [
    ("voicemail", "machine", "a greeting of"),
    ("sit", "invalid_number", "special-information tones"),
    ("announcement", "machine", "a greeting of"),  # PocketSphinx does not hear the words: retried, not lost
])
def test_int_callcmd_sim_machines_and_the_network_answer(sim_cli, kit, capsys, customer, outcome, why):
    ports = sim_cli("--customer", customer)
    rec = call(kit, capsys, ports, "+15550400000")
    assert rec["outcome"] == outcome, rec
    assert rec["answered_by"] == outcome and rec["screen_why"].startswith(why)
    assert 0 < rec["screen_ms"] <= 6000
    assert not [t for t in rec["turns"] if t["speaker"] == "bot"]  # the bot said nothing


def test_int_callcmd_sim_a_person_is_answered_by_the_bot(sim_cli, kit, capsys):
    ports = sim_cli("--customer", "answer")
    rec = call(kit, capsys, ports, "+15550400000")
    assert rec["answered_by"] == "human" and rec["outcome"] == "completed", rec
