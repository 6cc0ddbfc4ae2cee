"""QA over HTTP, in front of the box's own QA code and a real SQLite store: calls concluded the way the campaign
concludes them (so their automatic tags come from the tagger), a reviewer's tags with notes, the review queue's
order and filters, marking calls reviewed, tag counts over time, the call detail's tags, and 400/401/404."""

from __future__ import annotations

import types
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient

from appliance.campaign.attempt import Outcome
from appliance.campaign.conclude import AttemptResult, conclude
from appliance.config import RetryConfig
from appliance.panel.service import BoxPanel
from appliance.records.conclusion import Turn
from appliance.records.store import RecordsStore, Ticket

TOKEN = {"Authorization": "Bearer api-token-for-tests"}
ASK = Turn("bot", "Will someone be home?", node="greet", event="prompt")
BYE = Turn("bot", "Goodbye.", node="confirmed", event="hangup")


def yes(asr: float = 0.9, margin: float = 1.0) -> Turn:
    return Turn("customer", "yes", "confirm", 0.9, "greet", 1000, "speech", asr, margin)


NOT_HEARD = Turn("customer", "the blue one", None, None, "greet", 900, "no_match", 0.9)
TALKED_OVER = Turn("bot", "(interrupted)", node="greet", event="barge_in")


def concluded(records: RecordsStore, n: int, turns: tuple[Turn, ...], grade: str, *,
              outcome: Outcome = Outcome.COMPLETED, ended: bool = True) -> int:
    """Ticket Q<n> called and concluded as the campaign concludes a conversation (tags by the tagger)."""
    phone = f"+1555030{n:04d}"
    records.submit_ticket(Ticket(f"Q{n}", "delivery", "Parcel", "", f"Customer {n}", phone, f"A-{n}", "shipped"),
                          webhook_id=f"q{n}", decision="call", reason="rule", flow_id="delivery", max_attempts=3)
    task = records.claim_due_task(datetime.now(UTC) + timedelta(seconds=1))
    assert task is not None and task.ticket_id == f"Q{n}"
    call_id = records.start_call(task=task, phone=phone, line="sim0", flow_version=1)
    records.mark_answered(call_id)
    ticket = records.ticket(f"Q{n}")
    assert ticket is not None
    result = AttemptResult(outcome, answered=True, disposition="confirmed" if ended else None, turns=turns,
                           flow_ended=ended, strength={"score": {"A": 90, "B": 70, "C": 50, "D": 20}[grade],
                                                       "grade": grade, "reasons": ["r"]})
    records.record_conclusion(conclude(ticket, task, result, datetime.now(UTC), call_id=call_id, retry=RetryConfig()))
    return call_id


@pytest.fixture
def calls(service: Any) -> dict[str, int]:
    """Calls whose tags and grades set the queue's order; the call detail is the box's own."""
    service.get_call = types.MethodType(BoxPanel.get_call, service)
    r = service.records
    made = {
        "barge_a": concluded(r, 1, (ASK, TALKED_OVER, yes(), BYE), "A"),  # barge_in (1)
        "hung_up_d": concluded(r, 2, (ASK,), "D", outcome=Outcome.HUNG_UP, ended=False),  # hung_up_mid_flow (6)
        "two_c": concluded(r, 3, (ASK, NOT_HEARD, ASK, yes(asr=0.3), BYE), "C"),  # asr_error (4) + not triggered
        "asr_d": concluded(r, 4, (ASK, yes(asr=0.3), BYE), "D"),  # asr_error (4)
        "asr_b": concluded(r, 5, (ASK, yes(asr=0.3), BYE), "B"),  # asr_error (4)
        "clean": concluded(r, 6, (ASK, yes(), BYE), "A"),  # no tag
    }
    return made


