"""The Flows and Voice pages in a real browser against the real box: break a flow in the editor and see the
problem at its node, publish and watch the prompts render, zoom the drawing, chat with a flow using a stored
ticket's variables, preview a voice. The flow changed here is this file's own (imported first), so the box's
built-in flow stays as the other tests expect it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from console_box import Box, Screens, new_page, sign_in
from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "flows" / "examples" / "delivery-confirmation.en.json"
MINE = "console-flows-delivery"


def import_my_flow(page: Page, box: Box, tmp_path: Path) -> None:
    """Import this file's copy of the example flow through the page's form (once for the session's box)."""
    page.goto(box.url + "/flows")
    if page.locator(f"#flow-{MINE}").count():
        return
    document = json.loads(EXAMPLE.read_text()) | {"id": MINE, "name": "Console delivery"}
    path = tmp_path / f"{MINE}.json"
    path.write_text(json.dumps(document, indent=2))
    page.set_input_files("#flow-file", str(path))
    page.click("form.form-inline button[type=submit]")
    page.wait_for_selector(".banner-good")
    assert f"/flows/{MINE}" in page.url


def test_break_a_flow_in_the_editor_then_publish_it_and_watch_the_prompts_render(
        admin: Page, box: Box, shot: Screens, tmp_path: Path) -> None:
    import_my_flow(admin, box, tmp_path)
    admin.goto(f"{box.url}/flows/{MINE}/edit")
    document = json.loads(admin.input_value("#document"))
    document["nodes"]["greet"]["intents"]["confirm"] = {"next": "nowhere", "reply": "Great."}
    text = json.dumps(document, indent=2)
    admin.fill("#document", text)
    admin.click("button[value=check]")
    card = admin.locator("#node-greet")
    card.wait_for()
    assert "node-bad" in (card.get_attribute("class") or "")
    assert "points to missing node nowhere" in card.inner_text()
    bad = admin.eval_on_selector_all(".node-card.node-bad", "cards => cards.map(c => c.dataset.node || c.id)")
    assert sorted(bad) == ["confirmed", "greet"]  # each problem at the node it concerns: nothing leads to confirmed
    assert "cannot be reached from the start node greet" in admin.inner_text("#node-confirmed")
    greet_line = next(i for i, line in enumerate(text.splitlines(), 1) if line.strip().startswith('"greet": {'))
    assert admin.locator(f".code-gutter .bad-line[data-line='{greet_line}']").count() == 1
    card.locator(".goto-line").click()  # the card takes the reader to the node's line in the text
    selected = admin.evaluate("(() => { const a = document.querySelector('#document');"
                              " return a.value.slice(a.selectionStart, a.selectionEnd); })()")
    assert selected.strip().startswith('"greet": {')
    shot(admin, "error-at-node")

    document["nodes"]["greet"]["intents"]["confirm"] = {"next": "confirmed", "reply": "Wonderful."}
    admin.fill("#document", json.dumps(document, indent=2))
    admin.click("button[value=publish]")
    admin.wait_for_selector(".banner-good")
    assert "Published as version" in admin.inner_text(".banner-good")
    admin.wait_for_selector("#flow-rendering[data-state=done]", timeout=90_000)  # htmx polls the render queue
    assert "prompts are rendered" in admin.inner_text("#flow-rendering")
    shot(admin, "published-rendered")


def test_zoom_and_move_the_drawing(admin: Page, box: Box, shot: Screens, tmp_path: Path) -> None:
    import_my_flow(admin, box, tmp_path)
    admin.goto(f"{box.url}/flows/{MINE}")
    drawing = admin.locator(".flow-zoom")
    admin.wait_for_load_state("load")  # the drawing is in
    admin.click("button[data-zoom=in]")
    admin.click("button[data-zoom=in]")
    assert drawing.get_attribute("data-scale") == "1.563"
    assert admin.inner_text(".zoom-level") == "156%"
    assert "scale(1.5625)" in admin.evaluate("document.querySelector('.flow-zoom img').style.transform")
    shot(admin, "zoomed-in")
    box_ = drawing.bounding_box()
    assert box_ is not None
    admin.mouse.move(box_["x"] + 100, box_["y"] + 100)
    admin.mouse.wheel(0, 300)  # wheel down: zoom out around the pointer
    admin.wait_for_selector(".flow-zoom[data-scale='1.250']")
    admin.mouse.down()
    admin.mouse.move(box_["x"] + 40, box_["y"] + 60, steps=4)
    admin.mouse.up()
    assert "translate(" in admin.evaluate("document.querySelector('.flow-zoom img').style.transform")
    admin.click("button[data-zoom=reset]")
    assert drawing.get_attribute("data-scale") == "1.000"


def test_chat_with_a_flow_using_a_stored_tickets_variables(admin: Page, box: Box, shot: Screens) -> None:
    box.ticket("console-flows-T1", phone="+15550100471", name="Noor Haddad")
    admin.goto(f"{box.url}/flows/delivery-confirmation")
    assert "name=Alex Sample" in admin.input_value("#variables")  # a sample ticket until one is chosen
    admin.select_option("#ticket", "console-flows-T1")
    admin.click("form.form-source button[type=submit]")
    admin.wait_for_url("**ticket=console-flows-T1**")
    assert "name=Noor Haddad" in admin.input_value("#variables")
    variables = admin.input_value("#variables")
    assert "order_id=48210" in variables and "shop=Corner Shop" in variables
    assert admin.locator(".missing-variables").count() == 0
    assert "Filled from ticket console-flows-T1 through scenario delivery" in admin.inner_text("#try")
    admin.fill("#says", "yes")
    admin.click("#try-form button[type=submit]")
    admin.wait_for_selector("#try-result")
    result = admin.inner_text("#try-result")
    assert "Hello Noor Haddad, this is Corner Shop calling about your order 48210" in result
    assert "Confirmed" in result
    shot(admin, "try-console")


def test_preview_a_voice(admin: Page, box: Box, shot: Screens) -> None:
    admin.goto(box.url + "/voice")
    assert admin.locator("nav.nav a[aria-current=page]").inner_text() == "Voice"
    section = admin.locator("#voice-delivery-confirmation")
    assert "Hello Alex Sample" in section.locator(".preview-text").input_value()
    section.locator("input[name=length_scale]").fill("1.3")
    section.locator(".preview-text").fill("Your parcel arrives tomorrow morning.")
    section.locator(".preview-button").click()
    audio = section.locator("audio[data-duration]")
    audio.wait_for(timeout=60_000)  # the WAV came back and the browser read it
    assert float(audio.get_attribute("data-duration") or 0) > 1
    assert section.locator(".preview-error").inner_text() == ""
    shot(admin, "voice-preview")


def test_the_flow_pages_fit_a_phone(browser: Browser, box: Box, shot: Screens, tmp_path: Path) -> None:
    context, page, problems = new_page(browser, box, width=390, height=844, mobile=True)
    sign_in(page, box)
    import_my_flow(page, box, tmp_path)
    for path in (f"/flows/{MINE}", f"/flows/{MINE}/edit", "/voice"):
        page.goto(box.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"
    page.goto(f"{box.url}/flows/{MINE}/edit")
    shot(page, "phone-editor")
    context.close()
    assert problems == []
