"""A warning that repeats is logged once, then counted (appliance.log_repeats), and a line whose modem is absent
says "faulted" once while its supervisor keeps reopening it every few tenths of a second."""

from __future__ import annotations

import logging
import time

import pytest

from appliance.log_repeats import RepeatedLog
from appliance.telephony.line import Line, LineState
from appliance.telephony.modem import Modem, ModemTimeouts
from appliance.telephony.profile import load_profile
from appliance.telephony.supervisor import Supervision, supervise


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def messages(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == name]


def test_core_repeats_logged_once_then_counted(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    repeats = RepeatedLog(logging.getLogger("t.repeats"), clock=clock)
    with caplog.at_level(logging.INFO, logger="t.repeats"):
        for _ in range(21):  # every 3 s for a minute
            repeats.warning("sim0", "line %s faulted: %s", "sim0", "modem absent")
            clock.now += 3
        assert messages(caplog, "t.repeats") == ["line sim0 faulted: modem absent",
                                                 "line sim0 faulted: modem absent (repeated 20 times in the last "
                                                 "minute)"]
        caplog.clear()
        repeats.warning("sim0", "line %s faulted: %s", "sim0", "SIM PIN needed")  # something new: at once
        repeats.warning("sim1", "line %s faulted: %s", "sim1", "modem absent")  # another key: its own count
        repeats.warning("sim0", "line %s faulted: %s", "sim0", "SIM PIN needed")
        assert messages(caplog, "t.repeats") == ["line sim0 faulted: SIM PIN needed",
                                                 "line sim1 faulted: modem absent"]
        caplog.clear()
        repeats.clear("sim0")  # the line opened: its next fault is news
        assert repeats.warning("sim0", "line %s faulted: %s", "sim0", "SIM PIN needed")
        assert messages(caplog, "t.repeats") == ["line sim0 faulted: SIM PIN needed"]
    assert caplog.records[-1].levelno == logging.WARNING


def test_core_repeats_say_a_longer_span(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    repeats = RepeatedLog(logging.getLogger("t.span"), clock=clock)
    with caplog.at_level(logging.INFO, logger="t.span"):
        repeats.warning("k", "modem absent")
        clock.now += 10
        repeats.warning("k", "modem absent")
        clock.now += 290  # nothing for five minutes, then once more
        repeats.warning("k", "modem absent")
    assert messages(caplog, "t.span") == ["modem absent", "modem absent (repeated 2 times in the last 5 minutes)"]


def test_core_absent_modem_fault_is_said_once(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    port = str(tmp_path / "ttyUSB-gone")  # a modem that is not plugged in
    modem = Modem(load_profile("huawei-e1550"), port, port, timeouts=ModemTimeouts())
    line = Line("gone", modem, supervision=Supervision(reopen_s=0.05))
    with caplog.at_level(logging.INFO, logger="appliance.telephony.line"):
        supervisor = supervise(line)
        try:
            deadline = time.monotonic() + 5
            while line.faults < 10 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            supervisor.stop()
    assert line.faults >= 10, "the supervisor reopens the absent modem again and again"
    assert line.state is LineState.ABSENT
    said = messages(caplog, "appliance.telephony.line")
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and warned[0].startswith("line gone faulted: "), warned
    assert said.count("line gone: faulted --start--> initialising") == 1, said  # the reopen cycle: once too
    assert said.count("line gone: initialising --fault--> faulted") == 1, said
