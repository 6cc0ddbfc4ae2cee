"""Helpdesk adapters: pure functions from a Zendesk, Freshdesk or Zammad webhook body (and the owner's field
mapping) to the native ticket payload, which then takes the native path (``campaign.intake.admit``).
Signatures and delivery ids are the HTTP side's business (``web/helpdesks.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from appliance.campaign.adapters.common import FieldMapping
from appliance.campaign.adapters.freshdesk import freshdesk_ticket
from appliance.campaign.adapters.zammad import zammad_ticket
from appliance.campaign.adapters.zendesk import zendesk_ticket

Adapter = Callable[[dict[str, Any], FieldMapping], dict[str, Any]]

ADAPTERS: dict[str, Adapter] = {"zendesk": zendesk_ticket, "freshdesk": freshdesk_ticket, "zammad": zammad_ticket}

__all__ = ["ADAPTERS", "Adapter", "FieldMapping", "freshdesk_ticket", "zammad_ticket", "zendesk_ticket"]
