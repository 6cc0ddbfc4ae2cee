"""POST /api/v1/tickets/zendesk|freshdesk|zammad: each system's signature, its own delivery id for dedupe, the
mapping, and what the real records store kept (the real intake behind the routes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from appliance.campaign.publish import install_defaults
from web import create_app

HELPDESKS = ("zendesk", "zammad", "freshdesk")


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_a_documented_payload_is_mapped_admitted_and_stored(helpdesk, deliver, admitting, helpdesk_fixture):
    response = deliver(helpdesk, helpdesk_fixture(helpdesk), delivery="first")
    assert response.status_code == 202, response.get_json()
    answer = response.get_json()
    assert answer["duplicate"] is False and answer["decision"] in ("call", "skip")
    ticket = admitting.records.ticket(answer["ticket"])
    assert ticket is not None
    assert ticket.payload["vars"]["helpdesk"] == helpdesk  # the mapped payload is what the store kept
    expected = {"zendesk": ("35436", "+15550100100", "R-2024-0042", "ready"),
                "zammad": ("81", "+61212347777", "A-7731", "shipped"),
                "freshdesk": ("1207", "+8225550111", "F-991", "ready")}[helpdesk]
    assert (ticket.id, ticket.customer_phone, ticket.order_id, ticket.order_status) == expected
    assert admitting.stored() == (1, 1)


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_a_redelivery_is_a_duplicate_under_the_helpdesks_own_prefixed_id(helpdesk, deliver, admitting,
                                                                         helpdesk_fixture):
    body = json.dumps(helpdesk_fixture(helpdesk))
    assert deliver(helpdesk, body, delivery="abc-123").get_json()["duplicate"] is False
    again = deliver(helpdesk, body, delivery="abc-123")
    assert again.status_code == 202 and again.get_json()["duplicate"] is True
    (stored_id,) = admitting.delivery_ids()
    assert stored_id.startswith(f"{helpdesk}:")
    if helpdesk != "freshdesk":
        assert stored_id == f"{helpdesk}:abc-123"
    assert admitting.stored() == (1, 1)


def test_the_same_delivery_id_from_two_helpdesks_does_not_collide(deliver, admitting, helpdesk_fixture):
    assert deliver("zendesk", helpdesk_fixture("zendesk"), delivery="same").get_json()["duplicate"] is False
    assert deliver("zammad", helpdesk_fixture("zammad"), delivery="same").get_json()["duplicate"] is False
    assert admitting.delivery_ids() == ["zammad:same", "zendesk:same"]


def test_freshdesk_dedupes_on_the_body_a_changed_ticket_is_a_new_delivery(deliver, admitting, helpdesk_fixture):
    doc = helpdesk_fixture("freshdesk")
    deliver("freshdesk", doc)
    doc["freshdesk_webhook"]["ticket_cf_order_status"] = "Collected"
    assert deliver("freshdesk", doc).get_json()["duplicate"] is False
    assert admitting.stored() == (1, 2)  # one ticket, updated; two deliveries


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_a_wrong_secret_is_401_and_nothing_stored(helpdesk, deliver, admitting, helpdesk_fixture, sign_helpdesk):
    body = json.dumps(helpdesk_fixture(helpdesk)).encode()
    response = deliver(helpdesk, body, headers=sign_helpdesk(helpdesk, body, secret="not-the-secret"))
    assert response.status_code == 401 and response.get_json()["error"] == "bad_signature"
    assert admitting.stored() == (0, 0) and admitting.submitted == []


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_a_signature_over_another_body_or_no_signature_is_401(helpdesk, deliver, admitting, helpdesk_fixture,
                                                              sign_helpdesk):
    body = json.dumps(helpdesk_fixture(helpdesk)).encode()
    if helpdesk != "freshdesk":  # Freshdesk's token does not cover the body
        response = deliver(helpdesk, body + b" ", headers=sign_helpdesk(helpdesk, body))
        assert response.status_code == 401
    response = deliver(helpdesk, body, headers={"Content-Type": "application/json"})
    assert response.status_code == 401 and "missing" in response.get_json()["message"]
    garbled = {"zendesk": {"X-Zendesk-Webhook-Signature": "@@@"}, "zammad": {"X-Hub-Signature": "sha1=zz\u00e9"},
               "freshdesk": {"X-Callbox-Token": "t\u00f6ken"}}[helpdesk]
    response = deliver(helpdesk, body, headers=sign_helpdesk(helpdesk, body) | garbled)
    assert response.status_code == 401 and response.is_json
    assert admitting.stored() == (0, 0)


def test_a_stale_or_future_or_garbled_zendesk_timestamp_is_401(deliver, admitting, helpdesk_fixture,
                                                              sign_helpdesk):
    body = json.dumps(helpdesk_fixture("zendesk")).encode()
    for when in (datetime.now(UTC) - timedelta(minutes=6), datetime.now(UTC) + timedelta(minutes=6)):
        response = deliver("zendesk", body, headers=sign_helpdesk("zendesk", body, when=when))
        assert response.status_code == 401 and "timestamp" in response.get_json()["message"]
    headers = sign_helpdesk("zendesk", body) | {"X-Zendesk-Webhook-Signature-Timestamp": "yesterday"}
    assert deliver("zendesk", body, headers=headers).status_code == 401
    fresh = sign_helpdesk("zendesk", body, when=datetime.now(UTC) - timedelta(minutes=4))
    assert deliver("zendesk", body, headers=fresh).status_code == 202
    assert admitting.stored() == (1, 1)


@pytest.mark.parametrize(("helpdesk", "header"), [("zendesk", "X-Zendesk-Webhook-Invocation-Id"),
                                                  ("zammad", "X-Zammad-Delivery")])
def test_a_signed_delivery_without_its_id_is_400(helpdesk, header, deliver, admitting, helpdesk_fixture,
                                                sign_helpdesk):
    body = json.dumps(helpdesk_fixture(helpdesk)).encode()
    headers = sign_helpdesk(helpdesk, body)
    del headers[header]
    response = deliver(helpdesk, body, headers=headers)
    assert response.status_code == 400 and response.get_json()["error"] == "missing_delivery_id"
    assert header in response.get_json()["message"]
    assert admitting.stored() == (0, 0)


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_an_unmappable_payload_is_422_naming_the_helpdesks_field(helpdesk, deliver, admitting, helpdesk_fixture):
    doc = helpdesk_fixture(helpdesk)
    field = {"zendesk": "ticket.requester.phone", "zammad": "ticket.order_id",
             "freshdesk": "freshdesk_webhook.ticket_subject"}[helpdesk]
    target = doc
    *parents, last = field.split(".")
    for key in parents:
        target = target[key]
    del target[last]
    response = deliver(helpdesk, doc)
    assert response.status_code == 422
    assert response.get_json()["error"] == "invalid_ticket" and response.get_json()["field"] == field
    assert admitting.stored() == (0, 0)


def test_a_mapped_ticket_the_native_parser_refuses_is_422_and_nothing_stored(deliver, admitting,
                                                                            helpdesk_fixture):
    doc = helpdesk_fixture("zendesk")
    doc["ticket"]["requester"]["phone"] = "call me maybe"
    response = deliver("zendesk", doc)
    assert response.status_code == 422 and response.get_json()["field"] == "customer.phone"
    assert admitting.stored() == (0, 0)


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_a_helpdesk_without_a_secret_is_not_connected_404(helpdesk, admitting, helpdesk_fixture, sign_helpdesk):
    client = create_app(admitting, test_config={"TESTING": True}).test_client()  # no [helpdesks] config
    body = json.dumps(helpdesk_fixture(helpdesk)).encode()
    response = client.post(f"/api/v1/tickets/{helpdesk}", data=body, headers=sign_helpdesk(helpdesk, body))
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_connected" and f"[helpdesks.{helpdesk}]" in \
        response.get_json()["message"]
    assert admitting.stored() == (0, 0)


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_signed_bodies_that_are_not_json_objects_are_400(helpdesk, deliver, admitting):
    for body in (b'{"ticket": ', b"[1, 2]", b"null", b'{"\xff": 1}', b'{"ticket": "\\ud800"}'):
        response = deliver(helpdesk, body)
        assert response.status_code == 400, body
        assert response.get_json()["error"] == "malformed_json"
    assert admitting.stored() == (0, 0)


def test_helpdesk_routes_are_in_the_openapi_document_with_their_security(client):
    doc = client.get("/api/v1/openapi.json", headers={"Authorization": "Bearer api-token-for-tests"}).get_json()
    schemes = doc["components"]["securitySchemes"]
    expected = {"zendesk": "X-Zendesk-Webhook-Signature", "zammad": "X-Hub-Signature",
                "freshdesk": "X-Callbox-Token"}
    for helpdesk, header in expected.items():
        post = doc["paths"][f"/api/v1/tickets/{helpdesk}"]["post"]
        (scheme,) = post["security"][0]
        assert schemes[scheme]["name"] == header
        assert set(post["responses"]) == {"202", "400", "401", "404", "413", "422", "503"}
        body = post["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert body in doc["components"]["schemas"]


def test_an_update_through_the_native_route_answers_what_it_did(deliver, admitting):
    install_defaults(admitting.configs)  # the built-in flows and rules: a shipped delivery is called
    body = {"id": "N-1", "type": "delivery", "subject": "Parcel", "description": "",
            "customer": {"name": "Ann", "phone": "+15550100001"}, "order": {"id": "7", "status": "shipped"},
            "updated_at": "2026-03-01T10:00:00Z"}
    first = deliver("native", body, delivery="msg_a").get_json()
    assert first["change"] == "new" and first["decision"] == "call" and first["updated"] is False
    fixed = deliver("native", {**body, "customer": {"name": "Ann", "phone": "+15550100002"},
                               "updated_at": "2026-03-01T11:00:00Z"}, delivery="msg_b")
    assert fixed.status_code == 202
    assert fixed.get_json() | {"reason": ""} == {"ticket": "N-1", "decision": "call", "reason": "", "task":
                                                 first["task"], "duplicate": False, "change": "updated",
                                                 "updated": True, "cancelled_task": None}
    assert admitting.records.ticket("N-1").customer_phone == "+15550100002"
    bad = deliver("native", {**body, "updated_at": "soon"}, delivery="msg_c")
    assert bad.status_code == 422 and bad.get_json()["field"] == "updated_at"


def test_zammad_closing_the_ticket_cancels_the_pending_call_and_an_older_version_is_ignored(
        deliver, admitting, helpdesk_fixture):
    install_defaults(admitting.configs)
    body = helpdesk_fixture("zammad")
    first = deliver("zammad", body, delivery="z-1").get_json()
    assert first["decision"] == "call" and first["task"] is not None
    ticket = admitting.records.ticket(first["ticket"])
    assert ticket.updated_at == "2020-11-13T14:34:35.333000+00:00"  # the helpdesk's update time, mapped
    closed = {**body, "ticket": {**body["ticket"], "state": "closed", "updated_at": "2020-11-13T15:00:00Z"}}
    answer = deliver("zammad", closed, delivery="z-2").get_json()
    assert answer["change"] == "cancelled" and answer["cancelled_task"] == first["task"]
    assert "the helpdesk has it closed" in answer["reason"]
    older = {**body, "ticket": {**body["ticket"], "state": "open", "updated_at": "2020-11-13T14:00:00Z"}}
    stale = deliver("zammad", older, delivery="z-3").get_json()
    assert stale["change"] == "stale" and stale["updated"] is False
    assert admitting.records.ticket(first["ticket"]).status == "skipped"
