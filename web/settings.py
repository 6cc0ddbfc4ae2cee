"""The Settings page (admin only): calling hours and presets, the do-not-call list (add, remove, import and export a
CSV), retention and quota, upstream and MQTT, the webhook secret (rotate: the new one shown once), the SMS text.

Every change goes through ``PanelService.settings`` (validated whole before /etc/callbox/callbox.toml is written;
a bad value is shown at its field and nothing changes) and is audited (``web.audit.record_change``). State-changing
routes check the form's CSRF token. Admin only: the access part's ``@role_required("admin")`` goes on each view.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from standardwebhooks.webhooks import Webhook
from werkzeug.wrappers import Response as BaseResponse

from appliance.errors import CallboxError, SettingInvalid
from web.audit import record_change
from web.auth import csrf_ok, login_required, role_required
from web.panel import render_page, service
from web.query import row_int
from web.service import SettingsService

log = logging.getLogger(__name__)

bp = Blueprint("settings_page", __name__)

DNC_PAGE = 50
MAX_IMPORT_BYTES = 60 * 1024  # under the app's body limit (web.MAX_BODY_BYTES)
PAGE_SECTIONS = ("shop", "calling", "recordings", "sms", "upstream", "mqtt")

# what each section and key is called on the page (the keys as in callbox.toml, for the owner who reads the file)
SECTION_TITLES = {
    "shop": _l("The shop"), "calling": _l("Calling hours"), "recordings": _l("Recordings: retention and quota"),
    "sms": _l("Text message"), "upstream": _l("Upstream"), "mqtt": _l("MQTT"), "qa": _l("Automatic QA tags"),
}
LABELS = {
    "shop.name": _l("Shop name (said in calls and texts)"),
    "shop.time_zone": _l("Time zone (e.g. Europe/Berlin; empty: the box's own)"),
    "calling.preset": _l("Country preset"), "calling.hours": _l("Calling hours (custom preset)"),
    "calling.max_per_day": _l("Calls per number per day"),
    "recordings.retention_days": _l("Keep recordings (days, 0 = no age limit)"),
    "recordings.quota_mb": _l("Quota (MB, 0 = none)"), "recordings.min_free_mb": _l("Keep free on the disk (MB)"),
    "sms.unreachable_text": _l("Text to a customer the box could not reach (empty = none)"),
    "web.callback_url": _l("Ticket operations go to (callback URL)"), "upstream.url": _l("Call records go to (URL)"),
    "upstream.secret": _l("Signing secret of the records"), "upstream.send_recordings": _l("Send the recordings too"),
    "upstream.timeout_s": _l("Time limit of one request (s)"),
    "mqtt.enabled": _l("Publish to MQTT"), "mqtt.host": _l("Broker"), "mqtt.port": _l("Port"),
    "mqtt.username": _l("User name"), "mqtt.password": _l("Password"), "mqtt.tls": _l("TLS"),
    "mqtt.topic_prefix": _l("Topic prefix"), "mqtt.discovery_prefix": _l("Home Assistant discovery prefix"),
    "mqtt.client_id": _l("Client id (empty = callbox- and the box id)"),
    "qa.asr_error": _l("Tag poorly heard turns (asr_error)"),
    "qa.min_asr_confidence": _l("Least recognition confidence (0-1)"),
    "qa.intent_error": _l("Tag doubtful intents (intent_error)"),
    "qa.min_intent_margin": _l("Least lead of the chosen intent (0-1)"),
    "qa.opposite_intents": _l("Opposite intents (one pair a line: confirm / not_home)"),
    "qa.intent_not_triggered": _l("Tag turns that matched no intent (intent_not_triggered)"),
    "qa.long_silence": _l("Tag long silences (long_silence)"), "qa.long_silence_s": _l("A long silence (s)"),
    "qa.barge_in": _l("Tag barge-ins (barge_in)"), "qa.fallback_used": _l("Tag fallbacks (fallback_used)"),
    "qa.hung_up_mid_flow": _l("Tag hang-ups mid-flow (hung_up_mid_flow)"),
}
HINTS = {
    "calling.preset": _l("custom: the hours below every day; us, fr, cn: that country's law (README: Calling hours "
                         "and compliance)"),
    "calling.hours": _l("On the customer's clock, e.g. 09:00-20:00; 00:00-00:00 is all day"),
    "sms.unreachable_text": _l("Fields: {name} {order_id} {shop} {subject}"),
    "upstream.secret": _l("whsec_ and the base64 of at least 24 random bytes; leave empty to keep it"),
    "mqtt.password": _l("Leave empty to keep it"),
}


def settings_service() -> SettingsService:
    return service().settings


def _audit(changes: dict[str, dict[str, Any]]) -> None:
    for key, change in changes.items():
        record_change(f"settings.{key}", change["before"], change["after"])


def field_view(field: dict[str, Any]) -> dict[str, Any]:
    """A field with its label and hint for the template."""
    return {**field, "label": LABELS.get(field["key"], field["key"]), "hint": HINTS.get(field["key"], "")}


def sections_view(names: tuple[str, ...], *, failed: str | None = None,
                  form: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The sections to draw; the one that ``failed`` keeps what was typed into it."""
    out = []
    for name in names:
        section = settings_service().section(name)
        fields = [field_view(f) for f in section["fields"]]
        if name == failed and form is not None:
            for f in fields:
                if f["source"] != "environment" and f["kind"] != "secret":
                    f["value"] = (f["key"] in form) if f["kind"] == "bool" else form.get(f["key"], "")
        out.append({**section, "title": SECTION_TITLES[name], "fields": fields})
    return out


