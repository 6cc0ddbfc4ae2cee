"""The console's Calls and Tickets pages through Flask's test client, over the box's own search and ticket actions
on a real SQLite file: filters, paging, a call's page, tagging, the ticket actions, refusals that change nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

BASE = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)


def rows(service: Any, sql: str, *args: Any) -> list[Any]:
    return service.records.db.read(lambda c: [tuple(r) for r in c.execute(sql, args).fetchall()])


def page(client: Any, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[-500:]
    return str(response.get_data(as_text=True))


def listed_ids(html: str) -> list[int]:
    return [int(part.split('"', 1)[0]) for part in html.split('<tr id="call-')[1:]]


@pytest.fixture
def calls(service: Any, store_ticket: Any, store_call: Any) -> Any:
    """Five calls of two customers: outcomes, causes, intents, grades and a QA tag to search by."""
    store_ticket(service.records, "S-1", phone="+15550123", name="Grace Hopper")
    store_ticket(service.records, "S-2", phone="+15550777", name="Alan Turing")
    store_call(service.records, 101, "S-1", started_at=BASE, outcome="busy", cause=17, seconds=None)
    store_call(service.records, 102, "S-1", started_at=BASE + timedelta(days=1), outcome="completed",
               disposition="confirmed", intent="confirm", grade="A",
               turns=(("bot", "Is tomorrow fine?", None, 0), ("customer", "Yes, tomorrow.", "confirm", 2500)))
    store_call(service.records, 103, "S-2", started_at=BASE + timedelta(days=2), outcome="completed",
               disposition="declined", intent="deny", grade="C")
    store_call(service.records, 104, "S-2", started_at=BASE + timedelta(days=3), outcome="no_answer", cause=19,
               seconds=None)
    store_call(service.records, 105, "S-2", started_at=BASE + timedelta(days=4), outcome=None, seconds=20,
               task_state="running")
    service.records.qa.add(103, "wrong_intent", "said no but meant later", "rita")
    return service


@pytest.mark.parametrize(("query", "expected"), [
    ("phone=%2B1+555+0123", [102, 101]),  # any form the box reads
    ("outcome=busy", [101]),
    ("outcome=in_progress", [105]),
    ("intent=deny", [103]),
    ("grade=A", [102]),
    ("tag=wrong_intent", [103]),
    ("from=2024-06-04&to=2024-06-05", [103, 102]),  # whole days, both included
    ("phone=%2B15550777&outcome=completed", [103]),
])
def test_calls_page_filters(logged_in: Any, calls: Any, query: str, expected: list[int]) -> None:
    html = page(logged_in, "/calls?" + query)
    assert listed_ids(html) == expected


def test_calls_page_says_outcomes_and_causes_in_words_and_links_each_call(logged_in: Any, calls: Any) -> None:
    html = page(logged_in, "/calls?phone=%2B15550123")
    assert "Busy" in html and "busy (17)" in html and ">17<" not in html
    assert 'href="/calls/101"' in html and 'href="/tickets/S-1"' in html
    html = page(logged_in, "/calls?outcome=in_progress")
    assert "In progress" in html and "No conversation was recorded" not in html
    chinese = logged_in.post("/language", data={"csrf_token": csrf_of(logged_in), "lang": "zh", "next": "/calls"})
    assert chinese.status_code == 302
    html = page(logged_in, "/calls?phone=%2B15550123")
    assert "占线 (17)" in html


def csrf_of(client: Any, path: str = "/calls") -> str:
    html = page(client, path)
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


@pytest.mark.parametrize(("query", "words"), [
    ("phone=not-a-phone", "not a phone number"),
    ("from=yesterday", "Pick the first day"),
    ("from=2024-06-05&to=2024-06-01", "not before the first"),
    ("outcome=exploded", "Pick an outcome"),
    ("page=0", "no such page"),
])
def test_a_bad_filter_is_a_400_page_in_words(logged_in: Any, calls: Any, query: str, words: str) -> None:
    response = logged_in.get("/calls?" + query)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert words in html and "Traceback" not in html
    assert listed_ids(html) == []


def test_calls_page_pages_through_a_hundred_and_twenty_calls(logged_in: Any, service: Any, store_ticket: Any,
                                                             store_call: Any) -> None:
    store_ticket(service.records, "P-1", phone="+15550999")
    for n in range(120):
        store_call(service.records, 1000 + n, "P-1", started_at=BASE + timedelta(minutes=n), outcome="busy", cause=17,
                   seconds=None)
    first = page(logged_in, "/calls?phone=%2B15550999")
    assert listed_ids(first) == list(range(1119, 1069, -1))
    assert "1–50 of 120" in first and 'rel="next" href="/calls?phone=%2B15550999&amp;page=2"' in first
    last = page(logged_in, "/calls?phone=%2B15550999&page=3")
    assert listed_ids(last) == list(range(1019, 999, -1))
    assert "101–120 of 120" in last and 'rel="next"' not in last and 'rel="prev"' in last


def test_a_page_of_calls_is_the_same_few_queries_for_any_number_of_rows(logged_in: Any, service: Any,
                                                                      store_ticket: Any, store_call: Any) -> None:
    """No query per row: the page's statements do not grow with the rows shown."""
    store_ticket(service.records, "Q-1", phone="+15550888")
    store_call(service.records, 3000, "Q-1", started_at=BASE, outcome="busy", seconds=None)
    statements: list[str] = []
    service.records.db.read(lambda c: c.set_trace_callback(statements.append))  # this thread's connection
    page(logged_in, "/calls?phone=%2B15550888")
    few = len(statements)
    for n in range(1, 50):
        store_call(service.records, 3000 + n, "Q-1", started_at=BASE + timedelta(minutes=n), outcome="busy",
                   seconds=None)
    statements.clear()
    html = page(logged_in, "/calls?phone=%2B15550888")
    assert len(listed_ids(html)) == 50
    assert len(statements) == few <= 4


