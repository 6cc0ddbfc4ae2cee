"""Plain helpers for the telephony tests (timeouts, waits, the fault rigs); conftest.py makes fixtures of
the rigs. Test modules import from here, never from each other."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from appliance.sim.customer import CustomerScript
from appliance.sim.families import simulated_modem
from appliance.sim.faults import PluggableModem, SimFaults
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.telephony.line import Line, LineState
from appliance.telephony.modem import Modem, ModemTimeouts
from appliance.telephony.profile import load_profile
from appliance.telephony.supervisor import Supervision, Supervisor, supervise

FAST_MODEM = ModemTimeouts(command=0.6, dial_ack=1.0, hangup=0.5, audio_start=0.6)
FAST = Supervision(
    idle_ping_s=0.3,
    ping_timeout_s=0.4,
    ping_failures_to_fault=2,
    ping_retry_s=0.1,
    reopen_s=0.3,
    power_cycle_after=3,
    power_cycle_timeout_s=1.0,
    power_cycle_settle_s=0.2,
)
RECOVERY_S = 15.0
POLL_S = 0.01


def wait_until(condition: Callable[[], object], timeout: float, what: str = "condition") -> float:
    """Seconds until ``condition()`` held (polled every 10 ms); fails after ``timeout``.

    For the supervisor's counters and the line's state, which no event announces."""
    start = time.monotonic()
    tick = threading.Event()
    while not condition():
        assert time.monotonic() - start < timeout, f"{what} not met within {timeout:g} s"
        tick.wait(POLL_S)
    return time.monotonic() - start


@contextmanager
def no_thread_left(grace: float = 3.0) -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    extra: list[threading.Thread] = []

    def settled() -> bool:
        extra[:] = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        return not extra

    try:
        wait_until(settled, grace)
    except AssertionError:
        raise AssertionError(f"threads left running: {[t.name for t in extra]}") from None


def wait_state(line: Line, state: LineState, timeout: float) -> float:
    """Seconds it took the line to reach ``state``; fails after ``timeout``."""
    try:
        return wait_until(lambda: line.state is state, timeout)
    except AssertionError:
        raise AssertionError(f"line {line.state.value} ({line.fault_reason}), not {state.value}") from None


def wait_fault(line: Line, words: str, timeout: float) -> str:
    """The first recorded fault reason containing ``words``; fails after ``timeout``."""
    found: list[str] = []

    def recorded() -> bool:
        found[:] = [reason for reason in list(line.fault_log) if words in reason]
        return bool(found)

    try:
        wait_until(recorded, timeout)
    except AssertionError:
        raise AssertionError(f"no fault with {words!r}: {list(line.fault_log)}") from None
    return found[0]


class Rig:
    """A sim with stable (symlinked) ports and a line on it; :meth:`start` supervises it as the box does."""

    def __init__(
        self, directory: Callable[[str], CustomerScript], supervision: Supervision, *, profile: str = "huawei-e1550",
        name: str = "f1", **sim_kw: object,
    ) -> None:
        self.faults = SimFaults()
        sim_kw.setdefault("ring_ms", 200)
        if profile == "huawei-e1550":
            self.sim = SimulatedHuaweiModem(directory, faults=self.faults, **sim_kw)  # type: ignore[arg-type]
        else:
            self.sim = simulated_modem(profile, directory, faults=self.faults, **sim_kw)  # type: ignore[arg-type]
        self.sim.start()
        self.plug = PluggableModem(self.sim)
        modem = Modem(load_profile(profile), self.plug.at_port, self.plug.audio_port, timeouts=FAST_MODEM, name=name)
        self.line = Line(name, modem, supervision=supervision)
        self.supervisor: Supervisor | None = None

    def start(self) -> LineState:
        """The line started and watched (``supervise``); the state it reached."""
        self.supervisor = supervise(self.line)
        return self.line.state

    @property
    def watcher(self) -> Supervisor:
        assert self.supervisor is not None, "start() the rig first"
        return self.supervisor

    def close(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()
        self.line.stop()
        self.sim.stop()
        self.plug.close()
