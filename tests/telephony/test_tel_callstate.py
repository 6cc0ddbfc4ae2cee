"""The modem's call-state table (pure), and the modem feeding it from URCs."""

from __future__ import annotations

import ast
import inspect

import pytest

import appliance.telephony.line as line_module
from appliance.events import DialOutcome
from appliance.telephony.callstate import (
    CALL_TRANSITIONS,
    CallState,
    CallTracker,
    IllegalCallTransition,
    ends_remotely,
    next_call_state,
)
from appliance.telephony.modem import Modem, ModemTimeouts

C = CallState


def test_tel_callstate_a_call_answered_and_released_by_the_far_end():
    call = CallTracker()
    for event, state in (("dial", C.DIALING), ("dialing", C.ORIGINATED), ("alerting", C.ALERTING),
                         ("active", C.ACTIVE)):
        call.handle(event)
        assert call.state is state
    assert call.in_call and call.originated and not call.ended.is_set()
    call.handle("released", cause=16)
    assert call.state is C.ENDED and call.ended.is_set() and call.remote_ended.is_set() and call.end_cause == 16
    assert not call.in_call


def test_tel_callstate_our_hangup_is_not_a_remote_end():
    call = CallTracker()
    call.handle("dial")
    call.handle("active")
    assert call.handle("hangup") is C.ACTIVE  # handle() says what it left
    call.handle("released", cause=16)
    assert call.ended.is_set() and not call.remote_ended.is_set()


def test_tel_callstate_a_bare_final_code_ends_the_call():
    call = CallTracker()
    call.handle("dial")
    call.handle("final")
    assert call.state is C.ENDED and not call.remote_ended.is_set() and call.end_cause is None
    call.handle("dial")
    call.handle("active")
    call.handle("final")  # NO CARRIER while talking: the far end went away
    assert call.remote_ended.is_set()


def test_tel_callstate_a_new_dial_resets_everything():
    call = CallTracker()
    call.handle("dial")
    call.handle("active")
    call.handle("released", cause=17)
    call.handle("dial")
    assert call.state is C.DIALING and call.end_cause is None
    assert not call.ended.is_set() and not call.remote_ended.is_set()


@pytest.mark.parametrize(("state", "event"), [(C.ENDED, "active"), (C.IDLE, "active"), (C.ENDED, "dialing"),
                                              (C.ACTIVE, "alerting"), (C.IDLE, "dialing")])
def test_tel_callstate_stray_urcs_are_illegal_and_change_nothing(state, event):
    with pytest.raises(IllegalCallTransition, match=event):
        next_call_state(state, event)
    call = CallTracker()
    call.state = state
    with pytest.raises(IllegalCallTransition):
        call.handle(event)
    assert call.state is state


def test_tel_callstate_table_shape():
    assert all((s, "dial") in CALL_TRANSITIONS for s in CallState)  # a new attempt from anywhere
    assert all(CALL_TRANSITIONS[(s, "released")] is C.ENDED for s in CallState)  # a release always ends it
    assert {s for s in CallState if ends_remotely(s, "released")} == {C.ACTIVE}
    assert CALL_TRANSITIONS[(C.HANGING_UP, "active")] is C.HANGING_UP  # answered as we hung up: still ours


def test_tel_callstate_modem_tracks_a_call_from_urcs(make_sim, huawei_profile):
    sim = make_sim()
    modem = Modem(huawei_profile, sim.at_port, sim.audio_port, timeouts=ModemTimeouts(command=2, dial_ack=2, hangup=1))
    modem.open()
    try:
        assert modem.call_state is C.IDLE
        result = modem.dial("5550", ring_timeout=3)
        assert result.outcome is DialOutcome.ANSWERED and modem.call_state is C.ACTIVE and modem.in_call
        assert modem.try_hangup()
        assert modem.call_state is C.ENDED and not modem.remote_ended.is_set()
    finally:
        modem.close()


def test_tel_callstate_line_module_does_not_import_the_supervisor():
    tree = ast.parse(inspect.getsource(line_module))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert "appliance.telephony.supervisor" not in imported