def test_call_page_transcript_with_times_and_the_players(logged_in: Any, calls: Any, recorded_call: int) -> None:
    html = page(logged_in, "/calls/102")
    assert 'data-at-ms="2500"' in html and "0:02" in html and "Yes, tomorrow." in html
    assert "Confidence: 90%" in html and "Node: <span class=\"mono\">ask</span>" in html
    assert 'src="/static/call.js"' in html
    assert "Intent strength" not in html or "A" in html
    recorded = page(logged_in, "/calls/2")
    assert 'id="call-audio"' in recorded
    assert "/api/v1/recordings/2?channel=customer" in recorded and "/api/v1/recordings/2?channel=bot" in recorded


def test_a_call_in_progress_says_so(logged_in: Any, calls: Any) -> None:
    html = page(logged_in, "/calls/105")
    assert "In progress" in html and "No conversation was recorded" not in html
    assert "the dashboard shows what is said live" in html


def test_unknown_call_is_a_404_page(logged_in: Any, calls: Any) -> None:
    response = logged_in.get("/calls/99999")
    assert response.status_code == 404 and "There is no call 99999." in response.get_data(as_text=True)


def test_tag_a_call_remove_it_and_mark_it_reviewed(logged_in: Any, calls: Any) -> None:
    token = csrf_of(logged_in, "/calls/102")
    added = logged_in.post("/calls/102/tags", data={"csrf_token": token, "tag": "good_call", "note": "clear"})
    assert added.status_code == 302 and added.headers["Location"].endswith("/calls/102?done=tagged#qa")
    html = page(logged_in, "/calls/102")
    assert "good_call" in html and "clear" in html and "The tag was added." not in html
    (tag_id,) = rows(calls, "SELECT id FROM qa_tags WHERE call_id=102 AND tag='good_call'")[0]
    assert rows(calls, "SELECT reviewer FROM qa_tags WHERE id=?", tag_id) == [("admin",)]
    removed = logged_in.post(f"/calls/102/tags/{tag_id}/remove", data={"csrf_token": token})
    assert removed.status_code == 302
    assert rows(calls, "SELECT COUNT(*) FROM qa_tags WHERE call_id=102") == [(0,)]
    reviewed = logged_in.post("/calls/102/reviewed", data={"csrf_token": token})
    assert reviewed.status_code == 302
    assert "Reviewed by admin" in page(logged_in, "/calls/102")


