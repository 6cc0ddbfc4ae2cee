"""What the three helpdesk adapters share: the field mapping, reading a helpdesk's values, and the native ticket
payload they all produce.

An adapter is a pure function ``(helpdesk payload, FieldMapping) -> native payload``: the dictionary that
``POST /api/v1/tickets`` takes (``{id, type, subject, description, customer{name, phone}, order{id, status},
vars{...}}``). Everything after it (validation, rules, guards, the one store transaction) is the native path.
A structural problem is raised as ``TicketInvalid`` naming the field in the helpdesk's own terms
(``ticket.requester.phone``), so the owner can find it in the helpdesk's settings.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from appliance.errors import TicketInvalid

MAX_DESCRIPTION = 4000  # the native parser's limit on a text field; a longer helpdesk description is cut
MAX_VARS = 50  # custom fields beyond this many are dropped (a flow uses a handful)
MAX_VAR_TEXT = 1000
MAX_TAGS = 50  # the native parser's limits on tags
MAX_TAG = 100

_VAR_NAME = re.compile(r"[^a-z0-9_]+")
_TAG = re.compile(r"<[^>]*>")
_BREAK = re.compile(r"<\s*(br|/p|/div|/li)\s*/?>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t]+")


@dataclass(frozen=True)
class FieldMapping:
    """Which of a helpdesk's custom fields carry the order; an empty name means the adapter's default.

    ``type_field``: a custom field that holds the ticket's type (rules match on it); empty = the helpdesk's own
    ticket type. ``default_type``: the type of a ticket that has none (empty = such a ticket is refused)."""

    order_id_field: str = ""
    order_status_field: str = ""
    type_field: str = ""
    default_type: str = ""

    def over(self, defaults: FieldMapping) -> FieldMapping:
        """This mapping with its empty names filled from ``defaults``."""
        return FieldMapping(
            order_id_field=self.order_id_field or defaults.order_id_field,
            order_status_field=self.order_status_field or defaults.order_status_field,
            type_field=self.type_field or defaults.type_field,
            default_type=self.default_type or defaults.default_type,
        )


def scalar_text(value: Any) -> str:
    """A helpdesk's scalar as text ("" for null, lists, objects); numbers as written, booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if value == value and abs(value) != float("inf") else ""
    return ""


def member(obj: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    """The object under ``key``; TicketInvalid naming ``path`` if it is missing or not an object."""
    value = obj.get(key)
    if value is None:
        raise TicketInvalid("is required", field=path)
    if not isinstance(value, dict):
        raise TicketInvalid(f"must be an object, not {type(value).__name__}", field=path)
    return value


def required_text(obj: dict[str, Any], key: str, path: str) -> str:
    """A non-empty scalar under ``key`` as text; TicketInvalid naming ``path`` otherwise."""
    value = obj.get(key)
    if value is None:
        raise TicketInvalid("is required", field=path)
    if isinstance(value, dict | list):
        raise TicketInvalid(f"must be a string, not {type(value).__name__}", field=path)
    text = scalar_text(value)
    if not text:
        raise TicketInvalid("must not be empty", field=path)
    return text


def plain_text(markup: str) -> str:
    """A helpdesk's HTML description as the plain text a person would read, cut to the native limit."""
    text = _BREAK.sub("\n", markup)
    text = html.unescape(_TAG.sub("", text))
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return cut("\n".join(line for line in lines if line))


def cut(text: str, limit: int = MAX_DESCRIPTION) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def var_name(name: str) -> str:
    """A custom field's name as a flow variable name: lower case letters, digits and underscores."""
    return _VAR_NAME.sub("_", name.strip().lower()).strip("_")


def custom_vars(fields: dict[str, Any], *, skip: set[str]) -> dict[str, str]:
    """Custom fields (name -> value) that are not mapped elsewhere, as string ticket variables. Empty values,
    objects and lists are left out; so are fields past ``MAX_VARS``."""
    out: dict[str, str] = {}
    for name, value in fields.items():
        if name in skip:
            continue
        key, text = var_name(name), scalar_text(value)
        if key and text and key not in out:
            out[key] = cut(text, MAX_VAR_TEXT)
        if len(out) >= MAX_VARS:
            break
    return out


def tag_list(value: Any) -> list[str]:
    """A helpdesk's tags as the native ``tags``: a list of texts (Zendesk, Zammad) or one text of tags separated
    by commas (Freshdesk's ``{{ticket.tags}}``); anything else, and blank or overlong tags, left out."""
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, list):
        items = value
    else:
        return []
    tags = [scalar_text(item) for item in items]
    return list(dict.fromkeys(t for t in tags if t and len(t) <= MAX_TAG))[:MAX_TAGS]


