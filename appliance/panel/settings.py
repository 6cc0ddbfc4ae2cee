"""The Settings and QA pages' service: the keys of /etc/callbox/callbox.toml an owner may change from the panel,
where each value comes from (the file, the default, the environment), and the change itself: typed from the form,
validated whole by the loader before the file is written (``appliance.config_edit``), then applied to the running
box where it can be (``apply``: calling hours and caps, retention and quota, the SMS text, the QA tags) or marked
"applies after a restart" (upstream, MQTT, where ticket operations go).

Environment overrides win over the file (``config.apply_environment``): such a key is shown with its variable and
is refused here. Secrets (passwords, signing keys) are never shown; an empty field keeps the stored one.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from appliance.campaign.texts import UnreachableTexts
from appliance.config import CALLING_PRESETS, Config, apply_environment, check_webhook_secret
from appliance.config_edit import ConfigFile
from appliance.errors import ConfigError, SettingInvalid
from appliance.files import write_atomic

log = logging.getLogger(__name__)

__all__ = ["SECTIONS", "Field", "SettingsAdmin", "WebhookSecret"]

SECRET_SHOWN = "(set)"  # what the page and the audit log show of a secret that is set


@dataclass(frozen=True)
class Field:
    """One key of the config file on a page. ``kind``: text | textarea | int | float | bool | choice | secret |
    pairs (``[qa] opposite_intents``, one ``a / b`` a line); ``env``: the variable that overrides it."""

    key: str
    kind: str = "text"
    choices: tuple[str, ...] = ()
    env: str | None = None

    @property
    def section(self) -> str:
        return self.key.split(".", 1)[0]


# section -> (its fields, whether the running box takes a change at once)
SECTIONS: dict[str, tuple[tuple[Field, ...], bool]] = {
    # the shop's name (spoken in flows and texts) and time zone: written by the first-run Setup page; they apply
    # after a restart (the flows' prompts and the day's boundaries are made from them at start)
    "shop": ((Field("shop.name"), Field("shop.time_zone")), False),
    "calling": ((Field("calling.preset", "choice", CALLING_PRESETS), Field("calling.hours"),
                 Field("calling.max_per_day", "int")), True),
    "recordings": ((Field("recordings.retention_days", "int"), Field("recordings.quota_mb", "int"),
                    Field("recordings.min_free_mb", "int")), True),
    "sms": ((Field("sms.unreachable_text", "textarea"),), True),
    "upstream": ((Field("web.callback_url", env="CALLBOX_UPSTREAM_URL"), Field("upstream.url"),
                  Field("upstream.secret", "secret"), Field("upstream.send_recordings", "bool"),
                  Field("upstream.timeout_s", "float")), False),
    "mqtt": ((Field("mqtt.enabled", "bool"), Field("mqtt.host"), Field("mqtt.port", "int"), Field("mqtt.username"),
              Field("mqtt.password", "secret"), Field("mqtt.tls", "bool"), Field("mqtt.topic_prefix"),
              Field("mqtt.discovery_prefix"), Field("mqtt.client_id")), False),
    "qa": ((Field("qa.asr_error", "bool"), Field("qa.min_asr_confidence", "float"), Field("qa.intent_error", "bool"),
            Field("qa.min_intent_margin", "float"), Field("qa.opposite_intents", "pairs"),
            Field("qa.intent_not_triggered", "bool"), Field("qa.long_silence", "bool"),
            Field("qa.long_silence_s", "float"), Field("qa.barge_in", "bool"), Field("qa.fallback_used", "bool"),
            Field("qa.hung_up_mid_flow", "bool")), True),
}


def value_of(config: Config, key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        node = getattr(node, part)
    return node


def _shown(field: Field, value: Any) -> Any:
    """A value as the page and the audit log may show it."""
    if field.kind == "secret":
        return SECRET_SHOWN if value else ""
    if field.kind == "pairs":
        return "\n".join(f"{a} / {b}" for a, b in value)
    return value


def parse_value(field: Field, raw: str | None) -> Any:
    """A form's text as the key's type; ``SettingInvalid`` naming the key when it is not one."""
    text = (raw or "").strip()
    try:
        if field.kind == "bool":
            return raw is not None and text.lower() in ("on", "true", "1", "yes")
        if field.kind == "int":
            return int(text)
        if field.kind == "float":
            return float(text)
    except ValueError:
        what = "a whole number" if field.kind == "int" else "a number"
        raise SettingInvalid(f"must be {what}, not {text[:40]!r}", field=field.key) from None
    if field.kind == "choice" and text not in field.choices:
        raise SettingInvalid(f"must be one of {', '.join(field.choices)}", field=field.key)
    if field.kind == "pairs":
        pairs = []
        for line in filter(None, (ln.strip() for ln in text.splitlines())):
            first, sep, second = line.partition("/")
            if not sep:
                raise SettingInvalid(f"write one pair a line as 'confirm / not_home', not {line[:40]!r}",
                                     field=field.key)
            pairs.append((first.strip(), second.strip()))
        return tuple(pairs)
    return text if field.kind != "textarea" else (raw or "").strip()


class WebhookSecret:
    """The native webhook's signing secret (``whsec_…``): from ``CALLBOX_WEBHOOK_SECRET``, ``[web]
    webhook_secret`` in the config file, or the state dir's ``webhook-secret`` file (made on first start).
    Rotating writes a new one where it is kept and tells the box (``on_rotate``): the old one is refused from then
    on."""

    def __init__(self, *, env: Mapping[str, str], file: ConfigFile, state_file: Path,
                 on_rotate: Callable[[str], None]) -> None:
        self.env = env
        self.file = file
        self.state_file = state_file
        self.on_rotate = on_rotate
        self._lock = threading.Lock()

    @property
    def source(self) -> str:
        """``environment`` | ``file`` | ``state``."""
        if self.env.get("CALLBOX_WEBHOOK_SECRET"):
            return "environment"
        return "file" if self.file.has("web.webhook_secret") else "state"

    def rotate(self) -> str:
        """A new secret, written and in force; ``SettingInvalid`` when the environment sets it."""
        with self._lock:
            if self.source == "environment":
                raise SettingInvalid("is set by the environment (CALLBOX_WEBHOOK_SECRET) and cannot be changed "
                                     "here", field="web.webhook_secret")
            new = check_webhook_secret("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
                                       key="web.webhook_secret")
            if self.source == "file":
                self.file.change({"web.webhook_secret": new})
            else:
                write_atomic(self.state_file, (new + "\n").encode("ascii"), sync_dir=True)
            self.on_rotate(new)
            log.info("the webhook secret was rotated (kept in the %s)", self.source)
            return new


class SettingsAdmin:
    """What the Settings and QA pages read and change. ``current``: the config the box runs with; ``apply``: takes
    a changed config into the running box (live sections only)."""

    def __init__(self, *, file: ConfigFile, current: Config, env: Mapping[str, str],
                 apply: Callable[[Config], None], webhook: WebhookSecret) -> None:
        self.file = file
        self.current = current
        self.env = env
        self.apply = apply
        self.webhook = webhook
        self._saved: set[str] = set()  # restart sections changed since the box started

    def overridden(self, field: Field) -> bool:
        return field.env is not None and bool(self.env.get(field.env))

    def section(self, name: str) -> dict[str, Any]:
        """``{name, live, restart_pending, fields: [{key, kind, value, source, env, choices}]}``; ``source``:
        environment | file | default."""
        fields, live = SECTIONS[name]
        out = []
        for f in fields:
            source = "environment" if self.overridden(f) else "file" if self.file.has(f.key) else "default"
            out.append({"key": f.key, "kind": f.kind, "value": _shown(f, value_of(self.current, f.key)),
                        "source": source, "env": f.env, "choices": list(f.choices)})
        return {"name": name, "live": live, "restart_pending": name in self._saved, "fields": out}

    def sections(self) -> dict[str, dict[str, Any]]:
        return {name: self.section(name) for name in SECTIONS}

    def update(self, name: str, form: Mapping[str, str]) -> dict[str, Any]:
        """Save a section's form: ``{"changes": {key: {"before", "after"}}, "live": bool}`` (empty changes: nothing
        differed, nothing written). Raises ``SettingInvalid`` naming the key, with the file unchanged."""
        if name not in SECTIONS:
            raise SettingInvalid("is not a section of the settings", field=name)
        fields, live = SECTIONS[name]
        values: dict[str, Any] = {}
        changes: dict[str, dict[str, Any]] = {}
        for f in fields:
            raw = form.get(f.key)
            if raw is None and f.kind != "bool":
                continue  # not on the form: unchanged (an unticked box is not sent: off)
            if f.kind == "secret" and not (raw or "").strip():
                continue  # an empty secret field keeps the stored one
            before = value_of(self.current, f.key)
            if self.overridden(f):
                if raw is not None and raw.strip() != str(before):
                    raise SettingInvalid(f"is set by the environment ({f.env}) and cannot be changed here",
                                         field=f.key)
                continue
            after = parse_value(f, raw)
            if after != before:
                values[f.key] = after
                changes[f.key] = {"before": _shown(f, before), "after": _shown(f, after)}
        if not values:
            return {"changes": {}, "live": live}
        saved = self.file.change(values, check=_extra_checks)
        self.current = _merge(self.current, apply_environment(saved, self.env), {f.section for f in fields})
        if live:
            self.apply(self.current)
        else:
            self._saved.add(name)
        log.info("settings %s changed: %s", name, ", ".join(changes))
        return {"changes": changes, "live": live}


def _merge(running: Config, saved: Config, sections: set[str]) -> Config:
    """The running config with the saved file's values for ``sections`` (the rest, e.g. the state dir given on the
    command line, stays as the box started)."""
    return dataclasses.replace(running, **{s: getattr(saved, s) for s in sections})


def _extra_checks(config: Config) -> None:
    """What the loader alone leaves to the parts that use a value."""
    url = config.web.callback_url
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingInvalid(f"{url!r} is not an http(s) URL", field="web.callback_url")
    try:
        UnreachableTexts(config.sms)  # refuses a template with an unknown {field}
    except ConfigError as exc:
        raise SettingInvalid(str(exc).split(": ", 1)[-1], field="sms.unreachable_text") from None
