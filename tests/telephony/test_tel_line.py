"""Line state machine and calls on a line, against the simulated modem."""

from __future__ import annotations

import threading
import time

import pytest
from tel_helpers import wait_until

from appliance.events import DialOutcome
from appliance.sim.customer import CustomerScript, frame_rms
from appliance.telephony.line import TRANSITIONS, IllegalTransition, Line, LineNotReady, LineState, next_state
from appliance.telephony.modem import Modem, ModemTimeouts

FAST = ModemTimeouts(command=2.0, dial_ack=2.0, hangup=1.0)


def make_line(sim, profile, name="l1") -> Line:
    return Line(name, Modem(profile, sim.at_port, sim.audio_port, timeouts=FAST))


def test_tel_line_table_rejects_illegal_transitions():
    assert next_state(LineState.ABSENT, "start") is LineState.INITIALISING
    assert next_state(LineState.IN_CALL, "call_ended") is LineState.READY
    with pytest.raises(IllegalTransition):
        next_state(LineState.ABSENT, "dial")
    with pytest.raises(IllegalTransition):
        next_state(LineState.IN_CALL, "dial")
    # every state can be stopped, and nothing leaves faulted except start/stop
    assert all((s, "stop") in TRANSITIONS for s in LineState)
    assert {e for (s, e) in TRANSITIONS if s is LineState.FAULTED} == {"start", "stop"}


def test_tel_line_cannot_dial_before_start(make_sim, huawei_profile):
    line = make_line(make_sim(), huawei_profile)
    with pytest.raises(IllegalTransition):
        line.place_call("5550", ring_timeout=1)
    assert line.state is LineState.ABSENT


def test_tel_line_start_faulted_with_reason(make_sim, huawei_profile):
    sim = make_sim(voice_enabled=False)
    line = make_line(sim, huawei_profile)
    assert line.start() is LineState.FAULTED
    assert line.fault_reason and "no voice" in line.fault_reason
    sim.voice_enabled = True
    assert line.start() is LineState.READY  # faulted -> initialising -> ready
    line.stop()
    assert line.state is LineState.ABSENT


def test_tel_line_busy_returns_to_ready(make_sim, huawei_profile):
    line = make_line(make_sim(lambda n: CustomerScript("busy")), huawei_profile)
    assert line.start() is LineState.READY
    result, call = line.place_call("5551", ring_timeout=2)
    assert result.outcome is DialOutcome.BUSY and call is None
    assert line.state is LineState.READY
    line.stop()


def test_tel_line_conversation_with_replies_then_bot_hangs_up(make_sim, huawei_profile, reply_wavs, tone):
    script = CustomerScript("answer", replies=reply_wavs, prompt_end_ms=200, reply_gap_ms=100)
    sim = make_sim(lambda n: script)
    line = make_line(sim, huawei_profile)
    line.start()
    result, call = line.place_call("5550", ring_timeout=2)
    assert result.outcome is DialOutcome.ANSWERED and call is not None
    assert line.state is LineState.IN_CALL
    try:
        voiced_per_turn = []
        for _ in range(2):
            call.audio.play(tone(300, 300.0))
            assert call.audio.wait_played(2)
            voiced, deadline = 0, time.monotonic() + 2.0
            while time.monotonic() < deadline:
                frame = call.audio.read_frame(0.2)
                if frame is None:
                    continue
                if frame_rms(frame) > 1000:
                    voiced += 1
                elif voiced:
                    break  # the reply ended
            voiced_per_turn.append(voiced)
    finally:
        call.hangup()
    assert call.ended.is_set() and not call.interrupted and call.ended_by == "bot"
    assert line.state is LineState.READY
    # yes.wav is 400 ms (20 frames), tomorrow.wav 600 ms (30 frames), resampled to 8 kHz
    assert 18 <= voiced_per_turn[0] <= 21 and 28 <= voiced_per_turn[1] <= 31, voiced_per_turn
    record = sim.calls[-1]
    assert record.ended.wait(1)
    assert record.said == ["yes", "tomorrow"] and record.result == "answered" and record.ended_by == "bot"
    line.stop()


def test_tel_line_customer_hangs_up_mid_sentence(make_sim, huawei_profile, reply_wavs, tone):
    script = CustomerScript("hangup_mid_sentence", replies=reply_wavs, prompt_end_ms=200, reply_gap_ms=100)
    sim = make_sim(lambda n: script)
    line = make_line(sim, huawei_profile)
    line.start()
    _, call = line.place_call("5555", ring_timeout=2)
    assert call is not None
    call.audio.play(tone(300, 300.0))
    assert call.ended.wait(3)
    assert call.ended_by == "remote" and call.end_cause == 16 and not call.interrupted
    assert sim.calls[-1].said == ["yes"] and sim.calls[-1].ended_by == "customer"
    wait_until(lambda: line.state is LineState.READY, 1.0, "the line ready again")
    call.hangup()  # idempotent after a remote end
    line.stop()


def test_tel_line_port_disappears_mid_call_interrupts(make_sim, huawei_profile):
    sim = make_sim(lambda n: CustomerScript("silent"))
    line = make_line(sim, huawei_profile)
    line.start()
    _, call = line.place_call("5550", ring_timeout=2)
    assert call is not None
    assert call.audio.read_frame(1.0) is not None  # audio flows before the unplug
    started = time.monotonic()
    sim.unplug()
    assert call.ended.wait(2)
    assert time.monotonic() - started < 1.0
    assert call.interrupted and call.ended_by == "port"
    wait_until(lambda: line.state is LineState.FAULTED, 1.0, "the line faulted")
    assert line.fault_reason
    call.hangup()  # harmless after the fact
    line.stop()
    assert line.state is LineState.ABSENT


def test_tel_line_port_disappears_while_ringing(make_sim, huawei_profile):
    sim = make_sim(lambda n: CustomerScript("no_answer"))
    line = make_line(sim, huawei_profile)
    line.start()
    threading.Timer(0.3, sim.unplug).start()
    started = time.monotonic()
    result, call = line.place_call("5552", ring_timeout=5)
    assert result.outcome is DialOutcome.INTERRUPTED and call is None
    assert time.monotonic() - started < 1.5
    assert line.state is LineState.FAULTED and line.fault_reason
    line.stop()


def test_tel_line_send_text_over_its_own_modem(make_sim, huawei_profile):
    sim = make_sim()
    line = make_line(sim, huawei_profile)
    assert line.start() is LineState.READY and line.ready
    assert line.send_text("+15550100", "Your parcel is here", submit_timeout_s=5.0) == [1]
    assert sim.sms.texts() == [("+15550100", "Your parcel is here")]
    line.stop()


def test_tel_line_send_text_refuses_when_not_ready(make_sim, huawei_profile):
    sim = make_sim(voice_enabled=False)
    line = make_line(sim, huawei_profile)
    with pytest.raises(LineNotReady, match="absent"):
        line.send_text("+15550100", "hello")
    assert line.start() is LineState.FAULTED and not line.ready
    with pytest.raises(LineNotReady, match=r"faulted: .*no voice"):
        line.send_text("+15550100", "hello")
    assert sim.sms.messages == []
    line.stop()


def test_tel_line_send_text_refuses_during_a_call(make_sim, huawei_profile):
    sim = make_sim(lambda n: CustomerScript("silent", max_call_s=10))
    line = make_line(sim, huawei_profile)
    line.start()
    _, call = line.place_call("5550", ring_timeout=2)
    assert call is not None and not line.ready
    with pytest.raises(LineNotReady, match="in_call"):
        line.send_text("+15550100", "hello")
    call.hangup()
    line.stop()
