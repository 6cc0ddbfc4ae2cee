"""The Rules page: the owner's rules in order (what each matches, and the scenario and flow it calls, or why it
skips), the scenarios, and the "test a ticket" dry run.

A rule or a scenario is edited as JSON, one at a time; every change (an edit, a new one, a move, a delete) is the
whole list replaced through the same service call as ``PUT /api/v1/rules``, so it is checked whole and refused
whole (nothing changes) with each problem shown at the field it concerns. A form carries the name of the item it
was opened on: if the list changed meanwhile (another tab, ``callbox rules set``) the change is refused rather than
made to the wrong item. Changes need the form's CSRF token, are the admin's (``role_required("admin")`` is added
when the access roles land) and are written to the audit log.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from flask import Blueprint, abort, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from appliance.errors import RulesInvalid, StorageError, TicketInvalid
from web.audit import record_change
from web.auth import csrf_ok, login_required, role_required
from web.panel import render_page, service

log = logging.getLogger(__name__)

bp = Blueprint("rules_page", __name__, url_prefix="/rules")

KEYS = {"rule": "rules", "scenario": "scenarios"}
CONDITIONS = ("type", "order_status", "helpdesk_status", "fields", "subject_any", "subject_all", "subject_regex",
              "description_any", "description_all", "description_regex", "tags_any", "tags_all")
TICKET_CHOICES = 100
MAX_JSON = 64 * 1024
PATH = re.compile(r"^(?P<key>rules|scenarios)\[(?P<index>\d+)\](?:\.(?P<field>.+))?$")


def _items(kind: str) -> list[dict[str, Any]]:
    rules = service().rules
    return rules.rules() if kind == "rule" else rules.scenarios()


def _store(kind: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rules = service().rules
    return rules.set_rules(items) if kind == "rule" else rules.set_scenarios(items)


def summary(rule: dict[str, Any]) -> list[tuple[str, str]]:
    """What a rule matches, one (condition, values) pair per condition it has; empty: every ticket."""
    out: list[tuple[str, str]] = []
    for key in CONDITIONS:
        if key not in rule:
            continue
        value = rule[key]
        if isinstance(value, list):
            text = ", ".join(str(v) for v in value)
        elif isinstance(value, dict):
            text = "; ".join(f"{k} {json.dumps(v, ensure_ascii=False)}" for k, v in value.items())
        else:
            text = str(value)
        out.append((key.replace("_", " "), text))
    return out


def _scenario_flows() -> dict[str, str]:
    return {str(s.get("name")): str(s.get("flow")) for s in service().rules.scenarios() if isinstance(s, dict)}


@bp.app_template_global("rule_summary")
def _rule_summary(rule: dict[str, Any]) -> list[tuple[str, str]]:
    return summary(rule)


def _problems(exc: RulesInvalid, kind: str, index: int | None) -> tuple[dict[str, list[str]], list[str]]:
    """The problems of the item being edited by its field (``""``: the item as a whole), and every other one."""
    at: dict[str, list[str]] = {}
    other: list[str] = []
    for path, message in exc.problems:
        m = PATH.match(path)
        if m and m["key"] == KEYS[kind] and index is not None and int(m["index"]) == index:
            at.setdefault(m["field"] or "", []).append(message)
        else:
            other.append(f"{path}: {message}")
    return at, other


@bp.get("")
@login_required
def index() -> str:
    return _index_page()


def _index_page(*, test: dict[str, Any] | None = None, status: int = 200) -> Any:
    try:
        rules, scenarios = service().rules.rules(), service().rules.scenarios()
    except RulesInvalid as exc:  # the stored set broken by hand: show it, do not fail
        log.warning("stored rules cannot be read: %s", exc)
        rules, scenarios = [], []
    tickets = service().list_tickets(limit=TICKET_CHOICES)
    page = render_page("rules_page.html", page="rules", rules=rules, scenarios=scenarios,
                       flows_of=_scenario_flows(), tickets=tickets, test=test or {}, done=request.args.get("done"))
    return page if status == 200 else (page, status)


def _editor(kind: str, index: int | None, text: str, *, was: str = "", at: dict[str, list[str]] | None = None,
            other: list[str] | None = None, error: str | None = None, status: int = 200) -> tuple[str, int]:
    return render_page("rule_edit.html", page="rules", kind=kind, index=index, text=text, was=was,
                       at=at or {}, other=other or [], error=error), status


@bp.get("/<any(rule, scenario):kind>/<int:index>")
@login_required
@role_required("admin")
def edit(kind: str, index: int) -> tuple[str, int]:
    items = _items(kind)
    if not 0 <= index < len(items):
        abort(404, description=_("There is no such rule or scenario."))
    return _editor(kind, index, json.dumps(items[index], indent=2, ensure_ascii=False), was=_name(items[index]))


@bp.get("/<any(rule, scenario):kind>/new")
@login_required
@role_required("admin")
def new(kind: str) -> tuple[str, int]:
    if kind == "rule":
        first = next(iter(_scenario_flows()), "")
        template: dict[str, Any] = {"name": "", "type": [], "order_status": [], "action": "call", "scenario": first}
    else:
        template = {"name": "", "covers": {"type": [], "order_status": []}, "flow": "", "variables": {},
                    "defaults": {}, "task": {"max_attempts": 3}}
    return _editor(kind, None, json.dumps(template, indent=2, ensure_ascii=False))


def _name(item: Any) -> str:
    return str(item.get("name", "")) if isinstance(item, dict) else ""


def _stale(kind: str, index: int, items: list[dict[str, Any]]) -> bool:
    return not (0 <= index < len(items)) or _name(items[index]) != request.form.get("was", "")


def _change(kind: str, before: list[dict[str, Any]], after: list[dict[str, Any]], what: str) -> None:
    _store(kind, after)
    record_change(f"{KEYS[kind]}:{what}"[:200], before, after)
    log.info("%s changed from the panel: %s", KEYS[kind], what)


@bp.post("/<any(rule, scenario):kind>/<int:index>")
@bp.post("/<any(rule, scenario):kind>/new")
@login_required
@role_required("admin")
def save(kind: str, index: int | None = None) -> BaseResponse | tuple[str, int]:
    """Store an edited (or new) rule or scenario; refused whole with the problems at their fields."""
    text = request.form.get("document", "")
    was = request.form.get("was", "")
    if not csrf_ok():
        return _editor(kind, index, text, was=was, error=_("The form was stale. Please try again."), status=400)
    if len(text) > MAX_JSON:
        return _editor(kind, index, text, was=was, error=_("This is too long."), status=400)
    try:
        item = json.loads(text)
    except ValueError as exc:
        message = _("This is not JSON: %(why)s (line %(line)s, column %(column)s).", why=exc.msg,  # type: ignore[attr-defined]
                    line=getattr(exc, "lineno", "?"), column=getattr(exc, "colno", "?"))
        return _editor(kind, index, text, was=was, error=message, status=400)
    before = _items(kind)
    if index is not None and _stale(kind, index, before):
        return _editor(kind, index, text, was=was, status=409,
                       error=_("The list changed meanwhile (another window?). Open it again from the Rules page."))
    after = list(before)
    position = len(after) if index is None else index
    if index is None:
        after.append(item)
    else:
        after[index] = item
    try:
        _change(kind, before, after, _name(item) or str(position))
    except RulesInvalid as exc:
        at, other = _problems(exc, kind, position)
        return _editor(kind, index, text, was=was, at=at, other=other, status=422,
                       error=_("Not stored: fix what is marked below. Nothing changed."))
    except StorageError:
        return _editor(kind, index, text, was=was, status=503,
                       error=_("The box could not store it now. Nothing changed; try again."))
    return redirect(url_for("rules_page.index", done="saved") + f"#{kind}-{position}")


def _refused(kind: str, exc: RulesInvalid) -> tuple[str, int]:
    lines = [f"{path}: {message}" for path, message in exc.problems]
    return render_page("error.html", code=422, title=_("Not changed"),
                       message=_("That would leave the rules broken, so nothing changed:") + " " + "; ".join(lines)
                       ), 422


@bp.post("/<any(rule, scenario):kind>/<int:index>/move")
@login_required
@role_required("admin")
def move(kind: str, index: int) -> BaseResponse | tuple[str, int]:
    """One place up or down (the first rule that matches decides, so order matters)."""
    if not csrf_ok():
        abort(400, description=_("The form was stale. Please try again."))
    before = _items(kind)
    if _stale(kind, index, before):
        abort(409, description=_("The list changed meanwhile. Open the Rules page again."))
    to = index - 1 if request.form.get("direction") == "up" else index + 1
    if not 0 <= to < len(before):
        return redirect(url_for("rules_page.index") + f"#{kind}-{index}")
    after = list(before)
    after[index], after[to] = after[to], after[index]
    try:
        _change(kind, before, after, f"move {_name(before[index])}")
    except RulesInvalid as exc:
        return _refused(kind, exc)
    return redirect(url_for("rules_page.index", done="moved") + f"#{kind}-{to}")


@bp.post("/<any(rule, scenario):kind>/<int:index>/delete")
@login_required
@role_required("admin")
def delete(kind: str, index: int) -> BaseResponse | tuple[str, int]:
    if not csrf_ok():
        abort(400, description=_("The form was stale. Please try again."))
    before = _items(kind)
    if _stale(kind, index, before):
        abort(409, description=_("The list changed meanwhile. Open the Rules page again."))
    after = before[:index] + before[index + 1:]
    try:
        _change(kind, before, after, f"delete {_name(before[index])}")
    except RulesInvalid as exc:  # e.g. a scenario a rule still calls
        return _refused(kind, exc)
    return redirect(url_for("rules_page.index", done="deleted"))


def ticket_payload(ticket: dict[str, Any]) -> dict[str, Any]:
    """A stored ticket as the webhook takes it, for the dry run."""
    payload: dict[str, Any] = {
        "id": ticket["id"], "type": ticket.get("type") or "", "subject": ticket.get("subject") or "",
        "customer": {"name": ticket.get("customer_name") or "", "phone": ticket.get("phone") or ""},
        "order": {"id": ticket.get("order_id") or "", "status": ticket.get("order_status") or ""},
    }
    if ticket.get("vars"):
        payload["vars"] = dict(ticket["vars"])
    return payload


@bp.post("/test")
@login_required
def test() -> Any:
    """The dry run: a pasted ticket (JSON as the webhook takes it) or a stored one; changes nothing."""
    form = {"ticket_id": request.form.get("ticket_id", ""), "ticket": request.form.get("ticket", "")}
    if not csrf_ok():
        return _index_page(test={**form, "error": _("The form was stale. Please try again.")}, status=400)
    if form["ticket_id"]:
        found = service().ticket_detail(form["ticket_id"])
        if found is None:
            return _index_page(test={**form, "error": _("There is no ticket %(id)s.", id=form["ticket_id"][:200])},
                               status=404)
        payload: Any = ticket_payload(found)
        form["ticket"] = json.dumps(payload, indent=2, ensure_ascii=False)
    else:
        try:
            payload = json.loads(form["ticket"][:MAX_JSON])
        except ValueError as exc:
            message = _("This is not JSON: %(why)s (line %(line)s, column %(column)s).", why=exc.msg,  # type: ignore[attr-defined]
                        line=getattr(exc, "lineno", "?"), column=getattr(exc, "colno", "?"))
            return _index_page(test={**form, "error": message}, status=400)
    try:
        result = service().rules.test_ticket(payload)
    except TicketInvalid as exc:
        return _index_page(test={**form, "error": _("The webhook would refuse this ticket: %(message)s",
                                                    message=exc.message), "field": exc.field}, status=422)
    except RulesInvalid as exc:
        return _index_page(test={**form, "error": _("The stored rules cannot be read: %(why)s", why=str(exc))},
                           status=422)
    return _index_page(test={**form, "result": result})
