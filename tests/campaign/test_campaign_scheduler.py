"""The scheduler on real SQLite and simulated modems on ptys: least recently used line first, a SIM's daily cap,
never two calls to one number at once; and ``pick_line`` as a pure function under hypothesis."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.campaign.attempt import Outcome
from appliance.campaign.calls import CallSummary
from appliance.campaign.conclude import AttemptResult, conclude
from appliance.campaign.scheduler import Scheduler, pick_line, start_of_day
from appliance.campaign.tickets import parse_ticket
from appliance.config import RetryConfig
from appliance.records.store import RecordsStore, TaskRow
from appliance.sim.customer import CustomerScript
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.telephony.line import Line, LineState
from appliance.telephony.modem import Modem, ModemTimeouts
from appliance.telephony.profile import load_profile
from appliance.telephony.supervisor import Supervision

FAST_MODEM = ModemTimeouts(command=0.6, dial_ack=1.0, hangup=0.5, audio_start=0.6)


@dataclass(frozen=True)
class Placed:
    line: str
    phone: str
    started: float  # time.monotonic()
    ended: float


class DialRunner:
    """Writes the call row, dials on the line (the simulated customer is busy), concludes in one transaction:
    the scheduler's side of a call without the conversation (that is the dialing tests' part)."""

    def __init__(self, records: RecordsStore) -> None:
        self.records = records
        self.placed: list[Placed] = []
        self._lock = threading.Lock()
        self.finished = threading.Semaphore(0)

    def run(self, task: TaskRow, line: Line) -> CallSummary:
        ticket = self.records.ticket(task.ticket_id)
        assert ticket is not None
        call_id = self.records.start_call(task=task, phone=ticket.customer_phone, line=line.name, flow_version=1)
        started = time.monotonic()
        result, call = line.place_call(ticket.customer_phone, ring_timeout=3)
        if call is not None:
            call.hangup()
        ended = time.monotonic()
        outcome = Outcome(result.outcome.value)
        self.records.record_conclusion(conclude(ticket, task, AttemptResult(outcome), datetime.now(UTC),
                                                call_id=call_id, retry=RetryConfig()))
        with self._lock:
            self.placed.append(Placed(line.name, ticket.customer_phone, started, ended))
        self.finished.release()
        return CallSummary(call_id, ticket.id, outcome, None, "unreachable")

    def wait_calls(self, n: int, timeout: float = 20.0) -> None:
        for _ in range(n):
            assert self.finished.acquire(timeout=timeout), f"only {len(self.placed)} call(s) placed"


@dataclass
class Rig:
    records: RecordsStore
    runner: DialRunner
    lines: list[Line]
    sims: list[SimulatedHuaweiModem]
    path: Path

    def scheduler(self, **kw: object) -> Scheduler:
        return Scheduler(records=self.records, runner=self.runner, lines=self.lines,  # type: ignore[arg-type]
                         idle_poll_s=0.05, **kw)  # type: ignore[arg-type]


@pytest.fixture
def rig(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Rig]:
    names: list[str] = request.param
    sims = [SimulatedHuaweiModem(lambda n: CustomerScript("busy"), ring_ms=300) for _ in names]
    lines = []
    for name, sim in zip(names, sims, strict=True):
        sim.start()
        lines.append(Line(name, Modem(load_profile("huawei-e1550"), sim.at_port, sim.audio_port,
                                      timeouts=FAST_MODEM), supervision=Supervision(idle_ping_s=30)))
    for line in lines:
        assert line.start() is LineState.READY
    records = RecordsStore(tmp_path / "callbox.db")
    try:
        yield Rig(records, DialRunner(records), lines, sims, tmp_path / "callbox.db")
    finally:
        for line in lines:
            line.stop()
        for sim in sims:
            sim.stop()
        records.close()


def submit(records: RecordsStore, ticket_id: str, phone: str) -> None:
    payload = {"id": ticket_id, "type": "delivery", "subject": "Parcel", "description": "",
               "customer": {"name": "Ann", "phone": phone}, "order": {"id": "1", "status": "shipped"}}
    records.submit_ticket(parse_ticket(payload), webhook_id=f"m-{ticket_id}", decision="call", reason="test",
                          flow_id="delivery-confirmation", max_attempts=1)


def one_at_a_time(rig: Rig, scheduler: Scheduler, first: int, count: int) -> list[str]:
    """Submit ``count`` tickets one after the other, each once the last call ended: the lines that took them."""
    for i in range(first, first + count):
        submit(rig.records, f"T-{i}", f"+1555020{i:04d}")
        scheduler.wake()
        rig.runner.wait_calls(1)
    return [p.line for p in rig.runner.placed[first:first + count]]


@pytest.mark.parametrize("rig", [["s-c", "s-a", "s-b"]], indirect=True)
def test_the_line_that_rested_longest_takes_the_next_call_and_a_restart_remembers(rig: Rig) -> None:
    scheduler = rig.scheduler()
    scheduler.start()
    try:
        # never used: by name; then each in the order it last finished a call
        assert one_at_a_time(rig, scheduler, 0, 5) == ["s-a", "s-b", "s-c", "s-a", "s-b"]
    finally:
        scheduler.stop(timeout=5)
    again = rig.scheduler()  # a restart: when each line last called is read from the calls table
    again.start()
    try:
        assert one_at_a_time(rig, again, 5, 2) == ["s-c", "s-a"]
    finally:
        again.stop(timeout=5)
    rows = rig.records.db.read(lambda c: c.execute("SELECT line FROM calls ORDER BY id").fetchall())
    assert [r[0] for r in rows] == ["s-a", "s-b", "s-c", "s-a", "s-b", "s-c", "s-a"]


@pytest.mark.parametrize("rig", [["s-a", "s-b"]], indirect=True)
def test_a_line_at_its_daily_cap_takes_no_more_calls_and_the_other_line_takes_them(rig: Rig) -> None:
    scheduler = rig.scheduler(caps={"s-a": 2, "s-b": None}, day_zone=ZoneInfo("Europe/Paris"))
    scheduler.start()
    try:
        assert scheduler.line_notes() == {}
        assert one_at_a_time(rig, scheduler, 0, 6) == ["s-a", "s-b", "s-a", "s-b", "s-b", "s-b"]
        assert scheduler.line_notes() == {"s-a": "daily cap of 2 call(s) reached; calls again tomorrow"}
        assert rig.records.calls_started_by_line(start_of_day(datetime.now(UTC), ZoneInfo("Europe/Paris"))) == {
            "s-a": 2, "s-b": 4}
    finally:
        scheduler.stop(timeout=5)


@pytest.mark.parametrize("rig", [["s-a"]], indirect=True)
def test_every_line_at_its_cap_leaves_the_task_waiting(rig: Rig) -> None:
    scheduler = rig.scheduler(caps={"s-a": 1})
    scheduler.start()
    try:
        one_at_a_time(rig, scheduler, 0, 1)
        submit(rig.records, "T-9", "+15550209999")
        scheduler.wake()
        assert not rig.runner.finished.acquire(timeout=1.0)  # no call: the only line is at its cap
        assert rig.records.next_due_at() is not None  # the task is still pending, for tomorrow
        assert "s-a" in scheduler.line_notes()
    finally:
        scheduler.stop(timeout=5)


@pytest.mark.parametrize("rig", [["s-a", "s-b"]], indirect=True)
def test_two_tickets_for_one_number_are_never_called_at_the_same_time(rig: Rig) -> None:
    for i in range(3):
        submit(rig.records, f"T-{i}", "+15550201111")  # three tickets, one customer
    submit(rig.records, "T-other", "+15550202222")
    scheduler = rig.scheduler()
    scheduler.start()
    try:
        rig.runner.wait_calls(4)
    finally:
        scheduler.stop(timeout=5)
    same = sorted((p for p in rig.runner.placed if p.phone == "+15550201111"), key=lambda p: p.started)
    assert len(same) == 3
    for earlier, later in itertools.pairwise(same):
        assert later.started >= earlier.ended  # one after the other
    assert {p.line for p in rig.runner.placed} == {"s-a", "s-b"}  # the other line was busy meanwhile
    other = next(p for p in rig.runner.placed if p.phone == "+15550202222")
    assert other.started < same[1].started  # the other customer did not wait behind the first one's queue


def test_the_claim_skips_a_number_being_called_even_from_many_threads(store: RecordsStore) -> None:
    phones = [f"+1555030000{i}" for i in range(3)]
    for i in range(30):
        submit(store, f"T-{i}", phones[i % 3])
    in_flight: set[str] = set()
    overlaps: list[str] = []
    claimed: list[int] = []
    lock = threading.Lock()

    def line_worker() -> None:
        while (task := store.claim_due_task(datetime.now(UTC))) is not None or len(claimed) < 30:
            if task is None:
                time.sleep(0.002)  # another worker holds the last numbers; it will end its call soon
                continue
            ticket = store.ticket(task.ticket_id)
            assert ticket is not None
            with lock:
                if ticket.customer_phone in in_flight:
                    overlaps.append(ticket.customer_phone)
                in_flight.add(ticket.customer_phone)
                claimed.append(task.id)
            call_id = store.start_call(task=task, phone=ticket.customer_phone, line="l", flow_version=1)
            time.sleep(0.003)
            with lock:
                in_flight.discard(ticket.customer_phone)  # before the end commits: a new claim may follow it
            store.record_conclusion(conclude(ticket, task, AttemptResult(Outcome.BUSY), datetime.now(UTC),
                                             call_id=call_id, retry=RetryConfig()))

    threads = [threading.Thread(target=line_worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert overlaps == [] and sorted(claimed) == sorted(set(claimed)) and len(claimed) == 30


def test_a_call_in_flight_holds_its_number_until_it_ends(store: RecordsStore) -> None:
    submit(store, "T-1", "+15550301234")
    first = store.claim_due_task(datetime.now(UTC))
    assert first is not None
    call_id = store.start_call(task=first, phone="+15550301234", line="l", flow_version=1)
    submit(store, "T-2", "+1 555 030 1234")  # the same number, written another way
    assert store.claim_due_task(datetime.now(UTC)) is None
    ticket = store.ticket("T-1")
    assert ticket is not None
    store.record_conclusion(conclude(ticket, first, AttemptResult(Outcome.BUSY), datetime.now(UTC),
                                     call_id=call_id, retry=RetryConfig()))
    second = store.claim_due_task(datetime.now(UTC))
    assert second is not None and second.ticket_id == "T-2"


def test_the_box_day_starts_at_local_midnight() -> None:
    now = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 01:30 in Paris, the night clocks go forward
    assert start_of_day(now, ZoneInfo("Europe/Paris")) == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert start_of_day(now, ZoneInfo("America/New_York")) == datetime(2026, 3, 28, 4, 0, tzinfo=UTC)


# -- pick_line, pure ------------------------------------------------------------------------------------------
NAMES = st.sampled_from(["gsm0", "gsm1", "gsm2", "sim0", "sim1", "a", "b"])
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
WHEN = st.integers(0, 5).map(lambda m: EPOCH + timedelta(minutes=m))  # few values: ties happen


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(NAMES, unique=True, max_size=6),
    last_used=st.dictionaries(NAMES, WHEN),
    counts=st.dictionaries(NAMES, st.integers(0, 5)),
    caps=st.dictionaries(NAMES, st.none() | st.integers(0, 5)),
    data=st.data(),
)
def test_pick_line_takes_the_least_recently_used_line_under_its_cap(
    lines: list[str], last_used: dict[str, datetime], counts: dict[str, int], caps: dict[str, int | None],
    data: st.DataObject,
) -> None:
    chosen = pick_line(lines, last_used, counts, caps)

    def under_cap(name: str) -> bool:
        cap = caps.get(name)
        return cap is None or counts.get(name, 0) < cap

    eligible = [n for n in lines if under_cap(n)]
    if not eligible:
        assert chosen is None
        return
    assert chosen in eligible
    for other in eligible:  # none rested longer; of those that rested as long, it comes first by name
        if other not in last_used:
            assert chosen not in last_used and chosen <= other
        elif chosen in last_used:
            assert (last_used[chosen], chosen) <= (last_used[other], other)
    shuffled = data.draw(st.permutations(lines))
    assert pick_line(shuffled, last_used, counts, caps) == chosen  # the order lines are listed in does not matter


# -- the caps from the configuration, and the panel's status --------------------------------------------------
def test_caps_come_from_the_line_or_the_calling_default_and_the_panel_shows_a_held_line(
    tmp_path: Path, pocketsphinx_engine: object
) -> None:
    from appliance.box import Callbox
    from appliance.campaign.calls import SpeechKit
    from appliance.config import CallingConfig, Config, LineConfig

    config = Config(state_dir=tmp_path / "state", calling=CallingConfig(line_daily_cap=5),
                    lines=(LineConfig("g0", "/dev/null-at", "/dev/null-audio", daily_cap=1),
                           LineConfig("g1", "/dev/null-at1", "/dev/null-audio1")))
    kit = SpeechKit(asr=pocketsphinx_engine, tts=None, endpointer=lambda: None)  # type: ignore[arg-type]
    box = Callbox(config, speech=kit)
    try:
        assert box.scheduler.caps == {"g0": 1, "g1": 5}
        submit(box.records, "T-1", "+15550501234")
        task = box.records.claim_due_task(datetime.now(UTC))
        assert task is not None
        box.records.start_call(task=task, phone="+15550501234", line="g0", flow_version=1)  # g0's one call today
        # (the box starts as after a crash: that call ends interrupted, and it still counts)
        box.scheduler.idle_poll_s = 0.05
        box.scheduler.start()
        deadline = time.monotonic() + 5
        while "g0" not in box.scheduler.line_notes() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert box.panel.status()["lines"] == [
            {"name": "g0", "state": "absent", "held": "daily cap of 1 call(s) reached; calls again tomorrow"},
            {"name": "g1", "state": "absent"}]
    finally:
        box.stop()


def test_a_negative_daily_cap_is_refused_with_its_key() -> None:
    from appliance.config import parse_config
    from appliance.errors import ConfigError

    with pytest.raises(ConfigError, match=r"calling\.line_daily_cap"):
        parse_config({"calling": {"line_daily_cap": -1}})
    with pytest.raises(ConfigError, match=r"lines\[0\]\.daily_cap"):
        parse_config({"lines": [{"name": "g0", "at_port": "a", "audio_port": "b", "daily_cap": -3}]})
    assert parse_config({"lines": [{"name": "g0", "at_port": "a", "audio_port": "b", "daily_cap": 40}]}
                        ).lines[0].cap(0) == 40


@pytest.mark.parametrize("rig", [["s-a"]], indirect=True)
def test_a_job_runs_on_the_lines_own_worker_and_no_task_is_handed_to_it_meanwhile(rig: Rig) -> None:
    """The panel's test call: ``run_on`` hands a job to the line's worker; while it runs the line takes no task and
    a second job is refused; after it the line takes the waiting task."""
    scheduler = rig.scheduler()
    scheduler.start()
    release, running = threading.Event(), threading.Event()
    ran_on: list[tuple[str, str]] = []

    def job(line: Line) -> None:
        ran_on.append((line.name, threading.current_thread().name))
        running.set()
        assert release.wait(10)

    try:
        assert scheduler.run_on("s-zz", job) is False  # no such line
        assert scheduler.run_on("s-a", job) is True
        assert running.wait(5)
        assert ran_on == [("s-a", "line-worker:s-a")]
        assert scheduler.run_on("s-a", job) is False  # busy with the first one
        submit(rig.records, "T-J", "+15550209999")
        scheduler.wake()
        time.sleep(0.3)  # the dispatcher polls every 0.05 s: several looks at a busy line
        assert rig.runner.placed == []
        release.set()
        rig.runner.wait_calls(1)
        assert [p.line for p in rig.runner.placed] == ["s-a"]
    finally:
        release.set()
        scheduler.stop(timeout=5)
    rig.lines[0].stop()
    assert scheduler.run_on("s-a", job) is False  # a stopped scheduler, a line not ready
