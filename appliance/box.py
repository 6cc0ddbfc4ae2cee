"""The composition root: builds the stores, speech, lines, call runner, scheduler, outbox and the panel's
service from one :class:`~appliance.config.Config`, starts them in order and stops them in reverse.
Wiring only: what each part does lives in its own room."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from appliance import __version__
from appliance.campaign.call_tasks import CallTasks
from appliance.campaign.calls import CallRunner, CallSummary, SpeechKit
from appliance.campaign.compliance import CallingRules
from appliance.campaign.hours import box_zone
from appliance.campaign.intake import admit
from appliance.campaign.publish import FlowPublisher, install_defaults
from appliance.campaign.remarks import Remarks
from appliance.campaign.scheduler import Scheduler, start_of_day
from appliance.campaign.texts import UnreachableTexts
from appliance.campaign.timer import TaskTimer
from appliance.campaign.voices import FlowPrompts
from appliance.config import Config, LineConfig, config_path
from appliance.config_edit import ConfigFile
from appliance.files import load_or_create_box_id, load_or_create_secret, make_private
from appliance.panel.dashboard import LiveAdmin
from appliance.panel.flows import FlowAdmin
from appliance.panel.live import LineWatch, LiveBoard
from appliance.panel.metrics import BoxMetrics
from appliance.panel.modems import ModemsAdmin, TestCaller
from appliance.panel.recordings import RecordingsAdmin
from appliance.panel.rules import RulesAdmin
from appliance.panel.service import BoxPanel
from appliance.panel.settings import SettingsAdmin, WebhookSecret
from appliance.panel.setup import SetupAdmin, Target
from appliance.panel.voice import VoiceAdmin, installed_models
from appliance.records.config_store import ConfigStore
from appliance.records.queries import CallQuery
from appliance.records.retention import PruneThread, Retention, RetentionPolicy
from appliance.records.store import RecordsStore, TaskRow
from appliance.speech.build import build_recogniser, build_tts, build_voices, endpointer_factory
from appliance.speech.tts.piper import PiperTts
from appliance.speech.tts.recorded import RecordedPrompts
from appliance.sync.destinations import NativeCallback, rest_apis
from appliance.sync.mqtt import DailyCounters, LineReading, MqttPublisher
from appliance.sync.outbox import OutboxWorker
from appliance.sync.upstream import UpstreamWorker
from appliance.telephony.line import Line
from appliance.telephony.linestate import LineState
from appliance.telephony.modem import Modem, ModemTimeouts
from appliance.telephony.ports import LinePort
from appliance.telephony.profile import load_profile
from appliance.telephony.supervisor import Supervision, Supervisor, supervise

log = logging.getLogger(__name__)

__all__ = ["Callbox", "build_line", "build_speech"]


def build_speech(config: Config) -> SpeechKit:
    """The recogniser, the box's voice and the turn-taking settings, each model loaded once per process."""
    return SpeechKit(asr=build_recogniser(config.speech, config.paths), tts=build_tts(config.speech, config.paths),
                     endpointer=endpointer_factory(config.vui, config.speech.vad))


def build_line(lc: LineConfig) -> Line:
    """One configured modem as a supervised line (not opened yet)."""
    modem = Modem(load_profile(lc.profile), lc.at_port, lc.audio_port, timeouts=ModemTimeouts())
    supervision = Supervision(
        power_cycle=Supervision.command(lc.power_cycle), reopen_s=lc.reopen_s, idle_ping_s=lc.idle_ping_s
    )
    return Line(lc.name, modem, supervision=supervision)


def line_caps(config: Config, lines: list[LinePort]) -> dict[str, int | None]:
    """line name -> the calls its SIM may start per day: its [[lines]] daily_cap, else [calling] line_daily_cap
    (also for lines handed in, e.g. simulated ones); None for no cap."""
    configured = {lc.name: lc for lc in config.lines}
    default = config.calling.line_daily_cap
    return {ln.name: configured[ln.name].cap(default) if ln.name in configured else default or None for ln in lines}


