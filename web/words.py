"""What the console says for the box's codes, in the user's language: call outcomes, ticket statuses, the network's
release causes (Q.850 cause values the modem reports, ``calls.cause``) and outbox delivery states. A code the
tables do not know is shown in plain words made from it, never as a bare number."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

OUTCOMES: dict[str, Any] = {
    "completed": _l("Completed"),
    "busy": _l("Busy"),
    "no_answer": _l("No answer"),
    "rejected": _l("Rejected"),
    "failed": _l("Failed"),
    "interrupted": _l("Interrupted"),
    "hung_up": _l("Hung up"),
    "machine": _l("Answering machine"),
    "invalid_number": _l("Invalid number"),
    "expired": _l("Expired"),
    "blocked": _l("Blocked"),
    "cancelled": _l("Cancelled"),
    "in_progress": _l("In progress"),
}

STATUSES: dict[str, Any] = {
    "open": _l("Open"),
    "calling": _l("Calling"),
    "scheduled": _l("Scheduled"),
    "closed": _l("Closed"),
    "unreachable": _l("Unreachable"),
    "skipped": _l("Skipped"),
}

DECISIONS: dict[str, Any] = {"call": _l("Call"), "skip": _l("Skip")}

# Q.850 cause values a GSM network gives when a call is released (3GPP TS 24.008 table 10.5.123)
CAUSES: dict[int, Any] = {
    1: _l("number does not exist"),
    3: _l("no route to the number"),
    6: _l("channel unacceptable"),
    8: _l("barred by the operator"),
    16: _l("normal hang-up"),
    17: _l("busy"),
    18: _l("no response"),
    19: _l("no answer"),
    21: _l("call rejected"),
    22: _l("number changed"),
    25: _l("routing error"),
    26: _l("released before answer"),
    27: _l("phone switched off or out of reach"),
    28: _l("number incomplete or wrong"),
    29: _l("service refused"),
    30: _l("status enquiry answered"),
    31: _l("ended (unspecified)"),
    34: _l("no line free in the network"),
    38: _l("network out of order"),
    41: _l("temporary network failure"),
    42: _l("network congestion"),
    43: _l("access information discarded"),
    44: _l("channel not available"),
    47: _l("network resource unavailable"),
    49: _l("quality of service unavailable"),
    50: _l("service not subscribed"),
    55: _l("incoming calls barred"),
    57: _l("not allowed by the SIM's subscription"),
    58: _l("service not available now"),
    63: _l("service not available"),
    65: _l("service not implemented"),
    68: _l("not enough credit (ACM limit)"),
    69: _l("facility not implemented"),
    70: _l("only restricted digital information"),
    79: _l("service not implemented"),
    81: _l("invalid call reference"),
    88: _l("incompatible destination"),
    91: _l("invalid transit network"),
    95: _l("invalid message"),
    96: _l("mandatory information missing"),
    97: _l("message type unknown"),
    98: _l("message not compatible"),
    99: _l("information element unknown"),
    100: _l("invalid information element"),
    101: _l("message not compatible with the call state"),
    102: _l("timer expired"),
    111: _l("protocol error"),
    127: _l("interworking error"),
}

DELIVERIES: dict[str, Any] = {
    "delivered": _l("Delivered"),
    "pending": _l("Waiting to be sent"),
    "given_up": _l("Given up"),
}

SPEAKERS: dict[str, Any] = {"bot": _l("Bot"), "customer": _l("Customer")}


def _plain(code: Any) -> str:
    text = str(code).replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else "—"


def outcome_words(code: Any) -> str:
    """``busy`` -> "Busy"; None (still on the line) -> "In progress"."""
    if code is None or code == "":
        return str(OUTCOMES["in_progress"])
    return str(OUTCOMES.get(str(code), _plain(code)))


def cause_words(cause: Any) -> str:
    """A release cause in words with its number in brackets: 17 -> "busy (17)"; a text cause as it is."""
    if cause is None or cause == "":
        return ""
    if isinstance(cause, int) or (isinstance(cause, str) and cause.isdigit()):
        number = int(cause)
        words = CAUSES.get(number)
        return f"{words} ({number})" if words is not None else _("network cause %(number)s", number=number)
    return str(cause)


def status_words(code: Any) -> str:
    return str(STATUSES.get(str(code), _plain(code))) if code else "—"


def decision_words(code: Any) -> str:
    return str(DECISIONS.get(str(code), _plain(code))) if code else "—"


def delivery_words(code: Any) -> str:
    return str(DELIVERIES.get(str(code), _plain(code)))


def speaker_words(code: Any) -> str:
    return str(SPEAKERS.get(str(code), _plain(code)))


def install(app: Flask) -> None:
    app.add_template_filter(outcome_words, "outcome_words")
    app.add_template_filter(cause_words, "cause_words")
    app.add_template_filter(status_words, "status_words")
    app.add_template_filter(decision_words, "decision_words")
    app.add_template_filter(delivery_words, "delivery_words")
    app.add_template_filter(speaker_words, "speaker_words")
