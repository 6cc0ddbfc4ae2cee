"""The narrow interface through which the web layer reaches the core.

The web layer never opens a serial port, a model or a database: everything it
shows or changes goes through an object satisfying :class:`PanelService`,
handed to :func:`web.create_app`. ``appliance.panel.service.BoxPanel`` is the real one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
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

    # -- the console's Flows and Voice pages (appliance.panel.flows, appliance.panel.voice) ------------
    def usage(self) -> dict[str, dict[str, list[str]]]:
        """flow id -> ``{"scenarios": [names], "rules": [names]}`` that use it."""
        ...

    def rollback(self, flow_id: str, version: int) -> int:
        """Publish an older version again as the newest; the new version number. Raises
        ``appliance.errors.FlowError`` (``FlowNotFound``, ``FlowRejected``, or already the newest), nothing
        changed."""
        ...

    def render_progress(self, flow_id: str) -> dict[str, Any] | None:
        """``{version, state: queued|rendering|done|failed, done, total, error}`` of the prompts' prerendering
        after the flow's last publish; None when nothing is rendered ahead."""
        ...

    def set_voice(self, flow_id: str, voice: dict[str, Any] | None) -> int:
        """Publish the flow with this ``"voice"`` (name, speaker, length_scale, volume; None: the default) as a
        new version (the same version when nothing changed); raises ``FlowError`` naming ``voice.<field>``."""
        ...

    def recent_tickets(self, limit: int = 20) -> list[dict[str, str]]:
        """The newest stored tickets (one query): ``[{id, customer_name, subject}]``, for the try console."""
        ...

    def try_variables(self, flow_id: str, *, scenario: str | None = None,
                      ticket: str | None = None) -> dict[str, Any] | None:
        """Variables from a stored ticket or a sample one through a scenario: ``{variables, missing, ticket,
        sample, scenario, scenarios}``; None for an unknown flow; ``FlowError`` (field ticket|scenario)."""
        ...

    @property
    def voice(self) -> VoiceService:
        """Installed voices and models, and previews."""
        ...


class VoiceService(Protocol):
    """``appliance.panel.voice.VoiceAdmin`` is the real one."""

    def catalogue(self) -> dict[str, Any]:
        """``{"default": {name, speaker, length_scale, volume} | None, "voices": [names], "asr": [models],
        "models": [every installed model: name, kind, language, size_bytes, ...]}``."""
        ...

    def preview(self, text: str, *, name: str | None = None, speaker: int | str | None = None,
                length_scale: float | None = None, volume: float | None = None) -> bytes:
        """A mono WAV at the line's rate of ``text`` spoken with this voice and settings (None: the default's);
        raises a ``CallboxError`` with ``.field`` (text, voice, length_scale, volume) for an empty or too long
        text or a bad choice."""
        ...


class RulesService(Protocol):
    """The owner's rules and scenarios (``appliance.panel.rules.RulesAdmin`` is the real one)."""

    def rules(self) -> list[dict[str, Any]]:
        """The stored rules, in order, as documents."""
        ...

    def scenarios(self) -> list[dict[str, Any]]:
        """The stored scenarios, as documents."""
        ...

    def set_rules(self, document: Any) -> list[dict[str, Any]]:
        """Replace the rules whole with ``document`` (a list, or ``{"rules": [...]}``); raises
        ``appliance.errors.RulesInvalid`` (``.problems``: every (path, message)) and changes nothing."""
        ...

    def set_scenarios(self, document: Any) -> list[dict[str, Any]]:
        """Replace the scenarios whole, as :meth:`set_rules` does the rules."""
        ...

    def test_ticket(self, payload: Any) -> dict[str, Any]:
        """A dry run of a ticket payload: ``{decision, reason, rule, rules: [{rule, matched, why_not}], scenario,
        flow, version, variables, missing, problem?}``; raises ``TicketInvalid`` for a payload the webhook would
        refuse. Changes nothing."""
        ...


