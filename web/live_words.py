"""The words the dashboard, the Modems page and the status strip use for what the box reports as kinds: a line's
state, what keeps it from calling (with the fix), an outcome, why a test call was refused. In the user's language
(Flask-Babel); the pages hand them to their scripts as one JSON object, so live updates read the same."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

__all__ = ["line_state", "outcome_text", "problem", "refusal", "words"]


def line_state(state: str) -> str:
    return {
        "absent": _("not started"),
        "initialising": _("starting"),
        "ready": _("ready"),
        "in_call": _("in a call"),
        "faulted": _("fault"),
    }.get(state, state.replace("_", " "))


def problem(kind: str | None) -> dict[str, str] | None:
    """What keeps a line from calling, in words, and the fix; None for a line without a problem."""
    if not kind:
        return None
    texts: dict[str, tuple[str, str]] = {
        "no_sim": (_("No SIM card"), _("Insert a SIM card and restart the box.")),
        "sim_pin": (_("PIN needed"), _("Remove the SIM's PIN in a phone, put it back and restart the box.")),
        "sim_puk": (_("SIM card locked (PUK)"),
                    _("Unlock the SIM with its PUK in a phone, put it back and restart the box.")),
        "sim_not_ready": (_("SIM card not ready"),
                          _("Check that the SIM is inserted, has no PIN and is active, then restart the box.")),
        "registration_denied": (_("The network refuses this SIM"),
                                _("Ask the operator whether the SIM is active and allowed to call.")),
        "not_registered": (_("Not registered on the network"),
                           _("Check the signal and the SIM's credit; the box keeps trying.")),
        "no_voice": (_("This modem cannot make voice calls"),
                     _("Use a modem whose firmware has voice calls (see the modem profiles).")),
        "audio_missing": (_("The modem's audio port is missing"),
                          _("Check the USB cable and the line's audio setting.")),
        "modem_missing": (_("Modem not found"), _("Check the USB cable; the box reconnects by itself.")),
        "modem_mute": (_("The modem stopped answering"),
                       _("The box restarts it by itself; if this stays, unplug it and plug it in again.")),
        "modem_errors": (_("The modem keeps answering errors"),
                         _("Unplug it and plug it in again; if this stays, check its modem profile.")),
        "absent": (_("Not started"), _("The line starts with the box; restart the box if it stays so.")),
        "fault": (_("The line has a fault"), _("The box keeps trying to reopen it; see the log for details.")),
    }
    text, fix = texts.get(kind, texts["fault"])
    return {"text": text, "fix": fix}


def outcome_text(outcome: str | None) -> str:
    return {
        "completed": _("completed"),
        "busy": _("busy"),
        "no_answer": _("no answer"),
        "rejected": _("rejected"),
        "failed": _("failed"),
        "interrupted": _("interrupted"),
        "hung_up": _("hung up"),
        "machine": _("answering machine"),
        "invalid_number": _("number not reachable"),
        "expired": _("expired"),
        "blocked": _("not dialled"),
        "cancelled": _("cancelled"),
    }.get(outcome or "", (outcome or "").replace("_", " "))


def refusal(reason: str) -> str:
    """Why a test call was not placed, as a sentence (the detail follows in brackets)."""
    return {
        "number": _("That is not a phone number the box can dial."),
        "do_not_call": _("This number is on the do-not-call list."),
        "hours": _("The calling rules do not allow a call to this number now."),
        "line": _("There is no such line."),
        "busy": _("The line is busy or not ready; try again when it is ready."),
    }.get(reason, _("The test call was not placed."))


def words() -> dict[str, Any]:
    """Everything a page's script needs to say, in the user's language."""
    kinds = ("no_sim", "sim_pin", "sim_puk", "sim_not_ready", "registration_denied", "not_registered", "no_voice",
             "audio_missing", "modem_missing", "modem_mute", "modem_errors", "absent", "fault")
    outcomes = ("completed", "busy", "no_answer", "rejected", "failed", "interrupted", "hung_up", "machine",
                "invalid_number", "expired", "blocked", "cancelled")
    return {
        "states": {s: line_state(s) for s in ("absent", "initialising", "ready", "in_call", "faulted")},
        "problems": {k: problem(k) for k in kinds},
        "outcomes": {o: outcome_text(o) for o in outcomes},
        "speakers": {"bot": _("Bot"), "customer": _("Customer"), "system": _("System")},
        "labels": {"operator": _("Operator"), "signal": _("Signal"), "sim": _("SIM"), "call": _("Call")},
        "held": _("held"),
        "ringing": _("ringing…"),
        "answered": _("answered"),
        "ended": _("ended"),
        "test": _("test call"),
        "no_calls": _("No call in progress."),
        "no_signal": _("unknown"),
        "reconnecting": _("Reconnecting…"),
        "live": _("Live"),
        "waiting": _("%(n)s waiting"),
        "failed_n": _("%(n)s failed"),
        "not_configured": _("not configured"),
        "no_tasks": _("No task is running."),
        "on_line": _("on %(line)s"),
    }
