"""The panel in a real browser: Debian's chromium driven by Playwright, app served by waitress."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser

from web import create_app
from web.serving import Serving, create_server

pytestmark = pytest.mark.slow  # a real browser against the real box

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def server_url(service) -> Iterator[str]:
    service.store_dict_calls()  # the Calls page searches the real store
    app: Flask = create_app(service, secret_key="browser-test-key")
    # as `callbox serve`: the dashboard's event stream ends as soon as its browser leaves
    serving = Serving(create_server(app, host="127.0.0.1", port=0, threads=4, channel_request_lookahead=4)).start()
    try:
        yield f"http://127.0.0.1:{serving.port}"
    finally:
        serving.stop()


def test_panel_in_a_real_browser(browser: Browser, server_url: str, creds, tmp_path: Path):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(5000)
    external: list[str] = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(server_url) else None)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(server_url + "/")
    assert page.url.startswith(server_url + "/login")
    user, password = creds
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("form.form button[type=submit]")
    page.wait_for_url(server_url + "/dashboard")  # where a sign-in without a page to return to leads
    page.goto(server_url + "/calls")
    page.click("#call-2 a[href='/calls/2']")
    page.wait_for_url(server_url + "/calls/2")

    customer_turn = page.locator(".turn-customer .says").first
    assert customer_turn.inner_text() == "Great, I will pick it up on Friday."
    assert customer_turn.is_visible()
    assert page.locator(".turn-bot").count() == 2
    bot_bg = page.locator(".turn-bot").first.evaluate("e => getComputedStyle(e).backgroundColor")
    customer_bg = customer_turn.evaluate("e => getComputedStyle(e.parentElement).backgroundColor")
    assert bot_bg != customer_bg  # the stylesheet loaded and tells the speakers apart

    audio = page.locator("#call-audio")
    assert audio.count() == 1
    src = audio.get_attribute("src")
    assert src == "/calls/2/recording.wav"
    fetched = page.evaluate(
        """async (src) => {
            const r = await fetch(src, {headers: {Range: "bytes=0-11"}});
            const bytes = new Uint8Array(await r.arrayBuffer());
            const text = (a, b) => String.fromCharCode(...bytes.slice(a, b));
            return {status: r.status, type: r.headers.get("content-type"), head: text(0, 4) + text(8, 12)};
        }""",
        src,
    )
    assert fetched == {"status": 206, "type": "audio/wav", "head": "RIFFWAVE"}
    whole = page.request.get(server_url + src)  # shares the context's session cookie
    assert whole.status == 200 and whole.headers["content-type"] == "audio/wav"

    shot = tmp_path / "calls.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 10_000

    page.click("nav >> text=Tickets")
    page.wait_for_url(server_url + "/tickets")
    assert page.locator("h1").inner_text() == "Tickets"
    page.click("text=Log out")
    page.wait_for_url(server_url + "/login*")
    assert page.goto(server_url + "/calls") is not None
    assert page.url.startswith(server_url + "/login")

    assert external == []
    assert errors == []
    context.close()


def test_panel_fits_a_phone_screen(browser: Browser, server_url: str, creds, service, ticket):
    long_words = ticket("T-" + "9" * 40) | {"subject": "Replacement-part-order-" + "x" * 80}
    service.submit_ticket(long_words, webhook_id="msg_long")
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(5000)
    page.goto(server_url + "/login")
    user, password = creds
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("form.form button[type=submit]")
    page.wait_for_url(server_url + "/dashboard")
    for path in ("/dashboard", "/modems", "/calls", "/tickets", "/calls/2", "/tickets/T-2"):
        page.goto(server_url + path)
        assert page.locator("h1").is_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"
        clipped = page.evaluate(
            "[...document.querySelectorAll('main *')]"
            ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)"
            ".map(e => e.tagName + '.' + e.className)"
        )
        assert clipped == [], f"{path}: cut off at the right edge: {clipped}"
    page.goto(server_url + "/calls/2")
    font_px = page.locator(".turn .says").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert font_px >= 14  # readable without zooming
    context.close()


def test_flows_in_a_real_browser(browser: Browser, server_url: str, creds, tmp_path: Path):
    """Import a flow file through the form, see its drawing, and talk to it in text."""
    example = Path(__file__).resolve().parents[2] / "flows" / "examples" / "delivery-confirmation.en.json"
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(5000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(server_url + "/flows")
    user, password = creds
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("form.form button[type=submit]")
    page.wait_for_url(server_url + "/flows")
    page.set_input_files("#flow-file", str(example))
    page.click("text=Check and publish")
    page.wait_for_url("**/flows/delivery-confirmation-example?published=1")
    assert "Published as version 1." in page.inner_text(".banner-good")
    graph = page.locator("img.flow-graph")
    graph.scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('img.flow-graph').complete")
    assert graph.evaluate("img => img.naturalWidth") > 100  # the SVG loaded (CSP lets it draw)
    page.fill("#variables", "name=Ada\norder_id=A-77")
    page.fill("#says", "where is my parcel\nyes")
    page.click("text=Run the conversation")
    page.wait_for_selector("#try-result")
    assert page.locator("#try-result .turn-customer").count() == 2
    assert "Confirmed" in page.inner_text("#try-result .facts")
    page.screenshot(path=str(tmp_path / "flow.png"), full_page=True)
    assert (tmp_path / "flow.png").read_bytes().startswith(PNG_MAGIC)
    assert errors == []
    context.close()
