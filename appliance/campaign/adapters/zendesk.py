"""Zendesk: a trigger's webhook, its JSON body written with Zendesk placeholders in the shape of the Tickets
API's ticket (README "Helpdesks" has the body to paste), mapped to the native ticket payload.

Shape taken: ``{"ticket": {"id", "type", "status", "subject", "description", "requester": {"name", "phone"},
"custom_fields": [{"id": <field id>, "value": ...}]}}``. Zendesk custom fields are known by number, so the order
fields are mapped by id (``order_id_field = "360001234567"``); other custom fields become ``vars["field_<id>"]``.
An event-subscribed webhook (``"type": "zen:event-type:..."``) carries no requester phone and is refused with a
message saying so.
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
    required_text,
    scalar_text,
    tag_list,
    ticket_type,
    updated_time,
)
from appliance.errors import TicketInvalid

HELPDESK = "zendesk"
DEFAULTS = FieldMapping()  # Zendesk field ids differ per account: the order fields must be configured


def _custom_fields(ticket: dict[str, Any]) -> dict[str, Any]:
    """custom_fields as {str(id): value}; Zendesk sends a list of {id, value} (an object by id is taken too)."""
    raw = ticket.get("custom_fields")
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return {str(k): v for k, v in raw.items()}
    if not isinstance(raw, list):
        raise TicketInvalid(f"must be a list of {{id, value}}, not {type(raw).__name__}",
                            field="ticket.custom_fields")
    fields: dict[str, Any] = {}
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not scalar_text(item.get("id")):
            raise TicketInvalid("must be an object with an id", field=f"ticket.custom_fields[{i}]")
        fields[scalar_text(item["id"])] = item.get("value")
    return fields


def zendesk_ticket(payload: dict[str, Any], mapping: FieldMapping) -> dict[str, Any]:
    """The native ticket payload of a Zendesk webhook body (TicketInvalid names the Zendesk field)."""
    event = payload.get("type")
    if isinstance(event, str) and event.startswith("zen:event-type:"):
        raise TicketInvalid("an event webhook carries no requester phone; connect the webhook to a trigger "
                            "with the JSON body from the README", field="type")
    mapping = mapping.over(DEFAULTS)
    ticket = member(payload, "ticket", "ticket")
    requester = member(ticket, "requester", "ticket.requester")
    custom = _custom_fields(ticket)
    order_id, order_status = order_fields(custom, mapping, path="ticket.custom_fields[id={}]")
    mapped = {mapping.order_id_field, mapping.order_status_field, mapping.type_field}
    return native_ticket(
        helpdesk=HELPDESK,
        ticket_id=required_text(ticket, "id", "ticket.id"),
        ticket_type=ticket_type(scalar_text(ticket.get("type")), custom, mapping, own_path="ticket.type",
                                custom_path="ticket.custom_fields[id={}]"),
        status=scalar_text(ticket.get("status")).lower(),
        subject=required_text(ticket, "subject", "ticket.subject"),
        description=cut(scalar_text(ticket.get("description"))),
        name=required_text(requester, "name", "ticket.requester.name"),
        phone=required_text(requester, "phone", "ticket.requester.phone"),
        order_id=order_id,
        order_status=order_status,
        variables=custom_vars({f"field_{k}": v for k, v in custom.items() if k not in mapped}, skip=set()),
        updated_at=updated_time(ticket, "updated_at", "ticket.updated_at"),
        tags=tag_list(ticket.get("tags")),
    )