class KnowledgeService(Protocol):
    """VUI presets and the flows' knowledge bases (``appliance.panel.knowledge.KnowledgeAdmin`` is the real one)."""

    def vui_presets(self) -> list[dict[str, Any]]:
        """The presets: ``{name, description, vui, flows}`` (``flows``: published flows whose VUI holds it)."""
        ...

    def set_vui_presets(self, document: Any) -> list[dict[str, Any]]:
        """Replace the presets whole (a list, or ``{"presets": [...]}``); raises
        ``appliance.errors.PresetsInvalid`` (``.problems``: every (path, message)) and changes nothing."""
        ...

    def preset_document(self, name: str, flow_id: str) -> dict[str, Any] | None:
        """The flow's latest document with the preset over its ``vui``, to publish; None when either is unknown."""
        ...

    def flow_vui(self) -> list[dict[str, Any]]:
        """Each published flow's latest VUI rules: ``{flow, name, version, vui}``."""
        ...

    def knowledge(self) -> list[dict[str, Any]]:
        """Each published flow's knowledge base: ``{flow, name, language, version, entries}``."""
        ...

    def ask(self, flow_id: str, question: str) -> dict[str, Any] | None:
        """Which entry of the flow's knowledge base answers ``question`` as a call would choose it: ``{flow,
        version, question, answer: {entry, text, confidence, margin} | None, candidates}``; None: no such flow."""
        ...


class RecordingsService(Protocol):
    """Call recordings (``appliance.panel.recordings.RecordingsAdmin`` is the real one). ``phone`` in any form the
    box reads (else ``appliance.errors.QueryInvalid(parameter="phone")``), ``since`` inclusive, ``until``
    exclusive (aware; ``QueryInvalid(parameter="until")`` when not after ``since``)."""

    def find(self, *, phone: str | None = None, since: datetime | None = None, until: datetime | None = None,
             limit: int = 100, offset: int = 0) -> dict[str, Any]:
        """The kept recordings of ended calls, newest first: ``{"recordings": [{"call_id", "ticket_id", "phone",
        "customer_name", "started_at", "duration_s", "outcome", "bytes"}], "total", "bytes", "limit",
        "offset"}`` (``total`` and ``bytes``: of every page)."""
        ...

    def wav(self, call_id: int, channel: str | None = None) -> Path | bytes | None:
        """The stereo WAV file (customer left, bot right), or with ``channel`` (``customer`` | ``bot``) that side
        as mono WAV bytes; None when the call has no kept recording (none, deleted, or still on the line)."""
        ...

    def delete(self, *, phone: str | None = None, since: datetime | None = None,
               until: datetime | None = None) -> dict[str, int]:
        """Delete the range's recordings (the owner's; at least one of the three, else ``QueryInvalid``):
        ``{"deleted", "freed_bytes", "kept_by_law", "in_progress"}`` (kept: younger than the calling preset's
        legal minimum, or still on the line)."""
        ...

    def room(self) -> dict[str, Any]:
        """The disk for recordings: ``{"ok", "free_mb", "min_free_mb", "used_mb", "quota_mb", "recordings",
        "retention_days", "keep_days", "why"?}`` (``ok`` false: calls wait, ``why`` says so)."""
        ...


class QaService(Protocol):
    """QA tags, reviews, the review queue and tag counts (``appliance.panel.qa.QaAdmin`` is the real one)."""

    def add_tag(self, call_id: int, *, tag: str, note: str, reviewer: str) -> dict[str, Any] | None:
        """A reviewer's tag with a note: ``{id, tag, source: "manual", note, reviewer, created_at}``; None when
        there is no such call. Raises ``appliance.errors.TagInvalid`` (``.field``) and stores nothing for a tag
        name, note or reviewer that cannot be stored."""
        ...

    def remove_tag(self, call_id: int, tag_id: int) -> bool:
        """Take a tag (manual or automatic) off a call; False when the call has no such tag."""
        ...

    def mark_reviewed(self, call_id: int, *, reviewer: str) -> dict[str, Any] | None:
        """The call leaves the review queue: ``{reviewed_at, reviewer}``; None when there is no such call."""
        ...

    def queue(self, *, tag: str | None = None, grade: str | None = None, limit: int = 50,
              offset: int = 0) -> dict[str, Any]:
        """Tagged calls not reviewed yet, worst first: ``{items: [{call_id, started_at, phone, customer_name,
        outcome, disposition, grade, score, severity, tags}], total, limit, offset}``."""
        ...

    def counts(self, *, since: datetime | None = None, until: datetime | None = None,
               by: str = "day") -> dict[str, Any]:
        """Tags set per day (or hour) of the shop: ``{by, zone, since, until, buckets: [{start, counts, total}],
        totals}``. Raises ``appliance.errors.QueryInvalid`` naming the parameter for a range it cannot count."""
        ...


