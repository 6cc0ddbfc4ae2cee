"""The console's frame in a real browser: signed in against the real box, the top bar, the language switch and the
dark theme; on a phone nothing scrolls sideways."""

from __future__ import annotations

import pytest
from console_box import Box, Screens, new_page, sign_in
from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow


def test_sign_in_switch_to_chinese_and_back(admin: Page, box: Box, shot: Screens) -> None:
    assert admin.locator("nav.nav a[aria-current=page]").count() == 1
    shot(admin, "signed-in")
    admin.click("form.lang-switch button[value=zh]")
    admin.wait_for_load_state()
    assert admin.locator("html").get_attribute("lang") == "zh-Hans"
    assert "通话" in admin.inner_text("nav.nav")
    shot(admin, "chinese")
    admin.click("form.lang-switch button[value=en]")
    admin.wait_for_load_state()
    assert "Calls" in admin.inner_text("nav.nav")


def test_dark_theme_follows_the_system(browser: Browser, box: Box, shot: Screens) -> None:
    context, page, problems = new_page(browser, box)
    page.emulate_media(color_scheme="dark")
    sign_in(page, box)
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.emulate_media(color_scheme="light")
    light = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background != light and background == "rgb(15, 20, 25)"
    page.emulate_media(color_scheme="dark")
    shot(page, "dark")
    context.close()
    assert problems == []


def test_a_phone_never_scrolls_sideways(browser: Browser, box: Box, shot: Screens) -> None:
    context, page, problems = new_page(browser, box, width=390, height=844, mobile=True)
    sign_in(page, box)
    for link in page.locator("nav.nav a").all():
        href = link.get_attribute("href")
        page.goto(box.url + str(href))
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{href} scrolls sideways by {overflow}px on a phone"
    shot(page, "phone")
    context.close()
    assert problems == []
