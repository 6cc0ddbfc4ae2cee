"""Configuration changes made from the panel or the admin API, for the audit log: who, when, what, before -> after.

Every view that changes the box's configuration (settings, rules, flows, users, tokens, the do-not-call list...)
calls :func:`record_change` after the change took effect. The service stores the entry
(``PanelService.audit_change``); the log line is written either way.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, request, session

from web.auth import SESSION_USER

log = logging.getLogger(__name__)


def actor() -> str:
    """Who made the change: the signed-in user, or "api" for a bearer token."""
    user = session.get(SESSION_USER)
    return user if isinstance(user, str) and user else "api"


def record_change(what: str, before: Any, after: Any) -> None:
    """``what``: a short name of the thing changed ("settings.calling.hours", "rule:late-parcels", ...);
    ``before`` / ``after``: JSON-able values (None when created / deleted)."""
    who = actor()
    log.info("audit: %s changed %s from %s", who, what, request.remote_addr or "?")
    store = getattr(current_app.extensions["callbox_service"], "audit_change", None)
    if store is not None:
        store(who, what, before, after)