def test_tagging_without_csrf_or_with_a_bad_tag_changes_nothing(logged_in: Any, calls: Any) -> None:
    before = rows(calls, "SELECT * FROM qa_tags ORDER BY id")
    assert logged_in.post("/calls/102/tags", data={"tag": "sneaky"}).status_code == 400
    assert logged_in.post("/calls/103/tags/1/remove", data={}).status_code == 400
    assert logged_in.post("/calls/102/reviewed", data={"csrf_token": "forged"}).status_code == 400
    token = csrf_of(logged_in, "/calls/102")
    bad = logged_in.post("/calls/102/tags", data={"csrf_token": token, "tag": "not a tag!"})
    assert bad.status_code == 400 and "Give the tag a short name" in bad.get_data(as_text=True)
    assert rows(calls, "SELECT * FROM qa_tags ORDER BY id") == before
    assert rows(calls, "SELECT COUNT(*) FROM qa_reviews") == [(0,)]


# -- tickets ------------------------------------------------------------------------

@pytest.fixture
def tickets(service: Any, store_ticket: Any, store_call: Any) -> Any:
    """W-1 waits for its second attempt; E-1 ended unreachable; N-1 was skipped by the rules (no flow)."""
    store_ticket(service.records, "W-1", phone="+15550201", name="Waiting Wu", status="open",
                 received_at="2024-06-01T08:00:00.000+00:00")
    store_call(service.records, 201, "W-1", started_at=BASE, outcome="busy", cause=17, seconds=None,
               task_state="pending")
    service.records.db.write(lambda c: c.execute(
        "UPDATE tasks SET next_attempt_at='2099-01-01T00:00:00.000+00:00' WHERE ticket_id='W-1'"))
    store_ticket(service.records, "E-1", phone="+15550202", name="Ended Eze", status="unreachable",
                 received_at="2024-06-02T08:00:00.000+00:00")
    store_call(service.records, 202, "E-1", started_at=BASE, outcome="no_answer", cause=19, seconds=None,
               task_state="completed")
    store_ticket(service.records, "N-1", phone="+15550203", name="Nobody Nash", status="skipped", decision="skip",
                 reason="no rule matched", flow_id=None, received_at="2024-06-03T08:00:00.000+00:00")
    return service


def test_tickets_page_filters_and_links(logged_in: Any, tickets: Any) -> None:
    html = page(logged_in, "/tickets?status=unreachable")
    assert 'id="ticket-E-1"' in html and 'id="ticket-W-1"' not in html and 'href="/tickets/E-1"' in html
    assert 'id="ticket-N-1"' in page(logged_in, "/tickets?q=n-1")
    only = page(logged_in, "/tickets?phone=%2B1+555+0201")
    assert 'id="ticket-W-1"' in only and 'id="ticket-E-1"' not in only
    newest = page(logged_in, "/tickets?from=2024-06-01&to=2024-06-03")
    assert newest.index('id="ticket-N-1"') < newest.index('id="ticket-E-1"') < newest.index('id="ticket-W-1"')
    assert logged_in.get("/tickets?status=lost").status_code == 400


