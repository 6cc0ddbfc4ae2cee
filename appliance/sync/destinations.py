"""Where a ticket operation goes, as the HTTP requests that deliver it.

A ticket from Zendesk, Freshdesk or Zammad (``Ticket.vars["helpdesk"]``, set by ``campaign.adapters``) goes back
through that helpdesk's REST API when ``[helpdesks.<name>]`` has ``api_url`` and ``api_token``: an internal note
with what happened, then, for ``close``, the ticket solved or closed. Anything else goes to ``[web] callback_url``
as one Standard Webhooks signed JSON message. Each destination turns one outbox item into its ordered requests;
the worker (``sync.outbox``) sends them and remembers how many went through, so a retry never repeats a note.

The facts each helpdesk's API documents, as used here:

- Zendesk: ``PUT /api/v2/tickets/{id}.json`` with ``{"ticket": {"comment": {"body", "public": false}}}`` adds a
  private comment; ``"status": "solved"`` in the same body solves it. Basic auth ``{email}/token:{api_token}``.
  The API honours an ``Idempotency-Key`` header.
- Freshdesk: ``POST /api/v2/tickets/{id}/notes`` with ``{"body" (HTML), "private": true}``; ``PUT
  /api/v2/tickets/{id}`` with ``{"status": 4}`` (4 = resolved). Basic auth with the API key as user, ``X`` as
  password.
- Zammad: ``POST /api/v1/ticket_articles`` with ``{"ticket_id", "body", "type": "note", "internal": true}``;
  ``PUT /api/v1/tickets/{id}`` with ``{"state": "closed"}``. Header ``Authorization: Token token=<token>``.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote

from standardwebhooks.webhooks import Webhook

from appliance.config import HelpdeskConfig, HelpdesksConfig

__all__ = ["Destination", "HttpRequest", "NativeCallback", "Outgoing", "message_key", "note_text", "rest_apis"]


def message_key(box_id: str, item_id: int) -> str:
    """An outbox message's id: this installation's random id and the row id, never the bare row id."""
    return f"msg_{box_id}_{item_id}"


@dataclass(frozen=True)
class Outgoing:
    """One outbox item on its way out."""

    key: str  # message_key(): webhook-id, Idempotency-Key
    topic: str
    payload: dict[str, Any]
    at: datetime

    @property
    def ticket_id(self) -> str:
        return str(self.payload.get("ticket", ""))

    @property
    def operation(self) -> str:
        return str(self.payload.get("operation", ""))


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


class Destination(Protocol):
    name: str

    def requests(self, item: Outgoing) -> list[HttpRequest]:
        """The requests that deliver ``item``, in order; each is sent once it is the next one due."""
        ...


LABELS = {"remark": "Call note", "close": "Closed", "schedule": "Next call scheduled for",
          "do_not_call": "Do not call", "sms": "Text message sent"}


def note_text(payload: dict[str, Any]) -> str:
    """The internal note a person reads in the helpdesk: what the box did, and what the call found out."""
    operation = str(payload.get("operation") or "operation")
    detail = str(payload.get("detail") or "").strip()
    lines = [f"Callbox - {LABELS.get(operation, operation)}: {detail}" if detail
             else f"Callbox - {LABELS.get(operation, operation)}"]
    if payload.get("disposition"):
        lines.append(f"Disposition: {payload['disposition']}")
    slots = payload.get("slots")
    if isinstance(slots, dict) and slots:
        lines.append("Slots: " + ", ".join(f"{k}={v}" for k, v in sorted(slots.items())))
    return "\n".join(lines)


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class _Rest:
    name = ""

    def __init__(self, config: HelpdeskConfig) -> None:
        self.base = config.api_url.rstrip("/")
        self.user = config.api_user
        self.token = config.api_token

    def headers(self, item: Outgoing) -> dict[str, str]:
        return {"content-type": "application/json", "accept": "application/json"}

    def requests(self, item: Outgoing) -> list[HttpRequest]:
        raise NotImplementedError

    def _request(self, method: str, path: str, body: dict[str, Any], item: Outgoing) -> HttpRequest:
        return HttpRequest(method, self.base + path, self.headers(item), _json(body))


class Zendesk(_Rest):
    name = "zendesk"

    def headers(self, item: Outgoing) -> dict[str, str]:
        return super().headers(item) | {"authorization": _basic(f"{self.user}/token", self.token),
                                        "idempotency-key": item.key}

    def requests(self, item: Outgoing) -> list[HttpRequest]:
        ticket: dict[str, Any] = {"comment": {"body": note_text(item.payload), "public": False}}
        if item.operation == "close":
            ticket["status"] = "solved"  # one update: the note and the status together
        return [self._request("PUT", f"/api/v2/tickets/{quote(item.ticket_id, safe='')}.json",
                              {"ticket": ticket}, item)]


class Freshdesk(_Rest):
    name = "freshdesk"

    def headers(self, item: Outgoing) -> dict[str, str]:
        return super().headers(item) | {"authorization": _basic(self.token, "X")}

    def requests(self, item: Outgoing) -> list[HttpRequest]:
        path = f"/api/v2/tickets/{quote(item.ticket_id, safe='')}"
        body = html.escape(note_text(item.payload)).replace("\n", "<br>")
        out = [self._request("POST", f"{path}/notes", {"body": body, "private": True}, item)]
        if item.operation == "close":
            out.append(self._request("PUT", path, {"status": 4}, item))  # 4: resolved
        return out


class Zammad(_Rest):
    name = "zammad"

    def headers(self, item: Outgoing) -> dict[str, str]:
        return super().headers(item) | {"authorization": f"Token token={self.token}"}

    def requests(self, item: Outgoing) -> list[HttpRequest]:
        ticket_id: int | str = int(item.ticket_id) if item.ticket_id.isdigit() else item.ticket_id
        article = {"ticket_id": ticket_id, "body": note_text(item.payload), "type": "note", "internal": True,
                   "content_type": "text/plain", "subject": "Callbox"}
        out = [self._request("POST", "/api/v1/ticket_articles", article, item)]
        if item.operation == "close":
            out.append(self._request("PUT", f"/api/v1/tickets/{quote(item.ticket_id, safe='')}",
                                     {"state": "closed"}, item))
        return out


def rest_apis(helpdesks: HelpdesksConfig) -> dict[str, Destination]:
    """The helpdesks whose REST API is configured (api_url and api_token), by name."""
    built: dict[str, Destination] = {}
    for cls in (Zendesk, Freshdesk, Zammad):
        config = helpdesks.by_name()[cls.name]
        if config.api_url and config.api_token:
            built[cls.name] = cls(config)
    return built


class NativeCallback:
    """``[web] callback_url``: ``{"type": topic, "data": payload}`` signed with the webhook secret; the
    message key is its ``webhook-id``."""

    name = "callback"

    def __init__(self, url: str, secret: str) -> None:
        self.url = url
        self.webhook = Webhook(secret)

    def requests(self, item: Outgoing) -> list[HttpRequest]:
        body = json.dumps({"type": item.topic, "data": item.payload}, ensure_ascii=False)
        headers = {
            "content-type": "application/json",
            "webhook-id": item.key,
            "webhook-timestamp": str(int(item.at.timestamp())),
            "webhook-signature": self.webhook.sign(item.key, item.at, body),
        }
        return [HttpRequest("POST", self.url, headers, body.encode())]
