"""The helpdesk adapters as pure functions: each documented payload (tests/fixtures/helpdesks) maps to the native
ticket payload, which the native parser accepts; a payload that cannot be mapped names the helpdesk's field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from appliance.campaign.adapters import ADAPTERS, FieldMapping, freshdesk_ticket, zammad_ticket, zendesk_ticket
from appliance.campaign.tickets import parse_ticket
from appliance.errors import TicketInvalid

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "helpdesks"
ZENDESK_ORDER = FieldMapping(order_id_field="360001111111", order_status_field="360002222222")


def fixture(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return doc


def test_zendesk_ticket_maps_type_status_order_requester_and_other_fields_into_vars() -> None:
    native = zendesk_ticket(fixture("zendesk"), ZENDESK_ORDER)
    assert native == {
        "id": "35436", "type": "Task", "subject": "Your repair is ready for pickup",
        "description": "Customer dropped off a Pixel 7 with a cracked screen. Repair finished.",
        "customer": {"name": "Ada Park", "phone": "+1 555 010 0100"},
        "order": {"id": "R-2024-0042", "status": "ready"},
        "vars": {"field_360003333333": "Friday", "helpdesk": "zendesk", "helpdesk_status": "open"},
    }
    ticket = parse_ticket(native)
    assert (ticket.type, ticket.customer_phone, ticket.order_status) == ("task", "+15550100100", "ready")


def test_zammad_ticket_takes_custom_attributes_the_customer_and_the_article_as_plain_text() -> None:
    native = zammad_ticket(fixture("zammad"), FieldMapping(default_type="delivery"))
    assert native["id"] == "81" and native["subject"] == "Parcel shipped"
    assert native["type"] == "delivery"  # Zammad's ticket has no type here: the configured default
    assert native["customer"] == {"name": "Emily Adams", "phone": "0061 2 1234 7777"}  # no mobile: the phone
    assert native["order"] == {"id": "A-7731", "status": "shipped"}
    assert native["description"] == "Your parcel is on its way.\nTracking & details follow."
    assert native["vars"] == {"delivery_day": "Tuesday", "ticket_number": "10081", "helpdesk": "zammad",
                              "helpdesk_status": "open"}
    assert parse_ticket(native).customer_phone == "+61212347777"


def test_zammad_prefers_the_mobile_number_and_reads_a_type_object() -> None:
    doc = fixture("zammad")
    doc["ticket"]["customer"]["mobile"] = "+61 400 000 111"
    doc["ticket"]["type"] = {"id": 3, "name": "Repair"}
    native = zammad_ticket(doc, FieldMapping())
    assert native["customer"]["phone"] == "+61 400 000 111" and native["type"] == "Repair"


def test_freshdesk_ticket_maps_cf_fields_and_strips_the_html_description() -> None:
    native = freshdesk_ticket(fixture("freshdesk"), FieldMapping())
    assert native == {
        "id": "1207", "type": "Delivery", "subject": "Order ready to collect", "description": "Your order is ready.",
        "customer": {"name": "Min-jun Kim", "phone": "+82 2 555 0111"},
        "order": {"id": "F-991", "status": "Ready"},
        "vars": {"pickup_store": "Gangnam", "helpdesk": "freshdesk", "helpdesk_status": "open"},
    }
    assert parse_ticket(native).order_status == "ready"


def test_a_type_field_mapping_takes_the_type_from_a_custom_field() -> None:
    native = freshdesk_ticket(fixture("freshdesk"), FieldMapping(type_field="cf_pickup_store"))
    assert native["type"] == "Gangnam" and "pickup_store" not in native["vars"]
    zendesk = zendesk_ticket(fixture("zendesk"), FieldMapping(order_id_field="360001111111",
                                                               order_status_field="360002222222",
                                                               type_field="360003333333"))
    assert zendesk["type"] == "Friday" and "field_360003333333" not in zendesk["vars"]


def test_freshdesk_numeric_status_is_named() -> None:
    doc = fixture("freshdesk")
    doc["freshdesk_webhook"]["ticket_status"] = 4
    assert freshdesk_ticket(doc, FieldMapping())["vars"]["helpdesk_status"] == "resolved"


def _without(doc: dict[str, Any], *path: str) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    target = doc
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return doc


@pytest.mark.parametrize(
    ("name", "doc", "mapping", "field"),
    [
        ("zendesk", _without(fixture("zendesk"), "ticket", "requester"), ZENDESK_ORDER, "ticket.requester"),
        ("zendesk", _without(fixture("zendesk"), "ticket", "requester", "phone"), ZENDESK_ORDER,
         "ticket.requester.phone"),
        ("zendesk", fixture("zendesk"), FieldMapping(), "order_id_field"),  # Zendesk ids must be configured
        ("zendesk", fixture("zendesk"), FieldMapping(order_id_field="1", order_status_field="360002222222"),
         "ticket.custom_fields[id=1]"),
        ("zendesk", {"ticket": {"custom_fields": "x"}}, ZENDESK_ORDER, "ticket.requester"),
        ("zendesk", {"type": "zen:event-type:ticket.created", "detail": {"id": "5"}}, ZENDESK_ORDER, "type"),
        ("zammad", _without(fixture("zammad"), "ticket", "order_status"), FieldMapping(default_type="x"),
         "ticket.order_status"),
        ("zammad", fixture("zammad"), FieldMapping(), "ticket.type"),  # no type and no default_type
        ("zammad", _without(fixture("zammad"), "ticket", "customer", "phone"), FieldMapping(default_type="x"),
         "ticket.customer"),
        ("zammad", {"ticket": []}, FieldMapping(), "ticket"),
        ("freshdesk", {"ticket": {}}, FieldMapping(), "freshdesk_webhook"),
        ("freshdesk", _without(fixture("freshdesk"), "freshdesk_webhook", "ticket_cf_order_id"), FieldMapping(),
         "freshdesk_webhook.ticket_cf_order_id"),
        ("freshdesk", _without(fixture("freshdesk"), "freshdesk_webhook", "ticket_contact_phone"), FieldMapping(),
         "freshdesk_webhook.ticket_contact_phone"),
    ],
)
def test_an_unmappable_payload_names_the_helpdesk_field(name: str, doc: dict[str, Any], mapping: FieldMapping,
                                                         field: str) -> None:
    with pytest.raises(TicketInvalid) as err:
        ADAPTERS[name](doc, mapping)
    assert err.value.field == field


def test_custom_fields_become_string_vars_with_variable_names_and_objects_are_left_out() -> None:
    doc = fixture("freshdesk")
    doc["freshdesk_webhook"] |= {"ticket_cf_Pickup Time!": 1730, "ticket_cf_flag": True, "ticket_cf_nested": {"a": 1},
                                 "ticket_cf_list": [1, 2], "ticket_cf_blank": "  "}
    native_vars = freshdesk_ticket(doc, FieldMapping())["vars"]
    assert native_vars["pickup_time"] == "1730" and native_vars["flag"] == "true"
    assert not {"nested", "list", "blank"} & set(native_vars)
    assert all(isinstance(v, str) for v in native_vars.values())


def test_a_long_description_is_cut_to_the_native_limit() -> None:
    doc = fixture("zendesk")
    doc["ticket"]["description"] = "word " * 2000
    native = zendesk_ticket(doc, ZENDESK_ORDER)
    assert len(native["description"]) <= 4000 and native["description"].endswith("…")
    parse_ticket(native)
