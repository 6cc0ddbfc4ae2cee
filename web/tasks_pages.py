"""The Tasks pages: call tasks with their state and progress, a task's own page with every customer's attempts and
calls, making a task (a scenario, and customers from tickets or a CSV, previewed before anything is stored), and
pause, resume, cancel.

Pages live under ``/tasks`` (the JSON API is ``/api/v1/tasks``); they use the same service calls as the API, so
the preview here and there refuse the same rows for the same reasons, and creating is all-or-nothing in one
transaction (``appliance.campaign.call_tasks``). State-changing posts check the form's CSRF token and are the
admin's (``role_required("admin")`` is added when the access roles land).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, current_app, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Response as BaseResponse

from appliance.errors import CallboxError, StorageError, TaskInvalid
from appliance.states import IllegalTransition
from web.auth import body_limit, csrf_ok, login_required, role_required
from web.panel import render_page, service
from web.query import row_int

log = logging.getLogger(__name__)

bp = Blueprint("tasks_page", __name__, url_prefix="/tasks")

PAGE = 50
CUSTOMERS_PAGE = 100  # a task's customers per page on its own page
STATES = ("pending", "running", "paused", "completed", "expired", "cancelled")
ACTIONS = {"pause": ("pending", "running"), "resume": ("paused",), "cancel": ("pending", "running", "paused")}
UPLOAD_BYTES = 2 * 1024 * 1024  # a CSV of a few thousand customers (the JSON API keeps its 64 KiB)
TICKET_CHOICES = 100
CALLABLE_TICKETS = ("open", "scheduled", "unreachable", "skipped")  # tickets an owner may want to call (again)


def _reason(code: str) -> str:
    """A refused row's reason in words."""
    words = {
        "bad_phone": _("not a phone number"),
        "do_not_call": _("on the do-not-call list"),
        "duplicate": _("the same number twice in the file"),
        "already_in_task": _("already has a call planned"),
        "missing_variables": _("a value the flow needs is empty"),
        "unknown_ticket": _("no such ticket"),
        "unreadable": _("the row cannot be read"),
    }
    return words.get(code, code.replace("_", " "))


def _state(value: str) -> str:
    words = {"pending": _("Pending"), "running": _("Running"), "paused": _("Paused"), "completed": _("Completed"),
             "expired": _("Expired"), "cancelled": _("Cancelled")}
    return words.get(value, value.replace("_", " "))


def _source(value: str) -> str:
    words = {"trigger": _("from tickets as they arrive"), "manual": _("by hand"), "csv": _("from a CSV file"),
             "cron": _("by a timer")}
    return words.get(value, value)


def _bar(counts: dict[str, Any], total: int | None = None) -> list[dict[str, Any]]:
    """A bar's segments, largest first: each key's count with x and width in percent of ``total`` (the counts'
    sum without it); the rest of ``total`` is a ``left`` segment. An SVG, since the CSP allows no inline style."""
    whole = int(total if total is not None else sum(int(v) for v in counts.values()))
    if whole <= 0:
        return []
    segments: list[dict[str, Any]] = []
    x = 0.0
    for key, count in sorted(counts.items(), key=lambda item: (-int(item[1]), item[0])):
        if int(count) <= 0:
            continue
        width = 100.0 * int(count) / whole
        segments.append({"key": key, "count": int(count), "x": round(x, 3), "width": round(width, 3)})
        x += width
    left = whole - sum(int(v) for v in counts.values())
    if left > 0:
        segments.append({"key": "left", "count": left, "x": round(x, 3), "width": round(100.0 * left / whole, 3)})
    return segments


def _customers_bar(progress: dict[str, Any]) -> list[dict[str, Any]]:
    """The customers of a task: ended (by the state their ticket task ended in), the rest still to call."""
    ended = {k: v for k, v in (progress.get("by_state") or {}).items() if k not in ("pending", "running", "paused")}
    return _bar(ended, int(progress.get("total") or 0))


def _call_link(call_id: int) -> str:
    """The call's own page where the app has one (``/calls/<id>``), else the calls list."""
    path = f"/calls/{call_id}"
    try:
        endpoint, _args = current_app.url_map.bind("localhost").match(path, method="GET")
    except (NotFound, RequestRedirect):
        endpoint = None
    except Exception:  # a 405 and the like: no page there
        endpoint = None
    if endpoint is not None:
        return path
    return url_for("panel.calls") + f"#call-{call_id}"


@bp.app_template_global("task_helpers")
def _helpers() -> dict[str, Any]:
    return {"bar": _bar, "customers_bar": _customers_bar, "state": _state, "source": _source, "reason": _reason,
            "call_link": _call_link}


@bp.get("")
@login_required
def index() -> str:
    state = request.args.get("state") or None
    if state not in STATES:
        state = None
    before = request.args.get("before", type=row_int)
    tasks = service().find_call_tasks(state=state, before=before, limit=PAGE + 1)
    more = len(tasks) > PAGE
    tasks = tasks[:PAGE]
    return render_page("tasks.html", page="tasks", tasks=tasks, state=state, states=STATES,
                       next_before=tasks[-1]["id"] if more and tasks else None,
                       done=request.args.get("done"))


def _scenarios() -> list[dict[str, Any]]:
    return [s for s in service().rules.scenarios() if isinstance(s, dict) and s.get("name") and s.get("flow")]


def _ticket_choices() -> list[dict[str, Any]]:
    return [t for t in service().list_tickets(limit=TICKET_CHOICES) if t.get("status") in CALLABLE_TICKETS]


