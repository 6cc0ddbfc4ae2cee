"""The machine-facing HTTP API: the signed ticket webhook and the read API for calls and the outbox."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify, request
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from web.auth import api_auth_required
from web.openapi import openapi_document
from web.ticket_intake import BodyRejected, error, json_object, service, submit

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_LIST_LIMIT = 500


def _verify_signature(text: str) -> str | None:
    """Check the Standard Webhooks signature over the raw body; None if good, else why not."""
    webhook: Webhook = current_app.extensions["callbox_webhook"]
    names = ("webhook-id", "webhook-timestamp", "webhook-signature")
    headers = {name: request.headers.get(name, "") for name in names}
    try:
        webhook.verify(text, headers, json_parse=False)
    except WebhookVerificationError as exc:
        return str(exc) or "signature does not match"
    except (ValueError, OverflowError):  # malformed signature list or base64 inside the library
        return "malformed webhook-signature header"
    return None


@bp.post("/tickets")
def submit_ticket() -> tuple[Response, int]:
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        why: str | None = "body is not UTF-8, so its signature cannot be checked"
    else:
        why = _verify_signature(text)
    if why is not None:
        log.warning("webhook rejected from %s: %s", request.remote_addr, why)
        return error(401, "bad_signature", why)
    try:
        payload = json_object(raw)
    except BodyRejected as exc:
        return error(400, "malformed_json", str(exc))
    return submit(payload, webhook_id=request.headers["webhook-id"])


def _limit() -> int:
    try:
        limit = int(request.args.get("limit", "100"))
    except ValueError:
        limit = 100
    return max(1, min(limit, MAX_LIST_LIMIT))


@bp.get("/calls")
@api_auth_required
def list_calls() -> Response:
    return jsonify(calls=service().list_calls(limit=_limit()))


@bp.get("/calls/<int:call_id>")
@api_auth_required
def get_call(call_id: int) -> Response | tuple[Response, int]:
    call = service().get_call(call_id)
    if call is None:
        return error(404, "not_found", f"no call {call_id}")
    return jsonify(call)


@bp.get("/outbox")
@api_auth_required
def outbox() -> Response | tuple[Response, int]:
    """The ticket operations not yet delivered: backlog, oldest age, last error, the items (paged)."""
    try:
        limit = int(request.args.get("limit", "50"))
        offset = int(request.args.get("offset", "0"))
    except ValueError:
        return error(400, "bad_request", "limit and offset must be whole numbers")
    if not 1 <= limit <= MAX_LIST_LIMIT or offset < 0:
        return error(400, "bad_request", f"limit must be 1 to {MAX_LIST_LIMIT} and offset 0 or more")
    return jsonify(service().outbox(limit=limit, offset=offset))


@bp.get("/openapi.json")
def openapi() -> Response:
    try:
        version = str(service().status().get("version", "0"))
    except Exception:
        log.exception("status() failed while serving the OpenAPI document")
        version = "0"
    return jsonify(openapi_document(version))


@bp.get("/flow-schema")
def flow_schema_document() -> Response:
    """The published JSON Schema of a flow document (public, like the OpenAPI document)."""
    from appliance.dialog.flow.load import flow_schema

    response = jsonify(flow_schema())
    response.mimetype = "application/schema+json"
    return response
