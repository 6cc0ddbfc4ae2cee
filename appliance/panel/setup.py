"""The Setup page's box side (``web.service.SetupService``): the shop's name, time zone and calling preset; where
each helpdesk sends its tickets and with which secret; a test ticket through the box's own intake that phones
nobody; a signed test message to each target the box sends to, its answer in a code the panel puts in words.

The shop's answers are written to the config file through the Settings page's writer (``write``: ``[shop] name``
and ``time_zone``, applied at the next start; ``[calling] preset``, applied at once) and kept in the configuration
store (``settings`` key ``shop``) to show on Setup. A box without a config file to write keeps them in the store
only.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import available_timezones

from standardwebhooks.webhooks import Webhook

from appliance.config import CALLING_PRESETS, HelpdesksConfig
from appliance.errors import AccessInvalid, CallboxError, SettingInvalid
from appliance.panel.rules import RulesAdmin
from appliance.records.config_store import ConfigStore

log = logging.getLogger(__name__)

__all__ = ["SetupAdmin", "Target"]

SHOP_SETTING = "shop"
TEST_TIMEOUT_S = 5.0
MAX_SHOP_NAME = 80
TEST_PHONE = "+15005550006"  # a reserved test number; the test ticket is skipped by the rules, never dialled
HELPDESK_HOW = {  # how each helpdesk proves a delivery (web/helpdesks.py)
    "native": "standard_webhooks", "zendesk": "zendesk_signature", "freshdesk": "freshdesk_header",
    "zammad": "zammad_signature",
}


@dataclass(frozen=True)
class Target:
    """Somewhere the box sends to: the ticket callback ([web] callback_url) or the upstream records ([upstream])."""

    name: str
    url: str
    secret: str = field(repr=False)


class SetupAdmin:
    def __init__(self, *, configs: ConfigStore, shop: Mapping[str, str], webhook_secret: str,
                 helpdesks: HelpdesksConfig | None, targets: list[Target],
                 admit: Callable[[dict[str, Any], str], dict[str, Any]], rules: RulesAdmin,
                 write: Callable[[str, Mapping[str, str]], Any] | None = None) -> None:
        self.configs = configs
        self.write = write  # (section, {dotted key: form value}) -> the settings writer's answer; raises SettingInvalid
        self.defaults = dict(shop)  # name, time_zone, preset from the config file
        self.webhook_secret = webhook_secret
        self.helpdesks = helpdesks or HelpdesksConfig()
        self.targets = {t.name: t for t in targets}
        self.admit = admit
        self.rules = rules

    # -- the shop ------------------------------------------------------------------
    def presets(self) -> list[str]:
        return list(CALLING_PRESETS)

    def shop(self) -> dict[str, str]:
        """``{name, time_zone, preset}``: the answers given on Setup, else the config file's."""
        stored = self.configs.setting(SHOP_SETTING)
        return {**self.defaults, **(stored if isinstance(stored, dict) else {})}

    def check_shop(self, *, name: str, time_zone: str, preset: str) -> dict[str, str]:
        """The answers as they would be stored; raises ``AccessInvalid`` naming the field for one it cannot use."""
        name = " ".join(name.split())
        if not name or len(name) > MAX_SHOP_NAME:
            raise AccessInvalid(f"the shop's name is 1 to {MAX_SHOP_NAME} characters", code="bad_shop_name",
                                field="shop_name")
        if time_zone not in available_timezones():
            raise AccessInvalid(f"unknown time zone {time_zone!r}", code="bad_time_zone", field="time_zone")
        if preset not in CALLING_PRESETS:
            raise AccessInvalid(f"preset must be one of {', '.join(CALLING_PRESETS)}", code="bad_preset",
                                field="preset")
        return {"name": name, "time_zone": time_zone, "preset": preset}

    def save_shop(self, *, name: str, time_zone: str, preset: str) -> tuple[dict[str, str], dict[str, str]]:
        """(before, after); raises ``AccessInvalid`` naming the field and stores nothing for a value it cannot use."""
        after = self.check_shop(name=name, time_zone=time_zone, preset=preset)
        before = self.shop()
        if self.write is not None:  # the config file first: a value it refuses stores nothing anywhere
            try:
                self.write("shop", {"shop.name": after["name"], "shop.time_zone": after["time_zone"]})
                self.write("calling", {"calling.preset": after["preset"]})
            except SettingInvalid as exc:
                field = {"shop.name": "shop_name", "shop.time_zone": "time_zone"}.get(exc.field, "preset")
                raise AccessInvalid(f"{exc.field} {exc.message}", code="not_saved", field=field) from None
        self.configs.set_setting(SHOP_SETTING, after)
        return before, after

    # -- tickets in ----------------------------------------------------------------
    def webhooks(self) -> list[dict[str, Any]]:
        """Each way tickets come in: ``{helpdesk, path, secret, how}`` (``secret`` "" = not connected)."""
        hooks = [{"helpdesk": "native", "path": "/api/v1/tickets", "secret": self.webhook_secret,
                  "how": HELPDESK_HOW["native"]}]
        for name, settings in self.helpdesks.by_name().items():
            hooks.append({"helpdesk": name, "path": f"/api/v1/tickets/{name}", "secret": settings.secret,
                          "how": HELPDESK_HOW.get(name, "")})
        return hooks

    def test_ticket(self) -> dict[str, Any]:
        """A ticket through the box's own intake, as a helpdesk would send it, that no rule calls: the rules'
        dry run decides first, and a ticket they would call is not sent. ``{sent, ticket, decision, reason}``."""
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        ticket_id = f"setup-test-{stamp}-{secrets.token_hex(2)}"
        payload = {"id": ticket_id, "type": "setup_test", "subject": "Test ticket from the Setup page",
                   "description": "Sent by the Setup page to show that tickets arrive; no one is called.",
                   "customer": {"name": "Test customer", "phone": TEST_PHONE},
                   "order": {"id": "TEST", "status": "test"}}
        dry = self.rules.test_ticket(payload)
        if dry.get("decision") == "call":
            return {"sent": False, "ticket": ticket_id, "decision": "call", "reason": str(dry.get("reason", ""))}
        answer = self.admit(payload, f"setup:{ticket_id}")
        return {"sent": True, "ticket": answer.get("ticket", ticket_id), "decision": answer.get("decision"),
                "reason": answer.get("reason", "")}

    # -- where the box sends to ------------------------------------------------------
    def target_list(self) -> list[dict[str, str]]:
        return [{"name": t.name, "url": t.url} for t in self.targets.values()]

    def test_target(self, name: str) -> dict[str, Any]:
        """POST a signed ``callbox.test`` message to the target; ``{name, url, result, status, ms}`` where
        ``result`` is ``ok`` | ``refused_signature`` | ``http_error`` | ``refused`` | ``timeout`` |
        ``unknown_host`` | ``error``. The secret is never logged."""
        target = self.targets.get(name)
        if target is None:
            raise CallboxError(f"no target {name}")
        body = json.dumps({"type": "callbox.test", "at": datetime.now(UTC).isoformat()}).encode()
        msg_id = "msg_test_" + secrets.token_hex(8)
        now = datetime.now(UTC)
        headers = {"Content-Type": "application/json", "webhook-id": msg_id,
                   "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": Webhook(target.secret).sign(msg_id, now, body) if target.secret else ""}
        request = urllib.request.Request(target.url, data=body, headers=headers, method="POST")
        started = time.monotonic()
        status: int | None = None
        try:
            with urllib.request.urlopen(request, timeout=TEST_TIMEOUT_S) as response:
                status = response.status
            result = "ok"
        except urllib.error.HTTPError as exc:
            status = exc.code
            result = "refused_signature" if exc.code in (401, 403) else "http_error"
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, socket.timeout | TimeoutError):
                result = "timeout"
            elif isinstance(reason, socket.gaierror):
                result = "unknown_host"
            elif isinstance(reason, ConnectionRefusedError):
                result = "refused"
            else:
                result = "error"
        except TimeoutError:
            result = "timeout"
        except (OSError, ValueError):
            result = "error"
        ms = round((time.monotonic() - started) * 1000)
        log.info("setup: test message to the %s target answered %s (%s) in %d ms", name, result, status, ms)
        return {"name": name, "url": target.url, "result": result, "status": status, "ms": ms}
