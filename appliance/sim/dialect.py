"""What a simulated modem family is: a :class:`Dialect`, a table read by the one simulated modem.

A family differs from another in data: the commands it answers and how
(:class:`Command`, matched in order before the commands every family shares),
the lines it reports a call's progress with, whether a final result code
follows a release, how it reports a key the customer presses, where its audio
goes and what opens it. Quirks that are behaviour (the SIM7600 refusing
``AT+CPCMREG=1`` for a while after the call is active, the E1550 saying nothing
about a call hung up before ``^ORIG``) are named fields, read by
:class:`appliance.sim.modem.SimulatedModem`; the family tables themselves are
in :mod:`appliance.sim.families`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal


class Action(enum.Enum):
    """What the simulated modem does with a command (each a method of the one simulated modem)."""

    ANSWER = "answer"  # the command's lines, then OK
    ECHO = "echo"  # ATE0 / ATE1
    VOICE_QUERY = "voice_query"  # the command's lines and OK when voice is enabled, else ERROR
    DIAL = "dial"  # ATD<number>;
    HANGUP = "hangup"
    CALL_LIST = "call_list"  # AT+CLCC
    AUDIO_ON = "audio_on"  # the call's audio starts (ERROR without an active call)
    AUDIO_OFF = "audio_off"
    PCM_RATE = "pcm_rate"  # the device side of the audio runs at the command's value (Hz)
    PCM_PORT_QUERY = "pcm_port_query"  # AT+QPCMV?
    PCM_PORT_SET = "pcm_port_set"  # AT+QPCMV=<on>[,<port>]
    SWITCH_ON = "switch_on"  # turn the setting named by the command's value on, answer OK
    SEND_KEYS = "send_keys"  # the box sends DTMF: the "keys" group
    CAUSE_REPORT = "cause_report"  # AT+CEER: the last release's cause as text


@dataclass(frozen=True)
class Command:
    """One command of a dialect: a pattern (matched whole against the upper-cased line) and what it does.

    A named group ``arg`` is handed to the action, cut from the line as it was typed (not upper-cased).
    """

    pattern: re.Pattern[str]
    action: Action
    lines: tuple[str, ...] = ()  # for ANSWER and VOICE_QUERY
    value: int | str | None = None  # for PCM_RATE (Hz) and SWITCH_ON (the setting's name)
    ignore_spaces: bool = False  # match with every space removed (AT+QINDCFG = "ccinfo", 1, 0)


def answer(command: str, *lines: str) -> Command:
    """``command`` exactly: answer ``lines`` and OK (no lines: just OK)."""
    return Command(re.compile(re.escape(command)), Action.ANSWER, lines)


def ok(*commands: str) -> tuple[Command, ...]:
    """Commands that only answer OK."""
    return tuple(answer(c) for c in commands)


def act(pattern: str, action: Action, *, lines: tuple[str, ...] = (), value: int | str | None = None,
        ignore_spaces: bool = False) -> Command:
    """A command matched by a regular expression, doing ``action``."""
    return Command(re.compile(pattern), action, lines, value, ignore_spaces)


def find_command(commands: tuple[Command, ...], line: str) -> tuple[Command, str] | None:
    """The first command matching ``line`` and its ``arg`` (as typed; "" when the pattern has none)."""
    upper = line.upper()
    spaceless = upper.replace(" ", "")
    for command in commands:
        match = command.pattern.fullmatch(spaceless if command.ignore_spaces else upper)
        if match is None:
            continue
        if command.ignore_spaces or "arg" not in command.pattern.groupindex or match.start("arg") < 0:
            return command, ""
        return command, line[match.start("arg") : match.end("arg")]
    return None


CAUSE_TEXT = {
    16: "Normal call clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call rejected",
}
DTMF_KEYS = "0123456789*#ABCD"

#: The commands every family answers the same way (3GPP TS 27.007 and V.250), after the family's own.
COMMON_COMMANDS: tuple[Command, ...] = (
    act(r"ATE(?P<arg>[01])", Action.ECHO),
    act(r"AT\+CMEE=.*", Action.ANSWER),
    act(r"AT\+CREG=.*", Action.ANSWER),
    *ok("AT", "ATZ"),
    answer("AT+CPIN?", "+CPIN: READY"),
    answer("AT+CSQ", "+CSQ: 20,99"),
    answer("AT+CREG?", "+CREG: 0,1"),
    answer("AT+COPS?", '+COPS: 0,0,"Sim Mobile",0'),
    act(r"ATD(?P<arg>.*);", Action.DIAL),
    act(r"AT\+CHUP|ATH|ATH0", Action.HANGUP),
    act(r"AT\+CLCC", Action.CALL_LIST),
)


def _final_codes() -> Mapping[int, str]:
    return MappingProxyType({17: "BUSY", 19: "NO ANSWER"})


@dataclass(frozen=True)
class Dialect:
    """One modem family as the simulated modem plays it.

    Progress lines are templates: ``{number}`` (the dialled number), and in
    ``released`` also ``{duration}`` (seconds connected) and ``{cause}`` (Q.850).
    """

    family: str
    commands: tuple[Command, ...]  # answered before COMMON_COMMANDS; these are logged in SimulatedModem.commands
    dialing: tuple[str, ...] = ()
    alerting: tuple[str, ...] = ()
    active: tuple[str, ...] = ()
    released: tuple[str, ...] = ()
    progress_needs: str | None = None  # the setting that must be on for any progress line (AT+MORING=1, ccinfo)
    # after a release the box did not ask for (busy, rejected, the customer hung up): a final result code
    final_code: bool = True
    final_code_by_cause: Mapping[int, str] = field(default_factory=_final_codes)
    final_code_otherwise: str = "NO CARRIER"
    released_when_cancelled: bool = True  # a call hung up before it was originated still reports a release
    key_report: str | None = None  # one line per key the customer presses ({digit}, {ascii}); None: in-band tones
    audio_device: Literal["pty", "card"] = "pty"  # the voice tty, or a sound card (file-backed in the simulator)
    card_prefix: str = "callbox-card-"
    audio_opens_when_active: bool = False  # no start command: the audio flows once the call is active
    audio_needs: str | None = None  # ... when this setting is on (the EC25's AT+QPCMV=1,<port>)
    audio_start_refused_ms: int = 0  # AUDIO_ON answers ERROR for this long after the call became active
    pcm_port: int = 0  # the port AT+QPCMV=1,<port> must name on this stick (2: USB audio class, 0: the tty)
    pcm_port_needs: str | None = None  # the setting AT+QPCMV=1,<port> needs first (+CME ERROR: 3 without it)
