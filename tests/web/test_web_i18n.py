"""The panel's two languages: the catalogue is whole and compiled, the browser's language is followed before login,
the switcher changes it (with a CSRF token), and the bar shows only the pages the app has."""

from __future__ import annotations

import gettext
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from web.nav import NAV

WEB = Path(__file__).resolve().parents[2] / "web"
CATALOGUE = WEB / "translations" / "zh" / "LC_MESSAGES"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]


def _source_messages() -> set[str]:
    found: set[str] = set()
    for _name, _line, message, _comments, _context in extract_from_dir(str(WEB), METHODS, keywords=KEYWORDS):
        found.update(message if isinstance(message, tuple) else (message,))
    return {m for m in found if m}


def test_every_string_of_the_panel_has_a_chinese_translation_and_the_mo_is_compiled_from_the_po() -> None:
    with (CATALOGUE / "messages.po").open("rb") as f:
        catalogue = read_po(f)
    translated = {m.id if isinstance(m.id, str) else m.id[0]: m.string for m in catalogue if m.id}
    missing = sorted(m for m in _source_messages() if not translated.get(m))
    assert missing == [], f"run `make i18n` and translate in {CATALOGUE / 'messages.po'}: {missing}"
    fuzzy = sorted(m.id for m in catalogue if m.id and m.fuzzy)
    assert fuzzy == [], f"fuzzy (unchecked) translations: {fuzzy}"
    with (CATALOGUE / "messages.mo").open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    stale = sorted(k for k, v in translated.items() if isinstance(v, str) and compiled.gettext(k) != v)
    assert stale == [], f"messages.mo is older than messages.po (run `make i18n`): {stale}"


def test_the_browsers_language_is_followed_before_login(client: FlaskClient) -> None:
    chinese = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="zh-Hans">' in chinese and "<h1>登录</h1>" in chinese and "用户名" in chinese
    english = client.get("/login", headers={"Accept-Language": "de-DE,en;q=0.8"}).get_data(as_text=True)
    assert '<html lang="en">' in english and "<h1>Log in</h1>" in english
    nothing = client.get("/login").get_data(as_text=True)
    assert "<h1>Log in</h1>" in nothing


def test_the_switcher_changes_the_language_and_refuses_a_stale_form_or_an_unknown_code(client: FlaskClient,
                                                                                        csrf) -> None:
    token = csrf(client.get("/login").get_data(as_text=True))
    assert client.post("/language", data={"lang": "zh", "next": "/login"}).status_code == 400  # no token
    assert client.post("/language", data={"csrf_token": token, "lang": "fr"}).status_code == 400
    assert "<h1>Log in</h1>" in client.get("/login").get_data(as_text=True)  # unchanged by either
    switched = client.post("/language", data={"csrf_token": token, "lang": "zh", "next": "/login"})
    assert switched.status_code == 302 and switched.headers["Location"] == "/login"
    page = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "<h1>登录</h1>" in page  # the choice wins over the browser's
    off_site = client.post("/language", data={"csrf_token": token, "lang": "en", "next": "//evil.example/"})
    assert off_site.headers["Location"] == "/"


def test_a_failed_login_is_told_in_the_users_language(client: FlaskClient, csrf) -> None:
    zh = {"Accept-Language": "zh-CN"}
    token = csrf(client.get("/login", headers=zh).get_data(as_text=True))
    wrong = client.post("/login", data={"csrf_token": token, "username": "admin", "password": "nope"}, headers=zh)
    assert wrong.status_code == 401 and "用户名或密码错误。" in wrong.get_data(as_text=True)


def test_the_top_bar_lists_the_pages_the_app_has(app, logged_in: FlaskClient) -> None:
    html = logged_in.get("/calls").get_data(as_text=True)
    assert 'href="/calls" aria-current="page"' in html
    nav = html[html.index('<nav class="nav"'):html.index("</nav>")]
    for item in NAV:
        shown = f">{item.label}</a>" in nav
        assert shown == (item.endpoint in app.view_functions), item
