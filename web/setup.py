"""``/setup``: the first run makes the admin account (there is no default password) and asks the shop's name, time
zone and country preset; later, for an admin, the same page shows where each helpdesk sends its tickets and with
which secret, sends a test ticket, tests the connection to each target the box sends to, and lists the lines.

While no user exists the guard (``web.auth``) sends every page here and lets anyone in; once the admin exists
this page is an admin's, and it never makes a second account (the Users page does).
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from appliance.errors import AccessInvalid, CallboxError
from web.access import MIN_PASSWORD, refusal, service
from web.audit import record_change
from web.auth import csrf_token, role_required, setup_pending, start_session
from web.i18n import SESSION_LANG, current_language

log = logging.getLogger(__name__)

bp = Blueprint("setup", __name__)


@cache
def time_zones() -> list[str]:
    return ["UTC", *sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))]


def _status_lines() -> list[dict[str, Any]]:
    try:
        lines: list[dict[str, Any]] = service().status().get("lines", [])
    except Exception:
        log.exception("status() failed; the Setup page shows no lines")
        return []
    return lines


def _words(result: dict[str, Any]) -> tuple[str, str]:
    """(tone, sentence) for a target's test: what the owner reads."""
    status, ms = result.get("status"), result.get("ms", 0)
    name = _target_names().get(str(result.get("name")), str(result.get("name", "")))
    words = {
        "ok": ("good", _("%(name)s answered %(status)s in %(ms)d ms: the connection works.",
                         name=name, status=status, ms=ms)),
        "refused_signature": ("bad", _("%(name)s answered %(status)s: it does not accept the signature. Check that "
                                       "both sides have the same secret.", name=name, status=status)),
        "http_error": ("bad", _("%(name)s answered with an error (%(status)s).", name=name, status=status)),
        "refused": ("bad", _("Nothing answers at %(name)s's address (connection refused).", name=name)),
        "timeout": ("bad", _("%(name)s did not answer within 5 seconds.", name=name)),
        "unknown_host": ("bad", _("The host name of %(name)s is unknown.", name=name)),
    }
    return words.get(str(result.get("result")), ("bad", _("%(name)s cannot be reached.", name=name)))


def _target_names() -> dict[str, str]:
    return {"callback": _("Ticket callback"), "upstream": _("Upstream call records")}


def _page(errors: dict[str, str] | None = None, form: dict[str, str] | None = None, status: int = 200) -> Any:
    pending = setup_pending()
    setup = service().setup
    shop = setup.shop()
    context: dict[str, Any] = {
        "pending": pending, "errors": errors or {}, "form": form or {}, "shop": shop, "presets": setup.presets(),
        "zones": time_zones(), "min_password": MIN_PASSWORD, "page": "setup",
        "preset_names": {"custom": _("Custom (the hours in callbox.toml)"), "us": _("United States"),
                         "fr": _("France"), "cn": _("China")},
        "helpdesk_names": {"native": _("Your own system (Standard Webhooks)"), "zendesk": "Zendesk",
                           "freshdesk": "Freshdesk", "zammad": "Zammad"},
        "how_names": {"standard_webhooks": _("Signing secret"), "zendesk_signature": _("Signing secret"),
                      "freshdesk_header": _("Value of the X-Callbox-Token header"),
                      "zammad_signature": _("HMAC SHA1 signature token")},
        "target_names": _target_names(),
    }
    if not pending:
        base = request.host_url.rstrip("/")
        context.update(hooks=[{**h, "url": base + h["path"]} for h in setup.webhooks()],
                       targets=setup.target_list(), lines=_status_lines())
    return render_template("setup.html", **context), status


@bp.route("/setup", methods=["GET", "POST"])
def index() -> Any:
    """GET: the page. POST: the first admin and the shop (first run), or the shop (an admin, later)."""
    if request.method == "GET":
        return _page()
    form = {k: request.form.get(k, "") for k in ("username", "shop_name", "time_zone", "preset")}
    pending = setup_pending()
    setup = service().setup
    try:
        # the shop's answers are checked before the account is made: a wrong one makes nothing
        setup.check_shop(name=form["shop_name"], time_zone=form["time_zone"], preset=form["preset"])
        if pending:
            user = service().access.create_first_admin(request.form.get("username", ""),
                                                       request.form.get("password", ""),
                                                       request.form.get("password2", ""))
            session.clear()
            start_session(user["username"], user["role"])  # with the session generation and the time (web.auth)
            session[SESSION_LANG] = current_language()
            service().access.set_language(user["username"], current_language())
            csrf_token()
            log.info("first-run setup: admin %s created from %s", user["username"], request.remote_addr)
            record_change(f"user:{user['username']}", None, {"role": "admin", "by": "first-run setup"})
        before, after = setup.save_shop(name=form["shop_name"], time_zone=form["time_zone"],
                                                  preset=form["preset"])
    except AccessInvalid as exc:
        return _page({exc.field or "form": refusal(exc)}, form, 400)
    if before != after:
        record_change("setup.shop", before, after)
    flash(_("The admin account is ready.") if pending else _("Saved."), "good")
    return redirect(url_for("setup.index"))


# An admin's page once the box has one (the guard lets anyone in only while no user exists).
index.required_role = "admin"  # type: ignore[attr-defined]


@bp.post("/setup/test-ticket")
@role_required("admin")
def test_ticket() -> BaseResponse:
    """A ticket through the box's own intake that no rule calls, so the owner sees one arrive in Tickets."""
    try:
        result = service().setup.test_ticket()
    except CallboxError:
        log.exception("the setup test ticket failed")
        flash(_("The test ticket could not be stored. The box's log says why."), "bad")
        return redirect(url_for("setup.index"))
    if result.get("sent"):
        flash(_("Test ticket %(ticket)s arrived: %(decision)s (%(reason)s). Nobody is called. It is listed under "
                "Tickets.", ticket=result["ticket"], decision=result.get("decision"), reason=result.get("reason")),
              "good")
        record_change(f"setup.test_ticket:{result['ticket']}", None, {"decision": result.get("decision")})
    else:
        flash(_("Not sent: your rules would call the test ticket (%(reason)s). Nobody was called.",
                reason=result.get("reason")), "bad")
    return redirect(url_for("setup.index"))


@bp.post("/setup/test-target")
@role_required("admin")
def test_target() -> BaseResponse:
    name = request.form.get("target", "")
    if name not in {t["name"] for t in service().setup.target_list()}:
        flash(_("There is no such target."), "bad")
        return redirect(url_for("setup.index"))
    tone, words = _words(service().setup.test_target(name))
    flash(words, tone)
    return redirect(url_for("setup.index") + "#targets")