def test_ticket_page_shows_decision_calls_and_what_the_helpdesk_has(logged_in: Any, tickets: Any) -> None:
    from appliance.records.outbox import enqueue

    def sent(c: Any) -> None:
        for detail, done in (("Delivered one", "delivered"), ("Waiting one", None), ("Refused one", "given_up")):
            item = enqueue(c, target="ticket", topic="ticket.operation", ts="2024-06-03T09:00:00.000+00:00",
                           order_key="E-1", payload={"ticket": "E-1", "operation": "remark", "detail": detail})
            if done == "delivered":
                c.execute("UPDATE outbox SET delivered_at='2024-06-03T09:00:05.000+00:00' WHERE id=?", (item,))
            elif done == "given_up":
                c.execute("UPDATE outbox SET gave_up_at='2024-06-03T09:10:00.000+00:00', attempts=3,"
                          " last_error='HTTP 422: ticket is closed' WHERE id=?", (item,))

    tickets.records.db.write(sent)
    html = page(logged_in, "/tickets/E-1")
    assert "Ended Eze" in html and 'href="/calls/202"' in html and "no answer (19)" in html
    assert "Delivered" in html and "Waiting to be sent" in html and "Given up" in html
    assert "Last problem: HTTP 422: ticket is closed" in html
    assert 'value="retry"' in html and 'value="cancel"' not in html
    skipped = page(logged_in, "/tickets/N-1")
    assert "no rule matched" in skipped and "the box cannot call about it" in skipped


