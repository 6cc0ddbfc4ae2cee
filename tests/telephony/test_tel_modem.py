"""The profile-driven modem driver against the simulated Huawei E1550."""

from __future__ import annotations

import time

import pytest

from appliance.errors import ModemError
from appliance.events import DialOutcome
from appliance.sim.customer import CustomerScript
from appliance.telephony.modem import Modem, ModemTimeouts

FAST = ModemTimeouts(command=2.0, dial_ack=2.0, hangup=1.0, audio_start=2.0)
BEHAVIOUR = {"0": "answer", "1": "busy", "2": "no_answer", "3": "reject", "4": "silent"}


def directory(number: str) -> CustomerScript:
    return CustomerScript(BEHAVIOUR.get(number[-1], "answer"), max_call_s=10)


@pytest.fixture
def modem(make_sim, huawei_profile):
    sim = make_sim(directory)
    m = Modem(huawei_profile, sim.at_port, sim.audio_port, timeouts=FAST)
    m.open()
    m.sim = sim  # type: ignore[attr-defined]
    yield m
    m.close()


def timed(fn, *a, **kw):
    started = time.monotonic()
    result = fn(*a, **kw)
    return result, time.monotonic() - started


def test_tel_modem_open_runs_init_with_echo_on(make_sim, huawei_profile):
    sim = make_sim(directory, echo=True)
    m = Modem(huawei_profile, sim.at_port, sim.audio_port, timeouts=FAST)
    m.open()
    try:
        assert sim.echo is False  # ATE0 went through the echoing dialect
        assert m.command("AT+CSQ") == ["+CSQ: 20,99"]
    finally:
        m.close()


def test_tel_modem_without_voice_is_a_clear_modem_error(make_sim, huawei_profile):
    sim = make_sim(directory, voice_enabled=False)
    m = Modem(huawei_profile, sim.at_port, sim.audio_port, timeouts=FAST)
    with pytest.raises(ModemError, match="no voice"):
        m.open()
    # the port was released: it can be opened again
    sim.voice_enabled = True
    m.open()
    m.close()


def test_tel_modem_dial_answered_then_we_hang_up(modem):
    result, took = timed(modem.dial, "5550", ring_timeout=3)
    assert result.outcome is DialOutcome.ANSWERED
    assert 0.15 <= took < 1.5  # rang for ring_ms=200
    assert modem.in_call
    modem.hangup()
    assert not modem.remote_ended.is_set()  # our own hang-up is not a remote end
    call = modem.sim.calls[-1]
    assert call.ended.wait(1) and call.ended_by == "bot" and call.cause == 16


@pytest.mark.parametrize(
    ("number", "outcome", "cause"),
    [("5551", DialOutcome.BUSY, 17), ("5553", DialOutcome.REJECTED, 21)],
)
def test_tel_modem_dial_busy_and_rejected_from_cend_cause(modem, number, outcome, cause):
    result, took = timed(modem.dial, number, ring_timeout=3)
    assert result.outcome is outcome and result.cause == cause
    assert took < 1.5


def test_tel_modem_ring_timeout_hangs_up_and_reports_no_answer(modem):
    result, took = timed(modem.dial, "5552", ring_timeout=0.5)
    assert result.outcome is DialOutcome.NO_ANSWER and result.detail == "ring timeout"
    assert 0.5 <= took < 1.5
    call = modem.sim.calls[-1]
    assert call.ended.wait(1) and call.ended_by == "bot"
    # the line is usable again straight away
    assert modem.dial("5551", ring_timeout=2).outcome is DialOutcome.BUSY


def test_tel_modem_remote_hangup_sets_remote_ended(make_sim, huawei_profile):
    sim = make_sim(lambda n: CustomerScript("silent", max_call_s=0.3))
    m = Modem(huawei_profile, sim.at_port, sim.audio_port, timeouts=FAST)
    m.open()
    try:
        assert m.dial("5550", ring_timeout=2).outcome is DialOutcome.ANSWERED
        assert m.remote_ended.wait(2)
        assert m.end_cause == 16 and not m.in_call
        assert sim.calls[-1].ended_by == "timeout"
    finally:
        m.close()


def test_tel_modem_hangup_before_orig_quirk_does_not_hang(make_sim, huawei_profile):
    # ^ORIG comes 400 ms after ATD; the ring timeout fires first, AT+CHUP answers OK
    # and the E1550 never sends ^CEND. The driver must not wait for it.
    sim = make_sim(directory, orig_delay_ms=400)
    m = Modem(huawei_profile, sim.at_port, sim.audio_port, timeouts=ModemTimeouts(hangup=3.0))
    m.open()
    try:
        result, took = timed(m.dial, "5550", ring_timeout=0.05)
        assert result.outcome is DialOutcome.NO_ANSWER
        assert took < 0.5  # well under the 3 s hang-up wait
        assert sim.calls[-1].ended.wait(1) and sim.calls[-1].result == "cancelled_before_orig"
        assert m.dial("5551", ring_timeout=2).outcome is DialOutcome.BUSY
    finally:
        m.close()


def test_tel_modem_final_code_instead_of_progress(scripted_peer, huawei_profile):
    # Some firmwares answer the dial itself with BUSY / NO CARRIER: an outcome, not a timeout.
    ok = b"\r\nOK\r\n"
    peer = scripted_peer(
        {"ATE0": ok, "AT+CMEE=1": ok, "AT+CPIN?": b"\r\n+CPIN: READY\r\n" + ok,
         "AT^CVOICE?": b"\r\n^CVOICE:0,8000,16,20\r\n" + ok,
         "ATD111;": b"\r\nBUSY\r\n", "ATD222;": b"\r\nNO CARRIER\r\n",
         "ATD333;": lambda p: p.send(b"\r\nOK\r\n\r\n^ORIG:1,0\r\n\r\nNO ANSWER\r\n")},
        byte_gap=0,
    )
    m = Modem(huawei_profile, peer.path, "/dev/null", timeouts=FAST)
    m.open()
    try:
        assert m.dial("111", ring_timeout=2).outcome is DialOutcome.BUSY
        assert m.dial("222", ring_timeout=2).outcome is DialOutcome.FAILED
        result, took = timed(m.dial, "333", ring_timeout=2)
        assert result.outcome is DialOutcome.NO_ANSWER and took < 1
    finally:
        m.close()
