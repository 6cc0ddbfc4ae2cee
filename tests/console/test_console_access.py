"""Access in a real browser against the real box: the first-run setup on a fresh ``callbox serve --simulate`` (no
account, no default password), its webhook addresses and secret, a test ticket that phones nobody, the connection
test against a real receiver that checks the signature; then a reviewer made on the Users page who reads but cannot
change anything."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from console_box import CONFIG, SECRET, Box, Screens, new_page, sign_in, start_box, stop_box
from playwright.sync_api import Browser, Page, expect
from signed_receiver import SignedReceiver

pytestmark = pytest.mark.slow

OWNER = ("lin", "first run password")


@pytest.fixture
def receiver() -> Iterator[SignedReceiver]:
    with SignedReceiver(SECRET, "/callbox") as running:
        yield running


@pytest.fixture
def fresh_box(tmp_path_factory: pytest.TempPathFactory, receiver: SignedReceiver) -> Iterator[Box]:
    """A box straight out of the box: no account at all, a callback address to test."""
    box = start_box(tmp_path_factory.mktemp("fresh-box"), admin=None,
                    config=CONFIG + f'\n[web]\ncallback_url = "{receiver.url}"\n')
    try:
        yield box
    finally:
        stop_box(box)
    assert "Traceback" not in box.log.read_text(), box.log.read_text()[-4000:]
    assert "first run password" not in box.log.read_text() and SECRET not in box.log.read_text()


def test_first_run_setup_on_a_fresh_box(browser: Browser, fresh_box: Box, receiver: SignedReceiver,
                                        shot: Screens) -> None:
    box = fresh_box
    phone_context, phone, _ = new_page(browser, box, width=390, height=844, mobile=True)
    phone.goto(box.url + "/")
    assert phone.url == box.url + "/setup"
    assert phone.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    shot(phone, "first-run-phone")
    phone_context.close()
    context, page, problems = new_page(browser, box)
    page.goto(box.url + "/calls")
    assert page.url == box.url + "/setup"
    expect(page.locator("h1")).to_have_text("Set up the box")
    shot(page, "first-run")
    page.fill("#username", OWNER[0])
    page.fill("#password", OWNER[1])
    page.fill("#password2", OWNER[1] + " typo")
    page.fill("#shop_name", "Lin's Repairs")
    page.fill("#time_zone", "Europe/Paris")
    page.select_option("#preset", "fr")
    page.click("form.setup-form button[type=submit]")
    expect(page.locator(".field-error")).to_have_text("The two passwords differ.")
    page.fill("#password", OWNER[1])
    page.fill("#password2", OWNER[1])
    page.click("form.setup-form button[type=submit]")
    expect(page.locator(".banner-good")).to_have_text("The admin account is ready.")
    assert page.input_value("#url-native") == box.url + "/api/v1/tickets"
    assert page.input_value("#secret-native") == SECRET
    assert page.input_value("#shop_name") == "Lin's Repairs" and page.input_value("#preset") == "fr"
    expect(page.locator("#lines li")).to_have_count(2)
    page.click("button[data-copy=secret-native]")
    expect(page.locator("button[data-copy=secret-native]")).to_have_text("Copied")
    shot(page, "webhooks")

    page.click("#send-test-ticket")
    banner = page.locator(".banner-good")
    expect(banner).to_contain_text("arrived: skip")
    ticket = banner.inner_text().split("Test ticket ")[1].split(" ")[0]
    page.click("#targets button[type=submit]")
    expect(page.locator(".banner-good")).to_contain_text("answered 204")
    expect(page.locator(".banner-good")).to_contain_text("the connection works")
    assert 204 in receiver.answers
    shot(page, "connection-tested")

    page.goto(box.url + "/tickets")
    expect(page.locator(f"#ticket-{ticket}")).to_contain_text("Skip")
    tasks = box.api(f"/api/v1/tickets/{ticket}")["tasks"]
    assert tasks == []  # nobody is called
    page.click("form.logout button")
    sign_in(page, box, OWNER)
    expect(page.locator("nav.nav")).to_contain_text("Users")
    shot(page, "signed-in")
    context.close()
    assert [p for p in problems if "status of 400" not in p] == []  # the 400: the passwords that differed

    stranger, other, _ = new_page(browser, box)
    other.goto(box.url + "/setup")
    assert other.url.startswith(box.url + "/login")  # the admin exists: no second one from here
    stranger.close()


def _csrf(page: Page) -> str:
    return str(page.locator("form.logout input[name=csrf_token]").input_value())


def test_a_reviewer_made_on_the_users_page_cannot_change_anything(admin: Page, browser: Browser, box: Box,
                                                                  shot: Screens) -> None:
    name = "rev-" + secrets.token_hex(3)
    password = "reviewer password " + secrets.token_hex(2)
    admin.goto(box.url + "/users")
    admin.fill("#new-username", name)
    admin.fill("#new-password", password)
    admin.select_option("#new-role", "reviewer")
    admin.click("#add-user button[type=submit]")
    expect(admin.locator(".banner-good")).to_have_text(f"{name} can sign in now, as a reviewer.")
    expect(admin.locator(f"#user-{name} select")).to_have_value("reviewer")
    shot(admin, "reviewer-made")

    context, page, problems = new_page(browser, box)
    sign_in(page, box, (name, password))
    nav = page.locator("nav.nav").inner_text()
    assert "Calls" in nav and "Users" not in nav and "Settings" not in nav
    refused = page.goto(box.url + "/users")
    assert refused is not None and refused.status == 403
    settings_page = page.goto(box.url + "/settings")
    assert settings_page is not None and settings_page.status == 403
    expect(page.locator("main")).to_contain_text("reviewer")
    shot(page, "reviewer-refused")
    page.goto(box.url + "/calls")
    token = _csrf(page)
    statuses = page.evaluate(
        """async (token) => {
            const send = (method, url, body) => fetch(url, {method, headers: {'X-CSRF-Token': token,
                'Content-Type': 'application/json'}, body}).then(r => r.status);
            const form = (url, fields) => fetch(url, {method: 'POST', body: new URLSearchParams(
                {csrf_token: token, ...fields})}).then(r => r.status);
            return {
                rules: await send('PUT', '/api/v1/rules', JSON.stringify({rules: []})),
                setup: await form('/setup', {shop_name: 'x', time_zone: 'UTC', preset: 'us'}),
                role: await form('/users/owner/role', {role: 'reviewer'}),
                token: await form('/tokens', {name: 'sneaky'}),
                hours: await form('/settings/calling', {'calling.preset': 'custom', 'calling.hours': '03:00-04:00'}),
                dnc: await form('/settings/do-not-call/add', {phone: '+15550199999'}),
                secret: await form('/settings/webhook-secret', {}),
            };
        }""", token)
    assert statuses == {"rules": 403, "setup": 403, "role": 403, "token": 403, "hours": 403, "dnc": 403,
                        "secret": 403}
    assert 'hours = "03:00-04:00"' not in box.config.read_text()  # the calling hours are as the owner left them
    assert admin.goto(box.url + "/users") is not None
    expect(admin.locator("#user-owner select")).to_have_value("admin")
    expect(admin.locator("#tokens")).not_to_contain_text("sneaky")
    context.close()
    assert [p for p in problems if "403" not in p] == []
