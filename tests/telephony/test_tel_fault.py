"""Line supervision and injected faults, against the simulated E1550 on real ptys.

Every fault test checks three things: what was recorded (call outcome, line
fault reason), the line back to ``ready`` within 15 s of the modem returning,
and no thread left behind once the line and the sim are stopped.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import pytest
from tel_helpers import FAST, RECOVERY_S, wait_fault, wait_state, wait_until

from appliance.events import DialOutcome
from appliance.sim.customer import CustomerScript, frame_rms
from appliance.sim.faults import FAULTS, apply_fault, garbage
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.telephony.line import LineState
from appliance.telephony.modem import ModemTimeouts
from appliance.telephony.supervisor import Supervision, parse_cops, parse_csq, parse_registration

pytestmark = pytest.mark.slow  # faults, unplugs and recoveries take seconds each

# -- readings --------------------------------------------------------------------


def test_tel_fault_readings_parse_real_answers():
    assert parse_registration(["+CREG: 0,1"]) == 1
    assert parse_registration(['+CEREG: 2,5,"1A2B","01C3D4E5",7']) == 5
    assert parse_registration(['+CREG: 1,"1A2B","00C3"']) == 1  # URC form: stat first
    assert parse_registration(["+CREG: 2"]) == 2
    assert parse_csq(["+CSQ: 20,99"]) == (20, -73)
    assert parse_csq(["+CSQ: 99,99"]) == (None, None)
    assert parse_cops(['+COPS: 0,0,"Sim Mobile",7']) == "Sim Mobile"
    assert parse_cops(["+COPS: 0"]) is None
    assert Supervision.command("uhubctl -l 1-1 -p '2' -a cycle") == ("uhubctl", "-l", "1-1", "-p", "2", "-a", "cycle")


def test_tel_fault_start_checks_sim_registration_signal_operator(rig):
    r = rig()
    assert r.start() is LineState.READY
    health = r.line.describe()["health"]
    assert health == {
        "sim": "READY",
        "registration": "registered (home)",
        "lte_registration": None,
        "registered": True,
        "signal_rssi": 20,
        "signal_dbm": -73,
        "operator": "Sim Mobile",
    }
    pings = r.watcher.pings
    wait_until(lambda: r.watcher.pings >= pings + 2, 3.0, "two idle pings")  # idle_ping_s=0.3
    assert r.line.state is LineState.READY and r.line.faults == 0


# -- unplug ----------------------------------------------------------------------


def test_tel_fault_unplug_idle_then_back(rig):
    r = rig()
    r.start()
    r.plug.unplug()
    wait_state(r.line, LineState.FAULTED, 2.0)
    assert "failed" in (r.line.fault_reason or "") or "not open" in (r.line.fault_reason or "")
    wait_until(lambda: r.watcher.reopen_failures >= 1, 3.0, "a reopen against a missing device")
    assert r.line.state is LineState.FAULTED
    r.plug.replug()
    took = wait_state(r.line, LineState.READY, RECOVERY_S)
    assert took < 2.0
    result, call = r.line.place_call("5550", ring_timeout=2)
    assert result.outcome is DialOutcome.ANSWERED and call is not None
    call.hangup()
    assert r.line.state is LineState.READY


def test_tel_fault_unplug_during_call_interrupts_and_recovers(rig):
    r = rig()
    r.start()
    result, call = r.line.place_call("5550", ring_timeout=2)
    assert result.outcome is DialOutcome.ANSWERED and call is not None
    assert call.audio.read_frame(1.0) is not None
    r.plug.unplug()
    assert call.ended.wait(2.0)
    assert call.interrupted and call.ended_by == "port" and call.fault
    # the AT port's failure may land just after the call's end; and with the modem gone the
    # supervisor's reopen attempts (every 0.3 s here) flip it between faulted and initialising
    wait_until(lambda: r.line.faults >= 1, 2.0, "the line to fault")
    assert r.line.state in (LineState.FAULTED, LineState.INITIALISING)
    assert "failed" in (r.line.fault_reason or "")
    r.plug.replug()
    assert wait_state(r.line, LineState.READY, RECOVERY_S) < 2.0
    result, call2 = r.line.place_call("5550", ring_timeout=2)
    assert result.outcome is DialOutcome.ANSWERED and call2 is not None
    call2.hangup()
    assert not call2.interrupted and r.line.state is LineState.READY


def test_tel_fault_absent_at_boot_joins_later(rig):
    r = rig()
    r.plug.unplug()
    started = time.monotonic()
    assert r.start() is LineState.FAULTED  # does not block waiting for the modem
    assert time.monotonic() - started < 1.0
    wait_until(lambda: r.watcher.reopen_failures >= 1, 3.0, "a reopen while absent")
    r.plug.replug()
    assert wait_state(r.line, LineState.READY, RECOVERY_S) < 2.0


# -- a modem that stops answering ----------------------------------------------------


def test_tel_fault_stop_answering_idle(rig):
    r = rig()
    r.start()
    r.faults.stop_answering()
    wait_fault(r.line, "stopped answering", 3.0)
    # reopen attempts time out: the port opens but nothing answers
    wait_until(lambda: r.line.faults >= 2, 5.0, "a failed reopen")
    assert r.line.state in (LineState.FAULTED, LineState.INITIALISING)
    r.faults.answer_again()
    assert wait_state(r.line, LineState.READY, RECOVERY_S) < 3.0


def test_tel_fault_stop_answering_while_ringing_interrupts_the_dial(rig):
    r = rig(lambda n: CustomerScript("no_answer", max_call_s=5))
    r.start()
    threading.Timer(0.3, r.faults.stop_answering).start()
    started = time.monotonic()
    result, call = r.line.place_call("5552", ring_timeout=10)
    assert result.outcome is DialOutcome.INTERRUPTED and call is None
    assert "stopped answering" in result.detail
    assert time.monotonic() - started < 3.0
    assert r.line.faults >= 1 and r.line.state is not LineState.READY
    r.faults.answer_again()
    assert wait_state(r.line, LineState.READY, RECOVERY_S) < 3.0
    # the reopened line cleared the call the mute modem still held
    assert r.sim.calls[-1].ended.wait(2.0)
    result, call = r.line.place_call("5550", ring_timeout=2)
    assert result.outcome is DialOutcome.NO_ANSWER  # the directory says no_answer; the line works


def test_tel_fault_cme_errors_during_call_interrupt_it(rig):
    r = rig()
    r.start()
    _, call = r.line.place_call("5550", ring_timeout=2)
    assert call is not None
    r.faults.cme_burst(3)  # the in-call pings ("AT") answer errors: the modem is sick
    assert call.ended.wait(3.0)
    assert call.interrupted and "keeps answering errors" in (call.fault or "")
    assert wait_state(r.line, LineState.READY, RECOVERY_S) < 3.0


def test_tel_fault_stop_answering_during_call_interrupts(rig):
    r = rig()
    r.start()
    _, call = r.line.place_call("5550", ring_timeout=2)
    assert call is not None
    r.faults.stop_answering()
    assert call.ended.wait(3.0)
    assert call.interrupted and "stopped answering" in (call.fault or "")
    r.faults.answer_again()
    assert wait_state(r.line, LineState.READY, RECOVERY_S) < 3.0


# -- garbage, errors, registration ----------------------------------------------------


def test_tel_fault_garbage_bytes_do_not_break_the_line(rig):
    r = rig(lambda n: CustomerScript("silent", max_call_s=20))
    r.start()
    for seed in range(5):
        r.sim.inject(garbage(seed))
        time.sleep(0.1)
    pings = r.watcher.pings
    wait_until(lambda: r.watcher.pings > pings + 1, 3.0, "pings after the garbage")
    assert r.line.state is LineState.READY and r.line.faults == 0
    result, call = r.line.place_call("5550", ring_timeout=2)
    assert result.outcome is DialOutcome.ANSWERED and call is not None
    r.sim.inject(garbage(99))  # in the middle of a call too
    assert call.audio.read_frame(1.0) is not None
    call.hangup()
    assert not call.interrupted and r.line.state is LineState.READY


def test_tel_fault_cme_error_burst(rig):
    r = rig(supervision=Supervision(**{**FAST.__dict__, "idle_ping_s": 30.0}))
    r.start()
    r.faults.cme_burst(1)
    result, call = r.line.place_call("5550", ring_timeout=2)
    assert result.outcome is DialOutcome.FAILED and call is None and "+CME ERROR: 100" in result.detail
    assert r.line.state is LineState.READY
    # a long burst: the pings fail, the line faults, then comes back when the errors stop
    r.line.last_ok = 0.0  # ping now
    r.faults.cme_burst(6)
    assert "SIM not ready" in wait_fault(r.line, "+CME ERROR: 100", 3.0)  # +CPIN? answered an error
    assert wait_state(r.line, LineState.READY, RECOVERY_S) < 5.0
    assert r.faults.cme_left == 0


def test_tel_fault_registration_lost_then_back(rig):
    r = rig()
    r.start()
    apply_fault(r.sim, "registration_lost")
    assert "searching" in wait_fault(r.line, "not registered", 3.0)
    wait_until(lambda: r.line.faults >= 2, 5.0, "a reopen refused for registration")
    assert r.line.state is not LineState.READY
    assert r.watcher.reopen_failures == 0  # the modem is there: no power cycle for this
    r.faults.regain_registration()
    assert wait_state(r.line, LineState.READY, RECOVERY_S) < 2.0
    assert r.line.health is not None and r.line.health.registered


def test_tel_fault_registration_urc_is_acted_on_before_the_next_ping(rig):
    """+CREG: 2 arrives unsolicited (AT+CREG=1 in the init): the line checks at once, not 30 s later."""
    import dataclasses

    r = rig(supervision=dataclasses.replace(FAST, idle_ping_s=30.0))
    r.start()
    pings = r.watcher.pings
    started = time.monotonic()
    apply_fault(r.sim, "registration_lost")
    assert "searching" in wait_fault(r.line, "not registered", 3.0)
    assert time.monotonic() - started < 2.0
    assert r.watcher.pings == pings + 1  # one check, caused by the URC


# -- power cycle -----------------------------------------------------------------------


def test_tel_fault_power_cycle_after_repeated_reopen_failures(rig, tmp_path):
    marker = tmp_path / "cycled"
    script = f"import pathlib,sys; pathlib.Path({str(marker)!r}).write_text(sys.argv[1]); print('port cycled')"
    sv = Supervision(**{**FAST.__dict__, "power_cycle": (sys.executable, "-c", script, "{line}")})
    r = rig(supervision=sv)
    r.start()
    r.plug.unplug()
    wait_until(lambda: r.watcher.power_cycles, 5.0, "a power cycle")
    assert marker.read_text() == "f1"
    assert r.watcher.power_cycles[0] == (True, "exit 0: port cycled")
    r.plug.replug()  # the modem comes back after its power cycle
    assert wait_state(r.line, LineState.READY, RECOVERY_S) < 2.0
    assert r.line.describe()["power_cycles"] == [{"ok": True, "result": "exit 0: port cycled"}]


def test_tel_fault_power_cycle_command_that_hangs_is_killed(rig):
    sv = Supervision(**{**FAST.__dict__, "power_cycle": ("sleep", "30"), "power_cycle_timeout_s": 0.5})
    r = rig(supervision=sv)
    r.start()
    r.plug.unplug()
    wait_until(lambda: r.watcher.power_cycles, 6.0, "a power cycle")
    assert r.watcher.power_cycles[0] == (False, "killed after 0.5 s")
    r.plug.replug()
    assert wait_state(r.line, LineState.READY, RECOVERY_S) < 2.0


# -- audio faults and early answer -----------------------------------------------------


def test_tel_fault_audio_start_refused(rig):
    r = rig()
    r.start()
    r.faults.refuse("AT^DDSETEX=2", 5.0)
    result, call = r.line.place_call("5550", ring_timeout=2)
    assert result.outcome is DialOutcome.FAILED and call is None and "ERROR" in result.detail
    assert r.line.state is LineState.READY
    assert r.sim.calls[-1].ended.wait(2.0)  # the line hung up the call it could not hear


def test_tel_fault_early_answer_reports_active_before_pickup(rig, reply_wavs):
    script = CustomerScript("answer", greeting=reply_wavs[0], greeting_delay_ms=100, max_call_s=20)
    r = rig(lambda n: script)
    r.faults.early_answer_ms = 800
    r.start()
    started = time.monotonic()
    result, call = r.line.place_call("5550", ring_timeout=3)
    assert result.outcome is DialOutcome.ANSWERED and call is not None
    first_voice = None
    while time.monotonic() - started < 3.0:
        frame = call.audio.read_frame(0.5)
        if frame is not None and frame_rms(frame) > 1000:
            first_voice = time.monotonic() - started
            break
    call.hangup()
    # "answered" came at ringback (the sim's 200 ms ring), the voice only after the 800 ms pick-up
    assert first_voice is not None and first_voice > 0.8
    assert r.sim.calls[-1].result == "answered"


def test_tel_fault_one_way_audio_box_hears_nothing(rig):
    r = rig(lambda n: CustomerScript("silent", max_call_s=20))
    r.start()
    apply_fault(r.sim, "one_way_audio")
    _, call = r.line.place_call("5550", ring_timeout=2)
    assert call is not None
    assert call.audio.read_frame(0.6) is None  # no customer audio arrives
    call.hangup()
    assert not call.interrupted and r.line.state is LineState.READY


def test_tel_fault_one_way_audio_stall_ends_the_call(rig):
    r = rig(lambda n: CustomerScript("silent", max_call_s=20), Supervision(**{**FAST.__dict__, "audio_stall_s": 0.8}))
    r.start()
    r.faults.uplink_muted = True
    started = time.monotonic()
    _, call = r.line.place_call("5550", ring_timeout=2)
    assert call is not None
    assert call.ended.wait(3.0)
    assert call.interrupted and call.ended_by == "stall" and call.fault == "no audio from the modem for 0.8 s"
    assert 0.8 < time.monotonic() - started < 2.5
    assert r.line.state is LineState.READY  # the modem answers AT fine: only this call is lost
    assert r.sim.calls[-1].ended.wait(2.0) and r.sim.calls[-1].ended_by == "bot"


def test_tel_fault_every_named_fault_applies():
    sim = SimulatedHuaweiModem(lambda n: CustomerScript("answer"))
    sim.start()
    try:
        for name in FAULTS:
            if name == "unplug":
                continue  # needs stable paths: PluggableModem, tested above
            assert apply_fault(sim, name, seconds=1.0)
        with pytest.raises(ValueError, match="unknown fault"):
            apply_fault(sim, "flood")
    finally:
        sim.stop()


def test_tel_fault_stop_during_a_hung_reopen_is_prompt(rig):
    slow = ModemTimeouts(command=5.0, dial_ack=5.0, hangup=1.0)
    r = rig(supervision=Supervision(**{**FAST.__dict__, "ping_failures_to_fault": 1}))
    r.line.modem.timeouts = slow
    r.start()
    r.line.last_ok = 0.0
    r.faults.stop_answering()
    wait_fault(r.line, "stopped answering", 8.0)
    wait_state(r.line, LineState.INITIALISING, 3.0)  # a reopen waiting on a 5 s command timeout
    started = time.monotonic()
    r.watcher.stop()
    assert time.monotonic() - started < 1.5
    assert r.line.state is LineState.ABSENT and not r.watcher.alive


# -- races between a failing dial and the supervisor ----------------------------------------


def test_tel_fault_late_dial_fault_does_not_undo_a_reopen(rig):
    """The dial thread learns of the failure after the supervisor has started reopening: its fault is stale."""
    r = rig()
    r.start()
    r.line.report_fault("modem stopped answering")  # what the supervisor's ping did
    r.line._event("start")  # ...and it is reopening now
    faults = r.line.faults
    r.line._fault_dial("dial interrupted: modem stopped answering")  # the dial thread, late
    assert r.line.state is LineState.INITIALISING and r.line.faults == faults


def test_tel_fault_fault_during_a_reopen_is_not_a_crash_and_the_line_recovers(rig, monkeypatch):
    """A fault that lands after the reopened modem passed its checks must not kill the supervisor (it used
    to raise IllegalTransition 'opened' in 'faulted' on the supervisor thread, and the line never came back)."""
    import appliance.telephony.line as line_module

    r = rig()
    r.start()
    real_check = line_module.check_health
    raced: list[bool] = []

    def checked_then_a_fault_lands(*args: Any, **kwargs: Any) -> Any:
        health = real_check(*args, **kwargs)
        if not raced and r.line.state is LineState.INITIALISING:
            raced.append(True)
            r.line.report_fault("a late fault from another thread")
        return health

    monkeypatch.setattr(line_module, "check_health", checked_then_a_fault_lands)
    r.line.report_fault("modem stopped answering")
    assert wait_state(r.line, LineState.READY, RECOVERY_S) < RECOVERY_S
    assert raced and r.watcher.alive


def test_tel_fault_supervisor_outlives_an_unexpected_error(rig):
    r = rig()
    r.start()
    real_reopen = r.line.try_open
    calls: list[int] = []

    def broken_once() -> tuple[bool, bool]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug")
        return real_reopen()

    r.line.try_open = broken_once  # type: ignore[method-assign]
    r.line.report_fault("modem stopped answering")
    assert wait_state(r.line, LineState.READY, RECOVERY_S) < RECOVERY_S
    assert len(calls) >= 2 and r.watcher.alive


@pytest.mark.parametrize("modem_says", [DialOutcome.NO_ANSWER, DialOutcome.BUSY])
def test_tel_fault_dial_that_ends_after_the_supervisor_faulted_the_line_is_interrupted(rig, modem_says):
    """The modem's last word on a dial comes after the supervisor faulted the line and began reopening:
    the attempt was interrupted by the line (and nothing raises on the calling thread)."""
    from appliance.events import DialResult

    r = rig()
    r.start()

    def dial_while_the_line_fails(number: str, *, ring_timeout: float) -> DialResult:
        r.line.report_fault("modem stopped answering")  # the supervisor's ping, meanwhile
        r.line._event("start")  # ...and its reopen
        return DialResult(modem_says, detail="late")

    r.line.modem.dial = dial_while_the_line_fails  # type: ignore[method-assign]
    result, call = r.line.place_call("5552", ring_timeout=1)
    assert call is None and result.outcome is DialOutcome.INTERRUPTED
    assert "stopped answering" in result.detail
    assert r.line.state is LineState.INITIALISING
