"""POST /api/v1/tickets: signature, JSON, validation, size limit, and what reaches the service."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta


def test_good_ticket_is_accepted_with_the_service_result(post_ticket, service, ticket):
    response = post_ticket(ticket("T-100"), msg_id="msg_good")
    assert response.status_code == 202
    assert response.get_json() == {"ticket": "T-100", "decision": "call", "reason": "order ready", "task": 1,
                                   "duplicate": False}
    assert service.submitted == [(ticket("T-100"), "msg_good")]
    assert "T-100" in service.tickets


def test_redelivery_with_the_same_webhook_id_is_reported_duplicate(post_ticket, ticket):
    assert post_ticket(ticket(), msg_id="msg_x").get_json()["duplicate"] is False
    assert post_ticket(ticket(), msg_id="msg_x").get_json()["duplicate"] is True


def test_missing_signature_headers_is_401_and_nothing_stored(client, service, ticket):
    response = client.post("/api/v1/tickets", json=ticket())
    assert response.status_code == 401
    assert response.get_json()["error"] == "bad_signature"
    assert service.submitted == [] and service.tickets == {}


def test_wrong_secret_is_401(post_ticket, service, sign, ticket):
    body = json.dumps(ticket())
    headers = sign(body, secret="whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=")
    response = post_ticket(body, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"] == "bad_signature"
    assert service.submitted == []


def test_signature_over_a_different_body_is_401(post_ticket, service, sign, ticket):
    signed = json.dumps(ticket("T-1"))
    response = post_ticket(json.dumps(ticket("T-2")), headers=sign(signed))
    assert response.status_code == 401
    assert service.submitted == []


def test_raw_body_is_what_is_signed_whitespace_matters(post_ticket, service, sign, ticket):
    compact = json.dumps(ticket(), separators=(",", ":"))
    spaced = json.dumps(ticket(), indent=2)
    assert post_ticket(spaced, headers=sign(spaced)).status_code == 202
    assert post_ticket(spaced, headers=sign(compact)).status_code == 401
    assert len(service.submitted) == 1


def test_stale_and_future_timestamps_are_401(post_ticket, service, sign, ticket):
    body = json.dumps(ticket())
    old = sign(body, when=datetime.now(tz=UTC) - timedelta(minutes=6))
    new = sign(body, when=datetime.now(tz=UTC) + timedelta(minutes=6))
    for headers in (old, new):
        response = post_ticket(body, headers=headers)
        assert response.status_code == 401
        assert "timestamp" in response.get_json()["message"]
    assert service.submitted == []


def test_garbled_signature_header_is_401_not_500(post_ticket, service, sign, ticket):
    body = json.dumps(ticket())
    for garbage in ("v1", "v1,@@not-base64@@", "nonsense", "v1,a,b", "v2,AAAA"):
        headers = sign(body) | {"webhook-signature": garbage}
        response = post_ticket(body, headers=headers)
        assert response.status_code == 401, garbage
        assert response.get_json()["error"] == "bad_signature"
    headers = sign(body) | {"webhook-timestamp": "not-a-number"}
    assert post_ticket(body, headers=headers).status_code == 401
    assert service.submitted == []


def test_non_utf8_body_is_401(client, service, sign):
    headers = sign("{}")
    response = client.post("/api/v1/tickets", data=b'{"id": "\xff"}', headers=headers)
    assert response.status_code == 401
    assert service.submitted == []


def test_signed_malformed_json_is_400(post_ticket, service):
    response = post_ticket('{"id": "T-1", ')
    assert response.status_code == 400
    assert response.get_json()["error"] == "malformed_json"
    assert service.submitted == []


def test_signed_json_that_is_not_an_object_is_400(post_ticket, service):
    for body in ("[1, 2]", '"ticket"', "42", "null"):
        response = post_ticket(body)
        assert response.status_code == 400, body
        assert response.get_json()["error"] == "malformed_json"
        assert "object" in response.get_json()["message"]
    assert service.submitted == []


def test_missing_field_is_422_naming_the_field(post_ticket, service, ticket):
    no_phone = ticket("T-7")
    del no_phone["customer"]["phone"]
    response = post_ticket(no_phone)
    assert response.status_code == 422
    assert response.get_json() == {
        "error": "invalid_ticket", "field": "customer.phone", "message": "is required",
    }

    no_id = ticket()
    del no_id["id"]
    response = post_ticket(no_id, msg_id="msg_2")
    assert response.status_code == 422
    assert response.get_json()["field"] == "id"
    assert service.tickets == {}  # the service refused both, nothing stored


def test_body_over_the_limit_is_413_json(post_ticket, service, ticket):
    big = ticket() | {"notes": "x" * (70 * 1024)}
    response = post_ticket(big)
    assert response.status_code == 413
    assert response.is_json
    assert response.get_json()["error"] == "request_entity_too_large"
    assert service.submitted == []


def test_get_on_the_webhook_is_405_json(client):
    response = client.get("/api/v1/tickets")
    assert response.status_code == 405
    assert response.get_json()["error"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


def test_unexpected_service_error_is_json_500_without_traceback(post_ticket, service, ticket, caplog):
    service.fail_with = RuntimeError("database exploded at /var/lib/callbox/secret.db")
    response = post_ticket(ticket())
    assert response.status_code == 500
    assert response.is_json
    body = response.get_data(as_text=True)
    assert response.get_json()["error"] == "internal"
    assert "Traceback" not in body and "exploded" not in body and "secret.db" not in body
    # ... but the traceback is in the log for the admin
    assert any(r.exc_info and "exploded" in str(r.exc_info[1]) for r in caplog.records)


def test_storage_failure_is_503_so_the_sender_retries(post_ticket, service, ticket):
    from appliance.errors import StorageError

    service.fail_with = StorageError("disk I/O error")
    response = post_ticket(ticket())
    assert response.status_code == 503
    assert response.get_json()["error"] == "storage_unavailable"
    assert response.headers["Retry-After"] == "30"
    assert "disk" not in response.get_data(as_text=True)