def _page(*, status: int = 200, failed: str | None = None, form: dict[str, str] | None = None,
          error: SettingInvalid | None = None, dnc_error: str | None = None, new_secret: str | None = None,
          notice: str | None = None) -> tuple[str, int]:
    offset = max(request.args.get("dnc_offset", 0, type=row_int) or 0, 0)
    try:
        sections = sections_view(PAGE_SECTIONS, failed=failed, form=form)
        secret_source = settings_service().webhook.source
    except CallboxError:
        log.exception("the settings cannot be read")
        sections, secret_source = [], None
    return render_page("settings.html", page="settings", sections=sections, secret_source=secret_source,
                       error=error, failed=failed, dnc=service().do_not_call.page(limit=DNC_PAGE, offset=offset),
                       dnc_error=dnc_error, dnc_notice=(request.args.get("dnc") or "")[:200], new_secret=new_secret,
                       notice=notice or _notice(),
                       webhook_url=url_for("api.submit_ticket", _external=True)), status


def _notice() -> str | None:
    saved = request.args.get("saved")
    if saved in SECTION_TITLES:
        return _("Saved: %(section)s.", section=SECTION_TITLES[saved])
    return None


def stale() -> tuple[str, int]:
    return render_template("error.html", code=400, title=_("Bad request"),
                           message=_("The form was stale. Please try again.")), 400


@bp.get("/settings")
@login_required
@role_required("admin")
def index() -> tuple[str, int]:
    return _page()


def save_section(name: str, target: str) -> BaseResponse:
    """Save ``name`` from the posted form (audited), then back to ``target``; ``SettingInvalid`` when a value was
    refused (nothing written)."""
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    result = settings_service().update(name, form)
    _audit(result["changes"])
    return redirect(url_for(target, saved=name) + f"#{name}")


@bp.post("/settings/<name>")
@login_required
@role_required("admin")
def save(name: str) -> BaseResponse | tuple[str, int]:
    if not csrf_ok():
        return stale()
    if name not in PAGE_SECTIONS:
        return render_template("error.html", code=404, title=_("Not found"),
                               message=_("There is no such part of the settings.")), 404
    try:
        return save_section(name, "settings_page.index")
    except SettingInvalid as exc:
        form = {k: v for k, v in request.form.items() if k != "csrf_token"}
        return _page(status=400, failed=name, form=form, error=exc)


@bp.post("/settings/webhook-secret")
@login_required
@role_required("admin")
def rotate_secret() -> tuple[str, int]:
    """A new webhook secret, shown once on this answer; from now on the old one is refused."""
    if not csrf_ok():
        return stale()
    try:
        new = settings_service().webhook.rotate()
    except SettingInvalid as exc:
        return _page(status=400, error=exc)
    current_app.extensions["callbox_webhook"] = Webhook(new)  # the webhook checks signatures with it at once
    record_change("settings.web.webhook_secret", "(set)", "(rotated)")
    return _page(new_secret=new)


def _dnc_done(message: str) -> BaseResponse:
    """Back to the list, saying what was done (a redirect: reloading the page does not post again)."""
    return redirect(url_for("settings_page.index", dnc=message) + "#do-not-call")


@bp.post("/settings/do-not-call/add")
@login_required
@role_required("admin")
def dnc_add() -> BaseResponse | tuple[str, int]:
    if not csrf_ok():
        return stale()
    try:
        number = service().do_not_call.add(request.form.get("phone", ""), request.form.get("reason", ""))
    except SettingInvalid as exc:
        return _page(status=400, dnc_error=_("Not added: %(why)s", why=exc.message))
    record_change(f"do-not-call:{number}", None, "added")
    return _dnc_done(_("%(phone)s is on the do-not-call list.", phone=number))


@bp.post("/settings/do-not-call/remove")
@login_required
@role_required("admin")
def dnc_remove() -> BaseResponse | tuple[str, int]:
    if not csrf_ok():
        return stale()
    phone = request.form.get("phone", "")
    if not service().do_not_call.remove(phone):
        return _page(status=404, dnc_error=_("%(phone)s is not on the do-not-call list.", phone=phone[:40]))
    record_change(f"do-not-call:{phone}", "added", None)
    return _dnc_done(_("%(phone)s was taken off the list and may be called again.", phone=phone))


@bp.post("/settings/do-not-call/import")
@login_required
@role_required("admin")
def dnc_import() -> BaseResponse | tuple[str, int]:
    """A CSV of numbers (a ``phone`` column, or the first one), all or none."""
    if not csrf_ok():
        return stale()
    upload = request.files.get("file")
    raw = upload.read(MAX_IMPORT_BYTES + 1) if upload is not None else b""
    if not raw.strip():
        return _page(status=400, dnc_error=_("Not imported: choose a CSV file with the numbers."))
    if len(raw) > MAX_IMPORT_BYTES:
        return _page(status=400, dnc_error=_("Not imported: the file is larger than %(kb)d KB.",
                                             kb=MAX_IMPORT_BYTES // 1024))
    try:
        text = raw.decode("utf-8-sig")
        result = service().do_not_call.import_csv(text)
    except UnicodeDecodeError:
        return _page(status=400, dnc_error=_("Not imported: the file is not UTF-8 text."))
    except SettingInvalid as exc:
        return _page(status=400, dnc_error=_("Nothing was imported: %(where)s: %(why)s", where=exc.field,
                                             why=exc.message))
    record_change("do-not-call:import", None, result)
    return _dnc_done(_("Imported %(rows)d numbers (%(added)d new).", rows=result["rows"], added=result["added"]))


@bp.get("/settings/do-not-call.csv")
@login_required
@role_required("admin")
def dnc_export() -> Response:
    response = Response(service().do_not_call.export_csv(), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="do-not-call.csv"'
    return response
