"""Networks that report a call active at ringback: with ``confirm_answer_by_speech`` the box
counts the call answered only once it hears a voice, and gives up when none comes."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from appliance.events import DialOutcome
from appliance.sim.customer import CustomerScript, frame_rms
from appliance.sim.families import simulated_modem
from appliance.telephony.modem import Modem, ModemTimeouts
from appliance.telephony.profile import load_profile

FAST = ModemTimeouts(command=2.0, dial_ack=2.0, hangup=1.0, audio_start=2.0)


@pytest.mark.parametrize("profile", ["simcom-sim7600", "quectel-ec25"])
def test_tel_family_early_answer_is_confirmed_by_the_callees_voice(profile: str, voices_dir: Path) -> None:
    script = CustomerScript("answer", greeting=voices_dir / "en_hello.wav", greeting_delay_ms=100, max_call_s=20)
    sim = simulated_modem(profile, lambda n: script, ring_ms=100)
    sim.faults.early_answer_ms = 900  # active reported at ringback, pick-up 0.9 s later
    sim.start()
    confirming = dataclasses.replace(load_profile(profile), confirm_answer_by_speech=True, answer_confirm_s=4.0)
    modem = Modem(confirming, sim.at_port, sim.audio_port, timeouts=FAST)
    try:
        modem.open()
        started = time.monotonic()
        result = modem.dial("5550", ring_timeout=6)
        took = time.monotonic() - started
        assert result.outcome is DialOutcome.ANSWERED and "speech heard" in result.detail, result
        assert took >= 0.9 + 0.1  # not at the early "active", only after the pick-up and a word
        pump = modem.start_audio()  # the pump that listened goes on, with what it heard kept
        voiced = 0
        for _ in range(120):
            frame = pump.read_frame(0.5)
            voiced += frame is not None and frame_rms(frame) > 300
        assert voiced >= 10  # the greeting is still there for the conversation
        pump.stop()
        modem.hangup()
        assert sim.calls[-1].ended.wait(2) and sim.calls[-1].ended_by == "bot"
    finally:
        modem.close()
        sim.stop()


def test_tel_family_early_answer_without_a_voice_is_no_answer(voices_dir: Path) -> None:
    def directory(number: str) -> CustomerScript:
        if number.endswith("0"):
            return CustomerScript("silent", max_call_s=20)
        return CustomerScript("answer", greeting=voices_dir / "en_hello.wav", greeting_delay_ms=100, max_call_s=20)

    sim = simulated_modem("simcom-sim7600", directory, ring_ms=100)
    sim.faults.early_answer_ms = 300
    sim.start()
    confirming = dataclasses.replace(load_profile("simcom-sim7600"), confirm_answer_by_speech=True,
                                     answer_confirm_s=1.2)
    modem = Modem(confirming, sim.at_port, sim.audio_port, timeouts=FAST)
    try:
        modem.open()
        started = time.monotonic()
        result = modem.dial("5550", ring_timeout=6)
        assert result.outcome is DialOutcome.NO_ANSWER and "no voice" in result.detail, result
        assert 1.2 <= time.monotonic() - started < 3.0
        assert sim.calls[-1].ended.wait(2) and sim.calls[-1].ended_by == "bot"
        # the next call on the same modem starts clean, and a customer who speaks is answered
        assert modem.dial("5551", ring_timeout=4).outcome is DialOutcome.ANSWERED
        modem.hangup()
    finally:
        modem.close()
        sim.stop()
