"""GET /api/v1/outbox: the backlog of ticket operations, the oldest one's age, the last error, the items."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from appliance.records.store import Ticket

TOKEN = {"Authorization": "Bearer api-token-for-tests"}


def _backlog(service) -> None:
    records = service.records
    for ticket_id in ("T1", "T2"):
        records.submit_ticket(Ticket(ticket_id, "delivery", "s", "", "Ada", "+15550100", "1", "shipped"),
                              webhook_id=f"m-{ticket_id}", decision="skip", reason="r", flow_id=None, max_attempts=1)
    records.add_operation("T1", "remark", "called", outbox={"ticket": "T1", "operation": "remark"})
    records.add_operation("T1", "close", "closed", outbox={"ticket": "T1", "operation": "close"})
    records.add_operation("T2", "remark", "called", outbox={"ticket": "T2", "operation": "remark"})
    due = [item["id"] for item in records.outbox_due(datetime.now(UTC) + timedelta(days=1))]
    assert due == [1, 3]  # T1's close waits for T1's remark
    first, third = due
    records.outbox_failed(first, "POST http://shop/callbox: HTTP 503", datetime.now(UTC) + timedelta(minutes=5))
    records.outbox.gave_up(third, "PUT https://shop.zendesk.com/api/v2/tickets/T2.json: HTTP 422 invalid")


def test_outbox_needs_auth(client):
    assert client.get("/api/v1/outbox").status_code == 401


def test_an_empty_outbox(client):
    response = client.get("/api/v1/outbox", headers=TOKEN)
    assert response.status_code == 200
    assert response.get_json() == {"backlog": 0, "failed": 0, "oldest_age_s": None, "last_error": None,
                                   "items": [], "total": 0, "limit": 50, "offset": 0}


def test_outbox_shows_backlog_last_error_and_pages(client, service):
    _backlog(service)
    body = client.get("/api/v1/outbox", headers=TOKEN).get_json()
    assert body["backlog"] == 2 and body["failed"] == 1 and body["total"] == 3
    assert body["oldest_age_s"] is not None and 0 <= body["oldest_age_s"] < 60
    assert body["last_error"] == {"item": 3, "error": "PUT https://shop.zendesk.com/api/v2/tickets/T2.json: "
                                                      "HTTP 422 invalid"}
    assert [(i["ticket"], i["operation"], i["state"], i["attempts"]) for i in body["items"]] == [
        ("T1", "remark", "pending", 1), ("T1", "close", "pending", 0), ("T2", "remark", "failed", 1)]
    assert body["items"][0]["last_error"].endswith("HTTP 503") and body["items"][2]["next_try_at"] is None
    page = client.get("/api/v1/outbox?limit=1&offset=1", headers=TOKEN).get_json()
    assert [i["id"] for i in page["items"]] == [2] and page["limit"] == 1 and page["offset"] == 1


def test_bad_paging_is_a_clear_400(client):
    for query in ("limit=abc", "limit=0", "limit=501", "offset=-1", "offset=x"):
        response = client.get(f"/api/v1/outbox?{query}", headers=TOKEN)
        assert response.status_code == 400, query
        body = response.get_json()  # the same answer as every read route's: the parameter is named
        assert body["error"] == "invalid_parameter" and body["parameter"] == query.split("=")[0]
