"""An API node run: the request rendered from templates, sent with retries through the injected client,
the answer mapped to variables, and the branch it takes."""

from __future__ import annotations

import json
import logging
import string
from collections.abc import Callable, MutableMapping
from typing import Any
from urllib.parse import quote

from appliance.dialog.flow.model import Node
from appliance.dialog.runtime.api_client import (
    ApiFailure,
    HttpClient,
    HttpRequest,
    lookup,
    status_matches,
    url_problem,
)

log = logging.getLogger(__name__)


def run_api_node(node: Node, variables: MutableMapping[str, Any], render: Callable[[str], str],
                 http: HttpClient) -> tuple[str, str, str]:
    """Call the node's API; saves the mapped answer into ``variables``. Returns (next node, what happened for the
    transcript, event "api" or "api_failure")."""
    call = node.api
    assert call is not None
    url = render_url(call.url, variables)
    headers = {k: render(v) for k, v in call.headers}
    body = None
    if call.body is not None:
        body = json.dumps(render_json(call.body, render)).encode("utf-8")
        headers.setdefault("Content-Type", "application/json")
    request = HttpRequest(call.method, url, headers, body, call.timeout_ms / 1000)
    failure = url_problem(url) or ""
    if failure:  # no request can be made: the failure branch, never an exception out of the call
        log.warning("node %s: %s %s not sent: %s", node.id, call.method, url, failure)
        return call.failure, f"{call.method} {url}: {failure}", "api_failure"
    for attempt in range(call.retries + 1):
        try:
            response = http(request)
        except ApiFailure as exc:
            failure = str(exc) or "no answer"
            log.info("node %s: %s %s failed (attempt %d): %s", node.id, call.method, url, attempt + 1, failure)
            continue
        if response.status >= 500 and attempt < call.retries:
            continue
        break
    else:
        return call.failure, f"{call.method} {url}: {failure}", "api_failure"
    data = response.json()
    for var, path in call.save:
        value = lookup(data, path)
        variables[var] = "" if value is None else value
    said = f"{call.method} {url}: {response.status}"
    for b in call.branches:
        if b.status is not None and status_matches(b.status, response.status):
            return b.next, said, "api"
        if b.var is not None and variables.get(b.var) == b.equals:
            return b.next, said, "api"
    if 200 <= response.status < 300 and node.next:
        return node.next, said, "api"
    return call.failure, said, "api"


def render_url(template: str, variables: MutableMapping[str, Any]) -> str:
    """Values are URL-quoted, except one the URL starts with (a base URL such as {api_base})."""
    out = []
    for i, (literal, name, _, _) in enumerate(string.Formatter().parse(template)):
        out.append(literal)
        if name is None:
            continue
        value = str(variables.get(name, ""))
        out.append(value if i == 0 and not literal else quote(value, safe=""))
    return "".join(out)


def render_json(value: Any, render: Callable[[str], str]) -> Any:
    """A JSON body whose strings are templates."""
    if isinstance(value, str):
        return render(value)
    if isinstance(value, dict):
        return {k: render_json(v, render) for k, v in value.items()}
    if isinstance(value, list):
        return [render_json(v, render) for v in value]
    return value
