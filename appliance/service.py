"""The composition root: builds stores, speech, lines, scheduler, outbox and the web service."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.security import check_password_hash, generate_password_hash

from appliance import __version__
from appliance.campaign.calls import CallRunner, CallSummary, LineLike, SpeechKit
from appliance.campaign.scheduler import Scheduler
from appliance.campaign.texts import UnreachableTexts
from appliance.campaign.tickets import parse_ticket
from appliance.campaign.trigger import DEFAULT_RULES, Decision, TriggerRule, decide
from appliance.config import Config
from appliance.dialog.flow.load import builtin_flow_path, load_flow, parse_flow
from appliance.dialog.flow.model import Flow, FlowVoice
from appliance.errors import CallboxError, ConfigError
from appliance.events import LINE_RATE
from appliance.flowadmin import FlowAdmin, FlowPanel
from appliance.records.config_store import ConfigStore
from appliance.records.dnc import DoNotCall
from appliance.records.store import RecordsStore
from appliance.sync.outbox import OutboxWorker

if TYPE_CHECKING:
    from appliance.speech.tts.piper import PiperTts
    from appliance.speech.tts.prompts import PrerenderReport, PromptSource, RecordedPrompts, VoiceLibrary

log = logging.getLogger(__name__)

BUILTIN_FLOWS = ("delivery-confirmation.en",)


@dataclass(frozen=True)
class StatePaths:
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
    def session_key(self) -> Path:
        return self.root / "session-key"

    @property
    def models(self) -> Path:
        return self.root / "models"  # installed speech models: appliance.speech.models.installed

    @property
    def prompt_recordings(self) -> Path:
        return self.root / "recordings-prompts"  # uploaded prompt WAVs: <flow>/<node>[.<kind>].wav


def load_or_create_secret(path: Path, *, prefix: str = "whsec_") -> str:
    """A secret kept in the state dir (0600): the webhook secret when the config names none,
    and the panel's session key, so that logins survive a restart."""
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    secret = prefix + base64.b64encode(secrets.token_bytes(32)).decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secret + "\n")
    return secret


def build_tts(config: Config, paths: StatePaths, *, line_rate: int = LINE_RATE) -> PiperTts:
    """The configured piper voice (``[speech] piper_voice``, else the joe voice), caching in the state dir."""
    from appliance.speech.models.installed import resolve_model
    from appliance.speech.tts.piper import PiperTts, default_voice

    sc = config.speech
    piper_model = resolve_model(paths.root, sc.piper_voice, "piper", language=sc.language)
    if piper_model is not None:
        model = piper_model
        voice: tuple[Path, Path | None] = (model, model.with_suffix(model.suffix + ".json"))
        if not model.is_file():
            raise ConfigError(f"piper voice {model} does not exist", key="speech.piper_voice")
    else:
        voice = default_voice()
    return PiperTts(voice[0], voice[1], line_rate=line_rate, length_scale=sc.length_scale, volume=sc.volume,
                    speaker=sc.speaker or None, cache_dir=paths.prompt_cache)


def build_voices(tts: PiperTts, paths: StatePaths) -> VoiceLibrary:
    """Flows' voices by name: installed piper voices (``callbox models add``) or paths."""
    from appliance.speech.models.installed import resolve_model
    from appliance.speech.tts.prompts import VoiceLibrary

    return VoiceLibrary(tts, resolve=lambda name: resolve_model(paths.root, name, "piper"))


def flow_prompts(
    flow: Flow,
    voices: VoiceLibrary,
    paths: StatePaths,
    *,
    line_rate: int | None = None,
    recordings: RecordedPrompts | None = None,
) -> PromptSource:
    """A flow's prompts: its voice and settings over the box's defaults, its broadcast mode, its recordings."""
    from appliance.speech.tts.prompts import PromptSource, RecordedPrompts

    v = flow.voice or FlowVoice()
    tts = voices.tts(name=v.name, speaker=v.speaker, length_scale=v.length_scale, volume=v.volume, line_rate=line_rate)
    return PromptSource(tts, templates=flow.prompt_templates(), mode=flow.broadcast,
                        recordings=recordings or RecordedPrompts(paths.prompt_recordings), flow_id=flow.id)


