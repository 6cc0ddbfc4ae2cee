"""The console's access part: the first-run setup (``web.setup``), the Users and API tokens page and the audit log
(``web.users``). This module holds what they share: a refusal in the reader's language, an audit entry in words."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from appliance.errors import AccessInvalid
from web.service import PanelService

MIN_PASSWORD = 10  # as appliance.panel.access.MIN_PASSWORD (the box refuses shorter ones whatever the page says)
ROLES = ("admin", "reviewer")

REFUSALS: dict[str, Any] = {
    "bad_username": _l("A username is 1 to 64 letters, digits or . _ @ - and starts with a letter or digit."),
    "short_password": _l("The password must have at least %(count)d characters.", count=MIN_PASSWORD),
    "passwords_differ": _l("The two passwords differ."),
    "username_taken": _l("That username is taken."),
    "setup_done": _l("The box already has an admin. Sign in instead."),
    "last_admin": _l("This is the only admin: make another user an admin first."),
    "bad_role": _l("Choose a role: admin or reviewer."),
    "no_user": _l("There is no such user."),
    "bad_token_name": _l("Give the token a name of up to 80 characters."),
    "bad_shop_name": _l("Give the shop a name of up to 80 characters."),
    "bad_time_zone": _l("Choose a time zone from the list, e.g. Europe/Berlin."),
    "bad_preset": _l("Choose a country preset from the list."),
}


def service() -> PanelService:
    svc: PanelService = current_app.extensions["callbox_service"]
    return svc


def refusal(exc: AccessInvalid) -> str:
    """The refusal in the reader's language (the box's English words only for a code this page does not know)."""
    words = REFUSALS.get(exc.code)
    return str(words) if words is not None else exc.message


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def describe_change(before: Any, after: Any) -> list[str]:
    """An audit entry's before -> after in words, one line per changed field of a JSON object."""
    if before is None and after is None:
        return [_("no details")]
    if before is None:
        return [_("created: %(value)s", value=_value(after))]
    if after is None:
        return [_("removed (was %(value)s)", value=_value(before))]
    if isinstance(before, dict) and isinstance(after, dict):
        lines = []
        for key in sorted(set(before) | set(after)):
            if key not in before:
                lines.append(_("%(field)s set to %(value)s", field=key, value=_value(after[key])))
            elif key not in after:
                lines.append(_("%(field)s removed (was %(value)s)", field=key, value=_value(before[key])))
            elif before[key] != after[key]:
                lines.append(_("%(field)s: %(before)s → %(after)s", field=key, before=_value(before[key]),
                               after=_value(after[key])))
        return lines or [_("no change")]
    if before == after:
        return [_("no change")]
    return [_("%(before)s → %(after)s", before=_value(before), after=_value(after))]


def install(app: Flask) -> None:
    from web import setup, users

    app.register_blueprint(setup.bp)
    app.register_blueprint(users.bp)
    app.register_blueprint(users.audit)
    app.jinja_env.globals["describe_change"] = describe_change
