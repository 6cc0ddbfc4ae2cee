"""The ticket a shop's ticketing system sends: validation into a frozen dataclass."""

from __future__ import annotations

import re
from typing import Any

from appliance.errors import TicketInvalid
from appliance.records.phones import PhoneNumberInvalid, e164
from appliance.records.ticket import STANDARD_VARIABLES, Ticket, version_time

__all__ = ["Ticket", "normalise_phone", "parse_ticket"]

MAX_TEXT = 4000
MAX_VARS = 50
MAX_TAGS = 50
MAX_TAG = 100
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")  # a name a flow template can use: {due_date}


def _text(obj: dict[str, Any], key: str, path: str, *, required: bool = True, allow_empty: bool = False) -> str:
    if key not in obj or obj[key] is None:
        if required:
            raise TicketInvalid("is required", field=path)
        return ""
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TicketInvalid(f"must be a string, not {type(value).__name__}", field=path)
    text = str(value).strip()
    if not text and not allow_empty:
        raise TicketInvalid("must not be empty", field=path)
    if len(text) > MAX_TEXT:
        raise TicketInvalid(f"is longer than {MAX_TEXT} characters", field=path)
    return text


def _object(obj: dict[str, Any], key: str) -> dict[str, Any]:
    if key not in obj:
        raise TicketInvalid("is required", field=key)
    value = obj[key]
    if not isinstance(value, dict):
        raise TicketInvalid("must be an object", field=key)
    return value


def _vars(payload: dict[str, Any]) -> dict[str, str]:
    """The optional ``vars`` object: more flow variables, each a name a template can use and a non-empty text."""
    value = payload.get("vars")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TicketInvalid(f"must be an object of name: text, not {type(value).__name__}", field="vars")
    if len(value) > MAX_VARS:
        raise TicketInvalid(f"has more than {MAX_VARS} variables", field="vars")
    out: dict[str, str] = {}
    for name, text in value.items():
        if not VARIABLE_NAME.match(name):
            raise TicketInvalid("is not a variable name (letters, digits and _, not starting with a digit)",
                                field=f"vars.{name}")
        if name in STANDARD_VARIABLES:
            raise TicketInvalid(f"is one of the ticket's own fields ({', '.join(STANDARD_VARIABLES)}); "
                                "send it there, not in vars", field=f"vars.{name}")
        if not isinstance(text, str):
            raise TicketInvalid(f"must be a string, not {type(text).__name__}", field=f"vars.{name}")
        out[name] = _text(value, name, f"vars.{name}")
    return out


def _tags(payload: dict[str, Any]) -> tuple[str, ...]:
    """The optional ``tags``: a list of short texts the helpdesk tagged the ticket with (rules match on them),
    kept in lower case, each once."""
    value = payload.get("tags")
    if value is None:
        return ()
    if not isinstance(value, list):
        raise TicketInvalid(f"must be a list of texts, not {type(value).__name__}", field="tags")
    if len(value) > MAX_TAGS:
        raise TicketInvalid(f"has more than {MAX_TAGS} tags", field="tags")
    out: list[str] = []
    for i, tag in enumerate(value):
        if not isinstance(tag, str) or not tag.strip():
            raise TicketInvalid("must be a text that is not empty", field=f"tags[{i}]")
        if len(tag) > MAX_TAG:
            raise TicketInvalid(f"is longer than {MAX_TAG} characters", field=f"tags[{i}]")
        out.append(tag.strip().lower())
    return tuple(dict.fromkeys(out))


def _updated_at(payload: dict[str, Any]) -> str | None:
    """The optional ``updated_at``: when the helpdesk last changed the ticket, ISO 8601 with a zone."""
    value = payload.get("updated_at")
    if value is None:
        return None
    if not isinstance(value, str):
        raise TicketInvalid(f"must be an ISO 8601 time as a string, not {type(value).__name__}", field="updated_at")
    try:
        return version_time(value)
    except ValueError as exc:
        detail = str(exc) if "zone" in str(exc) else "is not an ISO 8601 time such as 2024-05-01T08:00:00Z"
        raise TicketInvalid(detail, field="updated_at") from None


def normalise_phone(raw: str, region: str | None = None) -> str:
    """The number in E.164; ``region`` (the shop's country) reads a national number such as ``0612345678``."""
    try:
        return e164(raw, region)
    except PhoneNumberInvalid as exc:
        raise TicketInvalid(str(exc), field="customer.phone") from None


def parse_ticket(payload: dict[str, Any], *, region: str | None = None) -> Ticket:
    """Check a ticket payload; the first problem found is raised naming its field. The ticket keeps the payload.
    ``region`` reads a national phone number."""
    customer = _object(payload, "customer")
    order = _object(payload, "order")
    return Ticket(
        id=_text(payload, "id", "id"),
        type=_text(payload, "type", "type").lower(),
        subject=_text(payload, "subject", "subject"),
        description=_text(payload, "description", "description", required=False, allow_empty=True),
        customer_name=_text(customer, "name", "customer.name"),
        customer_phone=normalise_phone(_text(customer, "phone", "customer.phone"), region),
        order_id=_text(order, "id", "order.id"),
        order_status=_text(order, "status", "order.status").lower(),
        payload=payload,
        vars=_vars(payload),
        updated_at=_updated_at(payload),
        tags=_tags(payload),
    )
