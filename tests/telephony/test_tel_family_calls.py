"""Every modem family, through its simulated modem: a call with audio both ways and a recognised
reply, a clean hang-up, and the busy / no answer / reject / mid-call hang-up outcomes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from tel_helpers import wait_until

from appliance.events import DialOutcome
from appliance.sim.customer import CustomerScript, frame_rms
from appliance.sim.families import SimulatedSim7600, simulated_modem
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.speech.asr.sphinx import PocketSphinxEngine
from appliance.telephony.line import ActiveCall, Line, LineState
from appliance.telephony.modem import Modem, ModemTimeouts
from appliance.telephony.profile import load_profile

FAMILIES = ["simcom-sim7600", "quectel-ec25", "quectel-ec25-tty", "sim800", "huawei-e1550"]
FAST = ModemTimeouts(command=2.0, dial_ack=2.0, hangup=1.0, audio_start=2.0, release_settle=0.3)
GRAMMAR = ["yes", "yes that's fine", "that's fine", "fine", "no", "call me tomorrow", "hello"]
BEHAVIOUR = {"1": "busy", "2": "no_answer", "3": "reject", "5": "hangup_mid_sentence"}


def bot_prompt(ms: int = 700) -> bytes:
    """What the bot says: a 1 kHz burst, easy to find again in what the customer heard."""
    t = np.arange(8 * ms) / 8000
    return (np.sin(2 * np.pi * 1000 * t) * 9000).astype("<i2").tobytes()


def energy_at(pcm: bytes, freq: float) -> float:
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    k = round(freq * x.size / 8000)
    return float(spectrum[k - 3 : k + 4].sum() / max(spectrum.sum(), 1.0))


class Family:
    def __init__(self, profile: str, voices: Path) -> None:
        self.profile = load_profile(profile)
        confirm = voices / "en_confirm_2.wav"  # "yes, that's fine"

        def directory(number: str) -> CustomerScript:
            return CustomerScript(BEHAVIOUR.get(number[-1], "answer"), replies=[confirm],
                                  max_call_s=20, prompt_end_ms=200, reply_gap_ms=100)

        kw: dict[str, object] = {"ring_ms": 150}
        self.sim = simulated_modem(profile, directory, **kw)
        self.sim.start()
        self.line = Line(profile, Modem(self.profile, self.sim.at_port, self.sim.audio_port, timeouts=FAST))
        assert self.line.start() is LineState.READY, self.line.fault_reason

    def close(self) -> None:
        self.line.stop()
        self.sim.stop()


@pytest.fixture
def family(request: pytest.FixtureRequest, voices_dir: Path) -> Iterator[Callable[[str], Family]]:
    made: list[Family] = []

    def make(profile: str) -> Family:
        f = Family(profile, voices_dir)
        made.append(f)
        return f

    yield make
    for f in made:
        f.close()


def listen(call: ActiveCall, *, until_quiet_ms: int, within_s: float) -> bytes:
    """Inbound audio from the first voiced frame until ``until_quiet_ms`` of quiet (or the time is up)."""
    heard = bytearray()
    quiet = 0
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline and not call.ended.is_set():
        frame = call.audio.read_frame(0.2)
        if frame is None:
            continue
        voiced = frame_rms(frame) > 300
        if not heard and not voiced:
            continue
        heard += frame
        quiet = 0 if voiced else quiet + 20
        if quiet >= until_quiet_ms:
            break
    return bytes(heard)


@pytest.mark.parametrize("profile", FAMILIES)
def test_tel_family_call_with_audio_both_ways_and_recognised_reply(
    family: Callable[[str], Family], pocketsphinx_engine: PocketSphinxEngine, profile: str
) -> None:
    f = family(profile)
    result, call = f.line.place_call("5550", ring_timeout=5)
    assert result.outcome is DialOutcome.ANSWERED and call is not None, result
    assert f.line.state is LineState.IN_CALL
    assert call.audio.device_rate == f.profile.audio.rate
    call.audio.play(bot_prompt(400))
    assert call.audio.wait_played(3)
    reply = listen(call, until_quiet_ms=600, within_s=6)
    session = pocketsphinx_engine.open_session(GRAMMAR)
    for i in range(0, len(reply) - 319, 320):
        session.accept(reply[i : i + 320])
    heard = session.finish()
    assert {"yes", "fine"} <= set(heard.text.split()), heard.text
    record = f.sim.calls[-1]
    call.hangup()
    assert call.ended.is_set() and call.ended_by == "bot"
    assert f.line.state is LineState.READY and not f.line.modem.in_call
    assert record.ended.wait(2) and record.ended_by == "bot"
    assert record.said == ["en_confirm_2"]
    assert energy_at(bytes(record.heard), 1000) > 0.3  # the customer heard the bot's prompt
    # the line is usable again at once
    again, call2 = f.line.place_call("5551", ring_timeout=3)
    assert again.outcome is DialOutcome.BUSY and call2 is None


@pytest.mark.parametrize("profile", [f for f in FAMILIES if f != "quectel-ec25-tty"])  # same dialect as ec25
def test_tel_family_outcomes_busy_no_answer_reject_mid_call_hangup(
    family: Callable[[str], Family], profile: str
) -> None:
    f = family(profile)
    busy, _ = f.line.place_call("5551", ring_timeout=3)
    assert busy.outcome is DialOutcome.BUSY, busy
    started = time.monotonic()
    unanswered, _ = f.line.place_call("5552", ring_timeout=0.6)
    assert unanswered.outcome is DialOutcome.NO_ANSWER and time.monotonic() - started < 2.5, unanswered
    assert f.sim.calls[-1].ended.wait(2) and f.sim.calls[-1].ended_by == "bot"
    rejected, _ = f.line.place_call("5553", ring_timeout=3)
    assert rejected.outcome is DialOutcome.REJECTED, rejected
    assert f.line.state is LineState.READY
    result, call = f.line.place_call("5555", ring_timeout=3)
    assert result.outcome is DialOutcome.ANSWERED and call is not None
    call.audio.play(bot_prompt(300))
    assert call.ended.wait(8), "the customer should have hung up mid-sentence"
    assert call.ended_by == "remote" and not call.interrupted
    wait_until(lambda: f.line.state is LineState.READY, 2.0, "the line ready again")
    assert f.sim.calls[-1].ended_by == "customer"


def test_tel_family_sim7600_retries_cpcmreg_and_runs_16k(voices_dir: Path) -> None:
    sim = SimulatedSim7600(lambda n: CustomerScript("silent", max_call_s=10), ring_ms=100, pcm_refuse_ms=500)
    sim.start()
    modem = Modem(load_profile("simcom-sim7600"), sim.at_port, sim.audio_port, timeouts=FAST)
    try:
        modem.open()
        assert sim.rate == 16000
        assert modem.dial("5550", ring_timeout=3).outcome is DialOutcome.ANSWERED
        started = time.monotonic()
        pump = modem.start_audio()
        assert sim.pcm_refused >= 2 and time.monotonic() - started >= 0.4
        assert pump.device_frame_bytes == 640
        frame = pump.read_frame(1.0)
        assert frame is not None and len(frame) == 320
        pump.stop()
        modem.hangup()  # audio off first, then the hang-up
        assert sim.commands[-1] == "AT+CPCMREG=0"
        assert sim.calls[-1].ended.wait(2)
    finally:
        modem.close()
        sim.stop()


def test_tel_family_sims_identify_themselves() -> None:
    from appliance.telephony.at import AtChannel

    for profile, maker in (("simcom-sim7600", "SIMCOM INCORPORATED"), ("quectel-ec25", "Quectel"),
                           ("sim800", "SIMCOM_Ltd")):
        sim: SimulatedHuaweiModem = simulated_modem(profile, lambda n: CustomerScript())
        sim.start()
        channel = AtChannel(sim.at_port, default_timeout=1.0)
        channel.open()
        try:
            assert channel.command("AT+CGMI") == [maker]
            assert channel.command("AT+CPIN?") == ["+CPIN: READY"]
        finally:
            channel.close()
            sim.stop()
