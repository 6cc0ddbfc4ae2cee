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
from appliance.dialog.flow.settings import parse_voice
from appliance.dialog.runtime.api_client import HttpClient
from appliance.dialog.runtime.rehearsal import converse, result_json
from appliance.errors import CallboxError, FlowError, FlowRejected
from appliance.panel.flow_console import flow_usage, stored_scenarios, try_variables
from appliance.panel.voice import VoiceAdmin, VoiceChoice
from appliance.records.config_store import ConfigStore
from appliance.records.ticket import STANDARD_VARIABLES, Ticket

__all__ = ["FlowAdmin", "FlowNotFound", "FlowRejected", "publish_problems", "unsupplied_problems"]

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
                 http: HttpClient | None = None,
                 render_progress: Callable[[str], dict[str, Any] | None] | None = None,
                 voice: VoiceAdmin | None = None,
                 tickets: Callable[[str], Ticket | None] | None = None,
                 recent_tickets: Callable[..., list[Ticket]] | None = None,
                 shop_name: str = "the shop") -> None:
        self.configs = configs
        self._publish = publish
        self._http = http
        self._render_progress = render_progress  # the prerender thread's (campaign.publish.FlowPublisher)
        self.voice = voice or VoiceAdmin(None)  # the Voice page: voices, models, previews
        self._tickets = tickets  # a stored ticket by id, for the try console's variables
        self._recent = recent_tickets  # the newest tickets (``limit=``), one query, for its picker
        self.shop_name = shop_name

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

    # -- the console's Flows and Voice pages ------------------------------------------
    def usage(self) -> dict[str, dict[str, list[str]]]:
        """flow id -> ``{"scenarios": [...], "rules": [...]}`` that use it."""
        return flow_usage(self.configs)

    def rollback(self, flow_id: str, version: int) -> int:
        """Publish ``version`` again as the flow's newest version (checked as any publish; all or nothing).
        Raises :class:`FlowNotFound` for an unknown version, :class:`FlowRejected` when it can no longer be
        published, and :class:`FlowError` when it already is the newest."""
        found = self.configs.flow(flow_id, version)
        latest = self.configs.flow(flow_id)
        if found is None or latest is None:
            raise FlowNotFound(flow_id, version)
        if found[0] == latest[0]:
            raise FlowError(f"version {version} is already the newest")
        if found[1] == latest[1]:
            raise FlowError(f"version {version} is the same as the newest, version {latest[0]}")
        new = self.publish_document(found[1])
        log.info("flow %s: version %d published again as version %d", flow_id, version, new)
        return new

    def render_progress(self, flow_id: str) -> dict[str, Any] | None:
        """The prerendering of the flow's prompts after its last publish here (``{version, state, done, total,
        error}``), or None when nothing is rendered ahead."""
        return self._render_progress(flow_id) if self._render_progress is not None else None

    def set_voice(self, flow_id: str, voice: dict[str, Any] | None) -> int:
        """Publish the flow's latest version with ``voice`` (its ``"voice"`` object; None or {}: the box's
        default) as a new version; the new version's prompts render with it. Raises :class:`FlowError`
        (``field`` ``voice.*``) for a bad setting or a voice that is not installed."""
        latest = self.configs.flow(flow_id)
        if latest is None:
            raise FlowNotFound(flow_id, None)
        document = dict(latest[1])
        if voice:
            parse_voice(voice)
            choice = VoiceChoice(voice.get("name"), voice.get("speaker"), voice.get("length_scale"),
                                 voice.get("volume"))
            try:
                self.voice.check(choice)
            except CallboxError as exc:
                raise FlowError(str(exc), field=f"voice.{getattr(exc, 'field', 'name')}") from None
            document["voice"] = voice
        else:
            document.pop("voice", None)
        if document == latest[1]:
            return latest[0]
        return self.publish_document(document)

    def recent_tickets(self, limit: int = 20) -> list[dict[str, str]]:
        """The newest stored tickets to try a flow with: ``[{id, customer_name, subject}]``."""
        if self._recent is None:
            return []
        return [{"id": t.id, "customer_name": t.customer_name, "subject": t.subject}
                for t in self._recent(limit=limit)]

    def try_variables(self, flow_id: str, *, scenario: str | None = None,
                      ticket: str | None = None) -> dict[str, Any] | None:
        """The variables to try the flow with, as a call on ``ticket`` (a stored ticket's id; else a sample
        ticket) through ``scenario`` (a name; else the first scenario of this flow) would have them:
        ``{variables, missing, ticket, sample, scenario, scenarios}``; None for an unknown flow. Raises
        :class:`FlowError` (``field`` ``ticket`` or ``scenario``) for one that does not exist."""
        found = self.configs.flow(flow_id)
        if found is None:
            return None
        flow = parse_flow(found[1])
        mine = [s for s in stored_scenarios(self.configs) if s.flow == flow_id]
        chosen = next((s for s in mine if s.name == scenario), None) if scenario else (mine[0] if mine else None)
        if scenario and chosen is None:
            raise FlowError(f"no scenario {scenario!r} calls this flow", field="scenario")
        stored: Ticket | None = None
        if ticket:
            stored = self._tickets(ticket) if self._tickets is not None else None
            if stored is None:
                raise FlowError(f"there is no ticket {ticket!r}", field="ticket")
        return try_variables(flow, scenario=chosen, ticket=stored, shop=self.shop_name,
                             scenarios=[s.name for s in mine])


class FlowNotFound(FlowError):
    """No such published flow (or version of it)."""

    def __init__(self, flow_id: str, version: int | None) -> None:
        super().__init__(f"there is no published flow {flow_id!r}" + (f" version {version}" if version else ""))
        self.flow_id = flow_id
        self.version = version
