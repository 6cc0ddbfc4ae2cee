"""The narrow interface through which the web layer reaches the core.

The web layer never opens a serial port, a model or a database: everything it
shows or changes goes through an object satisfying :class:`PanelService`,
handed to :func:`web.create_app`. ``appliance.panel.service.BoxPanel`` is the real one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol


class FlowService(Protocol):
    """What the panel does with flows (``appliance.panel.flows.FlowAdmin`` is the real one)."""

    def list_flows(self) -> list[dict[str, Any]]:
        """Each published flow's latest version: id, name, language, description, version, versions, nodes."""
        ...

    def flow_document(self, flow_id: str, version: int | None = None) -> tuple[int, dict[str, Any]] | None:
        """(version, document) of a published flow (the latest without ``version``), or None."""
        ...

    def flow_versions(self, flow_id: str) -> list[int]:
        """The published version numbers of a flow, oldest first."""
        ...

    def check_document(self, document: Any) -> list[dict[str, Any]]:
        """Every problem of a flow document: [{"node", "field", "message", "text"}]; empty = publishable."""
        ...

    def publish_document(self, document: Any) -> int:
        """Publish a checked document as a new version; raises ``appliance.errors.FlowRejected`` (with
        ``.problems``) and stores nothing when it has problems."""
        ...

    def graph_svg(self, flow_id: str, version: int | None = None) -> str | None:
        """The flow drawn as SVG, or None when there is no such flow."""
        ...

    def try_flow(self, flow_id: str, *, variables: dict[str, str], says: Sequence[str],
                 version: int | None = None) -> dict[str, Any] | None:
        """A text conversation with a published flow, shaped like ``callbox flow try --json``."""
        ...


class PanelService(Protocol):
    webhook_secret: str  # Standard Webhooks secret, "whsec_<base64>"

    @property
    def flows(self) -> FlowService:
        """The Flows pages and their API."""
        ...

    def submit_ticket(self, payload: dict[str, Any], *, webhook_id: str) -> dict[str, Any]:
        """Validate, store (committed before returning), decide.

        Returns ``{"ticket": <ticket id>, "decision": "call"|"skip", "reason": str,
        "task": <task id or None>, "duplicate": bool, "change": "new"|"duplicate"|"updated"|"cancelled"|
        "reopened"|"stale", "updated": bool, "cancelled_task": <task id or None>}``. Raises
        ``appliance.errors.TicketInvalid(message, field=...)`` for a missing or invalid field.
        """
        ...

    def list_calls(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first. Each: id, ticket_id, phone, customer_name, started_at (ISO), outcome,
        disposition, duration_s, remark, turns: [{"speaker": "bot"|"customer", "text": str}],
        has_recording: bool."""
        ...

    def get_call(self, call_id: int) -> dict[str, Any] | None:
        """One call shaped like an item of :meth:`list_calls`, or None."""
        ...

    def recording_path(self, call_id: int) -> Path | None:
        """The WAV file of a call, or None if it has none."""
        ...

    def list_tickets(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """Each: id, subject, customer_name, phone, status ("open"|"calling"|"scheduled"|"closed"|
        "skipped"), decision, reason, next_call_at, remarks: [str]."""
        ...

    def verify_login(self, username: str, password: str) -> bool:
        """True if the admin credentials are right."""
        ...

    def status(self) -> dict[str, Any]:
        """``{"lines": [{"name", "state", "fault"?}], "asr": {"engine", "fallback_reason"}, "version"}``."""
        ...

    # -- the do-not-call list ----------------------------------------------------

    def do_not_call_list(self) -> list[dict[str, Any]]:
        """Numbers that asked not to be called again, newest first: phone, added_at, reason, ticket_id, call_id."""
        ...

    def remove_do_not_call(self, phone: str) -> bool:
        """Take a number off the list (an admin's decision); False if it was not on it."""
        ...
