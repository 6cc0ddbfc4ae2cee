"""The panel's pages in the top bar, in order. An entry whose endpoint the app does not have is not shown, so a page
appears in the bar as its blueprint is registered. ``role``: the least role that sees the entry."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class NavItem:
    page: str  # the ``page`` a view renders with, to mark the entry current
    endpoint: str
    label: object  # a lazy translation
    role: str = "reviewer"


NAV: tuple[NavItem, ...] = (
    NavItem("dashboard", "dashboard.index", _l("Dashboard")),
    NavItem("calls", "panel.calls", _l("Calls")),
    NavItem("tickets", "panel.tickets", _l("Tickets")),
    NavItem("tasks", "tasks_page.index", _l("Tasks")),
    NavItem("flows", "flows.flows", _l("Flows")),
    NavItem("voice", "voice_page.index", _l("Voice")),
    NavItem("rules", "rules_page.index", _l("Rules")),
    NavItem("qa", "qa_page.index", _l("QA")),
    NavItem("stats", "stats_page.index", _l("Statistics")),
    NavItem("modems", "modems_page.index", _l("Modems")),
    NavItem("settings", "settings_page.index", _l("Settings"), role="admin"),
    NavItem("users", "users_page.index", _l("Users"), role="admin"),
)


def nav_items(role: str | None) -> list[NavItem]:
    """The entries this user sees: those the app has, and admin-only ones for admins."""
    have = current_app.view_functions
    return [item for item in NAV if item.endpoint in have and (item.role == "reviewer" or role == "admin")]
