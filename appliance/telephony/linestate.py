"""A line's state table: ``absent -> initialising -> ready <-> in_call``, ``-> faulted -> initialising``.

The table below is the whole truth; an event not in it for the current state raises
:class:`IllegalTransition`.
"""

from __future__ import annotations

from enum import StrEnum

from appliance.errors import ModemError
from appliance.states import IllegalTransition, StateTable


class LineState(StrEnum):
    ABSENT = "absent"
    INITIALISING = "initialising"
    READY = "ready"
    IN_CALL = "in_call"
    FAULTED = "faulted"


S = LineState
TRANSITIONS: dict[tuple[LineState, str], LineState] = {
    (S.ABSENT, "start"): S.INITIALISING,
    (S.FAULTED, "start"): S.INITIALISING,
    (S.INITIALISING, "opened"): S.READY,
    (S.INITIALISING, "fault"): S.FAULTED,
    (S.READY, "dial"): S.IN_CALL,
    (S.IN_CALL, "call_ended"): S.READY,
    (S.IN_CALL, "fault"): S.FAULTED,
    (S.READY, "fault"): S.FAULTED,
    (S.READY, "stop"): S.ABSENT,
    (S.IN_CALL, "stop"): S.ABSENT,
    (S.FAULTED, "stop"): S.ABSENT,
    (S.INITIALISING, "stop"): S.ABSENT,
    (S.ABSENT, "stop"): S.ABSENT,
}


LINE_TABLE = StateTable("line", TRANSITIONS)
next_state = LINE_TABLE.next


class LineNotReady(ModemError):
    """The line cannot do this now (a text message on a line that is not ``ready``)."""

__all__ = ["LINE_TABLE", "TRANSITIONS", "IllegalTransition", "LineNotReady", "LineState", "next_state"]
