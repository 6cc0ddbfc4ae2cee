"""The console's Calls and Tickets pages (issue 13): search and paging over every call and ticket, a call's own page
(recording, transcript turn by turn, QA tags) and a ticket's own page (decision, calls, operations and what the
helpdesk has of them, the owner's actions). The routes sit on the panel blueprint (``panel.calls``,
``panel.tickets``: the top bar's entries).

Every change is a form post with the session's CSRF token, redirected back to the page (post/redirect/get); a
refused one re-renders the page with the reason in words and changes nothing. Tagging is a reviewer's work; the
ticket actions (call now, retry, cancel, a note) are an admin's (``web.auth.role_required("admin")`` goes on them
when roles exist)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Flask, abort, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as BaseResponse

from appliance.campaign.attempt import Outcome, TicketStatus
from appliance.errors import QueryInvalid, StorageError, TagInvalid, TicketActionRefused
from web import query, words
from web.auth import SESSION_USER, csrf_ok, login_required, role_required
from web.panel import bp, render_page, service
from web.query import ParameterInvalid

log = logging.getLogger(__name__)

PAGE_SIZE = 50
MAX_PAGE = 10_000
MAX_FILTER = 64  # characters of a text filter (intent, tag, ticket text)
OUTCOME_FILTERS = (*(o.value for o in Outcome), "in_progress")
GRADES = ("A", "B", "C", "D")
TICKET_STATUSES = tuple(s.value for s in TicketStatus)
LIVE_TASK = ("pending", "paused", "running")

CALL_FILTERS = ("phone", "from", "to", "outcome", "intent", "grade", "tag")
TICKET_FILTERS = ("q", "phone", "status", "from", "to")

# why a filter could not be used, in the user's language (the parameter it names -> the words)
FILTER_PROBLEMS: dict[str, Any] = {
    "phone": _l("That is not a phone number the box can read."),
    "from": _l("Pick the first day as a date (YYYY-MM-DD)."),
    "to": _l("Pick the last day as a date (YYYY-MM-DD), not before the first."),
    "page": _l("There is no such page."),
    "outcome": _l("Pick an outcome from the list."),
    "grade": _l("Pick a grade from the list."),
    "status": _l("Pick a status from the list."),
}
# why a ticket action was refused (appliance.errors.TicketActionRefused.code)
REFUSALS: dict[str, Any] = {
    "on_the_line": _l("A call to this customer is on the line now; wait until it ends."),
    "nothing_planned": _l("No call is planned for this ticket, so there is nothing to cancel."),
    "do_not_call": _l("This customer asked not to be called again (do-not-call list)."),
    "nothing_waiting": _l("No call is waiting for this ticket; use Retry to call again."),
    "already_waiting": _l("A call is already waiting for this ticket; use Call now instead."),
    "no_flow": _l("No flow was chosen for this ticket (its rules skipped it), so the box does not know what to say."),
    "note_empty": _l("Write the note first."),
    "note_too_long": _l("The note is too long."),
    "task_paused": _l("Its call task is paused; resume the task first."),
    "unknown_action": _l("There is no such action."),
}
DONE: dict[str, Any] = {
    "call_now": _l("The call was brought forward: the box calls as soon as a line is free."),
    "retry": _l("A new call was planned: the box calls as soon as a line is free."),
    "cancel": _l("The calls for this ticket were cancelled."),
    "note": _l("The note was added and queued for the helpdesk."),
    "tagged": _l("The tag was added."),
    "untagged": _l("The tag was removed."),
    "reviewed": _l("The call was marked reviewed."),
}


def install(app: Flask) -> None:
    """The pages' template filters: outcomes, statuses and network causes in the user's language."""
    words.install(app)


def _user() -> str:
    user = session.get(SESSION_USER)
    return user if isinstance(user, str) and user else "panel"


def _stale() -> tuple[str, int]:
    return render_template("error.html", code=400, title=_("Bad request"),
                           message=_("The form was stale. Please reload the page and try again.")), 400


def _day(name: str) -> datetime | None:
    """A day picked in a filter (``YYYY-MM-DD``): its start, on the shop's clock (no offset)."""
    raw = query.text(name)
    if raw is None:
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%d")
    except ValueError:
        raise ParameterInvalid(name, "must be a date") from None


