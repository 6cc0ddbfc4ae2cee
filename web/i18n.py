"""The panel's languages: English and Simplified Chinese through Flask-Babel's message catalogues
(``web/translations/``; ``make i18n`` extracts, updates and compiles them).

The language is, in order: the one the signed-in user chose (kept in the session when they sign in and when they
switch), the one a visitor picked before signing in, then the browser's ``Accept-Language``, then English.
"""

from __future__ import annotations

from flask import Blueprint, Flask, abort, current_app, redirect, request, session, url_for
from flask_babel import Babel, get_locale
from werkzeug.wrappers import Response as BaseResponse

from web.auth import SESSION_USER, csrf_ok

LANGUAGES: dict[str, str] = {"en": "English", "zh": "中文"}  # code -> its own name, as the switcher shows it
HTML_LANG = {"en": "en", "zh": "zh-Hans"}
SESSION_LANG = "lang"

bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    chosen = session.get(SESSION_LANG)
    if isinstance(chosen, str) and chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES), default="en") or "en"


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else "en"


@bp.post("/language")
def switch_language() -> BaseResponse:
    """The switcher in the top bar: remembered in the session (and, signed in, by the user's own settings)."""
    if not csrf_ok():
        abort(400, description="The form expired; reload the page and try again.")
    code = request.form.get("lang", "")
    if code not in LANGUAGES:
        abort(400, description=f"unknown language {code!r}; one of {', '.join(LANGUAGES)}")
    session[SESSION_LANG] = code
    user = session.get(SESSION_USER)
    if isinstance(user, str):  # a signed-in user's choice is theirs: it comes back at their next sign-in
        current_app.extensions["callbox_service"].access.set_language(user, code)
    back = request.form.get("next", "")
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("panel.index")
    return redirect(back)


def install(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    app.register_blueprint(bp)
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, current_language=current_language,
                                 html_lang=lambda: HTML_LANG[current_language()])
