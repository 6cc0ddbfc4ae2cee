"""The modem's view of one outgoing call: an enum, a (state, event) -> state table, and a small holder.

Events are the modem driver's: ``dial`` (a new attempt; from any state), the call-progress URCs the
profile classifies (``dialing``, ``alerting``, ``active``, ``released``), ``final`` (a bare final code
such as ``NO CARRIER`` or ``BUSY`` seen as a URC: the call is over) and ``hangup`` (ours). An event not
in the table for the current state raises :class:`IllegalCallTransition`; the URC handler logs such a
URC and drops it instead of letting a stray line (a late ``^CONN`` after the release) put a call back up.

A release while the call is ``active`` is the far end hanging up (``remote_ended``); a release after
our ``hangup`` is ours.
"""

from __future__ import annotations

import threading
from enum import StrEnum

from appliance.states import IllegalTransition, StateTable


class CallState(StrEnum):
    IDLE = "idle"  # no call since the modem opened
    DIALING = "dialing"  # the dial command is out; the modem has not said it originated
    ORIGINATED = "originated"  # the modem reports the call set up (^ORIG)
    ALERTING = "alerting"  # the far end rings
    ACTIVE = "active"  # answered
    HANGING_UP = "hanging_up"  # we hung up; a release from now on is ours
    ENDED = "ended"  # released, or a final code ended it


C = CallState
_RINGING = (C.DIALING, C.ORIGINATED, C.ALERTING)
_ENDING = ("released", "final")

CALL_TRANSITIONS: dict[tuple[CallState, str], CallState] = {
    **{(state, "dial"): C.DIALING for state in CallState},
    (C.DIALING, "dialing"): C.ORIGINATED,
    (C.ORIGINATED, "dialing"): C.ORIGINATED,
    **{(state, "alerting"): C.ALERTING for state in _RINGING},
    **{(state, "active"): C.ACTIVE for state in (*_RINGING, C.ACTIVE)},
    (C.HANGING_UP, "active"): C.HANGING_UP,  # answered just as we hung up: still ours to end
    **{(state, event): C.ENDED for state in CallState for event in _ENDING},
    **{(state, "hangup"): C.HANGING_UP for state in CallState if state is not C.ENDED},
    (C.ENDED, "hangup"): C.ENDED,
}

ORIGINATED_STATES = frozenset({C.ORIGINATED, C.ALERTING, C.ACTIVE})


IllegalCallTransition = IllegalTransition  # the call's name for the shared error (appliance.states)
CALL_TABLE = StateTable("call", CALL_TRANSITIONS)
next_call_state = CALL_TABLE.next


def ends_remotely(state: CallState, event: str) -> bool:
    """Does ``event`` in ``state`` mean the far end hung up an answered call?"""
    return state is CallState.ACTIVE and event in _ENDING


class CallTracker:
    """The current call's state, shared by the URC handler (reader thread) and the dialling thread."""

    def __init__(self) -> None:
        self.state = CallState.IDLE
        self.ended = threading.Event()  # released or ended by a final code
        self.remote_ended = threading.Event()  # the far end hung up an answered call
        self.end_cause: int | None = None  # the release's cause, when the URC carried one
        self._lock = threading.Lock()

    def handle(self, event: str, *, cause: int | None = None) -> CallState:
        """Apply ``event``; return the state it left. Raises IllegalCallTransition (state unchanged)."""
        with self._lock:
            old = self.state
            new = next_call_state(old, event)
            self.state = new
            if event == "dial":
                self.ended.clear()
                self.remote_ended.clear()
                self.end_cause = None
            elif event == "released":
                self.end_cause = cause
            if ends_remotely(old, event):
                self.remote_ended.set()
            if new is CallState.ENDED:
                self.ended.set()
            return old

    @property
    def in_call(self) -> bool:
        return self.state is CallState.ACTIVE

    @property
    def originated(self) -> bool:
        return self.state in ORIGINATED_STATES
