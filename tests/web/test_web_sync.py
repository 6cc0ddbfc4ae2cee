"""GET /api/v1/sync: per outbox target, what waits to leave the box, the last error and the last success."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from appliance.records.outbox import enqueue
from appliance.records.store import Ticket

TOKEN = {"Authorization": "Bearer api-token-for-tests"}


def test_sync_needs_auth(client):
    assert client.get("/api/v1/sync").status_code == 401


def test_sync_shows_each_target_backlog_error_and_success(client, service):
    records = service.records
    records.submit_ticket(Ticket("T1", "delivery", "s", "", "Ada", "+15550100", "1", "shipped"),
                          webhook_id="m-T1", decision="skip", reason="r", flow_id=None, max_attempts=1)
    records.add_operation("T1", "remark", "called", outbox={"ticket": "T1", "operation": "remark"})
    ts = (datetime.now(UTC) - timedelta(minutes=2)).isoformat(timespec="milliseconds")
    ids = records.db.write(lambda c: [enqueue(c, target="upstream", topic="call.record", payload={"call_id": i},
                                              ts=ts, order_key=f"call:{i}") for i in (1, 2, 3)])
    records.outbox.delivered(ids[0])
    records.outbox.failed(ids[1], "POST http://office/in: HTTP 500", datetime.now(UTC) + timedelta(seconds=5))
    body = client.get("/api/v1/sync", headers=TOKEN).get_json()
    ticket, upstream = body["targets"]["ticket"], body["targets"]["upstream"]
    assert ticket["configured"] is True and ticket["pending"] == 1 and ticket["last_success"] is None
    assert upstream["configured"] is False  # the test service has no [upstream]; the rows are shown all the same
    assert upstream["pending"] == 2 and upstream["failed"] == 0
    assert upstream["oldest_pending_age_s"] >= 119
    assert upstream["last_error"] == {"item": ids[1], "error": "POST http://office/in: HTTP 500"}
    assert upstream["last_success"] is not None


def test_sync_is_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json", headers=TOKEN).get_json()
    assert "/api/v1/sync" in doc["paths"]
    assert set(doc["components"]["schemas"]["SyncTarget"]["required"]) == {
        "configured", "pending", "failed", "oldest_pending_age_s", "last_error", "last_success"}