def _range() -> tuple[datetime | None, datetime | None]:
    since, last = _day("from"), _day("to")
    until = last + timedelta(days=1) if last is not None else None
    if since is not None and until is not None and until <= since:
        raise ParameterInvalid("to", "before from")
    return since, until


def _short(name: str) -> str | None:
    value = query.text(name)
    return value.strip()[:MAX_FILTER] or None if value is not None else None


def _pages(total: int, page: int, filters: dict[str, str], endpoint: str) -> dict[str, Any]:
    """Paging for a list: where page ``page`` of ``total`` rows is, and the URLs of the pages around it."""
    last = max(1, -(-total // PAGE_SIZE))
    kept = {k: v for k, v in filters.items() if v}

    def url(number: int) -> str:
        return url_for(endpoint) + "?" + urlencode({**kept, "page": number}) if number > 1 or kept else \
            url_for(endpoint)

    return {"page": page, "last": last, "total": total, "first_row": (page - 1) * PAGE_SIZE + 1 if total else 0,
            "last_row": min(page * PAGE_SIZE, total),
            "previous": url(page - 1) if page > 1 else None, "next": url(page + 1) if page < last else None}


def _problem(exc: ParameterInvalid | QueryInvalid) -> str:
    return str(FILTER_PROBLEMS.get(exc.parameter, _("A filter could not be used; check it and try again.")))


# -- calls ------------------------------------------------------------------------

@bp.get("/calls")
@login_required
def calls() -> tuple[str, int]:
    """Every call, newest first: filters, a page at a time."""
    filters = {name: request.args.get(name, "").strip()[:100] for name in CALL_FILTERS}
    found: dict[str, Any] = {"calls": [], "total": 0}
    problem, page = None, 1
    try:
        page = query.integer("page", minimum=1, maximum=MAX_PAGE) or 1
        since, until = _range()
        found = service().search_calls(
            phone=query.text("phone"), since=since, until=until, outcome=query.choice("outcome", OUTCOME_FILTERS),
            intent=_short("intent"), grade=query.choice("grade", GRADES), tag=_short("tag"), limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE)
    except (ParameterInvalid, QueryInvalid) as exc:
        problem = _problem(exc)
    return render_page("calls.html", page="calls", found=found, filters=filters, problem=problem,
                       paging=_pages(found["total"], page, filters, "panel.calls"), outcomes=OUTCOME_FILTERS,
                       grades=GRADES), 400 if problem else 200


def _call_page(call_id: int, *, problem: str | None = None, status: int = 200) -> tuple[str, int]:
    found = service().get_call(call_id)
    if found is None:
        abort(404, description=_("There is no call %(id)s.", id=call_id))
    done = DONE.get(request.args.get("done", ""))
    return render_page("call.html", page="calls", call=found, problem=problem,
                       done=str(done) if done else None), status


@bp.get("/calls/<int:call_id>")
@login_required
def call(call_id: int) -> tuple[str, int]:
    """One call: its recording, each turn (clicking one seeks the recording), its grade, slots and QA tags."""
    return _call_page(call_id)


def _back_to_call(call_id: int, done: str) -> BaseResponse:
    return redirect(url_for("panel.call", call_id=call_id, done=done) + "#qa")


@bp.post("/calls/<int:call_id>/tags")
@login_required
def tag_call(call_id: int) -> BaseResponse | tuple[str, int]:
    """A reviewer's tag with a note."""
    if not csrf_ok():
        return _stale()
    try:
        added = service().qa.add_tag(call_id, tag=request.form.get("tag", "").strip(),
                                     note=request.form.get("note", "").strip(), reviewer=_user())
    except TagInvalid as exc:
        words = _("Give the tag a short name (letters, digits, - or _).") if exc.field == "tag" else \
            _("The note cannot be stored: %(why)s", why=exc.message)
        return _call_page(call_id, problem=words, status=400)
    if added is None:
        abort(404, description=_("There is no call %(id)s.", id=call_id))
    return _back_to_call(call_id, "tagged")


@bp.post("/calls/<int:call_id>/tags/<int:tag_id>/remove")
@login_required
def untag_call(call_id: int, tag_id: int) -> BaseResponse | tuple[str, int]:
    if not csrf_ok():
        return _stale()
    if not service().qa.remove_tag(call_id, tag_id):
        abort(404, description=_("This call has no such tag."))
    return _back_to_call(call_id, "untagged")


@bp.post("/calls/<int:call_id>/reviewed")
@login_required
def review_call(call_id: int) -> BaseResponse | tuple[str, int]:
    if not csrf_ok():
        return _stale()
    if service().qa.mark_reviewed(call_id, reviewer=_user()) is None:
        abort(404, description=_("There is no call %(id)s.", id=call_id))
    return _back_to_call(call_id, "reviewed")


# -- tickets ----------------------------------------------------------------------

@bp.get("/tickets")
@login_required
def tickets() -> tuple[str, int]:
    """Every ticket, the latest first: filters, a page at a time; the do-not-call list below."""
    filters = {name: request.args.get(name, "").strip()[:100] for name in TICKET_FILTERS}
    found: dict[str, Any] = {"tickets": [], "total": 0}
    problem, page = None, 1
    try:
        page = query.integer("page", minimum=1, maximum=MAX_PAGE) or 1
        since, until = _range()
        found = service().search_tickets(
            phone=query.text("phone"), status=query.choice("status", TICKET_STATUSES), text=_short("q"),
            since=since, until=until, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    except (ParameterInvalid, QueryInvalid) as exc:
        problem = _problem(exc)
    return render_page("tickets.html", page="tickets", found=found, filters=filters, problem=problem,
                       paging=_pages(found["total"], page, filters, "panel.tickets"), statuses=TICKET_STATUSES,
                       do_not_call=service().do_not_call_list(), removed=request.args.get("removed")), \
        400 if problem else 200


def _ticket_page(ticket_id: str, *, problem: str | None = None, status: int = 200) -> tuple[str, int]:
    found = service().ticket_detail(ticket_id)
    if found is None:
        abort(404, description=_("There is no ticket %(id)s.", id=ticket_id[:200]))
    live = next((t for t in found.get("tasks", []) if t.get("state") in LIVE_TASK), None)
    done = DONE.get(request.args.get("done", ""))
    return render_page("ticket.html", page="tickets", ticket=found, live=live,
                       deliveries=service().ticket_deliveries(ticket_id), problem=problem,
                       done=str(done) if done else None), status


@bp.get("/tickets/<path:ticket_id>")
@login_required
def ticket(ticket_id: str) -> tuple[str, int]:
    """One ticket: what the box decided and why, its calls, its operations and what the helpdesk has of them."""
    return _ticket_page(ticket_id)


@bp.post("/tickets/<path:ticket_id>/act")
@login_required
@role_required("admin")
def act_on_ticket(ticket_id: str) -> BaseResponse | tuple[str, int]:
    """Call now, retry or cancel (an admin's), all or nothing."""
    if not csrf_ok():
        return _stale()
    action = request.form.get("action", "")
    return _ticket_change(ticket_id, action, lambda: service().ticket_action(ticket_id, action, who=_user()))


@bp.post("/tickets/<path:ticket_id>/note")
@login_required
@role_required("admin")
def note_ticket(ticket_id: str) -> BaseResponse | tuple[str, int]:
    """An admin's note on the ticket, sent to the helpdesk like the box's own remarks."""
    if not csrf_ok():
        return _stale()
    text = request.form.get("note", "")
    return _ticket_change(ticket_id, "note", lambda: service().ticket_note(ticket_id, text, who=_user()))


def _ticket_change(ticket_id: str, what: str, change: Any) -> BaseResponse | tuple[str, int]:
    try:
        done = change()
    except TicketActionRefused as exc:
        return _ticket_page(ticket_id, problem=str(REFUSALS.get(exc.code, exc.message)), status=409)
    except StorageError as exc:
        log.error("ticket %s: %s not stored: %s", ticket_id, what, exc)
        return _ticket_page(ticket_id, problem=_("The box could not write this down just now; nothing changed. "
                                                 "Please try again."), status=503)
    if done is None:
        abort(404, description=_("There is no ticket %(id)s.", id=ticket_id[:200]))
    log.info("ticket %s: %s by %s", ticket_id, what, _user())
    return redirect(url_for("panel.ticket", ticket_id=ticket_id, done=what))