def updated_time(obj: dict[str, Any], key: str, path: str) -> str:
    """The helpdesk's update time under ``key`` as the native ``updated_at`` ("" if it sends none);
    TicketInvalid naming ``path`` if it is not an ISO 8601 time with a zone."""
    text = scalar_text(obj.get(key))
    if not text:
        return ""
    try:
        zone = datetime.fromisoformat(text).tzinfo
    except ValueError:
        zone = None
    if zone is None:  # the native parser (records.ticket.version_time) refuses a time without a zone too
        raise TicketInvalid("is not an ISO 8601 time with a zone (e.g. 2024-05-01T08:00:00Z)", field=path) from None
    return text


def native_ticket(
    *,
    helpdesk: str,
    ticket_id: str,
    ticket_type: str,
    status: str,
    subject: str,
    description: str,
    name: str,
    phone: str,
    order_id: str,
    order_status: str,
    variables: dict[str, str],
    updated_at: str = "",
    tags: list[str] | None = None,
) -> dict[str, Any]:
    """The native ticket payload. ``vars`` carries the custom fields and, under ``helpdesk`` and
    ``helpdesk_status``, where the ticket came from and its status there; ``updated_at`` (when the helpdesk
    has one) orders versions of the ticket (``campaign.updates``); ``tags`` are the helpdesk's tags (rules match
    on them)."""
    native: dict[str, Any] = {
        "id": ticket_id,
        "type": ticket_type,
        "subject": subject,
        "description": description,
        "customer": {"name": name, "phone": phone},
        "order": {"id": order_id, "status": order_status},
        "vars": {**variables, "helpdesk": helpdesk, "helpdesk_status": status},
    }
    if updated_at:
        native["updated_at"] = updated_at
    if tags:
        native["tags"] = tags
    return native


def ticket_type(own_type: str, custom: dict[str, Any], mapping: FieldMapping, *, own_path: str,
                custom_path: str) -> str:
    """The type from the mapped custom field, else the helpdesk's own type, else the configured default."""
    if mapping.type_field:
        found = scalar_text(custom.get(mapping.type_field))
        if found:
            return found
    elif own_type:
        return own_type
    if mapping.default_type:
        return mapping.default_type
    where = custom_path.format(mapping.type_field) if mapping.type_field else own_path
    raise TicketInvalid("is required (or set default_type in the helpdesk's config)", field=where)


def order_fields(custom: dict[str, Any], mapping: FieldMapping, *, path: str) -> tuple[str, str]:
    """(order id, order status) from the mapped custom fields; ``path`` formats a field name into the helpdesk's
    terms for the error."""
    values = []
    for name, role in ((mapping.order_id_field, "order_id_field"), (mapping.order_status_field,
                                                                      "order_status_field")):
        if not name:
            raise TicketInvalid(f"no custom field is mapped to the order; set {role} in the helpdesk's config",
                                field=role)
        text = scalar_text(custom.get(name))
        if not text:
            raise TicketInvalid("is required (mapped to the order)", field=path.format(name))
        values.append(text)
    return values[0], values[1]