class AccessService(Protocol):
    """Users with a role (``admin`` | ``reviewer``) and a language, API tokens, the audit log
    (``appliance.panel.access.AccessAdmin`` is the real one). Refusals raise ``appliance.errors.AccessInvalid``
    (``.code``, ``.field``) and change nothing."""

    def needs_setup(self) -> bool:
        """True while no user exists (the first visit makes the admin)."""
        ...

    def verify(self, username: str, password: str) -> dict[str, Any] | None:
        """``{username, role, lang, created_at}`` when the password is right, else None."""
        ...

    def user(self, username: str) -> dict[str, Any] | None:
        """``{username, role, lang, created_at}``, or None."""
        ...

    def users(self) -> list[dict[str, Any]]:
        """Every user as :meth:`user`, admins first."""
        ...

    def session_generation(self, username: str) -> int | None:
        """The generation a signed-in cookie must carry (bumped by a new password or role, and by signing out)."""
        ...

    def session_user(self, username: str) -> dict[str, Any] | None:
        """:meth:`user` with ``session_gen``, in one read (the guard's, on every request)."""
        ...

    def end_sessions(self, username: str) -> None:
        """Every session of the user ends, on every browser."""
        ...

    def create_first_admin(self, username: str, password: str, repeat: str) -> dict[str, Any]:
        """The first-run admin; ``AccessInvalid(code="setup_done")`` once any user exists."""
        ...

    def create_user(self, username: str, password: str, role: str) -> dict[str, Any]:
        ...

    def set_role(self, username: str, role: str) -> tuple[str, str]:
        """(before, after); never leaves the box without an admin (``last_admin``)."""
        ...

    def reset_password(self, username: str, password: str) -> None:
        ...

    def delete_user(self, username: str) -> dict[str, Any]:
        """The user as it was; never the last admin."""
        ...

    def set_language(self, username: str, lang: str | None) -> None:
        ...

    def tokens(self) -> list[dict[str, Any]]:
        """API tokens newest first: ``{id, name, created_by, created_at, last_used_at}`` (never the token)."""
        ...

    def create_token(self, name: str, created_by: str) -> tuple[dict[str, Any], str]:
        """(the stored token as in :meth:`tokens`, the bearer token itself: shown once, only its hash is kept)."""
        ...

    def revoke_token(self, token_id: int) -> dict[str, Any] | None:
        """The revoked token as it was, or None when unknown."""
        ...

    def token(self, token: str) -> dict[str, Any] | None:
        """The stored token a bearer token is (its use noted), or None."""
        ...

    def audit_page(self, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """The audit log newest first: ``{items: [{id, at, who, what, before, after}], total, limit, offset}``."""
        ...


class SetupService(Protocol):
    """The Setup page (``appliance.panel.setup.SetupAdmin`` is the real one)."""

    def presets(self) -> list[str]:
        """The calling presets by country (README "Calling hours and compliance")."""
        ...

    def shop(self) -> dict[str, str]:
        """``{name, time_zone, preset}``."""
        ...

    def check_shop(self, *, name: str, time_zone: str, preset: str) -> dict[str, str]:
        """The answers as they would be stored; ``AccessInvalid`` (``.field``) for a value it cannot use."""
        ...

    def save_shop(self, *, name: str, time_zone: str, preset: str) -> tuple[dict[str, str], dict[str, str]]:
        """(before, after); ``AccessInvalid`` (``.field``) for a value it cannot use."""
        ...

    def webhooks(self) -> list[dict[str, Any]]:
        """``[{helpdesk, path, secret, how}]``: native first; ``secret`` "" when that helpdesk is not connected."""
        ...

    def test_ticket(self) -> dict[str, Any]:
        """A ticket no rule calls, through the box's own intake: ``{sent, ticket, decision, reason}``."""
        ...

    def target_list(self) -> list[dict[str, str]]:
        """Where the box sends to: ``[{name: "callback"|"upstream", url}]``."""
        ...

    def test_target(self, name: str) -> dict[str, Any]:
        """A signed test message: ``{name, url, result, status, ms}``, ``result`` ``ok`` | ``refused_signature`` |
        ``http_error`` | ``refused`` | ``timeout`` | ``unknown_host`` | ``error``."""
class WebhookSecretService(Protocol):
    """The native webhook's signing secret (``appliance.panel.settings.WebhookSecret`` is the real one)."""

    @property
    def source(self) -> str:
        """Where it is kept: ``environment`` (cannot be changed here) | ``file`` | ``state``."""
        ...

    def rotate(self) -> str:
        """A new secret, written and in force (the old one is refused from now on); raises
        ``appliance.errors.SettingInvalid`` when the environment sets it."""
        ...


class SettingsService(Protocol):
    """The config file's keys on the Settings and QA pages (``appliance.panel.settings.SettingsAdmin``)."""

    @property
    def webhook(self) -> WebhookSecretService:
        ...

    def section(self, name: str) -> dict[str, Any]:
        """``{name, live, restart_pending, fields: [{key, kind, value, source, env, choices}]}``: ``kind`` text |
        textarea | int | float | bool | choice | secret | pairs; ``source`` environment | file | default; a
        secret's value is "(set)" or ""."""
        ...

    def sections(self) -> dict[str, dict[str, Any]]:
        """Every section (calling, recordings, sms, upstream, mqtt, qa) as :meth:`section`."""
        ...

    def update(self, name: str, form: Mapping[str, str]) -> dict[str, Any]:
        """Save a section's form (text values by key; a bool's key absent = off; an empty secret keeps it):
        ``{"changes": {key: {"before", "after"}}, "live": bool}``. Validated whole before the file is written;
        raises ``appliance.errors.SettingInvalid`` (``.field``) and writes nothing when a value cannot be used."""
        ...


class DoNotCallService(Protocol):
    """The do-not-call list on the Settings page (``appliance.panel.dnc.DoNotCallAdmin``)."""

    def page(self, *, limit: int = 100, offset: int = 0) -> dict[str, Any]:
        """``{entries: [{phone, added_at, reason, ticket_id, call_id}], total, limit, offset}``, newest first."""
        ...

    def add(self, phone: str, reason: str = "") -> str:
        """The number in E.164, now on the list; ``SettingInvalid(field="phone")`` when it is no number."""
        ...

    def remove(self, phone: str) -> bool:
        ...

    def import_csv(self, text: str) -> dict[str, int]:
        """``{rows, added}``; every number or none (``SettingInvalid`` naming the line)."""
        ...

    def export_csv(self) -> str:
        """The list as CSV (phone, added_at, reason, ticket_id, call_id), which :meth:`import_csv` reads back."""
class LiveEvent(Protocol):
    """One event of the live stream (``appliance.panel.events.Event``)."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str:
        """line, call, answered, turn, call_ended, counters"""
        ...
    @property
    def data(self) -> dict[str, Any]: ...


class LiveStream(Protocol):
    """One subscriber of the live events (``appliance.panel.events.Subscription``)."""

    snapshot: dict[str, Any]  # the state its events apply to: lines, calls (with turns), ended, event_id
    lost: bool  # fell too far behind: take a new snapshot (``renew``)

    @property
    def closed(self) -> bool:
        """The box is stopping: end the stream."""
        ...

    def get(self, timeout: float) -> Sequence[LiveEvent]:
        """The events waiting, after at most ``timeout`` seconds (maybe none)."""
        ...

    def renew(self) -> LiveStream | None:
        """A lost stream's new snapshot and queue (None when the box is stopping or too many are open)."""
        ...

    def close(self) -> None: ...


class LiveService(Protocol):
    """The dashboard and the Modems page (``appliance.panel.dashboard.LiveAdmin`` is the real one)."""

    def subscribe(self) -> LiveStream | None:
        """A new stream of live events with its snapshot; None when too many streams are open."""
        ...

    def dashboard(self) -> dict[str, Any]:
        """``{lines: [line view], calls: [call in progress with turns], ended: [recent calls], counters}``; a
        line view: name, state, problem (a kind, or None), operator, signal_dbm, signal_rssi, bars (0..4), sim,
        registered, call ({id, phone, customer_name, test} or None), held."""
        ...

    def lines(self) -> list[dict[str, Any]]:
        """The line views of :meth:`dashboard` (the status strip)."""
        ...

    def counters(self) -> dict[str, Any]:
        """``{day, today: {calls, answered, connected, connect_rate, outcomes}, tasks: [{id, name, state,
        flow_id, total, finished}], outbox: {target: {configured, pending, failed}}}``."""
        ...

    def modems(self) -> list[dict[str, Any]]:
        """Each line: name, line (its view), at_port, profile, profile_description, matched_profile, probe
        (model, firmware, imei, ... or None), test_call (the last one: id, phone, state, outcome, ... or None)."""
        ...

    def signal(self, line: str, *, hours: int = 24) -> dict[str, Any]:
        """``{line, hours, points: [[unix seconds, dBm or None]]}``, oldest first."""
        ...

    def test_call(self, line: str, number: str) -> dict[str, Any]:
        """Place a test call (``{id, line, phone}``); raises ``appliance.errors.TestCallRefused`` (``reason``:
        number, do_not_call, hours, line, busy) with nothing dialled."""
        ...


class PanelService(Protocol):
    webhook_secret: str  # Standard Webhooks secret, "whsec_<base64>"

    @property
    def access(self) -> AccessService:
        """Users, roles, API tokens and the audit log."""
        ...

    @property
    def setup(self) -> SetupService:
        """The Setup page's side of the box."""
        ...

    def audit_change(self, user: str, what: str, before: Any, after: Any) -> None:
        """Store one audit log entry (``web.audit.record_change``)."""
        ...

    @property
    def settings(self) -> SettingsService:
        """The config file's keys an owner may change (raises ``CallboxError`` when the box has no file)."""
        ...

    @property
    def do_not_call(self) -> DoNotCallService:
        """The do-not-call list: add, remove, import, export."""
        ...

    @property
    def live(self) -> LiveService:
        """The dashboard's live view, its event stream and the Modems page."""
        ...

    @property
    def qa(self) -> QaService:
        """QA tags and the review queue."""
        ...

    @property
    def flows(self) -> FlowService:
        """The Flows pages and their API."""
        ...

    @property
    def rules(self) -> RulesService:
        """The rules and scenarios API."""
        ...

    @property
    def knowledge(self) -> KnowledgeService:
        """VUI presets and knowledge bases."""
        ...

    @property
    def recordings(self) -> RecordingsService:
        """Browse, download and delete call recordings; the room left for them."""
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
        """One call shaped like an item of :meth:`list_calls` (plus its QA ``tags`` and ``review``), or None."""
        ...

    def find_calls(self, *, phone: str | None = None, since: datetime | None = None, until: datetime | None = None,
                   outcome: str | None = None, task: int | None = None, before: int | None = None,
                   limit: int = 100) -> list[dict[str, Any]]:
        """The read API's calls, newest (highest id) first, each shaped like :meth:`get_call` plus task_id,
        attempt and max_attempts. ``phone`` in any form the box reads (raises
        ``appliance.errors.QueryInvalid(parameter="phone")`` when it is not a number); ``since`` inclusive,
        ``until`` exclusive (aware); ``outcome`` a terminal attempt state; ``before`` a call id (the cursor)."""
        ...

    def find_tasks(self, *, state: str | None = None, ticket: str | None = None, before: int | None = None,
                   limit: int = 100) -> list[dict[str, Any]]:
        """Call tasks, newest first: id, ticket_id, flow_id, state, attempts, max_attempts, next_attempt_at
        (None once the task has ended), last_outcome, created_at, updated_at."""
        ...

    # -- statistics and exports (appliance.records.stats, appliance.records.export) -----------

    def stats(self, *, group_by: str = "day", since: datetime | None = None, until: datetime | None = None,
              task: int | None = None, scenario: str | None = None,
              flow_version: str | None = None) -> dict[str, Any]:
        """Statistics of the ended calls (shaped as the OpenAPI ``Stats``): ``group_by`` day | hour | task |
        scenario | flow_version; ``since`` inclusive, ``until`` exclusive, either without an offset meaning the
        shop's clock; ``task`` a call task id; ``flow_version`` ``<flow>@<version>`` or ``<flow>``. Raises
        ``appliance.errors.QueryInvalid(parameter=...)`` for a value that cannot be used."""
        ...

    def stats_figures(self, *, since: datetime | None = None, until: datetime | None = None,
                      task: int | None = None, scenario: str | None = None,
                      flow_version: str | None = None) -> dict[str, Any]:
        """What the Statistics page draws, the filters as :meth:`stats`: ``by_day`` (``total`` and ``groups`` of
        day, calls, connected) and ``by_hour`` (``groups`` of hour, calls, connect_rate)."""
        ...

    def export_csv(self, kind: str, *, since: datetime | None = None, until: datetime | None = None,
                   task: int | None = None, scenario: str | None = None,
                   flow_version: str | None = None) -> Iterator[str]:
        """``calls`` or ``turns`` as CSV text chunks (header first), the same filters as :meth:`stats`. The
        parameters are checked before this returns (``QueryInvalid``); the rows are read as the chunks are
        taken, a page at a time."""
        ...

    # -- call tasks (appliance.campaign.call_tasks) ---------------------------------

    def find_call_tasks(self, *, state: str | None = None, source: str | None = None, flow: str | None = None,
                        before: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Call tasks newest first: id, name, source, flow_id, state, priority, lines, valid_until, settings,
        created_at, updated_at, progress {total, finished, by_state, calls, by_outcome}."""
        ...

    def call_task(self, task_id: int) -> dict[str, Any] | None:
        """One call task as :meth:`find_call_tasks` plus ``attempts``: each customer's ticket task with its calls
        (id, attempt, outcome, started_at, ...); None when unknown."""
        ...

    def call_task_page(self, task_id: int, *, after: int | None = None, limit: int = 100) -> dict[str, Any] | None:
        """One call task as :meth:`call_task`, with one page of its ``attempts``: the ticket tasks after ``after``
        (a ticket task id; the first page without it), at most ``limit``; None when unknown."""
        ...

    def preview_call_task(self, body: dict[str, Any]) -> dict[str, Any]:
        """What creating ``body`` would call and refuse (``{name, flow, source, settings, accepted, refused,
        counts}``); writes nothing. Raises ``appliance.errors.TaskInvalid(message, field=...)``."""
        ...

    def create_call_task(self, body: dict[str, Any]) -> dict[str, Any]:
        """The new call task (as :meth:`call_task`, plus ``refused``), or with ``cron`` a timer ``{timer, name,
        cron, template}``. Raises ``TaskInvalid`` and stores nothing when the body is wrong or nobody can be
        called."""
        ...

    def call_task_action(self, task_id: int, action: str) -> dict[str, Any] | None:
        """``pause`` | ``resume`` | ``cancel``: the call task after it (as :meth:`call_task`), None when unknown.
        Raises ``appliance.states.IllegalTransition`` when its state does not allow the action."""
        ...

    def timers(self) -> list[dict[str, Any]]:
        """Every timer (``POST /tasks`` with ``cron``): id, name, cron, active, last_due, created_at, template,
        next_due (UTC ISO, on the shop's clock as the timer thread reads it; None when disabled)."""
        ...

    def timer_action(self, timer_id: int, action: str) -> dict[str, Any] | None:
        """``enable`` | ``disable``: the timer after it (as in :meth:`timers`), None when unknown."""
        ...

    def delete_timer(self, timer_id: int) -> bool:
        """Remove a timer (its call tasks stay); False when unknown."""
        ...

    def ticket_detail(self, ticket_id: str) -> dict[str, Any] | None:
        """One ticket: id, type, subject, customer_name, phone, order_id, order_status, status, decision, reason,
        flow_id, next_call_at, vars, operations [{kind, detail, call_id, at}], tasks (as :meth:`find_tasks`),
        calls (as :meth:`find_calls`, oldest first); None when unknown."""
        ...

    # -- the console's Calls and Tickets pages ------------------------------------------

    def search_calls(self, *, phone: str | None = None, since: datetime | None = None,
                     until: datetime | None = None, outcome: str | None = None, intent: str | None = None,
                     grade: str | None = None, tag: str | None = None, limit: int = 50,
                     offset: int = 0) -> dict[str, Any]:
        """A page of calls, newest first: ``{"calls": [{id, ticket_id, phone, customer_name, line, started_at,
        outcome (None: on the line), state, in_progress, cause, disposition, duration_s, intent, grade, score,
        flow, attempt, has_recording, tags: [str]}], "total", "limit", "offset"}``. ``phone`` in any form the box
        reads (else ``appliance.errors.QueryInvalid(parameter="phone")``); ``outcome`` a terminal attempt state or
        ``in_progress``; ``grade`` A-D; ``tag`` a QA tag; ``since``/``until`` without an offset are the shop's clock."""
        ...

    def search_tickets(self, *, phone: str | None = None, status: str | None = None, text: str | None = None,
                       since: datetime | None = None, until: datetime | None = None, limit: int = 50,
                       offset: int = 0) -> dict[str, Any]:
        """A page of tickets, the latest arrived first: ``{"tickets": [{id, subject, customer_name, phone, status,
        decision, reason, next_call_at, received_at, calls}], "total", "limit", "offset"}``; ``text`` part of the id
        or subject."""
        ...

    def ticket_deliveries(self, ticket_id: str) -> list[dict[str, Any]]:
        """What the ticketing system has of the ticket, oldest first: ``[{id, operation, detail, created_at,
        delivered_at, state: "delivered"|"pending"|"given_up", attempts, next_try_at, last_error}]``."""
        ...

    def ticket_action(self, ticket_id: str, action: str, *, who: str) -> str | None:
        """``call_now`` | ``retry`` | ``cancel``, all or nothing: what was done in words, None for an unknown ticket.
        Raises ``appliance.errors.TicketActionRefused`` (``.code``) when the ticket's state does not allow it."""
        ...

    def ticket_note(self, ticket_id: str, text: str, *, who: str) -> str | None:
        """An owner's note on the ticket, also queued for the ticketing system; the note as stored, None for an
        unknown ticket. Raises ``TicketActionRefused`` for an empty or too long note."""
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
        """``{"lines": [{"name", "state", "fault"?, "problem"?, "held"?}], "asr": {"engine", "fallback_reason"},
        "version"}`` (``held``: why a ready line takes no calls, e.g. its daily cap; ``problem``: the fault's kind,
        which the panel says in words, ``web.live_words.problem``)."""
        ...

    def metrics(self) -> tuple[bytes, str] | None:
        """A Prometheus scrape: (body, content type); None when this box keeps no metrics. Raises
        ``appliance.errors.StorageError`` when the records cannot be read."""
        ...

    def outbox(self, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """Ticket operations not yet delivered to the ticketing system: ``{"backlog": int (waiting to be
        retried), "failed": int (given up: the ticketing system refused them), "oldest_age_s": float | None,
        "last_error": {"item", "error"} | None, "items": [{"id", "ticket", "operation", "created_at", "attempts",
        "next_try_at", "last_error", "state": "pending"|"failed"}] (oldest first), "total", "limit", "offset"}``."""
        ...

    def sync_status(self) -> dict[str, Any]:
        """What waits to leave the box, per target (``ticket``: operations for the ticketing system;
        ``upstream``: call records for ``[upstream] url``): ``{"targets": {name: {"configured": bool, "pending":
        int, "failed": int, "oldest_pending_age_s": float | None, "last_error": {"item", "error"} | None,
        "last_success": str | None}}}``."""
        ...

    # -- the do-not-call list ----------------------------------------------------

    def do_not_call_list(self) -> list[dict[str, Any]]:
        """Numbers that asked not to be called again, newest first: phone, added_at, reason, ticket_id, call_id."""
        ...

    def remove_do_not_call(self, phone: str) -> bool:
        """Take a number off the list (an admin's decision); False if it was not on it."""
        ...
