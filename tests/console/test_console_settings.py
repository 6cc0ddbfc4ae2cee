"""The Settings, Statistics and QA pages in a real browser against the real box (``callbox serve --simulate``): the
calling hours changed on the page and the very next ticket held by them, a do-not-call number added (its ticket
then skipped), the statistics' charts drawn, the QA queue as the API counts it."""

from __future__ import annotations

import json
import tomllib
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from console_box import TOKEN, Box, Screens, new_page, sign_in
from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow

ALL_DAY = "00:00-00:00"


def save_hours(page: Page, box: Box, hours: str) -> None:
    page.goto(box.url + "/settings")
    page.fill("[name='calling.hours']", hours)
    page.click("#calling button[type=submit]")
    page.wait_for_selector(".banner-good")


def remarks(box: Box, ticket_id: str) -> list[str]:
    detail: dict[str, Any] = box.api(f"/api/v1/tickets/{ticket_id}")
    return [str(op.get("detail", "")) for op in detail.get("operations", [])]


def test_change_the_calling_hours_and_the_box_holds_the_next_call(admin: Page, box: Box, shot: Screens) -> None:
    now = datetime.now(UTC)  # a one-minute window half an hour away: now in no whole-hour zone
    window = f"{(now + timedelta(minutes=30)):%H:%M}-{(now + timedelta(minutes=31)):%H:%M}"
    try:
        save_hours(admin, box, window)
        assert "Saved: Calling hours." in admin.inner_text(".banner-good")
        assert admin.input_value("[name='calling.hours']") == window
        shot(admin, "hours-saved")
        saved = tomllib.loads(box.config.read_text())
        assert saved["calling"]["hours"] == window and saved["shop"]["name"] == "Corner Shop"
        ticket_id = f"SET-HOURS-{uuid.uuid4().hex[:8]}"
        phone = f"+1555010{uuid.uuid4().int % 10_000:04d}"  # its own number: no other test's calls count for it
        assert box.ticket(ticket_id, phone=phone)["decision"] == "call"
        held = box.wait(lambda: [r for r in remarks(box, ticket_id) if "outside calling hours" in r], 60)
        assert window[:5] in held[0], held  # the hours just saved, as the box now applies them
    finally:
        save_hours(admin, box, ALL_DAY)
    assert tomllib.loads(box.config.read_text())["calling"]["hours"] == ALL_DAY


def test_a_bad_value_is_shown_at_its_field(browser: Browser, box: Box, shot: Screens) -> None:
    """The refused form answers 400, which Chromium reports on its console: the one message allowed here."""
    context, admin, problems = new_page(browser, box)
    sign_in(admin, box)
    before = box.config.read_text()
    admin.goto(box.url + "/settings")
    admin.fill("[name='recordings.quota_mb']", "-3")
    admin.click("#recordings button[type=submit]")
    error = admin.wait_for_selector("#recordings .field-error")
    assert "must be 0 or more" in error.inner_text()
    assert admin.get_attribute("[name='recordings.quota_mb']", "aria-invalid") == "true"
    shot(admin, "refused")
    assert box.config.read_text() == before
    # the environment's webhook secret is shown as such, with no way to change it here
    assert "Set by the environment (CALLBOX_WEBHOOK_SECRET)" in admin.inner_text("#webhook")
    assert admin.locator("#webhook button").count() == 0
    context.close()
    assert problems == ["console: Failed to load resource: the server responded with a status of 400 (BAD REQUEST)"]


def test_add_a_do_not_call_number_and_its_ticket_is_skipped(admin: Page, box: Box, shot: Screens) -> None:
    digits = f"{uuid.uuid4().int % 10_000:04d}"
    number = f"+1555019{digits}"
    admin.goto(box.url + "/settings")
    admin.fill("#dnc-phone", f"+1 555 019 {digits}")
    admin.fill("#dnc-reason", "asked in the shop")
    admin.click("#do-not-call form.inline-form >> nth=0 >> button")
    admin.wait_for_selector("#do-not-call .banner-good")
    row = admin.locator("#do-not-call tbody tr", has_text=number)
    assert row.count() == 1 and "asked in the shop" in row.inner_text()
    shot(admin, "do-not-call")
    answer = box.ticket(f"SET-DNC-{digits}", phone=number)
    assert answer["decision"] == "skip", answer
    row.locator("button").click()
    admin.wait_for_selector("#do-not-call .banner-good")
    assert admin.locator("#do-not-call tbody tr", has_text=number).count() == 0