def test_call_now_brings_the_waiting_call_forward(logged_in: Any, tickets: Any) -> None:
    token = csrf_of(logged_in, "/tickets/W-1")
    done = logged_in.post("/tickets/W-1/act", data={"csrf_token": token, "action": "call_now"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/tickets/W-1?done=call_now")
    ((due, state),) = rows(tickets, "SELECT next_attempt_at, state FROM tasks WHERE ticket_id='W-1'")
    assert state == "pending" and datetime.fromisoformat(due) <= datetime.now(UTC)
    html = page(logged_in, "/tickets/W-1?done=call_now")
    assert "The call was brought forward" in html and "Call brought forward to now by admin." in html


def test_retry_plans_a_new_call_for_an_ended_ticket(logged_in: Any, tickets: Any) -> None:
    token = csrf_of(logged_in, "/tickets/E-1")
    assert logged_in.post("/tickets/E-1/act", data={"csrf_token": token, "action": "retry"}).status_code == 302
    tasks = rows(tickets, "SELECT state, attempts, max_attempts FROM tasks WHERE ticket_id='E-1' ORDER BY id")
    assert tasks == [("completed", 1, 3), ("pending", 0, 3)]
    assert rows(tickets, "SELECT status FROM tickets WHERE id='E-1'") == [("open",)]


def test_cancel_ends_the_waiting_call_and_skips_the_ticket(logged_in: Any, tickets: Any) -> None:
    token = csrf_of(logged_in, "/tickets/W-1")
    assert logged_in.post("/tickets/W-1/act", data={"csrf_token": token, "action": "cancel"}).status_code == 302
    assert rows(tickets, "SELECT state FROM tasks WHERE ticket_id='W-1'") == [("cancelled",)]
    assert rows(tickets, "SELECT status FROM tickets WHERE id='W-1'") == [("skipped",)]
    assert 'value="retry"' in page(logged_in, "/tickets/W-1")


def test_a_note_is_stored_and_queued_for_the_helpdesk(logged_in: Any, tickets: Any) -> None:
    token = csrf_of(logged_in, "/tickets/E-1")
    done = logged_in.post("/tickets/E-1/note", data={"csrf_token": token, "note": "  Customer rang the shop.  "})
    assert done.status_code == 302
    assert rows(tickets, "SELECT kind, detail FROM ticket_operations WHERE ticket_id='E-1'") == [
        ("remark", "Customer rang the shop. (admin)")]
    ((payload,),) = rows(tickets, "SELECT payload FROM outbox WHERE order_key='E-1'")
    assert json.loads(payload) == {"ticket": "E-1", "call": None, "operation": "remark",
                                   "detail": "Customer rang the shop. (admin)"}
    assert "Waiting to be sent" in page(logged_in, "/tickets/E-1")


def everything(service: Any) -> list[Any]:
    return [rows(service, f"SELECT * FROM {table} ORDER BY 1")
            for table in ("tickets", "tasks", "ticket_operations", "outbox", "call_tasks")]


@pytest.mark.parametrize(("ticket_id", "form", "status", "words"), [
    ("W-1", {"action": "retry"}, 409, "A call is already waiting for this ticket"),
    ("E-1", {"action": "cancel"}, 409, "nothing to cancel"),
    ("E-1", {"action": "call_now"}, 409, "use Retry"),
    ("N-1", {"action": "retry"}, 409, "No flow was chosen"),
    ("W-1", {"action": "explode"}, 409, "There is no such action."),
    ("NOPE", {"action": "retry"}, 404, "There is no ticket NOPE."),
])
def test_a_refused_action_changes_nothing(logged_in: Any, tickets: Any, ticket_id: str, form: dict[str, str],
                                         status: int, words: str) -> None:
    token = csrf_of(logged_in, "/tickets/W-1")
    before = everything(tickets)
    response = logged_in.post(f"/tickets/{ticket_id}/act", data={"csrf_token": token, **form})
    assert response.status_code == status and words in response.get_data(as_text=True)
    assert everything(tickets) == before


def test_actions_refused_for_a_call_on_the_line_and_a_do_not_call_number(logged_in: Any, tickets: Any) -> None:
    tickets.records.db.write(lambda c: c.execute("UPDATE tasks SET state='running' WHERE ticket_id='W-1'"))
    token = csrf_of(logged_in, "/tickets/W-1")
    before = everything(tickets)
    on_line = logged_in.post("/tickets/W-1/act", data={"csrf_token": token, "action": "cancel"})
    assert on_line.status_code == 409 and "on the line now" in on_line.get_data(as_text=True)
    tickets.records.do_not_call.add("+15550202", "asked not to be called")
    before = everything(tickets)
    listed = logged_in.post("/tickets/E-1/act", data={"csrf_token": token, "action": "retry"})
    assert listed.status_code == 409 and "do-not-call" in listed.get_data(as_text=True)
    assert everything(tickets) == before


def test_ticket_changes_without_csrf_or_with_an_empty_note_change_nothing(logged_in: Any, tickets: Any) -> None:
    before = everything(tickets)
    assert logged_in.post("/tickets/W-1/act", data={"action": "cancel"}).status_code == 400
    assert logged_in.post("/tickets/E-1/note", data={"note": "hi", "csrf_token": "forged"}).status_code == 400
    token = csrf_of(logged_in, "/tickets/E-1")
    empty = logged_in.post("/tickets/E-1/note", data={"csrf_token": token, "note": "   "})
    assert empty.status_code == 409 and "Write the note first." in empty.get_data(as_text=True)
    long = logged_in.post("/tickets/E-1/note", data={"csrf_token": token, "note": "x" * 2001})
    assert long.status_code == 409 and "too long" in long.get_data(as_text=True)
    assert everything(tickets) == before


def test_pages_and_changes_need_a_session(client: Any, tickets: Any) -> None:
    for path in ("/calls/102", "/tickets/W-1"):
        assert client.get(path).status_code == 302
    before = everything(tickets)
    assert client.post("/tickets/W-1/act", data={"action": "cancel"}).status_code == 302
    assert client.post("/calls/2/tags", data={"tag": "x"}).status_code == 302
    assert everything(tickets) == before


def test_call_page_shows_the_re_analysis_beside_the_original(logged_in: Any, calls: Any) -> None:
    def heard_again(c: Any) -> None:
        run = c.execute("INSERT INTO reanalysis_runs (started_at, since, recogniser, state) VALUES (?,?,?,?)",
                        ("2024-06-10T00:00:00.000+00:00", "2024-06-01T00:00:00.000+00:00", "whisper", "done")).lastrowid
        c.execute("INSERT INTO reanalysis (call_id, run_id, turns, intent, slots, strength_score, strength_grade,"
                  " strength_reasons, changed, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                  (102, run, json.dumps([{"seq": 1, "text": "Yes, but not tomorrow.", "intent": "reschedule",
                                          "confidence": 0.8, "event": "", "heard_again": True}]),
                   "reschedule", "{}", 40, "C", "[]", 1, "2024-06-10T00:00:01.000+00:00"))

    calls.records.db.write(heard_again)
    html = page(logged_in, "/calls/102")
    assert "Heard again" in html and "whisper" in html
    assert "Heard again: “Yes, but not tomorrow.” → Reschedule" in html
    assert "(was confirm)" in html
