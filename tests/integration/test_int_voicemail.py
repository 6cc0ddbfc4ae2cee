"""A flow's voicemail node on real calls: `callbox call --flow` over a simulated modem (pty) whose callee is a
voicemail (greeting, beep, then it records). With the node, the bot waits for the beep, leaves the message with
the call's variables filled in and hangs up: outcome ``machine``, disposition ``voicemail_left``, the message in
the transcript and on the bot's side of the recording, after the mailbox's beep. Without it, nothing is said."""

from __future__ import annotations

import copy
import json
import threading
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from appliance.campaign.calls import SpeechKit
from appliance.cli import build_parser
from appliance.cli.call import run_call_command
from appliance.dialog.flow.load import builtin_flow_path
from appliance.sim.run import run_sim_modem
from appliance.speech.vad import Endpointer

MESSAGE = "Hello {name}, this is the shop about order {order_id}. Please call us back."


@pytest.fixture(scope="module")
def kit(piper_tts: Any, pocketsphinx_engine: Any) -> SpeechKit:
    return SpeechKit(asr=pocketsphinx_engine, tts=piper_tts, endpointer=lambda: Endpointer(silence_timeout_ms=2500))


@pytest.fixture
def voicemail_modem() -> Iterator[dict[str, str]]:
    stop, ready = threading.Event(), threading.Event()
    ports: dict[str, str] = {}

    def on_ready(p: dict[str, str]) -> None:
        ports.update(p)
        ready.set()

    thread = threading.Thread(target=run_sim_modem, args=(["--ring-ms", "200", "--customer", "voicemail"],),
                              kwargs={"stop": stop, "on_ready": on_ready}, name="test-sim-voicemail", daemon=True)
    thread.start()
    assert ready.wait(5)
    yield ports
    stop.set()
    thread.join(5)
    assert not thread.is_alive()


def flow_file(tmp_path: Path, voicemail: bool) -> Path:
    doc = json.loads(builtin_flow_path("delivery-confirmation.en").read_text(encoding="utf-8"))
    doc = copy.deepcopy(doc)
    if voicemail:
        doc["nodes"]["leave_message"] = {"type": "voicemail", "say": MESSAGE}
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def call(kit: SpeechKit, capsys: pytest.CaptureFixture[str], ports: dict[str, str], flow: Path,
         recording: Path) -> dict[str, Any]:
    capsys.readouterr()
    opts = build_parser().parse_args([
        "call", "+15550400007", "--profile", ports["profile"], "--at-port", ports["at_port"], "--audio",
        ports["audio"], "--json", "--ring-timeout", "3", "--max-call", "40", "--flow", str(flow),
        "--var", "name=Ann", "--var", "order_id=A-7731", "--var", "shop=Corner Shop", "--recording", str(recording),
    ])  # fmt: skip
    run_call_command(opts, speech=kit)
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("{")
    result: dict[str, Any] = json.loads("\n".join(lines[start : lines.index("}", start) + 1]))
    return result


def voiced_seconds(path: Path) -> tuple[list[float], list[float]]:
    """The times (s) of the voiced 20 ms frames of the customer's (left) and the bot's (right) channel."""
    with wave.open(str(path), "rb") as w:
        stereo = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2).astype(np.float64)
    out: list[list[float]] = [[], []]
    for ch in (0, 1):
        x = stereo[: len(stereo) // 160 * 160, ch].reshape(-1, 160)
        rms = np.sqrt((x**2).mean(axis=1))
        out[ch] = [i * 0.02 for i in np.flatnonzero(rms > 300)]
    return out[0], out[1]


def test_a_flow_with_a_voicemail_node_leaves_its_message_after_the_beep(voicemail_modem, kit, capsys, tmp_path):
    rec = call(kit, capsys, voicemail_modem, flow_file(tmp_path, voicemail=True), tmp_path / "call.wav")
    assert rec["outcome"] == "machine" and rec["answered_by"] == "machine", rec
    assert rec["disposition"] == "voicemail_left"
    bot = [t for t in rec["turns"] if t["speaker"] == "bot"]
    assert [(t["node"], t["text"]) for t in bot] == [
        ("leave_message", "Hello Ann, this is the shop about order A-7731. Please call us back.")]
    assert rec["ended_by"] == "bot"  # the bot hung up after its message
    customer, spoken = voiced_seconds(Path(rec["recording"]))
    assert len(spoken) * 0.02 >= 2.0  # the message was played on the line
    assert spoken[0] >= customer[-1] - 0.1, (spoken[0], customer[-1])  # after the greeting and its beep


def test_a_flow_without_one_leaves_nothing(voicemail_modem, kit, capsys, tmp_path):
    rec = call(kit, capsys, voicemail_modem, flow_file(tmp_path, voicemail=False), tmp_path / "call.wav")
    assert rec["outcome"] == "machine" and rec["disposition"] is None
    assert not [t for t in rec["turns"] if t["speaker"] == "bot"]
    _, spoken = voiced_seconds(Path(rec["recording"]))
    assert spoken == []  # not a word on the line
