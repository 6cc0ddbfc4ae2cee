"""What an API node needs from HTTP: a request built from templates, a client callable, and response paths.

The engine takes the client as a callable (``HttpClient``) so tests and ``callbox flow try`` can point it at a
real local server; ``urllib_client`` is the box's own (standard library, no extra dependency).
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    timeout_s: float = 5.0


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = b""

    def json(self) -> Any:
        """The body as JSON, or None when it is empty or not JSON."""
        try:
            return json.loads(self.body.decode("utf-8")) if self.body.strip() else None
        except (UnicodeDecodeError, ValueError):
            return None


class ApiFailure(Exception):
    """The request got no HTTP answer: timeout, refused connection, bad URL."""


HttpClient = Callable[[HttpRequest], HttpResponse]


def urllib_client(request: HttpRequest) -> HttpResponse:
    """Send the request; any HTTP status is an answer, no answer in time is ``ApiFailure``."""
    try:
        req = urllib.request.Request(request.url, data=request.body, method=request.method, headers=request.headers)
        with urllib.request.urlopen(req, timeout=request.timeout_s) as resp:
            return HttpResponse(resp.status, resp.read())
    except urllib.error.HTTPError as exc:
        return HttpResponse(exc.code, exc.read() or b"")
    except (http.client.HTTPException, ValueError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ApiFailure(f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__) from exc


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be requested (not an absolute http(s) URL, e.g. an empty ``{api_base}``), or None."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"not an absolute http(s) URL: {url!r}"
    return None


_MISSING = object()


def lookup(data: Any, path: str) -> Any:
    """``data.slot.time`` in a JSON value (list items by index: ``items.0.id``); None when absent."""
    here = data
    for part in path.split("."):
        if isinstance(here, dict):
            here = here.get(part, _MISSING)
        elif isinstance(here, list) and part.lstrip("-").isdigit() and -len(here) <= int(part) < len(here):
            here = here[int(part)]
        else:
            return None
        if here is _MISSING:
            return None
    return here


def status_matches(pattern: str, status: int) -> bool:
    """``"404"`` matches 404 only; ``"4xx"`` any 400-499."""
    if pattern.endswith("xx"):
        return str(status)[0] == pattern[0]
    return str(status) == pattern