def test_statistics_charts_are_drawn(admin: Page, box: Box, shot: Screens) -> None:
    ticket_id = f"SET-STATS-{uuid.uuid4().hex[:8]}"
    box.ticket(ticket_id, phone=f"+1555010{uuid.uuid4().int % 1000:03d}2")  # ends in 2: busy, a quick call
    box.wait(lambda: [c for c in box.api(f"/api/v1/tickets/{ticket_id}")["calls"] if c.get("outcome")], 90)
    before = box.wait(lambda: box.api("/api/v1/stats")["total"]["calls"], 30)  # counted once its record is whole
    admin.goto(box.url + "/statistics")
    for chart in ("per-day", "by-hour", "duration", "turns"):
        admin.wait_for_selector(f".chart[data-chart={chart}][data-drawn='1'] canvas")
    calls = int(admin.inner_text("#fig-calls"))
    assert 1 <= before <= calls <= box.api("/api/v1/stats")["total"]["calls"]  # other tests' calls may end meanwhile
    assert admin.locator("#outcomes tbody tr").count() >= 1
    assert "/api/v1/export/calls.csv" in str(admin.get_attribute(".exports a >> nth=0", "href"))
    shot(admin, "statistics")


def test_qa_page_shows_the_review_queue_and_the_tag_chart(admin: Page, box: Box, shot: Screens) -> None:
    ticket_id = f"SET-QA-{uuid.uuid4().hex[:8]}"
    box.ticket(ticket_id, phone=f"+1555010{uuid.uuid4().int % 1000:03d}2")  # busy: a quick call to tag
    [call] = box.wait(lambda: [c for c in box.api(f"/api/v1/tickets/{ticket_id}")["calls"] if c.get("outcome")], 90)
    tag = f"settings_check_{uuid.uuid4().hex[:6]}"
    post(box, f"/api/v1/calls/{call['id']}/tags", {"tag": tag, "note": "from the console test"})
    admin.goto(box.url + f"/qa?tag={tag}")
    admin.wait_for_selector(".chart[data-chart=qa-counts][data-drawn='1'] canvas")
    queue = box.api(f"/api/v1/qa/queue?tag={tag}")
    assert queue["total"] == 1 and "1 calls to review" in admin.inner_text("#review-queue")
    row = admin.locator("#review-queue tbody tr")
    assert row.count() == 1 and tag in row.inner_text()
    assert row.locator("a").first.get_attribute("href") == f"/calls/{call['id']}"
    admin.click("#tag-counts summary")  # the chart's figures as a table
    assert tag in str(admin.locator("#tag-counts table thead").text_content())  # shown upper-case by the CSS
    assert admin.locator("[name='qa.long_silence_s']").count() == 1
    shot(admin, "qa")
    admin.goto(box.url + "/qa")
    assert admin.locator("#review-queue tbody tr").count() == min(box.api("/api/v1/qa/queue")["total"], 25)


def post(box: Box, path: str, body: dict[str, Any]) -> Any:
    """A change through the admin API with the box's bearer token."""
    request = urllib.request.Request(box.url + path, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_settings_and_statistics_on_a_phone_in_chinese(browser: Browser, box: Box, shot: Screens) -> None:
    context, page, problems = new_page(browser, box, width=390, height=844, mobile=True, locale="zh-CN")
    sign_in(page, box)
    page.goto(box.url + "/settings")
    assert "呼叫时间" in page.inner_text("#calling h2") and "保存" in page.inner_text("#calling button")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    shot(page, "settings-phone")
    page.goto(box.url + "/statistics")
    page.wait_for_selector(".chart[data-chart=per-day][data-drawn='1'] canvas")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    shot(page, "statistics-phone")
    context.close()
    assert problems == []
