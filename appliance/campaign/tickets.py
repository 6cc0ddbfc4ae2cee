"""The ticket a shop's ticketing system sends: validation into a frozen dataclass."""

from __future__ import annotations

from typing import Any

from appliance.errors import TicketInvalid
from appliance.records.phones import PhoneNumberInvalid, e164
from appliance.records.ticket import Ticket

__all__ = ["Ticket", "normalise_phone", "parse_ticket"]

MAX_TEXT = 4000


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
        description=_text(payload, "description", "description", allow_empty=True),
        customer_name=_text(customer, "name", "customer.name"),
        customer_phone=normalise_phone(_text(customer, "phone", "customer.phone"), region),
        order_id=_text(order, "id", "order.id"),
        order_status=_text(order, "status", "order.status").lower(),
        payload=payload,
    )
