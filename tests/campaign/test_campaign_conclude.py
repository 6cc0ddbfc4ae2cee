"""``conclude``, ``blocked`` and ``recover`` as pure functions: what one attempt's end writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from killswitch import TICKET

from appliance.campaign.attempt import IllegalTransition, Outcome
from appliance.campaign.conclude import AttemptResult, blocked, conclude, recover
from appliance.campaign.guards import flow_not_published, missing_variable
from appliance.config import RetryConfig
from appliance.dialog.flow.load import builtin_flow_path, load_flow
from appliance.dialog.runtime.engine import RenderedOperation
from appliance.records.conclusion import Turn
from appliance.records.store import InFlight, TaskRow, iso

NOW = datetime(2026, 11, 24, 14, 35, tzinfo=UTC)
RETRY = RetryConfig(busy=300, interrupted=60, failed=600)


def task(attempts: int = 1, max_attempts: int = 3) -> TaskRow:
    return TaskRow(7, "T1", "delivery", "running", attempts, max_attempts, iso(NOW))


def answered(outcome: Outcome = Outcome.COMPLETED, *ops: RenderedOperation, **kw: object) -> AttemptResult:
    turns = (Turn("customer", "hello", node="answer"), Turn("bot", "Is anyone home?"),
             Turn("customer", "yes i will be home", "confirm", 0.9, "ask", 5100))
    return AttemptResult(outcome, answered=True, disposition="confirmed", operations=ops, turns=turns, **kw)  # type: ignore[arg-type]


def test_a_confirmed_call_closes_the_ticket_and_ends_the_task() -> None:
    c = conclude(TICKET, task(), answered(Outcome.COMPLETED, RenderedOperation("remark", "Someone is home."),
                                          RenderedOperation("close")), NOW, call_id=3, retry=RETRY)
    assert c.ticket_status == "closed" and c.task is not None and c.task.state == "completed"
    assert c.next_task is None and c.do_not_call is None and c.next_call_at is None
    assert c.call is not None and c.call.outcome == "completed" and c.call.disposition == "confirmed"
    assert [k for k, _ in c.operations] == ["remark", "close"]
    assert "Customer said 'yes i will be home'" in c.operations[0][1] and "Someone is home." in c.operations[0][1]
    assert [e["operation"] for _, e in c.outbox] == ["remark", "close"] and len(c.call.turns) == 3


def test_a_call_me_later_plans_the_next_task_in_the_same_conclusion() -> None:
    c = conclude(TICKET, task(), answered(Outcome.COMPLETED, RenderedOperation("schedule", delay_minutes=90)),
                 NOW, call_id=3, retry=RETRY)
    assert c.ticket_status == "scheduled" and c.task is not None and c.task.state == "completed"
    assert c.next_task is not None and c.next_task.at == iso(NOW + timedelta(minutes=90))
    assert c.next_call_at == c.next_task.at and c.next_task.max_attempts == 3


def test_stop_calling_me_wins_over_a_schedule_and_lists_the_number() -> None:
    c = conclude(TICKET, task(), answered(Outcome.COMPLETED, RenderedOperation("schedule", delay_minutes=60),
                                          RenderedOperation("do_not_call", "asked")), NOW, call_id=3, retry=RETRY)
    assert c.do_not_call == ("+15550001", "asked during call 3") and c.next_task is None
    assert c.ticket_status == "open" and "schedule" not in [k for k, _ in c.operations]


def test_busy_retries_after_its_delay_and_the_last_attempt_gives_up() -> None:
    c = conclude(TICKET, task(), AttemptResult(Outcome.BUSY, cause=17), NOW, call_id=3, retry=RETRY)
    assert c.task is not None and c.task.state == "pending"
    assert c.task.next_attempt_at == iso(NOW + timedelta(seconds=300))
    assert c.ticket_status == "open" and c.call is not None and "cause 17" in c.call.remark
    last = conclude(TICKET, task(3, 3), AttemptResult(Outcome.NO_ANSWER), NOW, call_id=4, retry=RETRY)
    assert last.ticket_status == "unreachable" and last.task is not None and last.task.state == "completed"


def test_an_interrupted_dial_says_why_the_line_failed() -> None:
    c = conclude(TICKET, task(), AttemptResult(Outcome.INTERRUPTED, detail="port closed"), NOW, call_id=3,
                 retry=RETRY)
    assert c.call is not None and c.call.remark.endswith("Line fault: port closed.")


def test_a_customer_who_hung_up_is_called_again_per_the_hung_up_row() -> None:
    c = conclude(TICKET, task(), answered(Outcome.HUNG_UP, RenderedOperation("close")), NOW, call_id=3,
                 retry=RETRY)
    assert c.ticket_status == "open" and c.call is not None and c.call.disposition is None
    assert c.task is not None and c.task.next_attempt_at == iso(NOW + timedelta(seconds=600))
    assert [k for k, _ in c.operations] == ["remark"] and "hung up" in c.operations[0][1]


def test_a_guard_ends_the_task_without_a_call_row() -> None:
    c = blocked(TICKET, task(), flow_not_published("gone"))
    assert c.call is None and c.call_id is None and c.task is not None and c.task.state == "cancelled"
    assert c.ticket_status == "open" and "not published" in c.operations[0][1]


def test_a_missing_variable_holds_the_ticket_and_tells_the_ticketing_system() -> None:
    flow = load_flow(builtin_flow_path("delivery-confirmation.en"))
    assert missing_variable(flow, {"name": "Ann", "order_id": "A-7", "shop": "Corner Shop"}) is None
    guard = missing_variable(flow, {"name": "Ann", "shop": "Corner Shop", "order_id": " "})
    assert guard is not None and guard.name == "missing_variable" and "order_id" in guard.remark
    c = blocked(TICKET, task(), guard)
    assert c.call is None and c.task is not None and c.task.state == "cancelled" and c.task.outcome == "blocked"
    assert c.ticket_status == "open" and c.operations == (("remark", guard.remark),)
    assert [e for _, e in c.outbox] == [{"ticket": TICKET.id, "call": 0, "operation": "remark",
                                         "detail": guard.remark}]


def test_recovery_ends_in_flight_attempts_interrupted_without_counting_them_again() -> None:
    found = [InFlight(task(1, 2), TICKET, 5, True), InFlight(task(2, 2), TICKET, None, True)]
    first, last = recover(found, NOW, retry=RETRY)
    assert first.call is not None and first.call.outcome == "interrupted" and first.call_id == 5
    assert first.task is not None and first.task.state == "pending"
    assert first.task.next_attempt_at == iso(NOW + timedelta(seconds=60))  # the table's delay, not at once
    assert "Attempt 1 of 2" in first.operations[0][1]
    assert last.call is None and last.ticket_status == "unreachable"


def test_an_outcome_the_attempt_table_does_not_allow_is_refused() -> None:
    """The attempt's state table guards the conclusion: an answered call cannot end busy, and an unanswered
    dial cannot end completed; nothing is decided (so nothing is written) for such a result."""
    with pytest.raises(IllegalTransition, match="busy"):
        conclude(TICKET, task(), answered(Outcome.BUSY), NOW, call_id=3, retry=RETRY)
    with pytest.raises(IllegalTransition, match="completed"):
        conclude(TICKET, task(), AttemptResult(Outcome.COMPLETED), NOW, call_id=3, retry=RETRY)


def test_redials_per_outcome_cap_the_retry_and_max_attempts_still_caps_the_total() -> None:
    busy = AttemptResult(Outcome.BUSY)
    # busy may be redialled twice: the first and second busy attempts retry, the third gives up
    for before in (0, 1):
        c = conclude(TICKET, task(before + 1, 10), busy, NOW, call_id=3, retry=RETRY, redials={"busy": 2},
                     ended_alike=before)
        assert c.ticket_status == "open" and c.task is not None and c.task.state == "pending"
    spent = conclude(TICKET, task(3, 10), busy, NOW, call_id=3, retry=RETRY, redials={"busy": 2}, ended_alike=2)
    assert spent.ticket_status == "unreachable" and spent.task is not None and spent.task.state == "completed"
    assert spent.next_call_at is None and spent.call is not None and "Redialled 2 time(s)" in spent.call.remark
    # another outcome's limit does not touch busy; zero redials gives up at once
    other = conclude(TICKET, task(3, 10), busy, NOW, call_id=3, retry=RETRY, redials={"no_answer": 0},
                     ended_alike=5)
    assert other.ticket_status == "open"
    zero = conclude(TICKET, task(1, 10), AttemptResult(Outcome.NO_ANSWER), NOW, call_id=3, retry=RETRY,
                    redials={"no_answer": 0})
    assert zero.ticket_status == "unreachable"
    # max_attempts caps the total even with redials left
    last = conclude(TICKET, task(3, 3), busy, NOW, call_id=3, retry=RETRY, redials={"busy": 9}, ended_alike=0)
    assert last.ticket_status == "unreachable" and last.call is not None and "Redialled" not in last.call.remark
    # an interrupted answered call is capped the same way
    cut = conclude(TICKET, task(2, 10), answered(Outcome.INTERRUPTED), NOW, call_id=3, retry=RETRY,
                   redials={"interrupted": 1}, ended_alike=1)
    assert cut.ticket_status == "unreachable" and cut.task is not None and cut.task.next_attempt_at is None


def screened(outcome: Outcome, why: str, ms: int) -> AttemptResult:
    return AttemptResult(outcome, answered=True, answered_by=outcome.value, screen_why=why, screen_ms=ms)


def test_an_answering_machine_leaves_no_message_and_is_retried_after_the_machine_delay() -> None:
    c = conclude(TICKET, task(), screened(Outcome.MACHINE, "a beep after the greeting", 4620), NOW, call_id=3,
                 retry=RetryConfig(machine=5400))
    assert c.ticket_status == "open" and c.task is not None and c.task.state == "pending"
    assert c.next_call_at == iso(NOW + timedelta(seconds=5400)) and c.next_task is None
    assert c.call is not None and c.call.outcome == "machine" and c.call.disposition is None
    (kind, remark), = c.operations
    assert kind == "remark" and "an answering machine answered (a beep after the greeting, 4.6 s after the " \
                                "answer); no message left" in remark and "Attempt 1 of 3: machine" in remark
    assert c.call.remark == remark and c.outbox[0][1]["answered_by"] == "machine"


def test_a_machine_on_the_last_attempt_or_past_its_redials_gives_up() -> None:
    last = conclude(TICKET, task(3, 3), screened(Outcome.MACHINE, "long", 3000), NOW, call_id=3, retry=RETRY)
    assert last.ticket_status == "unreachable" and last.next_call_at is None
    spent = conclude(TICKET, task(2, 5), screened(Outcome.MACHINE, "long", 3000), NOW, call_id=3, retry=RETRY,
                     redials={"machine": 1}, ended_alike=1)
    assert spent.ticket_status == "unreachable" and "Redialled 1 time(s) after machine" in spent.operations[0][1]


def test_an_invalid_number_is_not_called_again_and_the_ticket_says_why() -> None:
    c = conclude(TICKET, task(1, 3), screened(Outcome.INVALID_NUMBER, "special-information tones", 860), NOW,
                 call_id=4, retry=RETRY)
    assert c.ticket_status == "unreachable" and c.next_call_at is None and c.next_task is None
    assert c.task is not None and c.task.state == "completed" and c.task.outcome == "invalid_number"
    remark = c.operations[0][1]
    assert "the network says the number is not in service (special-information tones, 0.9 s after the " \
           "answer)" in remark and "Not called again" in remark and TICKET.customer_phone in remark
    assert [e["operation"] for _, e in c.outbox] == ["remark"]


def test_machine_and_invalid_number_end_only_an_answered_attempt() -> None:
    for outcome in (Outcome.MACHINE, Outcome.INVALID_NUMBER):
        with pytest.raises(IllegalTransition):
            conclude(TICKET, task(), AttemptResult(outcome), NOW, call_id=3, retry=RETRY)
