"""A text message to a customer the box could not reach, after the task's last failed attempt.

The template comes from the flow (``"unreachable_text"`` in its document; an
empty string turns texts off for that flow) or else from ``[sms]
unreachable_text`` in the config (empty: off). It is sent through the line
that just made the attempt, or, if that line is not ready (it faulted),
through another line that is ready. Sent or not, the ticket gets an
operation, and the ticketing system hears of it through the outbox: ``sms``
with the text when the network took it, ``remark`` saying why not otherwise.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from appliance.campaign.remarks import ENGLISH, Remarks
from appliance.config import SmsConfig
from appliance.errors import CallboxError, ConfigError
from appliance.records.store import RecordsStore, Ticket
from appliance.telephony.ports import LinePort

log = logging.getLogger(__name__)

VARIABLES = ("name", "order_id", "shop", "subject")

# (line, number, text) -> message references; by default the line's own send_text with the configured timeout
SendText = Callable[[LinePort, str, str], list[int]]


@dataclass(frozen=True)
class TextResult:
    sent: bool
    text: str
    line: str | None
    references: tuple[int, ...] = ()
    error: str | None = None


def template_fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def render_text(template: str, variables: Mapping[str, str]) -> str:
    """Fill ``{name}``-style fields; a field with no value becomes empty rather than failing."""
    values = {k: v for k, v in variables.items() if v is not None}
    return " ".join(template.format_map(_Blank(values)).split())


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


class UnreachableTexts:
    """Sends and records the text to a customer the campaign gave up on."""

    def __init__(
        self,
        config: SmsConfig,
        *,
        lines: Sequence[LinePort] = (),
        shop_name: str = "the shop",
        send: SendText | None = None,
    ) -> None:
        bad = template_fields(config.unreachable_text) - set(VARIABLES)
        if bad:
            raise ConfigError(
                f"unknown field(s) {', '.join(sorted(bad))}; use {', '.join(VARIABLES)}", key="sms.unreachable_text"
            )
        self.config = config
        self.lines = list(lines)
        self.shop_name = shop_name
        self.send: SendText = send or (
            lambda line, number, text: line.send_text(number, text, submit_timeout_s=config.submit_timeout_s))

    def template_for(self, flow_document: Mapping[str, Any] | None) -> str:
        if flow_document is not None and "unreachable_text" in flow_document:
            return str(flow_document["unreachable_text"])
        return self.config.unreachable_text

    def text_for(self, ticket: Ticket, flow_document: Mapping[str, Any] | None) -> str:
        template = self.template_for(flow_document)
        if not template.strip():
            return ""
        return render_text(template, ticket.variables(self.shop_name))

    def deliver(self, line: LinePort, number: str, text: str) -> TextResult:
        """Send through ``line`` if it is ready, else through the first other ready line."""
        candidates = [line, *(other for other in self.lines if other is not line)]
        errors = []
        for candidate in candidates:
            if not candidate.ready:
                continue
            try:
                refs = self.send(candidate, number, text)
            except (CallboxError, ValueError) as exc:
                log.warning("text to %s on line %s failed: %s", number, candidate.name, exc)
                errors.append(f"{candidate.name}: {exc}")
                if isinstance(exc, ValueError):
                    break  # the number or the text is wrong: no other line will do better
                continue
            return TextResult(True, text, candidate.name, tuple(refs))
        return TextResult(False, text, None, error="; ".join(errors) or "no line was ready")

    def after_unreachable(
        self,
        records: RecordsStore,
        *,
        ticket: Ticket,
        call_id: int,
        line: LinePort,
        flow_document: Mapping[str, Any] | None,
        remarks: Remarks = ENGLISH,
    ) -> TextResult | None:
        """Text the customer (if a template is set) and record it (a text not sent: a remark in ``remarks``'
        language); None when texts are off."""
        text = self.text_for(ticket, flow_document)
        if not text:
            return None
        try:
            result = self.deliver(line, ticket.customer_phone, text)
        except Exception as exc:  # an encoder or driver bug must still leave a trace on the ticket
            log.exception("call %s: text to %s failed", call_id, ticket.customer_phone)
            result = TextResult(False, text, None, error=f"{type(exc).__name__}: {exc}")
        event: dict[str, Any] = {"ticket": ticket.id, "call": call_id, "to": ticket.customer_phone}
        if result.sent:
            log.info("call %s: texted %s on %s (references %s)", call_id, ticket.customer_phone, result.line,
                     list(result.references))
            event |= {"operation": "sms", "detail": text, "line": result.line, "references": list(result.references)}
            records.add_operation(ticket.id, "sms", text, outbox=event)
        else:
            remark = remarks.phrase("Text message to {phone} not sent: {error}.", phone=ticket.customer_phone,
                                    error=result.error)
            log.warning("call %s: %s", call_id, remark)
            event |= {"operation": "remark", "detail": remark}
            records.add_operation(ticket.id, "remark", remark, outbox=event)
        return result
