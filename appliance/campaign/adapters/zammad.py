"""Zammad: a trigger's webhook with Zammad's default payload (``{"ticket": {...}, "article": {...}}``) mapped
to the native ticket payload.

Zammad puts custom object attributes beside its own on the ticket (``ticket.order_id``), so the order fields
are mapped by attribute name (default ``order_id`` / ``order_status``); every other scalar attribute that is
not one of Zammad's own becomes a ticket variable. The customer's mobile number is preferred over the phone
(the box calls through a GSM modem); the description is the triggering article's body, as plain text.
"""

from __future__ import annotations

from typing import Any

from appliance.campaign.adapters.common import (
    FieldMapping,
    custom_vars,
    cut,
    member,
    native_ticket,
    order_fields,
    plain_text,
    required_text,
    scalar_text,
    tag_list,
    ticket_type,
    updated_time,
)
from appliance.errors import TicketInvalid

HELPDESK = "zammad"
DEFAULTS = FieldMapping(order_id_field="order_id", order_status_field="order_status")

# Zammad's own ticket attributes (admin docs, "Webhook Payload"); anything else scalar is a custom attribute.
OWN_ATTRIBUTES = frozenset({
    "id", "number", "title", "state", "priority", "group", "owner", "customer", "organization", "type",
    "note", "article_count", "create_article_sender", "create_article_type", "pending_time", "escalation_at",
    "first_response_at", "close_at", "time_unit", "preferences", "tags", "checklist", "updated_by",
    "created_by", "last_owner_update_at", "last_contact_at", "last_contact_agent_at",
    "last_contact_customer_at", "last_close_at", "update_diff_in_min", "close_diff_in_min",
    "first_response_diff_in_min", "update_escalation_at", "close_escalation_at", "first_response_escalation_at",
    "update_in_min", "close_in_min", "first_response_in_min", "escalation_time", "ticket_time_accounting",
})


def _is_custom(name: str) -> bool:
    return name not in OWN_ATTRIBUTES and not name.endswith(("_id", "_ids", "_at", "_in_min"))


def _named(value: Any) -> str:
    """A Zammad attribute that is a name or an object with one (``"state": "open"`` or ``{"name": "open"}``)."""
    if isinstance(value, dict):
        return scalar_text(value.get("name"))
    return scalar_text(value)


def zammad_ticket(payload: dict[str, Any], mapping: FieldMapping) -> dict[str, Any]:
    """The native ticket payload of a Zammad webhook body (TicketInvalid names the Zammad field)."""
    mapping = mapping.over(DEFAULTS)
    ticket = member(payload, "ticket", "ticket")
    customer = member(ticket, "customer", "ticket.customer")
    name = " ".join(part for part in (scalar_text(customer.get("firstname")),
                                      scalar_text(customer.get("lastname"))) if part)
    if not name:
        raise TicketInvalid("has neither a firstname nor a lastname", field="ticket.customer")
    phone = scalar_text(customer.get("mobile")) or scalar_text(customer.get("phone"))
    if not phone:
        raise TicketInvalid("has neither a mobile nor a phone number", field="ticket.customer")
    custom = {k: v for k, v in ticket.items() if _is_custom(k)}
    order_id, order_status = order_fields(ticket, mapping, path="ticket.{}")  # mapped by name: any attribute
    article = payload.get("article")
    description = ""
    if isinstance(article, dict):
        body = scalar_text(article.get("body"))
        html = scalar_text(article.get("content_type")).lower() == "text/html"
        description = plain_text(body) if html else cut(body)
    mapped = {mapping.order_id_field, mapping.order_status_field, mapping.type_field}
    variables = custom_vars(custom, skip=mapped)
    number = scalar_text(ticket.get("number"))
    if number:
        variables["ticket_number"] = number
    return native_ticket(
        helpdesk=HELPDESK,
        ticket_id=required_text(ticket, "id", "ticket.id"),
        ticket_type=ticket_type(_named(ticket.get("type")), ticket, mapping, own_path="ticket.type",
                                custom_path="ticket.{}"),
        status=_named(ticket.get("state")).lower(),
        subject=required_text(ticket, "title", "ticket.title"),
        description=description,
        name=name,
        phone=phone,
        order_id=order_id,
        order_status=order_status,
        variables=variables,
        updated_at=updated_time(ticket, "updated_at", "ticket.updated_at"),
        tags=tag_list(ticket.get("tags")),
    )