def _form() -> dict[str, Any]:
    """What the owner filled in (kept to show the form again)."""
    return {"scenario": request.form.get("scenario", ""), "name": request.form.get("name", "").strip(),
            "source": "tickets" if request.form.get("source") == "tickets" else "csv",
            "tickets": request.form.getlist("tickets"), "csv": request.form.get("csv", "")}


def _csv_text(form: dict[str, Any]) -> str:
    """The CSV: an uploaded file (UTF-8, a BOM allowed) or the text carried from the preview."""
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        raw = upload.read()
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise TaskInvalid(_("the file is not UTF-8 text (save it as CSV UTF-8)"), field="csv") from exc
    return str(form["csv"])


def _body(form: dict[str, Any]) -> dict[str, Any]:
    """The API's call-task body for this form: the scenario's flow and task settings, and the customers."""
    scenario = next((s for s in _scenarios() if s["name"] == form["scenario"]), None)
    if scenario is None:
        raise TaskInvalid(_("choose a scenario"), field="scenario")
    settings = {k: v for k, v in (scenario.get("task") or {}).items()}
    body: dict[str, Any] = {"flow": scenario["flow"], "settings": settings}
    if form["name"]:
        body["name"] = form["name"]
    if form["source"] == "tickets":
        if not form["tickets"]:
            raise TaskInvalid(_("choose at least one ticket"), field="tickets")
        body["tickets"] = form["tickets"]
    else:
        text = _csv_text(form)
        if not text.strip():
            raise TaskInvalid(_("choose a CSV file"), field="csv")
        form["csv"] = text
        body["csv"] = text
    return body


def _new_page(form: dict[str, Any], *, preview: dict[str, Any] | None = None, error: str | None = None,
              field: str | None = None, problems: list[tuple[str, str]] | None = None,
              status: int = 200) -> tuple[str, int]:
    return render_page("task_new.html", page="tasks", form=form, scenarios=_scenarios(),
                       tickets=_ticket_choices(), preview=preview, error=error, field=field,
                       problems=problems or []), status


@bp.route("/new", methods=["GET", "POST"])
@body_limit(UPLOAD_BYTES)  # the new-task form carries a CSV file (and then its text, to confirm)
@login_required
@role_required("admin")
def new() -> BaseResponse | tuple[str, int]:
    """GET: the form. POST ``step=preview``: who would be called and who not, and why (nothing stored);
    ``step=create``: the task, all or nothing."""
    if request.method == "GET":
        form = {"scenario": request.args.get("scenario", ""), "name": "", "source": "csv",
                "tickets": request.args.getlist("ticket"), "csv": ""}
        if form["tickets"]:
            form["source"] = "tickets"
        return _new_page(form)
    form = _form()
    if not csrf_ok():
        return _new_page(form, error=_("The form was stale. Please try again."), status=400)
    try:
        body = _body(form)
        if request.form.get("step") != "create":
            return _new_page(form, preview=service().preview_call_task(body))
        made = service().create_call_task(body)
    except TaskInvalid as exc:
        return _new_page(form, error=exc.message, field=exc.field, problems=exc.problems, status=400)
    except StorageError as exc:
        log.warning("call task not created from the panel: %s", exc)
        return _new_page(form, error=_("A customer got a call planned meanwhile. Preview again."), status=409)
    except CallboxError as exc:
        log.warning("call task not created from the panel: %s", exc)
        return _new_page(form, error=_("The box cannot make the task now. Try again in a moment."), status=503)
    log.info("call task %s made from the panel (%d customers)", made["id"], made["progress"]["total"])
    return redirect(url_for("tasks_page.task", task_id=made["id"], done="created"))


def _task_page(task_id: int) -> dict[str, Any]:
    """The task with one page of its customers (``?after=`` the last ticket task shown), ``more`` when there are
    others after them."""
    after = request.args.get("after", type=row_int)
    found = service().call_task_page(task_id, after=after, limit=CUSTOMERS_PAGE + 1)
    if found is None:
        abort(404, description=_("There is no call task %(id)s.", id=task_id))
    attempts = found["attempts"]
    found["more"] = attempts[CUSTOMERS_PAGE - 1]["task_id"] if len(attempts) > CUSTOMERS_PAGE else None
    found["attempts"] = attempts[:CUSTOMERS_PAGE]
    found["after"] = after
    return found


@bp.get("/<int:task_id>")
@login_required
def task(task_id: int) -> str:
    return render_page("task.html", page="tasks", task=_task_page(task_id), actions=ACTIONS,
                       done=request.args.get("done"))


@bp.post("/<int:task_id>/<action>")
@login_required
@role_required("admin")
def act(task_id: int, action: str) -> BaseResponse | tuple[str, int]:
    """Pause, resume or cancel (the admin's); a state that does not allow it says so on the page."""
    if action not in ACTIONS:
        abort(404, description=_("There is no such action."))
    if not csrf_ok():
        abort(400, description=_("The form was stale. Please try again."))
    try:
        found = service().call_task_action(task_id, action)
    except IllegalTransition as exc:
        found = _task_page(task_id)
        message = _("A task that is %(state)s cannot be changed that way.", state=_state(str(exc.state)).lower())
        return render_page("task.html", page="tasks", task=found, actions=ACTIONS, error=message), 409
    except CallboxError as exc:
        log.warning("call task %s %s failed: %s", task_id, action, exc)
        abort(503, description=_("The box cannot do that now. Try again in a moment."))
    if found is None:
        abort(404, description=_("There is no call task %(id)s.", id=task_id))
    log.info("call task %s: %s from the panel", task_id, action)
    return redirect(url_for("tasks_page.task", task_id=task_id, done=action))
