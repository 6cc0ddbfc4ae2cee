"""What the panel does with flows: list, check, publish, export, draw, and try them in text.

The shop owner has no terminal, so everything ``callbox flow validate|try|graph``
does is here too, over the published versions in the config store. Checking
lists every problem at once (node, field, message); publishing refuses a
document with any problem, or with a variable that no ticket field, default or
``"from": "vars"`` supplies, and changes nothing; trying a flow runs it in text
exactly as ``callbox flow try`` does (same engine, same conventions for a
customer turn: an empty line is silence, ``#1`` presses a key, ``!`` talks over
the bot).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from appliance.dialog.flow.load import parse_flow
from appliance.dialog.flow.model import Flow
from appliance.dialog.flow.parse import check_flow
from appliance.dialog.runtime.api_client import HttpClient
from appliance.dialog.runtime.rehearsal import converse, result_json
from appliance.errors import FlowError, FlowRejected
from appliance.records.config_store import ConfigStore
from appliance.records.ticket import STANDARD_VARIABLES

__all__ = ["FlowAdmin", "FlowRejected", "publish_problems", "unsupplied_problems"]

log = logging.getLogger(__name__)

MAX_TRY_TURNS = 40


def problem_dict(problem: FlowError) -> dict[str, Any]:
    message = str(problem)
    where = ".".join(p for p in (problem.node, problem.field) if p)
    if where and message.startswith(where + ": "):
        message = message[len(where) + 2 :]
    return {"node": problem.node, "field": problem.field, "message": message, "text": str(problem)}


def unsupplied_problems(flow: Flow) -> list[FlowError]:
    """A variable of the flow that no ticket field, default or ``"from": "vars"`` supplies: every call of it would
    be blocked (``missing_variable``), so publishing refuses it; ``callbox flow validate`` warns."""
    return [FlowError(f"{name!r} is not a ticket field ({', '.join(STANDARD_VARIABLES)}): give it a default or "
                      '"from": "vars"', field=f"variables.{name}")
            for name in flow.declared.unsupplied(STANDARD_VARIABLES)]


def publish_problems(document: Any) -> list[FlowError]:
    """What keeps a document from being published: its problems, then variables nothing supplies."""
    flow, problems = check_flow(document)
    return problems + (unsupplied_problems(flow) if flow is not None else [])


class FlowAdmin:
    """Flows as the panel sees them. ``publish`` stores a checked document (the box's own publish,
    which also renders its prompts); ``http`` is the API nodes' client when a flow is tried."""

    def __init__(self, configs: ConfigStore, publish: Callable[[dict[str, Any]], int], *,
                 http: HttpClient | None = None) -> None:
        self.configs = configs
        self._publish = publish
        self._http = http

    def list_flows(self) -> list[dict[str, Any]]:
        """Each published flow's latest version: id, name, language, description, version, versions, nodes."""
        out: list[dict[str, Any]] = []
        for flow_id in self.configs.flow_ids():
            found = self.configs.flow(flow_id)
            if found is None:
                continue
            version, doc = found
            out.append({
                "id": flow_id,
                "name": doc.get("name") or flow_id,
                "language": doc.get("language", ""),
                "description": doc.get("description", ""),
                "version": version,
                "versions": self.configs.flow_versions(flow_id),
                "nodes": len(doc.get("nodes") or {}),
            })
        return out

    def flow_document(self, flow_id: str, version: int | None = None) -> tuple[int, dict[str, Any]] | None:
        return self.configs.flow(flow_id, version)

    def flow_versions(self, flow_id: str) -> list[int]:
        return self.configs.flow_versions(flow_id)

    def check_document(self, document: Any) -> list[dict[str, Any]]:
        """Every problem of a flow document (empty when it can be published)."""
        return [problem_dict(p) for p in publish_problems(document)]

    def publish_document(self, document: Any) -> int:
        """Publish a new version; raises :class:`FlowRejected` (nothing stored) when it has problems."""
        problems = publish_problems(document)
        if problems:
            raise FlowRejected(problems)
        version = self._publish(document)
        log.info("flow %s published as version %d from the panel", document.get("id"), version)
        return version

    def graph_svg(self, flow_id: str, version: int | None = None) -> str | None:
        from appliance.dialog.flow.svg import flow_svg

        found = self.configs.flow(flow_id, version)
        return flow_svg(parse_flow(found[1])) if found is not None else None

    def try_flow(self, flow_id: str, *, variables: dict[str, str], says: Sequence[str],
                 version: int | None = None) -> dict[str, Any] | None:
        """Run a published flow over scripted customer turns; the ``callbox flow try --json`` result."""
        found = self.configs.flow(flow_id, version)
        if found is None:
            return None
        flow = parse_flow(found[1])
        filled = flow.declared.values(variables)
        filled |= {name: f"<{name}>" for name in flow.declared.missing(filled)}  # neither given nor a default
        run = converse(flow, filled, list(says)[:MAX_TRY_TURNS], http=self._http)
        result = result_json(run)
        result["version"] = found[0]
        result["variables"] = filled
        return result
