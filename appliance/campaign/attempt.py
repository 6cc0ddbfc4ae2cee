"""The call attempt, its task and its ticket as state tables, and the one retry table keyed by ``Outcome``.

Like ``telephony.line.LineState``: a StrEnum per thing, a ``(state, event) -> state`` table, and an
``IllegalTransition`` for anything else. The records store keeps the values as text (records sits below the
campaign and does not import it). The retry table is what the scheduler follows, what the README prints
(``retry_table_markdown``, pinned by a test) and what the panel colours outcomes by.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from appliance.campaign.remarks import ENGLISH, N_, Remarks
from appliance.config import RetryConfig
from appliance.states import IllegalTransition as IllegalTransition  # raised by the tables below
from appliance.states import StateTable


class AttemptState(StrEnum):
    """One call attempt: ``queued -> dialing -> ringing -> answered -> completed``, or a terminal outcome."""

    QUEUED = "queued"
    DIALING = "dialing"
    RINGING = "ringing"
    ANSWERED = "answered"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    HUNG_UP = "hung_up"
    MACHINE = "machine"
    INVALID_NUMBER = "invalid_number"
    EXPIRED = "expired"
    BLOCKED = "blocked"
    CANCELLED = "cancelled"


class Outcome(StrEnum):
    """How an attempt ended: the terminal attempt states, the keys of the retry table."""

    COMPLETED = "completed"  # the conversation ran to a hang-up node; the flow decides what follows
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # the line failed mid-call, or the box stopped under it
    HUNG_UP = "hung_up"  # the customer hung up before the flow's end
    MACHINE = "machine"  # an answering machine answered: no message left, tried again later
    INVALID_NUMBER = "invalid_number"  # the network says the number cannot be called (tones, announcement)
    EXPIRED = "expired"
    BLOCKED = "blocked"  # a guard stopped it before dialing: flow not published, number on the do-not-call list
    CANCELLED = "cancelled"


class TaskState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class TicketStatus(StrEnum):
    OPEN = "open"  # a call (or a retry) is queued
    CALLING = "calling"
    SCHEDULED = "scheduled"  # the customer asked for a call at another time
    CLOSED = "closed"
    UNREACHABLE = "unreachable"  # the last attempt failed
    SKIPPED = "skipped"  # no rule called for a call, or a guard stopped it


A = AttemptState
ATTEMPT_TRANSITIONS: dict[tuple[AttemptState, str], AttemptState] = {
    (A.QUEUED, "dial"): A.DIALING,
    (A.QUEUED, "blocked"): A.BLOCKED,
    (A.QUEUED, "expired"): A.EXPIRED,
    (A.QUEUED, "cancelled"): A.CANCELLED,
    (A.DIALING, "ringing"): A.RINGING,
    (A.DIALING, "answered"): A.ANSWERED,
    (A.RINGING, "answered"): A.ANSWERED,
    (A.ANSWERED, "completed"): A.COMPLETED,
    (A.ANSWERED, "hung_up"): A.HUNG_UP,
    (A.ANSWERED, "interrupted"): A.INTERRUPTED,
    (A.ANSWERED, "machine"): A.MACHINE,  # the greeting was a voicemail's
    (A.ANSWERED, "invalid_number"): A.INVALID_NUMBER,  # ... or the network's announcement
    **{(s, e): AttemptState(e) for s in (A.DIALING, A.RINGING)
       for e in ("busy", "no_answer", "rejected", "failed", "interrupted")},
}

T = TaskState
TASK_TRANSITIONS: dict[tuple[TaskState, str], TaskState] = {
    (T.PENDING, "claim"): T.RUNNING,
    (T.PENDING, "cancel"): T.CANCELLED,
    (T.PENDING, "expire"): T.EXPIRED,
    (T.RUNNING, "pause"): T.PAUSED,  # a retry is due later
    (T.RUNNING, "retry"): T.PENDING,
    (T.PAUSED, "resume"): T.RUNNING,
    (T.PAUSED, "cancel"): T.CANCELLED,
    (T.RUNNING, "complete"): T.COMPLETED,
    (T.RUNNING, "expire"): T.EXPIRED,
    (T.RUNNING, "cancel"): T.CANCELLED,
}


S = TicketStatus
TICKET_TRANSITIONS: dict[tuple[TicketStatus, str], TicketStatus] = {
    (S.OPEN, "claim"): S.CALLING,  # the scheduler takes its task
    (S.SCHEDULED, "claim"): S.CALLING,
    (S.CALLING, "close"): S.CLOSED,  # what an attempt's conclusion can do
    (S.CALLING, "schedule"): S.SCHEDULED,
    (S.CALLING, "retry"): S.OPEN,
    (S.CALLING, "give_up"): S.UNREACHABLE,
    (S.CALLING, "skip"): S.SKIPPED,  # a guard: the number asked not to be called
    (S.CALLING, "hold"): S.OPEN,  # a guard: the flow is not published; an admin decides
    # updates of a known ticket (campaign.updates): one that makes the call pointless cancels the pending call
    (S.OPEN, "cancel"): S.SKIPPED,
    (S.SCHEDULED, "cancel"): S.SKIPPED,
    # a ticket done with, reopened by the helpdesk (or skipped before any call, now calling for one)
    **{(s, "redeliver"): S.OPEN for s in (S.CLOSED, S.UNREACHABLE, S.SKIPPED)},
    **{(s, "redeliver_skip"): S.SKIPPED for s in (S.CLOSED, S.UNREACHABLE, S.SKIPPED)},
}


TICKET_TABLE = StateTable("ticket", TICKET_TRANSITIONS)
next_ticket_status = TICKET_TABLE.next


ATTEMPT_TABLE = StateTable("attempt", ATTEMPT_TRANSITIONS)
next_attempt_state = ATTEMPT_TABLE.next


TASK_TABLE = StateTable("task", TASK_TRANSITIONS)
next_task_state = TASK_TABLE.next


@dataclass(frozen=True)
class RetryRule:
    retry: bool
    delay: str | None  # the RetryConfig field that holds the delay
    tone: str  # the panel's colour: good, warn, bad, muted
    means: str  # one line for the README

    def delay_s(self, config: RetryConfig) -> float:
        if self.delay is None:
            raise ValueError("this outcome is not retried")
        delays: dict[str, float] = {
            "busy": config.busy, "no_answer": config.no_answer, "rejected": config.rejected,
            "failed": config.failed, "interrupted": config.interrupted, "machine": config.machine,
        }
        return delays[self.delay]


RETRY_TABLE: dict[Outcome, RetryRule] = {
    Outcome.COMPLETED: RetryRule(False, None, "good",
                                 "the flow's hang-up node decides: `close` closes, `schedule` plans a new task"),
    Outcome.BUSY: RetryRule(True, "busy", "warn", "Q.850 cause 17"),
    Outcome.NO_ANSWER: RetryRule(True, "no_answer", "warn", "ring timeout, cause 18/19"),
    Outcome.REJECTED: RetryRule(True, "rejected", "warn", "cause 21, or 16 while ringing"),
    Outcome.FAILED: RetryRule(True, "failed", "bad", "other causes, modem error"),
    Outcome.INTERRUPTED: RetryRule(True, "interrupted", "bad",
                                   "the line failed mid-call, or the box stopped during it"),
    Outcome.HUNG_UP: RetryRule(True, "failed", "warn", "the customer hung up before the flow's end"),
    Outcome.MACHINE: RetryRule(True, "machine", "warn",
                               "an answering machine answered (a long greeting, a beep): no message is left"),
    Outcome.INVALID_NUMBER: RetryRule(False, None, "bad",
                                      "the network says the number cannot be called (special-information tones "
                                      "or an operator announcement): the ticket is unreachable, with a remark"),
    Outcome.EXPIRED: RetryRule(False, None, "muted", "the task's time ran out"),
    Outcome.BLOCKED: RetryRule(False, None, "muted",
                               "a guard stopped it before dialing: the flow is not published, the number is on the "
                               "do-not-call list, a flow variable has no value (the task ends); outside calling "
                               "hours, a cap or a refusal's quiet time (the task waits, the attempt is not counted)"),
    Outcome.CANCELLED: RetryRule(False, None, "muted", "cancelled by an admin"),
}

# The panel colours more than outcomes: attempts in flight and ticket statuses, by the same words.
IN_FLIGHT_TONES: dict[str, str] = {"queued": "info", "dialing": "info", "ringing": "info", "answered": "good"}
TICKET_TONES: dict[TicketStatus, str] = {
    TicketStatus.OPEN: "info",
    TicketStatus.CALLING: "info",
    TicketStatus.SCHEDULED: "info",
    TicketStatus.CLOSED: "good",
    TicketStatus.UNREACHABLE: "muted",
    TicketStatus.SKIPPED: "muted",
}


def rule_for(outcome: Outcome) -> RetryRule:
    return RETRY_TABLE[outcome]


NOT_RETRIED_NEXT = {
    Outcome.COMPLETED: "a new task at the scheduled time",
    Outcome.BLOCKED: "hours, caps, quiet time: the first allowed time; otherwise none",
}


def retry_table_markdown(config: RetryConfig | None = None) -> str:
    """The retry table as the README shows it (with the default delays)."""
    config = config or RetryConfig()
    rows = ["| outcome of the attempt | what it means | retried? | next attempt |", "| --- | --- | --- | --- |"]
    for outcome, rule in RETRY_TABLE.items():
        if rule.retry:
            after = f"after `calling.retry_s.{rule.delay}` ({rule.delay_s(config):g} s)"
            retried = "yes"
        else:
            after = NOT_RETRIED_NEXT.get(outcome, "none")
            retried = "no"
        rows.append(f"| `{outcome.value}` | {rule.means} | {retried} | {after} |")
    return "\n".join(rows) + "\n"


@dataclass(frozen=True)
class RetryDecision:
    ticket_status: TicketStatus  # open (a retry is queued) | unreachable
    retry_at: datetime | None
    remark: str


def retry_decision(
    outcome: Outcome, *, attempt: int, max_attempts: int, now: datetime, retry: RetryConfig, cause: int | None = None,
    redials_spent: int | None = None, remarks: Remarks = ENGLISH,
) -> RetryDecision:
    """An attempt that did not run the flow to its end: try again after the table's delay, or give up.
    ``redials_spent``: the task's redial limit for this outcome, when it has been reached (its ``redials``): give
    up as on the last attempt. The remark is said in ``remarks``' language."""
    rule = RETRY_TABLE[outcome]
    if not rule.retry:
        raise ValueError(f"not a retried outcome: {outcome}")
    word = remarks.word(RETRIED_WORDS[outcome])
    what = remarks.phrase("{outcome} (cause {cause})", outcome=word, cause=cause) if cause is not None else word
    if redials_spent is not None and attempt < max_attempts:
        return RetryDecision(
            next_ticket_status(TicketStatus.CALLING, "give_up"), None,
            remarks.phrase("Attempt {attempt} of {max_attempts}: {what}. Redialled {redials} time(s) after "
                           "{outcome}, the most this task allows. Giving up: customer not reached.",
                           attempt=attempt, max_attempts=max_attempts, what=what, redials=redials_spent,
                           outcome=word),
        )
    if attempt >= max_attempts:
        return RetryDecision(
            next_ticket_status(TicketStatus.CALLING, "give_up"), None,
            remarks.phrase("Attempt {attempt} of {max_attempts}: {what}. Giving up: customer not reached.",
                           attempt=attempt, max_attempts=max_attempts, what=what),
        )
    at = now + timedelta(seconds=rule.delay_s(retry))
    return RetryDecision(
        next_ticket_status(TicketStatus.CALLING, "retry"), at,
        remarks.phrase("Attempt {attempt} of {max_attempts}: {what}. Next try at {at}.",
                       attempt=attempt, max_attempts=max_attempts, what=what,
                       at=f"{at.astimezone():%Y-%m-%d %H:%M:%S}"),
    )


# The retried outcomes' names in a remark ("Attempt 1 of 3: no answer."), marked for the remarks catalogue.
RETRIED_WORDS: dict[Outcome, str] = {
    Outcome.BUSY: N_("busy"),
    Outcome.NO_ANSWER: N_("no answer"),
    Outcome.REJECTED: N_("rejected"),
    Outcome.FAILED: N_("failed"),
    Outcome.INTERRUPTED: N_("interrupted"),
    Outcome.HUNG_UP: N_("hung up"),
    Outcome.MACHINE: N_("machine"),
}
