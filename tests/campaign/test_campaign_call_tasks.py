"""Call tasks in the campaign and the records store (real SQLite): the state table, pause/resume/cancel/expire,
what the claim takes (paused and ended tasks never, priority first, lines at once), a cancel during a call, the
conclusion's progress, timers firing once per due time across a restart, and per-weekday hours in the callee's
zone on top of the compliance preset."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from appliance.campaign.attempt import Outcome
from appliance.campaign.call_tasks import CallTasks, latest_due
from appliance.campaign.calltask import CALL_TASK_TABLE, CallTaskState, TaskSettings, parse_settings, task_rules
from appliance.campaign.compliance import PRESETS, CallingRules, hold
from appliance.campaign.conclude import AttemptResult, conclude
from appliance.campaign.publish import install_defaults
from appliance.config import RetryConfig
from appliance.errors import TaskInvalid
from appliance.records.config_store import ConfigStore
from appliance.records.history import PhoneHistory
from appliance.records.store import RecordsStore
from appliance.states import IllegalTransition

FLOW = "delivery-confirmation"
S = CallTaskState
LEGAL = {
    (S.PENDING, "start"): S.RUNNING, (S.PENDING, "pause"): S.PAUSED, (S.RUNNING, "pause"): S.PAUSED,
    (S.PAUSED, "resume"): S.RUNNING, (S.RUNNING, "complete"): S.COMPLETED, (S.PENDING, "complete"): S.COMPLETED,
    **{(s, e): t for s in (S.PENDING, S.RUNNING, S.PAUSED)
       for e, t in (("expire", S.EXPIRED), ("cancel", S.CANCELLED))},
}
EVENTS = ("start", "pause", "resume", "complete", "expire", "cancel")


def test_every_legal_and_illegal_transition_of_the_call_task_table() -> None:
    for state, event in itertools.product(CallTaskState, EVENTS):
        if (state, event) in LEGAL:
            assert CALL_TASK_TABLE.next(state, event) is LEGAL[(state, event)]
        else:
            with pytest.raises(IllegalTransition) as err:
                CALL_TASK_TABLE.next(state, event)
            assert err.value.kind == "call task" and err.value.state is state and repr(event) in str(err.value)
    for ended in (S.COMPLETED, S.EXPIRED, S.CANCELLED):
        assert not any(CALL_TASK_TABLE.allows(ended, e) for e in EVENTS)  # terminal


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def configs(tmp_path: Path):  # type: ignore[no-untyped-def]
    c = ConfigStore(tmp_path / "config.json")
    install_defaults(c)
    yield c
    c.close()


NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # a Wednesday


def desk(store: RecordsStore, configs: ConfigStore, clock: Clock | None = None) -> CallTasks:
    return CallTasks(records=store, configs=configs, max_attempts=3, clock=clock or Clock(NOW), zone=UTC)


def customers(*phones: str) -> list[dict[str, str]]:
    return [{"phone": p, "name": f"N{i}", "order_id": f"O{i}"} for i, p in enumerate(phones)]


def make(tasks: CallTasks, *phones: str, **settings: object) -> int:
    return int(tasks.create({"flow": FLOW, "customers": customers(*phones), "settings": settings})["id"])


def test_pause_stops_claims_resume_brings_them_back(store: RecordsStore, configs: ConfigStore) -> None:
    tasks = desk(store, configs)
    task_id = make(tasks, "+15550001", "+15550002")
    later = datetime.now(UTC) + timedelta(seconds=1)
    tasks.act(task_id, "pause")
    assert store.claim_due_task(later) is None
    tasks.act(task_id, "resume")
    claimed = store.claim_due_task(later)
    assert claimed is not None and claimed.call_task_id == task_id
    assert store.call_tasks.get(task_id)["state"] == "running"  # type: ignore[index]


def test_cancel_ends_pending_attempts_and_a_retry_planned_by_a_call_in_progress(
        store: RecordsStore, configs: ConfigStore) -> None:
    tasks = desk(store, configs)
    task_id = make(tasks, "+15550001", "+15550002")
    running = store.claim_due_task(datetime.now(UTC))
    assert running is not None
    call_id = store.start_call(task=running, phone="+15550001", line="l1", flow_version=1)
    cancelled = tasks.act(task_id, "cancel")
    assert [a["state"] for a in cancelled["attempts"]] == ["running", "cancelled"]  # the call finishes
    ticket = store.ticket(running.ticket_id)
    assert ticket is not None
    ended = conclude(ticket, running, AttemptResult(Outcome.NO_ANSWER), datetime.now(UTC), call_id=call_id,
                     retry=RetryConfig())
    assert ended.task is not None and ended.task.state == "pending"  # the retry table would call again...
    store.record_conclusion(ended)
    after = store.call_tasks.get(task_id)
    assert after is not None and after["state"] == "cancelled"
    assert after["progress"]["by_state"] == {"cancelled": 2} and after["progress"]["finished"] == 2  # ...not now
    assert store.claim_due_task(datetime.now(UTC) + timedelta(days=1)) is None
    with pytest.raises(IllegalTransition):
        tasks.act(task_id, "resume")


def test_a_task_completes_when_its_last_attempt_ends(store: RecordsStore, configs: ConfigStore) -> None:
    tasks = desk(store, configs)
    task_id = make(tasks, "+15550001", broadcast=True)
    running = store.claim_due_task(datetime.now(UTC))
    assert running is not None and running.max_attempts == 1  # broadcast: one call each
    ticket = store.ticket(running.ticket_id)
    assert ticket is not None
    call_id = store.start_call(task=running, phone="+15550001", line="l1", flow_version=1)
    store.record_conclusion(conclude(ticket, running, AttemptResult(Outcome.BUSY), datetime.now(UTC),
                                     call_id=call_id, retry=RetryConfig()))
    done = tasks.get(task_id)
    assert done is not None and done["state"] == "completed"
    assert done["progress"]["by_outcome"] == {"busy": 1} and done["attempts"][0]["calls"][0]["id"] == call_id


def test_validity_ends_in_expired(store: RecordsStore, configs: ConfigStore) -> None:
    clock = Clock(NOW)
    tasks = desk(store, configs, clock)
    task_id = make(tasks, "+15550001", valid_until="2026-12-02T12:00:00+02:00")  # 10:00 UTC
    assert tasks.tick(NOW + timedelta(minutes=30)) == ([], [])
    other = make(tasks, "+15550002", valid_days=1)
    expired, _ = tasks.tick(datetime(2026, 12, 2, 10, 0, tzinfo=UTC))
    assert expired == [task_id]
    view = store.call_tasks.get(task_id)
    assert view is not None and view["state"] == "expired"
    assert store.call_tasks.get(other)["state"] != "expired"  # type: ignore[index]
    with pytest.raises(IllegalTransition):
        tasks.act(task_id, "pause")


def test_an_expired_task_is_not_claimed_even_before_the_sweep(store: RecordsStore, configs: ConfigStore) -> None:
    tasks = desk(store, configs, Clock(datetime.now(UTC)))
    until = datetime.now(UTC) + timedelta(hours=1)
    make(tasks, "+15550001", valid_until=until.isoformat())
    assert store.claim_due_task(until) is None
    assert store.claim_due_task(until - timedelta(minutes=1)) is not None
    with pytest.raises(TaskInvalid) as err:  # a validity that has already ended is refused
        make(tasks, "+15550002", valid_until=(datetime.now(UTC) - timedelta(minutes=1)).isoformat())
    assert err.value.field == "settings.valid_until"


def test_claim_takes_priority_first_and_no_more_lines_than_allowed(store: RecordsStore,
                                                                   configs: ConfigStore) -> None:
    tasks = desk(store, configs)
    low = make(tasks, "+15550001", "+15550002", priority=-1)
    high = make(tasks, "+15550011", "+15550012", "+15550013", priority=10, lines=2)
    later = datetime.now(UTC) + timedelta(seconds=1)
    order = [store.claim_due_task(later) for _ in range(4)]
    assert [t.call_task_id for t in order if t] == [high, high, low, low]  # the third of `high` waits for a line
    assert store.claim_due_task(later) is None
    running = next(t for t in order if t and t.call_task_id == high)
    store.record_conclusion(conclude(
        store.ticket(running.ticket_id), running, AttemptResult(Outcome.BUSY),  # type: ignore[arg-type]
        datetime.now(UTC) - timedelta(hours=1), call_id=store.start_call(task=running, phone="+1", line="l",
                                                                         flow_version=1),
        retry=RetryConfig()))
    freed = store.claim_due_task(later)
    assert freed is not None and freed.call_task_id == high  # a line of `high` was freed


def test_a_webhook_ticket_joins_the_standing_task_of_its_flow(store: RecordsStore) -> None:
    from killswitch import TICKET

    sub = store.submit_ticket(TICKET, webhook_id="m1", decision="call", reason="rule", flow_id=FLOW, max_attempts=3)
    task = store.task(sub.task_id)  # type: ignore[arg-type]
    assert task is not None and task.call_task_id is not None
    standing = store.call_tasks.get(task.call_task_id)
    assert standing is not None and standing["source"] == "trigger" and standing["name"] == FLOW


def test_a_timer_fires_once_per_due_time_across_a_restart(db_path: Path, configs: ConfigStore) -> None:
    created = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # a Monday
    store = RecordsStore(db_path)
    try:
        from killswitch import TICKET

        store.submit_ticket(TICKET, webhook_id="m1", decision="call", reason="rule", flow_id=FLOW, max_attempts=3)
        task = store.claim_due_task(datetime.now(UTC))
        assert task is not None
        from appliance.campaign.conclude import blocked
        from appliance.campaign.guards import Guard
        store.record_conclusion(blocked(TICKET, task, Guard("x", "x", "x")))  # the ticket is not live any more
        store.db.write(lambda c: c.execute("UPDATE tickets SET status='unreachable'"))
        clock = Clock(created)
        tasks = desk(store, configs, clock)
        tasks.create({"flow": FLOW, "cron": "0 10 * * 1-5", "name": "mornings"})
        store.db.write(lambda c: c.execute("UPDATE call_task_timers SET created_at=?", (created.isoformat(),)))
        assert tasks.tick(datetime(2026, 11, 30, 9, 59, tzinfo=UTC)) == ([], [])
        _, fired = tasks.tick(datetime(2026, 11, 30, 10, 0, 30, tzinfo=UTC))
        assert len(fired) == 1
        assert store.call_tasks.get(fired[0])["source"] == "cron"  # type: ignore[index]
        assert tasks.tick(datetime(2026, 11, 30, 10, 5, tzinfo=UTC)) == ([], [])
    finally:
        store.close()
    again = RecordsStore(db_path)  # a restart: the due time it fired for is stored
    try:
        tasks = desk(again, configs)
        assert tasks.tick(datetime(2026, 11, 30, 10, 30, tzinfo=UTC)) == ([], [])
        assert again.call_tasks.timers()[0]["last_due"].startswith("2026-11-30T10:00")
        tasks.act(fired[0], "cancel")  # its ticket may be called again
        assert tasks.tick(datetime(2026, 12, 5, 11, 0, tzinfo=UTC))[1] == []  # Saturday: the Friday 10:00 ...
        assert again.call_tasks.timers()[0]["last_due"].startswith("2026-12-04T10:00")  # ... fired, nobody open
    finally:
        again.close()


def test_latest_due_is_the_last_time_after_the_last_firing() -> None:
    after = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert latest_due("0 10 * * *", after, after + timedelta(hours=23), UTC) is None
    assert latest_due("0 10 * * *", after, after + timedelta(days=3), UTC) == after + timedelta(days=3)  # on time
    assert latest_due("0 10 * * *", after, after + timedelta(days=3, hours=5), UTC) == after + timedelta(days=3)
    paris = ZoneInfo("Europe/Paris")
    due = latest_due("0 10 * * *", after, datetime(2026, 12, 1, 9, 30, tzinfo=UTC), paris)
    assert due is not None and due.astimezone(UTC) == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_task_hours_narrow_the_preset_in_the_callees_zone() -> None:
    rules = CallingRules(PRESETS["us"], 3, UTC)  # 08:00-21:00 every day
    settings = parse_settings({"hours": {"wed": ["07:00-09:30", "20:00-22:00"], "thu": ["12:00-13:00"]}})
    narrowed = task_rules(rules, settings)
    ny = (ZoneInfo("America/New_York"),)
    quiet = PhoneHistory(calls=(), refused_at=None)
    # Wednesday 2 Dec 2026, 13:00 UTC = 08:00 in New York: open in both
    assert hold(datetime(2026, 12, 2, 13, 0, tzinfo=UTC), rules=narrowed, zones=ny, history=quiet) is None
    # 07:30 New York: the task allows it, the preset does not (never wider)
    early = hold(datetime(2026, 12, 2, 12, 30, tzinfo=UTC), rules=narrowed, zones=ny, history=quiet)
    assert early is not None and early.until == datetime(2026, 12, 2, 13, 0, tzinfo=UTC)
    # 10:00 New York: the preset allows it, the task holds it until 20:00
    mid = hold(datetime(2026, 12, 2, 15, 0, tzinfo=UTC), rules=narrowed, zones=ny, history=quiet)
    assert mid is not None and mid.guard.name == "outside_hours"
    assert mid.until == datetime(2026, 12, 3, 1, 0, tzinfo=UTC)  # 20:00 EST
    # 21:30 New York: past the preset's 21:00; next is Thursday 12:00
    late = hold(datetime(2026, 12, 3, 2, 30, tzinfo=UTC), rules=narrowed, zones=ny, history=quiet)
    assert late is not None and late.until == datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
    assert task_rules(rules, TaskSettings()) is rules


def test_settings_round_trip_and_retry_override() -> None:
    s = parse_settings({"broadcast": False, "max_attempts": 5, "retry": {"busy": 2, "no_answer": 90},
                        "priority": 3, "lines": 2, "valid_days": 7, "hours": {"Monday": "09:00-12:00"}})
    assert parse_settings(s.as_dict()) == s
    retry = s.retry_config(RetryConfig())
    assert retry.busy == 120 and retry.no_answer == 5400 and retry.failed == RetryConfig().failed
    assert s.attempts(3) == 5 and parse_settings({"broadcast": True, "max_attempts": 5}).attempts(3) == 1
    assert s.ends_at(NOW) == "2026-12-09T09:00:00.000+00:00"
    with pytest.raises(TaskInvalid) as err:
        parse_settings({"max_attempts": 21})
    assert err.value.field == "settings.max_attempts"



def test_the_runner_holds_an_attempt_until_the_tasks_own_hours_in_the_callees_zone(tmp_path: Path) -> None:
    """The US preset allows Wednesday 10:00 in New York; the task's hours (Wednesday 14:00-15:00) hold the
    attempt, uncounted, until 14:00 New York time."""
    from typing import cast

    from appliance.campaign.calls import CallRunner, SpeechKit
    from appliance.config import CallingConfig
    from appliance.telephony.ports import LinePort

    wednesday_10_ny = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    store = RecordsStore(tmp_path / "r.db")
    configs = ConfigStore(tmp_path / "c.json")
    install_defaults(configs)
    try:
        calling = CallingConfig(preset="us")
        runner = CallRunner(records=store, configs=configs, speech=cast(SpeechKit, None), calling=calling,
                            recordings_dir=tmp_path / "rec", clock=lambda: wednesday_10_ny,
                            rules=CallingRules.from_config(calling, UTC))
        tasks = desk(store, configs, Clock(wednesday_10_ny))
        make(tasks, "+12125551234", hours={"wed": ["14:00-15:00"]})
        task = store.claim_due_task(datetime.now(UTC) + timedelta(seconds=1))
        assert task is not None
        summary = runner.run(task, cast(LinePort, None))
        assert summary.outcome is Outcome.BLOCKED and summary.guard == "outside_hours" and summary.call_id == 0
        moved = store.task(task.id)
        assert moved is not None and moved.state == "pending" and moved.attempts == 0
        assert moved.next_attempt_at == "2026-12-02T19:00:00.000+00:00"  # 14:00 in New York
    finally:
        store.close()
        configs.close()


@pytest.mark.parametrize(("redials", "field"), [
    ({"hung_up": 1}, "settings.redials.hung_up"), ({"busy": -1}, "settings.redials.busy"),
    ({"busy": 1.5}, "settings.redials.busy"), ({"busy": True}, "settings.redials.busy"),
    ({"busy": "2"}, "settings.redials.busy"), ({"busy": 21}, "settings.redials.busy"),
    ([1], "settings.redials"),
])
def test_redials_are_checked_naming_the_field(redials: object, field: str) -> None:
    with pytest.raises(TaskInvalid) as err:
        parse_settings({"redials": redials})
    assert err.value.field == field
    s = parse_settings({"redials": {"busy": 3, "no_answer": 0}})
    assert s.redials == {"busy": 3, "no_answer": 0} and parse_settings(s.as_dict()) == s


def test_the_runner_stops_redialling_an_outcome_after_its_redials(store: RecordsStore, configs: ConfigStore,
                                                                  tmp_path: Path) -> None:
    """busy may be redialled once, max_attempts is 6: busy, no answer (not a busy), busy again -> unreachable
    (the count comes from the calls table through the runner)."""
    from typing import cast

    from appliance.campaign.calls import CallRunner, SpeechKit
    from appliance.config import CallingConfig

    calling = CallingConfig()
    runner = CallRunner(records=store, configs=configs, speech=cast(SpeechKit, None), calling=calling,
                        recordings_dir=tmp_path / "rec", clock=lambda: datetime.now(UTC),
                        rules=CallingRules.from_config(calling, UTC))
    tasks = desk(store, configs)
    make(tasks, "+15550001", max_attempts=6, redials={"busy": 1})
    statuses = []
    for outcome in (Outcome.BUSY, Outcome.NO_ANSWER, Outcome.BUSY):
        task = store.claim_due_task(datetime.now(UTC) + timedelta(days=2))
        assert task is not None
        ticket = store.ticket(task.ticket_id)
        assert ticket is not None
        call_id = store.start_call(task=task, phone=ticket.customer_phone, line="l1", flow_version=1)
        summary = runner._conclude(call_id, task, ticket, AttemptResult(outcome), runner._settings(task))
        statuses.append(summary.ticket_status)
    assert statuses == ["open", "open", "unreachable"]
    assert store.claim_due_task(datetime.now(UTC) + timedelta(days=2)) is None


def test_a_disabled_timer_never_fires_and_fires_again_once_enabled(store: RecordsStore,
                                                                   configs: ConfigStore) -> None:
    from appliance.campaign.call_tasks import TimerNotFound

    created = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # a Monday
    tasks = desk(store, configs, Clock(created))
    timer_id = tasks.create({"flow": FLOW, "cron": "0 10 * * *", "name": "daily",
                             "customers": customers("+15550077")})["timer"]
    store.db.write(lambda c: c.execute("UPDATE call_task_timers SET created_at=?", (created.isoformat(),)))
    [listed] = tasks.timers()
    assert listed["next_due"] == "2026-11-30T10:00:00.000+00:00"
    assert tasks.timer_action(timer_id, "disable")["next_due"] is None
    for day in range(3):  # due times come and go: nothing fires, nothing is marked
        assert tasks.tick(datetime(2026, 11, 30 + day, 10, 0, 30, tzinfo=UTC) if day == 0 else
                          datetime(2026, 12, day, 10, 0, 30, tzinfo=UTC)) == ([], [])
    assert store.call_tasks.timers()[0]["last_due"] is None and store.call_tasks.find(limit=10) == []
    tasks.timer_action(timer_id, "enable")
    _, fired = tasks.tick(datetime(2026, 12, 2, 10, 0, 30, tzinfo=UTC))
    assert len(fired) == 1 and store.call_tasks.get(fired[0])["source"] == "cron"  # type: ignore[index]
    tasks.delete_timer(timer_id)
    assert tasks.timers() == [] and store.call_tasks.get(fired[0]) is not None  # its task stays
    with pytest.raises(TimerNotFound):
        tasks.timer_action(timer_id, "enable")
    with pytest.raises(TimerNotFound):
        tasks.delete_timer(timer_id)


def test_a_task_sets_its_own_delay_and_redials_after_an_answering_machine() -> None:
    s = parse_settings({"retry": {"machine": 240}, "redials": {"machine": 2}})
    assert s.retry == {"machine": 240.0} and s.redials == {"machine": 2}
    with pytest.raises(TaskInvalid) as bad:  # not retried: nothing to redial
        parse_settings({"redials": {"invalid_number": 1}})
    assert bad.value.field == "settings.redials.invalid_number"
