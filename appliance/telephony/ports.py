"""What the layers above use of a line and of an answered call: protocols, complete, so that nobody probes
with ``getattr``. :class:`appliance.telephony.line.Line` and its ``ActiveCall`` implement them; tests and the
simulator may hand in their own objects as long as they have every member.

The campaign (scheduler, call runner, texts) sees a line as a :class:`LinePort` and an answered call as a
:class:`CallPort`; the conversation sees a call's audio as a :class:`CallAudio`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from appliance.events import CallAudio, DialResult
from appliance.telephony.linestate import LineState

if TYPE_CHECKING:
    from appliance.telephony.audio import AudioPump
    from appliance.telephony.line import ActiveCall, Line

Tap = Callable[[bytes, bytes], None]  # (heard, played) for every 20 ms tick: the call recorder




class CallPort(Protocol):
    """An answered call: its audio, the keypad, and how it ended."""

    ended: threading.Event
    end_cause: int | None
    interrupted: bool
    fault: str | None  # why an interrupted call was interrupted
    ended_by: str | None  # "bot", "remote", "port" or "stall": `callbox call` prints it

    @property
    def audio(self) -> CallAudio: ...

    def hangup(self) -> None: ...
    def send_dtmf(self, digits: str) -> None: ...
    def read_dtmf(self, timeout: float) -> str | None: ...


class LinePort(Protocol):
    """One modem and SIM as the campaign uses it."""

    name: str
    state: LineState
    fault_reason: str | None

    @property
    def ready(self) -> bool: ...

    def start(self) -> LineState: ...
    def stop(self) -> None: ...
    def place_call(
        self, number: str, *, ring_timeout: float, tap: Tap | None = None
    ) -> tuple[DialResult, CallPort | None]: ...
    def send_text(self, number: str, text: str, *, submit_timeout_s: float = 60.0) -> list[int]: ...


if TYPE_CHECKING:
    # mypy proves that the real parts are complete ports: a missing or mistyped member fails the type check.

    def _line_is_a_line_port(line: Line) -> LinePort:
        return line

    def _call_is_a_call_port(call: ActiveCall) -> CallPort:
        return call

    def _pump_is_call_audio(pump: AudioPump) -> CallAudio:
        return pump
