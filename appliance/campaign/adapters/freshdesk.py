"""Freshdesk: an automation rule's "Trigger webhook" action with JSON content, mapped to the native ticket
payload.

Shape taken: ``{"freshdesk_webhook": {"ticket_id", "ticket_subject", "ticket_description", "ticket_status",
"ticket_ticket_type", "ticket_contact_name", "ticket_contact_phone", "ticket_contact_mobile",
"ticket_cf_<field>", ...}}`` — the object Freshdesk's "Simple" JSON content builds from the fields picked (each
placeholder ``{{ticket.x}}`` under the key ``ticket_x``), also what the README's "Advanced" body produces.
Custom fields are ``ticket_cf_<name>``; the order fields are mapped by their Freshdesk name (default
``cf_order_id`` / ``cf_order_status``); other custom fields become ticket variables without the ``cf_``.
Freshdesk signs nothing: the HTTP side checks a token the owner puts in a header.
"""

from __future__ import annotations

from typing import Any

from appliance.campaign.adapters.common import (
    FieldMapping,
    custom_vars,
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

HELPDESK = "freshdesk"
DEFAULTS = FieldMapping(order_id_field="cf_order_id", order_status_field="cf_order_status")
ROOT = "freshdesk_webhook"
# The API's numeric statuses, should a body carry {{ticket.status}} as a number.
STATUS_NAMES = {"2": "open", "3": "pending", "4": "resolved", "5": "closed"}


def freshdesk_ticket(payload: dict[str, Any], mapping: FieldMapping) -> dict[str, Any]:
    """The native ticket payload of a Freshdesk webhook body (TicketInvalid names the Freshdesk field)."""
    mapping = mapping.over(DEFAULTS)
    fields = member(payload, ROOT, ROOT)
    custom = {key.removeprefix("ticket_"): value for key, value in fields.items()
              if isinstance(key, str) and key.startswith("ticket_cf_")}
    order_id, order_status = order_fields(custom, mapping, path=f"{ROOT}.ticket_{{}}")
    phone = scalar_text(fields.get("ticket_contact_mobile")) or scalar_text(fields.get("ticket_contact_phone"))
    if not phone:
        raise TicketInvalid("is required (or ticket_contact_mobile)", field=f"{ROOT}.ticket_contact_phone")
    status = scalar_text(fields.get("ticket_status")).lower()
    mapped = {mapping.order_id_field, mapping.order_status_field, mapping.type_field}
    variables = custom_vars({k.removeprefix("cf_"): v for k, v in custom.items() if k not in mapped}, skip=set())
    return native_ticket(
        helpdesk=HELPDESK,
        ticket_id=required_text(fields, "ticket_id", f"{ROOT}.ticket_id"),
        ticket_type=ticket_type(scalar_text(fields.get("ticket_ticket_type")), custom, mapping,
                                own_path=f"{ROOT}.ticket_ticket_type", custom_path=f"{ROOT}.ticket_{{}}"),
        status=STATUS_NAMES.get(status, status),
        subject=required_text(fields, "ticket_subject", f"{ROOT}.ticket_subject"),
        description=plain_text(scalar_text(fields.get("ticket_description"))),
        name=required_text(fields, "ticket_contact_name", f"{ROOT}.ticket_contact_name"),
        phone=phone,
        order_id=order_id,
        order_status=order_status,
        variables=variables,
        updated_at=updated_time(fields, "ticket_updated_at", f"{ROOT}.ticket_updated_at"),
        tags=tag_list(fields.get("ticket_tags")),
    )