def queue(client: FlaskClient, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/qa/queue", query_string=params, headers=TOKEN)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def ids(body: dict[str, Any]) -> list[int]:
    return [item["call_id"] for item in body["items"]]


def test_the_queue_is_worst_tag_then_tag_count_then_grade(client: FlaskClient, calls: dict[str, int]) -> None:
    body = queue(client)
    assert ids(body) == [calls["hung_up_d"], calls["two_c"], calls["asr_d"], calls["asr_b"], calls["barge_a"]]
    assert body["total"] == 5 and body["limit"] == 50 and body["offset"] == 0  # the clean call is not in it
    first = body["items"][0]
    assert first["grade"] == "D" and first["severity"] == 6 and first["customer_name"] == "Customer 2"
    assert [(t["tag"], t["source"]) for t in first["tags"]] == [("hung_up_mid_flow", "auto")]
    assert [t["tag"] for t in body["items"][1]["tags"]] == ["asr_error", "intent_not_triggered"]
    assert ids(queue(client, tag="asr_error")) == [calls["two_c"], calls["asr_d"], calls["asr_b"]]
    assert ids(queue(client, grade="D")) == [calls["hung_up_d"], calls["asr_d"]]
    assert ids(queue(client, tag="asr_error", grade="B")) == [calls["asr_b"]]
    assert ids(queue(client, tag="no_such_tag")) == []
    page = queue(client, limit=2, offset=2)
    assert ids(page) == [calls["asr_d"], calls["asr_b"]] and page["total"] == 5


def test_a_reviewers_tag_raises_a_call_and_a_review_takes_it_out(client: FlaskClient, calls: dict[str, int]) -> None:
    call = calls["barge_a"]
    response = client.post(f"/api/v1/calls/{call}/tags", json={"tag": "wrong_promise", "note": "promised a refund",
                                                                 "reviewer": "ann"}, headers=TOKEN)
    assert response.status_code == 201, response.get_json()
    tag = response.get_json()
    assert (tag["tag"], tag["source"], tag["note"], tag["reviewer"]) == ("wrong_promise", "manual",
                                                                        "promised a refund", "ann")
    assert ids(queue(client))[0] == call  # a person's tag outranks every automatic one
    detail = client.get(f"/api/v1/calls/{call}", headers=TOKEN).get_json()
    assert [(t["tag"], t["source"]) for t in detail["tags"]] == [("barge_in", "auto"), ("wrong_promise", "manual")]
    assert detail["review"] is None
    assert "talked over the bot once" in detail["tags"][0]["note"]

    reviewed = client.post(f"/api/v1/calls/{call}/reviewed", headers=TOKEN)
    assert reviewed.status_code == 200 and reviewed.get_json()["reviewer"] == "api"
    assert call not in ids(queue(client)) and queue(client)["total"] == 4
    detail = client.get(f"/api/v1/calls/{call}", headers=TOKEN).get_json()
    assert detail["review"]["reviewer"] == "api" and len(detail["tags"]) == 2  # the tags stay with the call
    again = client.post(f"/api/v1/calls/{call}/reviewed", json={"reviewer": "bob"}, headers=TOKEN)
    assert again.get_json()["reviewer"] == "bob"  # marked again: the new reviewer


def test_a_tag_is_removed_and_a_call_without_tags_leaves_the_queue(client: FlaskClient, calls: dict[str, int]) -> None:
    call = calls["hung_up_d"]
    (auto,) = client.get(f"/api/v1/calls/{call}", headers=TOKEN).get_json()["tags"]
    other = calls["asr_d"]
    assert client.delete(f"/api/v1/calls/{other}/tags/{auto['id']}", headers=TOKEN).status_code == 404  # not its
    removed = client.delete(f"/api/v1/calls/{call}/tags/{auto['id']}", headers=TOKEN)
    assert removed.status_code == 200 and removed.get_json() == {"deleted": auto["id"], "call_id": call}
    assert client.get(f"/api/v1/calls/{call}", headers=TOKEN).get_json()["tags"] == []
    assert call not in ids(queue(client))
    assert client.delete(f"/api/v1/calls/{call}/tags/{auto['id']}", headers=TOKEN).status_code == 404


def test_a_panel_session_tags_in_its_users_name(logged_in: FlaskClient, csrf: Callable[[str], str],
                                                calls: dict[str, int]) -> None:
    token = csrf(logged_in.get("/calls").get_data(as_text=True))
    call = calls["clean"]
    body = {"tag": "good_example", "reviewer": "somebody else"}
    assert logged_in.post(f"/api/v1/calls/{call}/tags", json=body).status_code == 401  # no CSRF token
    response = logged_in.post(f"/api/v1/calls/{call}/tags", json=body, headers={"X-CSRF-Token": token})
    assert response.status_code == 201 and response.get_json()["reviewer"] == "admin"


@pytest.mark.parametrize(("body", "field", "says"), [
    ({}, "tag", "is required"),
    ({"tag": 7}, "tag", "must be a string"),
    ({"tag": "Bad Tag!"}, "tag", "lower-case name"),
    ({"tag": "x" * 41}, "tag", "at most 40"),
    ({"tag": "ok", "note": ["a"]}, "note", "must be a string"),
    ({"tag": "ok", "note": "n" * 2001}, "note", "at most 2000"),
    ({"tag": "ok", "reviewer": "r" * 101}, "reviewer", "1 to 100"),
])
def test_a_bad_tag_is_a_400_naming_the_field_and_stores_nothing(client: FlaskClient, calls: dict[str, int],
                                                                body: dict[str, Any], field: str, says: str) -> None:
    call = calls["clean"]
    response = client.post(f"/api/v1/calls/{call}/tags", json=body, headers=TOKEN)
    answer = response.get_json()
    assert response.status_code == 400 and answer["error"] == "invalid_tag" and answer["field"] == field
    assert says in answer["message"]
    assert client.get(f"/api/v1/calls/{call}", headers=TOKEN).get_json()["tags"] == []


def test_bad_bodies_unknown_calls_and_no_auth(client: FlaskClient, calls: dict[str, int]) -> None:
    call = calls["clean"]
    raw = client.post(f"/api/v1/calls/{call}/tags", data=b"{nope", headers=TOKEN)
    assert raw.status_code == 400 and raw.get_json()["error"] == "malformed_json"
    listed = client.post(f"/api/v1/calls/{call}/reviewed", data=b"[1]", headers=TOKEN)
    assert listed.status_code == 400 and listed.get_json()["error"] == "malformed_json"
    for path in ("/api/v1/calls/999/tags", "/api/v1/calls/999/reviewed"):
        missing = client.post(path, json={"tag": "x"}, headers=TOKEN)
        assert missing.status_code == 404 and missing.get_json()["error"] == "not_found", path
    assert client.delete("/api/v1/calls/999/tags/1", headers=TOKEN).status_code == 404
    for method, path in (("post", f"/api/v1/calls/{call}/tags"), ("delete", f"/api/v1/calls/{call}/tags/1"),
                         ("post", f"/api/v1/calls/{call}/reviewed"), ("get", "/api/v1/qa/queue"),
                         ("get", "/api/v1/qa/counts")):
        assert getattr(client, method)(path, json={"tag": "x"}).status_code == 401, path
        wrong = getattr(client, method)(path, json={"tag": "x"}, headers={"Authorization": "Bearer wrong"})
        assert wrong.status_code == 401, path
    assert client.get(f"/api/v1/calls/{call}", headers=TOKEN).get_json()["tags"] == []


def test_tag_counts_per_day(client: FlaskClient, calls: dict[str, int]) -> None:
    today = datetime.now(UTC).date()
    response = client.get("/api/v1/qa/counts", headers=TOKEN)
    assert response.status_code == 200
    body = response.get_json()
    assert body["by"] == "day" and body["zone"] == "UTC" and len(body["buckets"]) == 31  # 30 days by default
    assert body["totals"] == {"asr_error": 3, "barge_in": 1, "hung_up_mid_flow": 1, "intent_not_triggered": 1}
    last = body["buckets"][-1]
    assert last["start"] == today.isoformat() and last["total"] == 6 and last["counts"]["asr_error"] == 3
    assert all(b["total"] == 0 for b in body["buckets"][:-1])
    hours = client.get("/api/v1/qa/counts", query_string={"by": "hour", "since": f"{today}T00:00:00Z",
                                                         "until": f"{today + timedelta(days=1)}T00:00:00Z"},
                       headers=TOKEN).get_json()
    assert len(hours["buckets"]) == 24 and sum(b["total"] for b in hours["buckets"]) == 6
    earlier = client.get("/api/v1/qa/counts", query_string={"until": f"{today}T00:00:00Z"}, headers=TOKEN)
    assert earlier.get_json()["totals"] == {}


@pytest.mark.parametrize(("params", "parameter"), [
    ({"by": "week"}, "by"),
    ({"since": "2024-05-02T00:00:00Z", "until": "2024-05-01T00:00:00Z"}, "since"),
    ({"since": "1990-01-01T00:00:00Z"}, "since"),
    ({"by": "hour", "since": "2024-01-01T00:00:00Z", "until": "2024-12-01T00:00:00Z"}, "since"),
])
def test_counts_refuse_a_range_they_cannot_count(client: FlaskClient, params: dict[str, str], parameter: str) -> None:
    response = client.get("/api/v1/qa/counts", query_string=params, headers=TOKEN)
    body = response.get_json()
    assert response.status_code == 400 and body["error"] == "invalid_parameter" and body["parameter"] == parameter


def test_counts_group_by_the_shops_day_across_a_clock_change(service: Any, calls: dict[str, int]) -> None:
    """Berlin: 2024-03-31 has 23 hours; a tag at 22:30 UTC on 30 March is on the 30th there, one at 22:30 UTC on
    31 March is on 1 April."""
    call = calls["clean"]
    at = ["2024-03-30T22:30:00.000+00:00", "2024-03-31T21:59:00.000+00:00", "2024-03-31T22:30:00.000+00:00"]
    service.records.db.write(lambda c: c.executemany(
        "INSERT INTO qa_tags (call_id, tag, source, note, created_at) VALUES (?, 'long_silence', 'auto', '', ?)",
        [(call, ts) for ts in at]))
    berlin = ZoneInfo("Europe/Berlin")
    counted = service.records.qa.counts(datetime(2024, 3, 30, tzinfo=berlin), datetime(2024, 4, 2, tzinfo=berlin),
                                        zone=berlin)
    assert [(b["start"], b["total"]) for b in counted["buckets"]] == [
        ("2024-03-30", 1), ("2024-03-31", 1), ("2024-04-01", 1)]
    hours = service.records.qa.counts(datetime(2024, 3, 31, tzinfo=berlin), datetime(2024, 4, 1, tzinfo=berlin),
                                      zone=berlin, by="hour")
    assert len(hours["buckets"]) == 23 and hours["buckets"][0]["start"] == "2024-03-31T00:00+01:00"
    assert [b["start"] for b in hours["buckets"] if b["total"]] == ["2024-03-31T23:00+02:00"]


def test_qa_is_in_the_openapi_document(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json", headers=TOKEN).get_json()
    for path in ("/api/v1/calls/{call_id}/tags", "/api/v1/calls/{call_id}/tags/{tag_id}",
                 "/api/v1/calls/{call_id}/reviewed", "/api/v1/qa/queue", "/api/v1/qa/counts"):
        assert path in doc["paths"], path
    assert doc["components"]["schemas"]["Call"]["properties"]["tags"]["items"] == {"$ref": "#/components/schemas/QaTag"}
