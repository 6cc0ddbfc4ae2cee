"""MQTT for Home Assistant: line state and signal, call started / ended events and today's counters, published
to the broker of ``[mqtt]`` with Home Assistant MQTT discovery, so that the lines and counters appear as entities
without configuration.

paho-mqtt runs its own network thread (``loop_start``) and reconnects by itself with a backoff
(``reconnect_delay_set``, 1 s doubling to 60 s); a publish only queues a packet, so a call never waits on the
broker, and a broker that is down costs nothing but a bounded queue (``MAX_QUEUED`` QoS 1 messages, the oldest
events are dropped beyond it). The broker is told ``offline`` by the last will (retained) when the box dies or
loses its connection, and ``online`` on every connect, after which discovery, line state and counters are
published again (all retained), so a restarted broker without persistence learns everything back.

Topics (``<p>`` = ``topic_prefix``, ``<box>`` = the node id, the first 12 characters of the box id):

- ``<p>/<box>/availability``: ``online`` / ``offline`` (retained; ``offline`` is the last will)
- ``<p>/<box>/line/<line>/state``: the line state (``ready``, ``in_call``, ``faulted`` ...; retained)
- ``<p>/<box>/line/<line>/signal``: ``{"dbm": -73, "rssi": 20}`` (retained; ``null`` when unknown)
- ``<p>/<box>/call/started`` and ``<p>/<box>/call/ended``: JSON events (QoS 1, not retained)
- ``<p>/<box>/counters``: ``{"date", "calls", "answered", "outcomes": {...}}`` for today (retained)

Discovery: ``<discovery_prefix>/sensor/<box>_<object>/config`` (retained) for each line's state and signal, the
calls and answered counters and the last call's outcome.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from appliance.config import MqttConfig

log = logging.getLogger(__name__)

__all__ = ["DailyCounters", "LineReading", "MqttPublisher", "discovery_messages", "node_id", "topic_name"]

MAX_QUEUED = 1000  # QoS 1 messages kept while the broker is away
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 60
KEEPALIVE_S = 30
CONNECT_TIMEOUT_S = 3.0
ONLINE = "online"
OFFLINE = "offline"
_NOT_TOPIC = re.compile(r"[^A-Za-z0-9_-]+")


def topic_name(name: str) -> str:
    """A name (a line's, the box's) as one topic level and discovery object id: letters, digits, _ and -."""
    return _NOT_TOPIC.sub("_", name).strip("_") or "_"


def node_id(box_id: str) -> str:
    """The box as one topic level: the first 12 characters of its id (a random UUID)."""
    return topic_name(box_id)[:12]


@dataclass(frozen=True)
class LineReading:
    """What the broker learns of one line: its state and signal (dBm and the 0..31 reading; None = unknown)."""

    name: str
    state: str
    signal_dbm: int | None = None
    signal_rssi: int | None = None


class DailyCounters:
    """Today's calls, answered calls and outcomes on the shop's clock; a new day starts from zero."""

    def __init__(self, zone: tzinfo, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.zone = zone
        self.clock = clock
        self._lock = threading.Lock()
        self._day: date = self._today()
        self._calls = 0
        self._answered = 0
        self._outcomes: Counter[str] = Counter()

    def _today(self) -> date:
        return self.clock().astimezone(self.zone).date()

    def _roll(self) -> None:
        today = self._today()
        if today != self._day:
            self._day, self._calls, self._answered = today, 0, 0
            self._outcomes.clear()

    def add(self, outcome: str, *, answered: bool) -> None:
        with self._lock:
            self._roll()
            self._calls += 1
            self._answered += int(answered)
            self._outcomes[outcome] += 1

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            self._roll()
            return {"date": self._day.isoformat(), "calls": self._calls, "answered": self._answered,
                    "outcomes": dict(sorted(self._outcomes.items()))}


class Topics:
    def __init__(self, cfg: MqttConfig, box_id: str) -> None:
        self.node = node_id(box_id)
        self.base = f"{cfg.topic_prefix}/{self.node}"
        self.discovery = cfg.discovery_prefix
        self.availability = f"{self.base}/availability"
        self.counters = f"{self.base}/counters"
        self.call_started = f"{self.base}/call/started"
        self.call_ended = f"{self.base}/call/ended"

    def line(self, name: str, what: str) -> str:
        return f"{self.base}/line/{topic_name(name)}/{what}"

    def config(self, object_id: str) -> str:
        return f"{self.discovery}/sensor/{self.node}_{object_id}/config"


def discovery_messages(topics: Topics, *, box_name: str, lines: Iterable[str],
                       line_states: Iterable[str], version: str = "") -> list[tuple[str, dict[str, Any]]]:
    """(config topic, payload) of each Home Assistant sensor: per line its state (an enum) and signal (dBm),
    the box's calls and answered calls today, and the last call's outcome."""
    device: dict[str, Any] = {"identifiers": [f"callbox_{topics.node}"], "name": f"Callbox {box_name}".strip(),
                              "manufacturer": "Callbox", "model": "Callbox"}
    if version:
        device["sw_version"] = version
    states = list(line_states)

    def sensor(object_id: str, name: str, state_topic: str, template: str, **extra: Any) -> tuple[str, dict[str, Any]]:
        payload = {"name": name, "unique_id": f"callbox_{topics.node}_{object_id}",
                   "object_id": f"callbox_{topics.node}_{object_id}", "state_topic": state_topic,
                   "value_template": template, "availability_topic": topics.availability,
                   "payload_available": ONLINE, "payload_not_available": OFFLINE, "device": device, **extra}
        return topics.config(object_id), payload

    out = []
    for line in lines:
        key = topic_name(line)
        out.append(sensor(f"line_{key}_state", f"Line {line} state", topics.line(line, "state"), "{{ value }}",
                          device_class="enum", options=states, icon="mdi:phone-classic"))
        out.append(sensor(f"line_{key}_signal", f"Line {line} signal", topics.line(line, "signal"),
                          "{{ value_json.dbm }}", device_class="signal_strength", unit_of_measurement="dBm",
                          state_class="measurement", entity_category="diagnostic"))
    out.append(sensor("calls_today", "Calls today", topics.counters, "{{ value_json.calls }}",
                      state_class="total_increasing", unit_of_measurement="calls", icon="mdi:phone-outgoing",
                      json_attributes_topic=topics.counters,
                      json_attributes_template="{{ value_json.outcomes | tojson }}"))
    out.append(sensor("answered_today", "Answered today", topics.counters, "{{ value_json.answered }}",
                      state_class="total_increasing", unit_of_measurement="calls", icon="mdi:phone-check"))
    out.append(sensor("last_outcome", "Last call outcome", topics.call_ended, "{{ value_json.outcome }}",
                      icon="mdi:phone-hangup", json_attributes_topic=topics.call_ended))
    return out


class MqttPublisher:
    """Publishes the box to MQTT. ``lines()`` is read every ``poll_s`` on the publisher's own thread, and a
    line's state or signal is published when it changed (and on every connect); call events come from the
    composition root through :meth:`call_started` and :meth:`call_ended`, which only queue."""

    def __init__(
        self,
        cfg: MqttConfig,
        *,
        box_id: str,
        box_name: str,
        lines: Callable[[], list[LineReading]],
        line_states: Iterable[str],
        counters: DailyCounters,
        poll_s: float = 1.0,
        version: str = "",
    ) -> None:
        self.cfg = cfg
        self.topics = Topics(cfg, box_id)
        self.box_name = box_name
        self.lines = lines
        self.line_states = list(line_states)
        self.counters = counters
        self.poll_s = poll_s
        self.version = version
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()  # guards _sent (the poll thread and paho's thread both publish state)
        self._sent: dict[str, str] = {}  # topic -> the retained payload last published
        self._thread: threading.Thread | None = None
        client_id = cfg.client_id or f"callbox-{self.topics.node}"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        if cfg.username:
            self.client.username_pw_set(cfg.username, cfg.password or None)
        if cfg.tls:
            self.client.tls_set()
        self.client.will_set(self.topics.availability, OFFLINE, qos=1, retain=True)
        self.client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        self.client.connect_timeout = CONNECT_TIMEOUT_S  # bounds stop() while a connect hangs on a silent host
        self.client.max_queued_messages_set(MAX_QUEUED)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect

    # -- life cycle ----------------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background: returns at once, also when the broker cannot be reached."""
        self.client.connect_async(self.cfg.host, self.cfg.port, keepalive=KEEPALIVE_S)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._poll, name="mqtt-lines", daemon=True)
        self._thread.start()
        log.info("mqtt: publishing to %s:%d under %s", self.cfg.host, self.cfg.port, self.topics.base)

    def stop(self, timeout: float = 2.0) -> None:
        """Say ``offline`` (when connected, waiting at most ``timeout``), disconnect and join the threads."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.connected.is_set():
            info = self.client.publish(self.topics.availability, OFFLINE, qos=1, retain=True)
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError):
                pass  # the connection went away meanwhile: the last will says offline instead
        self.client.disconnect()
        self.client.loop_stop()

    # -- what the box reports ------------------------------------------------------------------------------
    def call_started(self, *, line: str, task_id: int, ticket_id: str) -> None:
        self._event(self.topics.call_started, {"line": line, "task_id": task_id, "ticket_id": ticket_id})

    def call_ended(self, *, call_id: int, ticket_id: str, outcome: str, disposition: str | None,
                   ticket_status: str, line: str | None, answered: bool, duration_s: float | None) -> None:
        """One finished attempt: the event, then today's counters (an attempt that made no call, e.g. one a
        guard blocked, is an event but no call)."""
        self._event(self.topics.call_ended, {
            "call_id": call_id, "ticket_id": ticket_id, "line": line, "outcome": outcome,
            "disposition": disposition, "ticket_status": ticket_status, "answered": answered,
            "duration_s": duration_s})
        if call_id:
            self.counters.add(outcome, answered=answered)
        self._retain(self.topics.counters, json.dumps(self.counters.as_dict()), force=True)

    # -- inside --------------------------------------------------------------------------------------------
    def _event(self, topic: str, body: dict[str, Any]) -> None:
        body = {**body, "at": datetime.now(UTC).isoformat(timespec="milliseconds")}
        result = self.client.publish(topic, json.dumps(body), qos=1, retain=False)
        if result.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.warning("mqtt: %s not queued (%s)", topic, mqtt.error_string(result.rc))

    def _retain(self, topic: str, payload: str, *, force: bool = False) -> None:
        """Publish a retained value if it changed (or ``force``); while disconnected it is only remembered, and
        the next connect publishes everything."""
        with self._lock:
            if not force and self._sent.get(topic) == payload:
                return
            self._sent[topic] = payload
        if self.connected.is_set():
            self.client.publish(topic, payload, qos=1, retain=True)

    def _publish_lines(self) -> None:
        for reading in self.lines():
            self._retain(self.topics.line(reading.name, "state"), reading.state)
            self._retain(self.topics.line(reading.name, "signal"),
                         json.dumps({"dbm": reading.signal_dbm, "rssi": reading.signal_rssi}))

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self._publish_lines()
            except Exception:
                log.exception("mqtt: could not read the lines")

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            log.warning("mqtt: %s:%d refused the connection: %s", self.cfg.host, self.cfg.port, reason)
            return
        log.info("mqtt: connected to %s:%d", self.cfg.host, self.cfg.port)
        client.publish(self.topics.availability, ONLINE, qos=1, retain=True)
        self.connected.set()  # before the copy below: a value remembered from here on is also published
        try:
            readings = self.lines()
        except Exception:  # an exception here would end paho's network thread
            log.exception("mqtt: could not read the lines")
            readings = []
        for topic, config in discovery_messages(self.topics, box_name=self.box_name,
                                                lines=[r.name for r in readings],
                                                line_states=self.line_states, version=self.version):
            client.publish(topic, json.dumps(config), qos=1, retain=True)
        with self._lock:
            self._sent[self.topics.counters] = json.dumps(self.counters.as_dict())
            retained = dict(self._sent)
        for topic, value in retained.items():
            client.publish(topic, value, qos=1, retain=True)
        try:
            self._publish_lines()
        except Exception:
            log.exception("mqtt: could not read the lines")

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if self.connected.is_set() and not self._stop.is_set():
            log.warning("mqtt: lost the broker (%s); reconnecting", reason)
        self.connected.clear()
