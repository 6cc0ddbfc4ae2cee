"""The dashboard and the Modems page in a real browser against the real box (``callbox serve --simulate 2``): a
ticket posted to the webhook after the dashboard was opened appears as a call in progress with its transcript, live
(no reload), then ends with its outcome; the Modems page shows both simulated lines with a signal chart and places
a test call that the dashboard follows live too."""

from __future__ import annotations

import uuid

import pytest
from console_box import Box, Screens
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow


def test_a_ticket_becomes_a_live_call_with_its_transcript_then_ends(admin: Page, box: Box, shot: Screens) -> None:
    admin.goto(box.url + "/dashboard")
    expect(admin.locator("#live-indicator")).to_have_attribute("data-state", "live")  # the stream's snapshot came
    expect(admin.locator("#live-lines .line-card")).to_have_count(2)
    admin.evaluate("window.__notReloaded = true")
    other = admin.context.new_page()  # another page, opened before the call: its status strip follows it too
    other.goto(box.url + "/calls")
    expect(other.locator("section.status .line-chip")).to_have_count(2)
    strip_busy = other.locator("section.status .line-chip", has_text="in a call")
    # the box is shared: a call another test started (a task's customers) ends first, so this one is the only call
    expect(strip_busy).to_have_count(0, timeout=90_000)
    shot(admin, "before")

    ticket = f"LIVE-{uuid.uuid4().hex[:8]}"
    answer = box.ticket(ticket, phone="+1555017" + str(uuid.uuid4().int % 1000).zfill(3) + "0", name="Dana Live")
    assert answer["decision"] == "call", answer

    call = admin.locator("#live-calls .live-call", has_text="Dana Live")
    expect(call).to_be_visible(timeout=30_000)
    bot_turn = call.locator(".live-transcript li.turn-bot").first
    expect(bot_turn).to_contain_text("Dana", timeout=30_000)  # the greeting names the customer
    expect(call.locator(".live-transcript li.turn-customer").first).to_be_visible(timeout=30_000)
    line = admin.locator("#live-lines .line-card", has_text="Dana Live")
    expect(line.locator(".line-state")).to_have_text("in a call")
    status_chip = admin.locator("section.status .line-chip", has_text="in a call")
    expect(status_chip).to_have_count(1)  # the strip under the top bar follows too
    shot(admin, "in-progress")
    expect(strip_busy).to_have_count(1, timeout=30_000)  # asked every 5 s: no reload
    shot(other, "strip-in-call")

    ended = admin.locator("#ended-calls li", has_text="Dana Live")
    expect(ended).to_be_visible(timeout=60_000)
    expect(ended.locator(".badge")).to_have_text("completed")
    expect(call).to_have_count(0)
    expect(admin.locator("#today [data-figure=calls]")).not_to_have_text("0")
    assert admin.evaluate("window.__notReloaded") is True
    shot(admin, "ended")
    expect(strip_busy).to_have_count(0, timeout=30_000)


def test_the_modems_page_shows_both_lines_with_a_signal_chart_and_places_a_test_call(
        admin: Page, box: Box, shot: Screens) -> None:
    admin.goto(box.url + "/modems")
    cards = admin.locator(".modem-card")
    expect(cards).to_have_count(2)
    for i in range(2):
        card = cards.nth(i)
        expect(card.locator(".signal-chart canvas")).to_have_count(1)  # uPlot drew the samples
        expect(card.locator(".modem-model")).not_to_have_text("—")  # the probe's answer
        expect(card.locator(".modem-why")).to_contain_text("configuration")
    shot(admin, "modems")

    card = cards.first
    card.locator("input[name=number]").fill("+1555018" + str(uuid.uuid4().int % 1000).zfill(3) + "6")
    card.locator("form.test-call button[type=submit]").click()
    expect(admin.locator(".banner-info")).to_contain_text("Test call placed")
    admin.goto(box.url + "/dashboard")
    ended = admin.locator("#ended-calls li").filter(has_text="test call")
    expect(ended.first).to_be_visible(timeout=30_000)
    expect(ended.first.locator(".badge").first).to_have_text("completed")
    admin.goto(box.url + "/modems")
    expect(admin.locator(".modem-card .test-result").first).to_contain_text("completed")
    shot(admin, "test-call")