class Callbox:
    """The running box. ``lines`` and ``speech`` may be handed in (simulated modems, loaded models);
    ``shop_name`` (spoken as ``{shop}``) is ``[shop] name`` from the config unless a caller gives one;
    ``config_file``: the file the Settings page writes (else ``CALLBOX_CONFIG``, else /etc/callbox/callbox.toml)."""

    def __init__(
        self,
        config: Config,
        *,
        lines: list[LinePort] | None = None,
        speech: SpeechKit | None = None,
        shop_name: str | None = None,
        config_file: Path | None = None,
    ) -> None:
        self.config = config
        self.shop_name = shop_name if shop_name is not None else config.shop.name
        self.paths = config.paths
        # the state dir and all in it 0700/0600, also what an older box or a person left readable (appliance.files)
        make_private(self.paths.root)
        self.records = RecordsStore(self.paths.records, phone_region=config.shop.region,
                                    sync_calls=config.upstream.enabled)
        self.configs = ConfigStore(self.paths.configs)
        self.webhook_secret = config.web.webhook_secret or load_or_create_secret(self.paths.secret)
        self.session_key = load_or_create_secret(self.paths.session_key, prefix="")
        install_defaults(self.configs)

        self._built_speech = speech is None  # the box closes only the recogniser it loaded itself
        speech = speech or build_speech(config)
        self.prompts: FlowPrompts | None = None  # a flow's own voice and recordings need a piper voice
        if isinstance(speech.tts, PiperTts):
            self.prompts = FlowPrompts(build_voices(speech.tts, self.paths),
                                       RecordedPrompts(self.paths.prompt_recordings))
        if speech.prompts is None and self.prompts is not None:
            speech = dataclasses.replace(speech, prompts=self.prompts)  # each flow speaks with its own prompts
        self.speech = speech
        self.flows = FlowPublisher(self.configs, self.prompts,
                                   prerender_on_publish=config.speech.prerender_on_publish)

        self.lines: list[LinePort] = lines if lines is not None else [build_line(lc) for lc in config.lines]
        # recordings that never fill the disk: pruned at start and hourly, and checked before each call
        self.retention = Retention(self.records.db, self.paths.recordings,
                                   RetentionPolicy.from_config(config.recordings, config.calling.preset))
        self.pruner = PruneThread(self.retention)
        helpdesk_apis = rest_apis(config.helpdesks)  # tickets from these go back through their REST API
        self.metrics = BoxMetrics(records=self.records, lines=self.lines, helpdesks=list(helpdesk_apis))
        if speech.observer is None:  # each conversation tells /metrics its turn latency and confidence
            speech = dataclasses.replace(speech, observer=self.metrics)
            self.speech = speech
        self.supervisors: list[Supervisor] = []  # one per modem line, made by start()
        shop_zone = ZoneInfo(config.shop.time_zone) if config.shop.time_zone else box_zone()
        self.board = LiveBoard()  # the dashboard's live view: told by the call runner and the line watch
        self.runner = CallRunner(
            records=self.records,
            configs=self.configs,
            speech=speech,
            calling=config.calling,
            recordings_dir=self.paths.recordings,
            vui=config.vui,
            shop_name=self.shop_name,
            texts=UnreachableTexts(config.sms, lines=self.lines, shop_name=self.shop_name),
            # numbers whose zone the numbering plan does not tell are called on the shop's clock
            rules=CallingRules.from_config(config.calling, shop_zone),
            room=self.retention.ensure_room,
            qa=config.qa,
            watch=self.board,
            remarks=Remarks.for_language(config.shop.language),  # the remarks on tickets in the shop's language
        )
        self._listeners: list[Callable[[CallSummary], None]] = []
        self.scheduler = Scheduler(records=self.records, runner=self.runner, lines=self.lines,
                                   on_call=self._call_done, retry=config.calling.retry_s,
                                   caps=line_caps(config, self.lines), day_zone=self.runner.rules.fallback_zone,
                                   on_start=self._call_starting, remarks=self.runner.remarks)
        self.call_tasks = CallTasks(records=self.records, configs=self.configs,
                                    max_attempts=config.calling.max_attempts, shop_name=self.shop_name,
                                    phone_region=config.shop.region, zone=shop_zone, on_created=self.scheduler.wake)
        self.task_timer = TaskTimer(self.call_tasks)
        self.outbox: OutboxWorker | None = None
        if config.web.callback_url or helpdesk_apis:
            self.outbox = OutboxWorker(self.records, url=config.web.callback_url, secret=self.webhook_secret,
                                       box_id=load_or_create_box_id(self.paths.box_id), helpdesks=helpdesk_apis)
        self.mqtt: MqttPublisher | None = None
        if config.mqtt.enabled:
            self.mqtt = MqttPublisher(config.mqtt, box_id=load_or_create_box_id(self.paths.box_id),
                                      box_name=self.shop_name, lines=self.line_readings,
                                      line_states=[s.value for s in LineState],
                                      counters=self._counters_so_far(shop_zone), version=__version__)
        self.upstream: UpstreamWorker | None = None  # [upstream]: every finished call's record
        if config.upstream.enabled:
            self.upstream = UpstreamWorker(self.records, config.upstream,
                                           box_id=load_or_create_box_id(self.paths.box_id))
        modems = ModemsAdmin(board=self.board, lines=self.lines, records=self.records,
                             phone_region=config.shop.region,
                             caller=TestCaller(speech, self.runner.rules, self.scheduler.run_on, self.shop_name,
                                               config.calling.ring_timeout_s, config.calling.max_call_s,
                                               config.vui))
        self.line_watch = LineWatch(self.board, self.lines, signal=modems.signal, notes=self.line_notes)
        live = LiveAdmin(board=self.board, records=self.records, zone=shop_zone, modems=modems,
                         call_tasks=self.call_tasks, sync_targets={"ticket": self.outbox is not None,
                                                                   "upstream": self.upstream is not None})
        self.board.counters = live.counters
        # the Flows and Voice pages: rendering progress, voices and previews, stored tickets to try a flow with
        flow_admin = FlowAdmin(self.configs, self.flows.publish_soon, render_progress=self.flows.render_progress,
                               voice=VoiceAdmin(self.prompts.voices if self.prompts is not None else None,
                                                models=lambda: installed_models(self.paths.root)),
                               tickets=self.records.ticket, recent_tickets=self.records.tickets,
                               shop_name=self.shop_name)
        settings = self._settings(config_file or config_path())
        self.panel = BoxPanel(records=self.records, flows=flow_admin,
                              webhook_secret=self.webhook_secret, admit=self.admit_ticket, lines=self.lines,
                              recogniser=speech.asr, phone_region=config.shop.region, call_tasks=self.call_tasks,
                              line_notes=self.line_notes,
                              sync_targets={"ticket": self.outbox is not None, "upstream": self.upstream is not None},
                              rules=RulesAdmin(self.configs, shop_name=self.shop_name,
                                               phone_region=config.shop.region),
                              metrics=self.metrics.exposition,
                              recordings=RecordingsAdmin(self.retention, phone_region=config.shop.region),
                              zone=shop_zone, setup=self._setup_admin(config, settings),
                              settings=settings, live=live)
        self._started = False
        self._lock = threading.Lock()

    def _setup_admin(self, config: Config, settings: SettingsAdmin) -> SetupAdmin:
        """The Setup page's side of the box: the shop's answers, the webhooks and the targets it tests."""
        targets = []
        if config.web.callback_url:
            targets.append(Target("callback", config.web.callback_url, self.webhook_secret))
        if config.upstream.enabled:
            targets.append(Target("upstream", config.upstream.url, config.upstream.secret))
        return SetupAdmin(configs=self.configs, shop={"name": self.shop_name, "time_zone": config.shop.time_zone,
                                                      "preset": config.calling.preset},
                          webhook_secret=self.webhook_secret, helpdesks=config.helpdesks, targets=targets,
                          admit=self.admit_ticket,
                          rules=RulesAdmin(self.configs, shop_name=self.shop_name, phone_region=config.shop.region),
                          write=settings.update)

    # -- settings changed from the panel (appliance.panel.settings) ----------------------------------------
    def _settings(self, path: Path) -> SettingsAdmin:
        file = ConfigFile(path)
        webhook = WebhookSecret(env=os.environ, file=file, state_file=self.paths.secret,
                                on_rotate=self.rotate_webhook_secret)
        return SettingsAdmin(file=file, current=self.config, env=os.environ, apply=self.apply_settings,
                             webhook=webhook)

    def apply_settings(self, config: Config) -> None:
        """Take the Settings page's live sections into the running parts: each is read afresh per call (an
        attribute swapped whole, no lock needed), so the next call uses them and a call on the line keeps its own."""
        zone = self.runner.rules.fallback_zone
        self.runner.calling = dataclasses.replace(self.runner.calling, hours=config.calling.hours,
                                                  preset=config.calling.preset,
                                                  max_per_day=config.calling.max_per_day)
        self.runner.rules = CallingRules.from_config(self.runner.calling, zone)
        self.retention.policy = RetentionPolicy.from_config(config.recordings, config.calling.preset)
        self.runner.texts = UnreachableTexts(config.sms, lines=self.lines, shop_name=self.shop_name)
        self.runner.qa = config.qa
        self.config = dataclasses.replace(self.config, calling=self.runner.calling, recordings=config.recordings,
                                          sms=config.sms, qa=config.qa)
        log.info("settings applied: calling %s (%s), retention %d days, quota %d MB", config.calling.preset,
                 config.calling.hours, config.recordings.retention_days, config.recordings.quota_mb)

    def rotate_webhook_secret(self, secret: str) -> None:
        """A new webhook secret is in force: the panel checks webhooks with it, the native callback signs with it."""
        self.webhook_secret = secret
        self.panel.webhook_secret = secret
        if self.outbox is not None and self.outbox.native is not None:
            self.outbox.native = NativeCallback(self.config.web.callback_url, secret)

    # -- tickets in ----------------------------------------------------------------
    def admit_ticket(self, payload: dict[str, Any], webhook_id: str) -> dict[str, Any]:
        """A webhook's ticket: admitted with every guard (campaign.intake), then the scheduler looks at once."""
        admission = admit(payload, webhook_id=webhook_id, records=self.records, configs=self.configs,
                          max_attempts=self.config.calling.max_attempts, phone_region=self.config.shop.region,
                          remarks=self.runner.remarks)
        if admission.task_id is not None and not admission.duplicate:
            self.scheduler.wake()
        return admission.as_dict()

    # -- life cycle ----------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        for line in self.lines:
            if isinstance(line, Line):  # a modem: opened, then watched and reopened by its supervisor
                self.supervisors.append(supervise(line))
            else:
                line.start()
            log.info("line %s: %s", line.name, line.state.value)
        self.line_watch.start()  # the dashboard's lines, signal samples, probes
        if self.mqtt is not None:
            self.mqtt.start()  # returns at once; connects (and reconnects) in the background
        self.pruner.start()  # its first pass runs now, beside the first calls' guards
        self.scheduler.start()
        self.task_timer.start()
        if self.outbox is not None:
            self.outbox.start()
        if self.upstream is not None:
            self.upstream.start()

    def begin_stop(self) -> None:
        """SIGTERM: the calls in progress start wrapping up (goodbye after the current prompt, a dial still
        ringing gives up) and no new call starts, while the web server winds down; :meth:`stop` then waits."""
        self.scheduler.begin_stop()
        for line in self.lines:
            if isinstance(line, Line):
                line.modem.abort_dial.set()

    def stop(self) -> None:
        self.board.hub.close()  # the panel's event streams end
        self.task_timer.stop()
        self.scheduler.stop()
        if self.outbox is not None:
            self.outbox.stop()
        if self.upstream is not None:
            self.upstream.stop()
        self.flows.stop()
        self.pruner.stop()
        self.line_watch.stop()
        if self.mqtt is not None:
            self.mqtt.stop()
        for supervisor in self.supervisors:
            try:
                supervisor.stop()  # stops watching, then hangs up and closes the line
            except Exception:
                log.exception("line %s did not stop cleanly", supervisor.line.name)
        for line in self.lines:
            try:
                line.stop()
            except Exception:
                log.exception("line %s did not stop cleanly", line.name)
        self.records.close()
        self.configs.close()
        if self._built_speech:
            self.speech.asr.close()  # worker processes, where the engine has them

    def dead_parts(self, hung_after_s: float = 60.0) -> list[str]:
        """The threads of the box that died or hang (the scheduler and the line workers, each line's supervisor,
        the outbox and upstream workers): ``callbox serve`` pings systemd's watchdog only while this is empty."""
        if not self._started:
            return []
        dead = self.scheduler.dead_parts(hung_after_s)
        dead += [f"line-supervisor-{s.line.name}" for s in self.supervisors if s.cfg.enabled and not s.alive]
        dead += [w.thread_name for w in (self.outbox, self.upstream) if w is not None and not w.alive]
        return dead

    def on_call(self, listener: Callable[[CallSummary], None]) -> None:
        self._listeners.append(listener)

    def line_notes(self) -> dict[str, str]:
        """line name -> why a ready line takes no calls, for the panel's status: no room for recordings (every
        line, as the last look at the disk found it), its daily cap."""
        notes = self.scheduler.line_notes()
        room = self.retention.last_room
        if room is None or room.ok:
            return notes
        return {line.name: "; ".join(filter(None, (room.why, notes.get(line.name)))) for line in self.lines}

    def line_readings(self) -> list[LineReading]:
        """Each line's state and signal (a modem's last health check; unknown for other lines), for MQTT."""
        out = []
        for line in self.lines:
            health = line.health if isinstance(line, Line) else None
            out.append(LineReading(line.name, line.state.value, health.signal_dbm if health else None,
                                   health.signal_rssi if health else None))
        return out

    def _counters_so_far(self, zone: tzinfo) -> DailyCounters:
        """Today's counters as the records have them (a restart keeps the day's counts)."""
        counters = DailyCounters(zone)
        since = start_of_day(datetime.now(UTC), zone)
        for call in self.records.find_calls(CallQuery(since=since, limit=100_000)):
            if call["outcome"]:  # one still in flight is counted when it ends
                counters.add(call["outcome"], answered=call["answered_at"] is not None)
        return counters

    def _call_starting(self, task: TaskRow, line: str) -> None:
        if self.mqtt is not None:
            self.mqtt.call_started(line=line, task_id=task.id, ticket_id=task.ticket_id)

    def _call_done(self, summary: CallSummary) -> None:
        if self.outbox is not None:
            self.outbox.wake()
        if self.mqtt is not None:
            call = self.records.call(summary.call_id) if summary.call_id else None
            self.mqtt.call_ended(call_id=summary.call_id, ticket_id=summary.ticket_id, outcome=summary.outcome.value,
                                 disposition=summary.disposition, ticket_status=summary.ticket_status,
                                 line=call["line"] if call else None,
                                 answered=bool(call and call["answered_at"]),
                                 duration_s=call["duration_s"] if call else None)
        if self.upstream is not None:
            self.upstream.wake()
        for listener in list(self._listeners):
            listener(summary)
