"""Helpdesk webhooks: ``POST /api/v1/tickets/zendesk``, ``/freshdesk`` and ``/zammad``.

Each route checks the request the way its helpdesk signs it, takes the helpdesk's own delivery id for
deduplication, maps the body with the pure adapter (``appliance.campaign.adapters``) to the native ticket
payload, and admits it on the native path (``PanelService.submit_ticket``):

- Zendesk: ``X-Zendesk-Webhook-Signature`` = base64(HMAC-SHA256(secret, timestamp + body)) with the ISO 8601
  ``X-Zendesk-Webhook-Signature-Timestamp``, refused more than 5 minutes off; delivery id
  ``X-Zendesk-Webhook-Invocation-Id``.
- Zammad: ``X-Hub-Signature: sha1=<hex HMAC-SHA1(token, body)>``; delivery id ``X-Zammad-Delivery``.
- Freshdesk signs nothing: the owner adds the header ``X-Callbox-Token: <secret>`` to the webhook action (compared
  in constant time); delivery id = SHA-256 of the body (Freshdesk sends no id, and a redelivery is byte-equal).

Delivery ids are stored as ``<helpdesk>:<id>`` so ids of different systems cannot collide (and never collide
with a native ``webhook-id``, which is stored as sent). A helpdesk without a configured secret is not connected:
its route answers 404 ``not_connected``. Every answer is JSON: 202, 400, 401, 404, 413, 422 or 503.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, current_app, request

from appliance.campaign.adapters import ADAPTERS, FieldMapping
from appliance.config import HelpdeskConfig, HelpdesksConfig
from appliance.errors import TicketInvalid
from web.ticket_intake import BodyRejected, error, json_object, submit

log = logging.getLogger(__name__)

bp = Blueprint("helpdesks", __name__, url_prefix="/api/v1/tickets")

TOLERANCE_S = 300  # as the native route (Standard Webhooks)
MAX_DELIVERY_ID = 200
ZENDESK_SIGNATURE = "X-Zendesk-Webhook-Signature"
ZENDESK_TIMESTAMP = "X-Zendesk-Webhook-Signature-Timestamp"
ZENDESK_DELIVERY = "X-Zendesk-Webhook-Invocation-Id"
ZAMMAD_SIGNATURE = "X-Hub-Signature"
ZAMMAD_DELIVERY = "X-Zammad-Delivery"
FRESHDESK_TOKEN = "X-Callbox-Token"


def _header_bytes(name: str) -> bytes:
    """A header as the bytes sent (werkzeug decodes headers as latin-1), for constant-time comparison."""
    return request.headers.get(name, "").strip().encode("latin-1", "replace")


def verify_zendesk(raw: bytes, secret: str) -> str | None:
    """None when the Zendesk signature is good and fresh, else why not."""
    signature, stamp = _header_bytes(ZENDESK_SIGNATURE), request.headers.get(ZENDESK_TIMESTAMP, "").strip()
    if not signature or not stamp:
        return f"missing {ZENDESK_SIGNATURE} or {ZENDESK_TIMESTAMP}"
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return f"{ZENDESK_TIMESTAMP} is not an ISO 8601 time"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if abs((datetime.now(UTC) - when).total_seconds()) > TOLERANCE_S:
        return "message timestamp too old or too new (more than 5 minutes off)"
    digest = hmac.new(secret.encode(), stamp.encode() + raw, hashlib.sha256).digest()
    if not hmac.compare_digest(base64.b64encode(digest), signature):
        return "signature does not match"
    return None


def verify_zammad(raw: bytes, secret: str) -> str | None:
    """None when ``X-Hub-Signature`` is the HMAC-SHA1 of the body with the token, else why not."""
    signature = _header_bytes(ZAMMAD_SIGNATURE)
    if not signature:
        return f"missing {ZAMMAD_SIGNATURE} (set the HMAC SHA1 signature token on the Zammad webhook)"
    expected = b"sha1=" + hmac.new(secret.encode(), raw, hashlib.sha1).hexdigest().encode()
    if not hmac.compare_digest(expected, signature.lower()):
        return "signature does not match"
    return None


def verify_freshdesk(raw: bytes, secret: str) -> str | None:
    """None when the ``X-Callbox-Token`` header is the configured token, else why not."""
    token = _header_bytes(FRESHDESK_TOKEN)
    if not token:
        return f"missing {FRESHDESK_TOKEN} (add it as a custom header on the Freshdesk webhook action)"
    if not hmac.compare_digest(secret.encode(), token):
        return f"{FRESHDESK_TOKEN} does not match"
    return None


def _header_id(name: str) -> Callable[[bytes], str]:
    return lambda raw: request.headers.get(name, "").strip()


def _body_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


VERIFIERS: dict[str, Callable[[bytes, str], str | None]] = {
    "zendesk": verify_zendesk, "zammad": verify_zammad, "freshdesk": verify_freshdesk,
}
DELIVERY_IDS: dict[str, tuple[str, Callable[[bytes], str]]] = {
    "zendesk": (ZENDESK_DELIVERY, _header_id(ZENDESK_DELIVERY)),
    "zammad": (ZAMMAD_DELIVERY, _header_id(ZAMMAD_DELIVERY)),
    "freshdesk": ("the body's SHA-256", _body_hash),
}


def _settings(helpdesk: str) -> HelpdeskConfig:
    helpdesks: HelpdesksConfig = current_app.extensions["callbox_helpdesks"]
    return helpdesks.by_name()[helpdesk]


def receive(helpdesk: str) -> tuple[Response, int]:
    settings = _settings(helpdesk)
    if not settings.secret:
        return error(404, "not_connected",
                     f"{helpdesk} is not connected: set secret in [helpdesks.{helpdesk}] of callbox.toml")
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    why = VERIFIERS[helpdesk](raw, settings.secret)
    if why is not None:
        log.warning("%s webhook rejected from %s: %s", helpdesk, request.remote_addr, why)
        return error(401, "bad_signature", why)
    source, delivery_of = DELIVERY_IDS[helpdesk]
    delivery = delivery_of(raw)
    if not delivery or len(delivery) > MAX_DELIVERY_ID:
        return error(400, "missing_delivery_id", f"{source} must be present, at most {MAX_DELIVERY_ID} characters")
    try:
        payload = json_object(raw)
    except BodyRejected as exc:
        return error(400, "malformed_json", str(exc))
    mapping = FieldMapping(order_id_field=settings.order_id_field, order_status_field=settings.order_status_field,
                           type_field=settings.type_field, default_type=settings.default_type)
    try:
        ticket = ADAPTERS[helpdesk](payload, mapping)
    except TicketInvalid as exc:
        log.info("%s webhook %s: cannot map, field %s: %s", helpdesk, delivery, exc.field, exc.message)
        return error(422, "invalid_ticket", exc.message, field=exc.field)
    return submit(ticket, webhook_id=f"{helpdesk}:{delivery}")


def _route(helpdesk: str) -> Callable[[], tuple[Response, int]]:
    def view() -> tuple[Response, int]:
        return receive(helpdesk)

    view.__name__ = f"receive_{helpdesk}"
    return view


for _name in ("zendesk", "freshdesk", "zammad"):
    bp.add_url_rule(f"/{_name}", view_func=_route(_name), methods=["POST"])


def install(app: Flask, helpdesks: HelpdesksConfig) -> None:
    """Register the three routes with the helpdesks' secrets and field mappings."""
    app.extensions["callbox_helpdesks"] = helpdesks
    app.register_blueprint(bp)
