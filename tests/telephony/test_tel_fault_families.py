"""Faults on every modem family: unplug mid-call and come back, a mute modem, audio start refused."""

from __future__ import annotations

import time

import pytest
from tel_helpers import RECOVERY_S, wait_fault, wait_state

from appliance.events import DialOutcome
from appliance.sim.customer import CustomerScript
from appliance.sim.faults import apply_fault
from appliance.telephony.line import LineState

pytestmark = pytest.mark.slow  # faults, unplugs and recoveries take seconds each

FAMILY_PROFILES = ["huawei-e1550", "simcom-sim7600", "quectel-ec25", "sim800"]


@pytest.mark.parametrize("profile", FAMILY_PROFILES)
def test_tel_fault_family_unplug_mid_call_then_back(family_rig, profile: str) -> None:
    rig = family_rig(profile, CustomerScript("silent", max_call_s=20))
    assert rig.start() is LineState.READY
    result, call = rig.line.place_call("5550", ring_timeout=3)
    assert result.outcome is DialOutcome.ANSWERED and call is not None, result
    assert call.audio.read_frame(1.0) is not None  # audio flows on this family's transport
    rig.plug.unplug()
    assert call.ended.wait(3.0)
    assert call.interrupted and call.fault, (call.ended_by, call.fault)
    rig.plug.replug()
    assert wait_state(rig.line, LineState.READY, RECOVERY_S) < 3.0
    result, call = rig.line.place_call("5550", ring_timeout=3)
    assert result.outcome is DialOutcome.ANSWERED and call is not None
    assert call.audio.read_frame(1.0) is not None
    call.hangup()
    assert not call.interrupted and rig.line.state is LineState.READY


@pytest.mark.parametrize("profile", ["simcom-sim7600", "quectel-ec25"])
def test_tel_fault_family_stop_answering_then_back(family_rig, profile: str) -> None:
    rig = family_rig(profile, CustomerScript("silent", max_call_s=20))
    rig.start()
    rig.faults.stop_answering()
    wait_fault(rig.line, "stopped answering", 3.0)
    rig.faults.answer_again()
    assert wait_state(rig.line, LineState.READY, RECOVERY_S) < 3.0


def test_tel_fault_sim7600_cpcmreg_refused_for_a_while_is_retried(family_rig) -> None:
    rig = family_rig("simcom-sim7600", CustomerScript("silent", max_call_s=20))
    rig.start()
    assert rig.line.modem.profile.audio_start_retry_s >= 1.5
    apply_fault(rig.sim, "cpcmreg_refused", seconds=1.0)
    started = time.monotonic()
    result, call = rig.line.place_call("5550", ring_timeout=3)
    took = time.monotonic() - started
    assert result.outcome is DialOutcome.ANSWERED and call is not None, result
    assert took >= 1.0  # the audio start waited out the refusals
    assert call.audio.read_frame(1.0) is not None
    call.hangup()
    assert rig.line.state is LineState.READY


def test_tel_fault_sim7600_cpcmreg_refused_too_long_fails_the_call(family_rig) -> None:
    rig = family_rig("simcom-sim7600", CustomerScript("silent", max_call_s=20))
    rig.start()
    apply_fault(rig.sim, "cpcmreg_refused", seconds=30.0)
    result, call = rig.line.place_call("5550", ring_timeout=3)
    assert result.outcome is DialOutcome.FAILED and call is None and "CPCMREG" in result.detail
    assert rig.line.state is LineState.READY
    assert rig.sim.calls[-1].ended.wait(3.0)  # the box hung up the call it could not hear
