"""What happens to a ticket after each call attempt: one table, shown in the README."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from appliance.config import RetryConfig

# Terminal outcome of an attempt -> retry? (delay comes from RetryConfig by the same name)
RETRY_TABLE: dict[str, bool] = {
    "completed": False,  # the conversation ran; the flow's hang-up node decides
    "busy": True,
    "no_answer": True,
    "rejected": True,
    "failed": True,
    "interrupted": True,
}


@dataclass(frozen=True)
class AttemptDecision:
    ticket_status: str  # open (retry pending) | unreachable
    retry_at: datetime | None
    remark: str


def after_unanswered(
    outcome: str, *, attempt: int, max_attempts: int, now: datetime, retry: RetryConfig, cause: int | None = None
) -> AttemptDecision:
    """The call never reached a conversation: retry per the table, or give up."""
    if outcome not in RETRY_TABLE or outcome == "completed":
        raise ValueError(f"not an unanswered outcome: {outcome}")
    what = outcome.replace("_", " ") + (f" (cause {cause})" if cause is not None else "")
    if attempt >= max_attempts:
        return AttemptDecision(
            "unreachable", None, f"Attempt {attempt} of {max_attempts}: {what}. Giving up: customer not reached."
        )
    delay = timedelta(seconds=getattr(retry, outcome))
    at = now + delay
    return AttemptDecision(
        "open", at, f"Attempt {attempt} of {max_attempts}: {what}. Next try at {at.astimezone():%Y-%m-%d %H:%M:%S}."
    )
