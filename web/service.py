"""The narrow interface through which the web layer reaches the core.

The web layer never opens a serial port, a model or a database: everything it
shows or changes goes through an object satisfying :class:`PanelService`,
handed to :func:`web.create_app`. ``appliance.service`` provides the real one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol


class PanelService(Protocol):
    webhook_secret: str  # Standard Webhooks secret, "whsec_<base64>"

    def submit_ticket(self, payload: dict[str, Any], *, webhook_id: str) -> dict[str, Any]:
        """Validate, store (committed before returning), decide.

        Returns ``{"ticket": <ticket id>, "decision": "call"|"skip", "reason": str,
        "task": <task id or None>, "duplicate": bool}``. Raises
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
