"""What every ticket webhook does after its signature is good: read the body as a JSON object, hand it to the
box, and turn the answer into JSON (202, or a 4xx/503 that says why). Native and helpdesk routes share it.

A body is refused (400, nothing stored) when it holds a lone surrogate escape (``"\\ud800"``): Python's JSON
parser lets one through, SQLite cannot store it, and the 500 that followed made the sender retry forever. It is
refused too past ``MAX_DEPTH`` levels of nesting, which no ticket has.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from flask import Response, current_app, jsonify

from appliance.errors import StorageError, TicketInvalid
from web.service import PanelService

log = logging.getLogger(__name__)

MAX_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")


class BodyRejected(Exception):
    """The body is not a JSON object the box can keep; ``str(exc)`` says why."""


def service() -> PanelService:
    svc: PanelService = current_app.extensions["callbox_service"]
    return svc


def error(status: int, code: str, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify(error=code, message=message, **extra), status


def _check_text(text: str, where: str) -> None:
    if _SURROGATE.search(text):
        raise BodyRejected(f"{where} holds a lone surrogate (\\ud800-\\udfff), which is not a character")


def _check_tree(value: Any) -> None:
    """Walk the parsed document without recursion: bounded depth, no lone surrogates in keys or strings."""
    stack: list[tuple[Any, int, str]] = [(value, 0, "$")]
    while stack:
        node, depth, where = stack.pop()
        if depth > MAX_DEPTH:
            raise BodyRejected(f"nested deeper than {MAX_DEPTH} levels at {where}")
        if isinstance(node, str):
            _check_text(node, where)
        elif isinstance(node, dict):
            for key, item in node.items():
                _check_text(key, f"a key in {where}")
                stack.append((item, depth + 1, f"{where}.{key}"))
        elif isinstance(node, list):
            stack.extend((item, depth + 1, f"{where}[{i}]") for i, item in enumerate(node))


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or BodyRejected saying why not."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyRejected(f"body is not UTF-8 (byte {exc.start})") from exc
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError) as exc:  # ValueError covers ints past Python's digit limit
        raise BodyRejected(f"body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise BodyRejected(f"body must be a JSON object, not {type(payload).__name__}")
    _check_tree(payload)
    return payload


def submit(payload: dict[str, Any], *, webhook_id: str) -> tuple[Response, int]:
    """Admit a native ticket payload; 202 with the box's decision, 422 naming a bad field, 503 on storage."""
    try:
        result = service().submit_ticket(payload, webhook_id=webhook_id)
    except TicketInvalid as exc:
        log.info("webhook %s: invalid ticket, field %s", webhook_id, exc.field)
        return error(422, "invalid_ticket", exc.message, field=exc.field)
    except StorageError as exc:
        # Not acknowledged, so the ticketing system keeps the ticket and delivers it again.
        log.error("webhook %s: ticket not stored: %s", webhook_id, exc)
        response, status = error(503, "storage_unavailable", "the ticket could not be stored; retry later")
        response.headers["Retry-After"] = "30"
        return response, status
    log.info("webhook %s: ticket %s -> %s", webhook_id, result.get("ticket"), result.get("decision"))
    return jsonify(result), 202
