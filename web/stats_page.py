"""The Statistics page: calls per day, outcomes, intents, grades, duration and turn distributions, and the connect
rate by hour of day, filterable by dates, call task, scenario and flow version, with the CSV exports' links.

The figures come from the running totals (``appliance.records.rollup``: a few thousand rows per month, not a query
per call). The charts are uPlot, drawn by ``static/settings.js`` from a JSON block on the page; each
has its figures as a table too, for screen readers and for reading exact numbers."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _

from appliance.errors import CallboxError, QueryInvalid
from web.auth import login_required
from web.panel import render_page, service

log = logging.getLogger(__name__)

bp = Blueprint("stats_page", __name__)

DEFAULT_DAYS = 30
MAX_DAYS = 366  # days drawn on the chart (and listed in its table)
MAX_CHOICES = 100


def _day(name: str) -> tuple[str, datetime | None]:
    """A date field of the filter form: (its text, its midnight on the shop's clock)."""
    raw = (request.args.get(name) or "").strip()[:40]
    if not raw:
        return "", None
    try:
        return raw, datetime.combine(date.fromisoformat(raw), datetime.min.time())
    except ValueError:
        raise QueryInvalid(_("must be a date such as 2026-11-20"), parameter=name) from None


def _filters() -> tuple[dict[str, str], dict[str, Any]]:
    """(the form as typed, the service's filters). The range defaults to the last 30 days; ``until`` is inclusive
    on the page (the day it names is counted)."""
    since_text, since = _day("since")
    until_text, until = _day("until")
    if since is None and until is None:
        since = datetime.combine(date.today() - timedelta(days=DEFAULT_DAYS - 1), datetime.min.time())
        since_text = since.date().isoformat()
    task_text = (request.args.get("task") or "").strip()
    if task_text and not task_text.isdigit():
        raise QueryInvalid(_("must be a call task's number"), parameter="task")
    scenario = (request.args.get("scenario") or "").strip()[:200] or None
    flow_version = (request.args.get("flow_version") or "").strip()[:200] or None
    form = {"since": since_text, "until": until_text, "task": task_text, "scenario": scenario or "",
            "flow_version": flow_version or ""}
    filters = {"since": since, "until": until + timedelta(days=1) if until else None,
               "task": int(task_text) if task_text else None, "scenario": scenario, "flow_version": flow_version}
    return form, filters


def _choices() -> dict[str, list[tuple[str, str]]]:
    """The filter's options: call tasks, scenarios, flow versions (value, label)."""
    out: dict[str, list[tuple[str, str]]] = {"tasks": [], "scenarios": [], "flow_versions": []}
    try:
        out["tasks"] = [(str(t["id"]), f"#{t['id']} {t.get('name') or ''}".strip())
                        for t in service().find_call_tasks(limit=MAX_CHOICES)]
    except CallboxError:
        pass  # a box without call tasks
    out["scenarios"] = [(s["name"], s["name"]) for s in service().rules.scenarios()[:MAX_CHOICES]
                        if isinstance(s.get("name"), str)]
    for flow in service().flows.list_flows()[:MAX_CHOICES]:
        out["flow_versions"].append((flow["id"], _("%(flow)s (every version)", flow=flow["name"])))
        out["flow_versions"] += [(f"{flow['id']}@{v}", f"{flow['name']} v{v}") for v in flow.get("versions", [])]
    return out


def _buckets(figure: dict[str, Any], unit: str) -> list[dict[str, Any]]:
    """A distribution's buckets with a label each ("30–60 s", "120+ s")."""
    key = f"_{unit}" if unit == "s" else ""
    out = []
    for b in figure.get("buckets", []):
        low, high = b[f"from{key}"], b[f"to{key}"]
        label = f"{low}–{high}" if high is not None else f"{low}+"
        out.append({"label": f"{label} {unit}".strip(), "calls": b["calls"]})
    return out


def every_day(by_day: dict[str, Any]) -> list[dict[str, Any]]:
    """Calls per day over the whole range asked for, a day without calls as 0 (the statistics list only days with
    calls), so that the chart's axis is time; at most :data:`MAX_DAYS` days, the last ones."""
    groups = {str(g["key"]): g for g in by_day["groups"]}
    since, until = by_day["filters"].get("since"), by_day["filters"].get("until")
    keys = sorted(groups)
    first = date.fromisoformat(since[:10]) if since else date.fromisoformat(keys[0]) if keys else date.today()
    last = date.fromisoformat(until[:10]) - timedelta(days=1) if until else max(
        [date.today(), *(date.fromisoformat(k) for k in keys[-1:])])
    days = [first + timedelta(days=n) for n in range(max((last - first).days + 1, 0))][-MAX_DAYS:]
    return [{"day": d.isoformat(), "calls": groups[d.isoformat()]["calls"] if d.isoformat() in groups else 0,
             "connected": groups[d.isoformat()]["connected"] if d.isoformat() in groups else 0} for d in days]


def charts(by_day: dict[str, Any], by_hour: dict[str, Any]) -> dict[str, Any]:
    """What the charts draw (also the tables' rows)."""
    total = by_day["total"]
    hours = {g["key"]: g for g in by_hour["groups"]}
    return {
        "days": every_day(by_day),
        "hours": [{"hour": h, "calls": hours[h]["calls"] if h in hours else 0,
                   "rate": round(100 * hours[h]["connect_rate"], 1)
                   if h in hours and hours[h]["connect_rate"] is not None else None} for h in range(24)],
        "duration": _buckets(total["duration"], "s"),
        "turns": _buckets(total["turns"], ""),
    }


def _figures(filters: dict[str, Any]) -> dict[str, Any]:
    """The template's ``stats``, ``charts`` and ``error``: the running totals (``appliance.records.rollup``)."""
    try:
        found = service().stats_figures(**filters)
        by_day, by_hour = found["by_day"], found["by_hour"]
    except QueryInvalid as exc:  # what only the statistics see: a flow version's form, until before since
        return {"stats": None, "charts": None, "error": exc}
    return {"stats": by_day, "charts": charts(by_day, by_hour), "error": None}


@bp.get("/statistics")
@login_required
def index() -> tuple[str, int]:
    """The page at once (filters, exports); its figures follow from :func:`figures` (htmx), as counting 100,000
    calls takes longer than a page should (README "Figures"). ``inline=1`` counts them in the page itself."""
    form = {k: (request.args.get(k) or "")[:200] for k in ("since", "until", "task", "scenario", "flow_version")}
    inline = request.args.get("inline") == "1"
    shown: dict[str, Any] = {"stats": None, "charts": None, "error": None}
    try:
        form, filters = _filters()
        if inline:
            shown = _figures(filters)
    except QueryInvalid as exc:
        shown["error"] = exc
    query: dict[str, Any] = {k: v for k, v in form.items() if v}
    figures_url = url_for("stats_page.figures", **query)
    inline_url = url_for("stats_page.index", inline="1", **query)
    if "until" in query and shown["error"] is None:  # the exports' until is exclusive
        query["until"] = (date.fromisoformat(query["until"]) + timedelta(days=1)).isoformat()
    exports = {kind: url_for(f"stats.export_{kind}", **query) for kind in ("calls", "turns")}
    return render_page("stats.html", page="stats", form=form, choices=_choices(), exports=exports, inline=inline,
                       figures_url=figures_url, inline_url=inline_url, **shown), 400 if shown["error"] else 200


@bp.get("/statistics/figures")
@login_required
def figures() -> str:
    """The figures of :func:`index`'s filters as a fragment for htmx (a refused filter: its message, answered 200 so
    that htmx shows it)."""
    try:
        _, filters = _filters()
        shown = _figures(filters)
    except QueryInvalid as exc:
        shown = {"stats": None, "charts": None, "error": exc}
    return render_template("_stats_figures.html", **shown)