def build_speech(config: Config, paths: StatePaths) -> tuple[SpeechKit, Any]:
    """Load the recogniser and the voice once per process."""
    from appliance.speech.asr.factory import load_engine
    from appliance.speech.models.installed import resolve_model
    from appliance.speech.vad import Endpointer

    sc = config.speech
    vosk_dir = resolve_model(paths.root, sc.vosk_model, "vosk", language=sc.language)
    engine = load_engine(vosk_model_dir=vosk_dir, language=sc.language, workers=sc.asr_workers)
    tts = build_tts(config, paths)
    vui = config.vui

    def endpointer() -> Endpointer:
        return Endpointer(
            end_silence_ms=vui.end_silence_ms,
            silence_timeout_ms=vui.silence_timeout_ms,
            max_utterance_ms=vui.max_utterance_ms,
            long_utterance_wait_ms=vui.long_utterance_wait_ms,
            complete_answer_silence_ms=vui.complete_answer_silence_ms,
            barge_in_min_ms=vui.barge_in_min_ms,
            echo_margin_db=vui.echo_margin_db,
        )

    return SpeechKit(asr=engine, tts=tts, endpointer=endpointer), engine


class Callbox(FlowPanel):
    """The running box. Implements the web layer's PanelService."""

    def __init__(
        self,
        config: Config,
        *,
        lines: list[LineLike] | None = None,
        speech: SpeechKit | None = None,
        shop_name: str = "the shop",
    ) -> None:
        self.config = config
        self.paths = StatePaths(config.state_dir)
        self.paths.root.mkdir(parents=True, exist_ok=True)
        self.records = RecordsStore(self.paths.records)
        self.do_not_call = DoNotCall(self.records.db)
        self.configs = ConfigStore(self.paths.configs)
        self.flow_admin = FlowAdmin(self.configs, self._publish_from_panel)
        self.webhook_secret = config.web.webhook_secret or load_or_create_secret(self.paths.secret)
        self.session_key = load_or_create_secret(self.paths.session_key, prefix="")
        self._install_defaults()
        self.asr_engine: Any = None
        if speech is None:
            speech, self.asr_engine = build_speech(config, self.paths)
        else:
            self.asr_engine = speech.asr
        self.voices = self._build_voices(speech)
        if self.voices is not None and speech.prompts is None:
            speech = dataclasses.replace(speech, prompts=self.prompts_for)  # each flow speaks with its own prompts
        self.speech = speech
        self.recorded_prompts: RecordedPrompts | None = None  # made on first use (it keeps converted audio)
        self.lines: list[LineLike] = lines if lines is not None else self._build_lines()
        self.runner = CallRunner(
            records=self.records,
            configs=self.configs,
            speech=speech,
            calling=config.calling,
            recordings_dir=self.paths.recordings,
            shop_name=shop_name,
            texts=UnreachableTexts(config.sms, lines=self.lines, shop_name=shop_name),
        )
        self._listeners: list[Any] = []
        self.scheduler = Scheduler(
            records=self.records,
            runner=self.runner,
            lines=self.lines,
            window=config.calling.window(),
            on_call=self._call_done,
        )
        self.outbox: OutboxWorker | None = None
        if config.web.callback_url:
            self.outbox = OutboxWorker(self.records, url=config.web.callback_url, secret=self.webhook_secret)
        self._started = False
        self._lock = threading.Lock()

    # -- life cycle ----------------------------------------------------------
    def _install_defaults(self) -> None:
        for name in BUILTIN_FLOWS:
            flow = load_flow(builtin_flow_path(name))
            if self.configs.flow(flow.id) is None:
                self.configs.publish_flow(flow.document)
        if not self.configs.rules() and self.configs.setting("rules_initialised") is None:
            self.configs.set_rules(DEFAULT_RULES)
            self.configs.set_setting("rules_initialised", True)

    def _build_voices(self, speech: SpeechKit) -> VoiceLibrary | None:
        from appliance.speech.tts.piper import PiperTts

        return build_voices(speech.tts, self.paths) if isinstance(speech.tts, PiperTts) else None

    # -- flows and their prompts -------------------------------------------------
    def prompts_for(self, flow: Flow, *, line_rate: int | None = None) -> PromptSource:
        """The prompt source a call on ``flow`` plays from (see appliance.speech.tts.prompts)."""
        if self.voices is None:
            raise ConfigError("this box's synthesiser is not a piper voice; flows cannot choose voices")
        if self.recorded_prompts is None:
            from appliance.speech.tts.prompts import RecordedPrompts

            self.recorded_prompts = RecordedPrompts(self.paths.prompt_recordings)
        return flow_prompts(flow, self.voices, self.paths, line_rate=line_rate, recordings=self.recorded_prompts)

    def prerender_flow(self, flow: Flow, *, progress: Any = None) -> PrerenderReport | None:
        """Render a flow's static prompts into the cache (None when the box has no piper voice)."""
        if self.voices is None:
            return None
        return self.prompts_for(flow).prerender(progress=progress)

    def publish_flow(self, document: dict[str, Any], *, progress: Any = None) -> int:
        """Validate and publish a flow document as a new version; then render its static prompts
        ahead (``[speech] prerender_on_publish``), reporting ``progress(done, total, text)``."""
        flow = parse_flow(document)
        source = self.prompts_for(flow) if self.voices is not None else None  # an unknown voice fails here
        version = self.configs.publish_flow(document)
        if source is not None and self.config.speech.prerender_on_publish:
            source.prerender(progress=progress)
        return version

    # -- flows, as the panel handles them (appliance.flowadmin) --------------------
    def _publish_from_panel(self, document: dict[str, Any]) -> int:
        """Publish now; render the prompts in the background so the page answers at once."""
        flow = parse_flow(document)
        source = self.prompts_for(flow) if self.voices is not None else None  # an unknown voice fails here
        version = self.configs.publish_flow(document)
        if source is not None and self.config.speech.prerender_on_publish:
            threading.Thread(target=self._prerender_quietly, args=(source, flow.id), daemon=True,
                             name=f"prerender-{flow.id}").start()
        return version

    @staticmethod
    def _prerender_quietly(source: PromptSource, flow_id: str) -> None:
        try:
            source.prerender()
        except CallboxError as exc:
            log.warning("flow %s: prompts not prerendered: %s", flow_id, exc)

    def do_not_call_list(self) -> list[dict[str, Any]]:
        return [e.as_dict() for e in self.do_not_call.entries()]

    def remove_do_not_call(self, phone: str) -> bool:
        removed = self.do_not_call.remove(phone)
        if removed:
            log.info("%s taken off the do-not-call list from the panel", phone)
        return removed

    def prerender_published(self) -> int:
        """Render the static prompts of every published flow's latest version that are not cached yet
        (flows installed before this voice, these settings or this version of the renderer).
        Returns how many prompts were synthesised."""
        if self.voices is None or not self.config.speech.prerender_on_publish:
            return 0
        rendered = 0
        for flow_id in self.configs.flow_ids():
            found = self.configs.flow(flow_id)
            if found is None:
                continue
            try:
                report = self.prerender_flow(parse_flow(found[1]))
            except CallboxError as exc:  # a bad stored flow or voice: its calls will say so too
                log.warning("flow %s: prompts not prerendered: %s", flow_id, exc)
                continue
            rendered += report.rendered if report is not None else 0
        return rendered

    def _build_lines(self) -> list[LineLike]:
        from appliance.telephony.line import Line
        from appliance.telephony.modem import Modem, ModemTimeouts
        from appliance.telephony.profile import load_profile
        from appliance.telephony.supervisor import Supervision

        built: list[LineLike] = []
        for lc in self.config.lines:
            modem = Modem(load_profile(lc.profile), lc.at_port, lc.audio_port, timeouts=ModemTimeouts())
            supervision = Supervision(
                power_cycle=Supervision.command(lc.power_cycle), reopen_s=lc.reopen_s, idle_ping_s=lc.idle_ping_s
            )
            built.append(Line(lc.name, modem, supervision=supervision))
        return built

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        for line in self.lines:
            start = getattr(line, "start", None)
            if start is not None:
                state = start()
                log.info("line %s: %s", line.name, getattr(state, "value", state))
        self.scheduler.start()
        if self.outbox is not None:
            self.outbox.start()

    def stop(self) -> None:
        self.scheduler.stop()
        if self.outbox is not None:
            self.outbox.stop()
        for line in self.lines:
            stop = getattr(line, "stop", None)
            if stop is not None:
                try:
                    stop()
                except Exception:
                    log.exception("line %s did not stop cleanly", line.name)
        self.records.close()
        self.configs.close()
        close_engine = getattr(self.asr_engine, "close", None)
        if close_engine is not None:
            close_engine()  # recognition worker processes

    def on_call(self, listener: Any) -> None:
        self._listeners.append(listener)

    def _call_done(self, summary: CallSummary) -> None:
        if self.outbox is not None:
            self.outbox.wake()
        for listener in list(self._listeners):
            listener(summary)

    # -- PanelService ---------------------------------------------------------
    def rules(self) -> list[TriggerRule]:
        return [TriggerRule.from_doc(r) for r in self.configs.rules()]

    def submit_ticket(self, payload: dict[str, Any], *, webhook_id: str) -> dict[str, Any]:
        ticket = parse_ticket(payload)
        decision = decide(ticket, self.rules())
        if decision.call and decision.flow is not None and self.configs.flow(decision.flow) is None:
            decision = Decision(False, f"{decision.reason}, but its flow {decision.flow!r} is not published")
        blocked = self.do_not_call.entry(ticket.customer_phone) if decision.call else None
        if blocked is not None:
            decision = Decision(False, f"{decision.reason}, but {ticket.customer_phone} is on the do-not-call list "
                                       f"(since {blocked.added_at[:10]}: {blocked.reason})")
        sub = self.records.submit_ticket(
            webhook_id=webhook_id,
            fields=ticket.fields(),
            payload=payload,
            decision="call" if decision.call else "skip",
            reason=decision.reason,
            flow_id=decision.flow if decision.call else None,
            max_attempts=self.config.calling.max_attempts,
        )
        if sub.task_id is not None and not sub.duplicate:
            self.scheduler.wake()
        log.info(
            "ticket %s: %s (%s)%s",
            sub.ticket_id,
            sub.decision,
            sub.reason,
            " [duplicate delivery]" if sub.duplicate else "",
        )
        return {
            "ticket": sub.ticket_id,
            "decision": sub.decision,
            "reason": sub.reason,
            "task": sub.task_id,
            "duplicate": sub.duplicate,
        }

    def list_calls(self, *, limit: int = 100) -> list[dict[str, Any]]:
        return [self._call_view(c) for c in self.records.calls(limit=limit)]

    def get_call(self, call_id: int) -> dict[str, Any] | None:
        c = self.records.call(call_id)
        return self._call_view(c) if c else None

    @staticmethod
    def _call_view(c: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": c["id"],
            "ticket_id": c["ticket_id"],
            "phone": c["phone"],
            "customer_name": c["customer_name"],
            "line": c["line"],
            "started_at": c["started_at"],
            "outcome": c["outcome"] or c["state"],
            "cause": c["cause"],
            "disposition": c["disposition"],
            "duration_s": c["duration_s"],
            "remark": c["remark"],
            "flow": f"{c['flow_id']} v{c['flow_version']}",
            "slots": c.get("slots") or {},
            "intent_strength": c.get("intent_strength"),
            "turns": [
                {
                    "speaker": t["speaker"],
                    "text": t["text"],
                    "intent": t["intent"],
                    "confidence": t["confidence"],
                    "at_ms": t["at_ms"],
                }
                for t in c["turns"]
            ],
            "has_recording": bool(c["recording"]) and Path(c["recording"]).exists(),
        }

    def recording_path(self, call_id: int) -> Path | None:
        c = self.records.call(call_id)
        if not c or not c["recording"]:
            return None
        path = Path(c["recording"])
        return path if path.exists() else None

    def list_tickets(self, *, limit: int = 100) -> list[dict[str, Any]]:
        out = []
        for t in self.records.tickets(limit=limit):
            ops = self.records.operations(t.id)
            out.append(
                {
                    "id": t.id,
                    "subject": t.subject,
                    "customer_name": t.customer_name,
                    "phone": t.customer_phone,
                    "status": t.status,
                    "decision": t.decision,
                    "reason": t.reason,
                    "next_call_at": t.next_call_at,
                    "remarks": [
                        o["detail"] if o["kind"] == "remark" else f"Text message sent: {o['detail']}"
                        for o in ops
                        if o["kind"] in ("remark", "sms")
                    ],
                    "operations": ops,
                }
            )
        return out

    def verify_login(self, username: str, password: str) -> bool:
        stored = self.records.password_hash(username)
        if stored is None:
            check_password_hash(generate_password_hash("x"), password)  # same time either way
            return False
        return check_password_hash(stored, password)

    def set_password(self, username: str, password: str) -> None:
        self.records.set_user(username, generate_password_hash(password))

    def status(self) -> dict[str, Any]:
        engine = self.asr_engine
        return {
            "lines": [
                {
                    "name": ln.name,
                    "state": str(getattr(getattr(ln, "state", None), "value", "unknown")),
                    # why a line is not ready (its supervisor keeps reopening it)
                    **({"fault": getattr(ln, "fault_reason", None)} if getattr(ln, "fault_reason", None) else {}),
                }
                for ln in self.lines
            ],
            "asr": {
                "engine": getattr(engine, "name", "unknown"),
                "fallback_reason": getattr(engine, "fallback_reason", None),
            },
            "version": __version__,
        }


def dump_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False, default=str)
