"""The attempt, task and ticket state tables and the one retry table (README, panel)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appliance.campaign.attempt import (
    ATTEMPT_TRANSITIONS,
    RETRY_TABLE,
    AttemptState,
    IllegalTransition,
    Outcome,
    TaskState,
    TicketStatus,
    next_attempt_state,
    next_task_state,
    next_ticket_status,
    retry_decision,
    retry_table_markdown,
)
from appliance.config import RetryConfig
from web.panel import tone

README = Path(__file__).resolve().parents[2] / "README.md"


def test_an_attempt_walks_queued_to_completed_and_terminal_states_go_nowhere() -> None:
    state = AttemptState.QUEUED
    for event in ("dial", "ringing", "answered", "completed"):
        state = next_attempt_state(state, event)
    assert state is AttemptState.COMPLETED
    terminal = {s for s in AttemptState if s.value in {o.value for o in Outcome}}
    assert not any(s in terminal for s, _ in ATTEMPT_TRANSITIONS)
    with pytest.raises(IllegalTransition):
        next_attempt_state(AttemptState.COMPLETED, "dial")
    with pytest.raises(IllegalTransition):
        next_attempt_state(AttemptState.QUEUED, "answered")


def test_a_task_runs_pauses_and_ends() -> None:
    state = next_task_state(TaskState.PENDING, "claim")
    state = next_task_state(next_task_state(state, "pause"), "resume")
    assert next_task_state(state, "complete") is TaskState.COMPLETED
    with pytest.raises(IllegalTransition):
        next_task_state(TaskState.COMPLETED, "claim")


def test_a_ticket_is_called_from_open_or_scheduled_and_concluded_only_while_calling() -> None:
    called = next_ticket_status(TicketStatus.SCHEDULED, "claim")
    assert called is TicketStatus.CALLING
    assert next_ticket_status(called, "close") is TicketStatus.CLOSED
    assert next_ticket_status(called, "give_up") is TicketStatus.UNREACHABLE
    with pytest.raises(IllegalTransition):
        next_ticket_status(TicketStatus.CLOSED, "claim")  # a closed ticket is never called again
    with pytest.raises(IllegalTransition):
        next_ticket_status(TicketStatus.OPEN, "close")  # only an attempt's conclusion closes a ticket
    assert next_ticket_status(TicketStatus.CLOSED, "redeliver") is TicketStatus.OPEN  # a new version of it


def test_every_outcome_is_a_terminal_attempt_state_with_a_row_in_the_retry_table() -> None:
    assert set(RETRY_TABLE) == set(Outcome)
    assert {o.value for o in Outcome} <= {s.value for s in AttemptState}
    for outcome, rule in RETRY_TABLE.items():
        assert rule.retry == (rule.delay is not None), outcome
        if rule.retry:
            assert rule.delay_s(RetryConfig()) > 0


def test_the_readme_shows_exactly_the_retry_table() -> None:
    table = retry_table_markdown()
    assert table in README.read_text(encoding="utf-8")
    assert table.count("\n") == len(RETRY_TABLE) + 2


def test_the_panel_colours_outcomes_by_the_retry_table() -> None:
    for outcome, rule in RETRY_TABLE.items():
        assert tone(outcome.value) == rule.tone
    assert tone("hung_up") == "warn"  # was in neither table: shown as nothing in particular
    assert tone(TicketStatus.CLOSED) == "good" and tone("dialing") == "info" and tone("faulted") == "bad"


def test_hung_up_is_retried_after_the_failed_delay_and_says_so() -> None:
    now = datetime(2026, 11, 24, 10, tzinfo=UTC)
    d = retry_decision(Outcome.HUNG_UP, attempt=1, max_attempts=3, now=now, retry=RetryConfig(failed=42))
    assert d.ticket_status is TicketStatus.OPEN and d.retry_at is not None
    assert (d.retry_at - now).total_seconds() == 42 and "hung up" in d.remark


@given(st.sampled_from([o for o, r in RETRY_TABLE.items() if r.retry]), st.integers(1, 10), st.integers(1, 10))
def test_the_last_attempt_gives_up_and_earlier_ones_retry(outcome: Outcome, attempt: int, max_attempts: int) -> None:
    now = datetime(2026, 11, 24, 10, tzinfo=UTC)
    d = retry_decision(outcome, attempt=attempt, max_attempts=max_attempts, now=now, retry=RetryConfig())
    if attempt >= max_attempts:
        assert d.ticket_status is TicketStatus.UNREACHABLE and d.retry_at is None and "Giving up" in d.remark
    else:
        assert d.retry_at is not None and d.retry_at > now and f"Attempt {attempt} of {max_attempts}" in d.remark


def test_outcomes_that_are_not_retried_have_no_decision() -> None:
    with pytest.raises(ValueError):
        retry_decision(Outcome.COMPLETED, attempt=1, max_attempts=3, now=datetime.now(UTC), retry=RetryConfig())
