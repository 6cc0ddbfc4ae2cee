"""The console's Calls and Tickets pages in a real browser against the real box (``callbox serve --simulate 2``): a
ticket posted to the webhook is called, its call is found by phone, its recording plays, clicking a turn seeks the
audio to that turn, the call is tagged; the ticket's page takes a note; the status pills stay on one line."""

from __future__ import annotations

from typing import Any

import pytest
from console_box import Box, Screens
from playwright.sync_api import Page

pytestmark = pytest.mark.slow

TICKET = "CONSOLE-CALLS-1"
PHONE = "+15550133700"  # ends in 0: the demo's Alice answers and confirms


def ended_call(box: Box) -> dict[str, Any] | None:
    calls = box.api(f"/api/v1/tickets/{TICKET}")["calls"]
    if calls and calls[-1]["outcome"] not in ("dialing", "ringing", "answered") and calls[-1]["has_recording"]:
        return dict(calls[-1])
    return None


@pytest.fixture(scope="module")
def call(box: Box) -> dict[str, Any]:
    answer = box.ticket(TICKET, phone=PHONE, name="Alice Moreau")
    assert answer["decision"] == "call", answer
    found: dict[str, Any] = box.wait(lambda: ended_call(box), timeout=120)
    return found


def test_find_the_call_play_it_seek_by_a_turn_and_tag_it(admin: Page, box: Box, call: dict[str, Any],
                                                          shot: Screens) -> None:
    admin.goto(box.url + "/calls?phone=" + PHONE.replace("+", "%2B"))
    row = admin.locator(f"#call-{call['id']}")
    assert "Alice Moreau" in row.inner_text() and "Completed" in row.inner_text()
    shot(admin, "calls-by-phone")
    row.locator(f"a[href='/calls/{call['id']}']").click()
    admin.wait_for_url(f"{box.url}/calls/{call['id']}")
    turns = admin.locator(".dialogue .turn[data-at-ms]")
    assert turns.count() >= 2
    assert admin.locator(".turn-customer .says").first.inner_text().strip() != ""
    audio = admin.locator("#call-audio")
    assert audio.get_attribute("src") == f"/calls/{call['id']}/recording.wav"

    turns.first.click()  # plays from the first turn
    admin.wait_for_function("() => { const a = document.getElementById('call-audio');"
                            " return !a.paused && a.currentTime > 0.3; }")
    later = turns.nth(turns.count() - 1)
    at = int(str(later.get_attribute("data-at-ms"))) / 1000
    assert at > 1.0
    later.click()
    admin.wait_for_function(f"() => Math.abs(document.getElementById('call-audio').currentTime - {at}) < 0.75")
    assert "current" in str(later.get_attribute("class"))
    shot(admin, "call-playing")

    admin.fill("#tag", "console_check")
    admin.fill("#note", "heard in the browser")
    admin.click("form.form-tag button[type=submit]")
    admin.wait_for_url(f"{box.url}/calls/{call['id']}?done=tagged*")
    tag = admin.locator(".qa-tag", has_text="console_check")
    assert "heard in the browser" in tag.inner_text() and "owner" in tag.inner_text()
    assert any(t["tag"] == "console_check" for t in box.api(f"/api/v1/calls/{call['id']}")["tags"])
    shot(admin, "call-tagged")


def test_open_the_ticket_and_add_a_note(admin: Page, box: Box, call: dict[str, Any], shot: Screens) -> None:
    admin.goto(f"{box.url}/calls/{call['id']}")
    admin.click(f"a[href='/tickets/{TICKET}']")
    admin.wait_for_url(f"{box.url}/tickets/{TICKET}")
    assert admin.locator(f"#calls a[href='/calls/{call['id']}']").count() == 1
    admin.fill("#note", "Customer confirmed by phone; parcel goes out today.")
    admin.click("form.form-note button[type=submit]")
    admin.wait_for_url(f"{box.url}/tickets/{TICKET}?done=note")
    assert "The note was added" in admin.inner_text("[role=status]")
    assert "Customer confirmed by phone; parcel goes out today. (owner)" in admin.inner_text("#operations")
    assert "Customer confirmed by phone" in admin.inner_text("#helpdesk")
    shot(admin, "ticket-note")


def test_ticket_status_pills_stay_on_one_line_at_1366(admin: Page, box: Box, call: dict[str, Any],
                                                      shot: Screens) -> None:
    admin.goto(box.url + "/tickets")
    pills = admin.locator("table.tickets .pill")
    assert pills.count() >= 1
    broken = admin.evaluate("""() => [...document.querySelectorAll('table.tickets .pill')]
        .filter(e => e.getBoundingClientRect().height > parseFloat(getComputedStyle(e).fontSize) * 2)
        .map(e => e.textContent)""")
    assert broken == []
    assert admin.locator(f"#ticket-{TICKET}").count() == 1
    shot(admin, "tickets")
