"""MQTT and Home Assistant against a real mosquitto: discovery configs, line state and signal, call events and
today's counters, ``online`` on connect and the last will ``offline`` when the publishing process dies, a broker
with a password file, and a broker that is down (nothing waits; the publisher connects when it comes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from mqtt_broker import Broker, Listener, body, free_port, start_broker, stop_broker, text

from appliance.config import MqttConfig, parse_config
from appliance.errors import ConfigError
from appliance.sync.mqtt import DailyCounters, LineReading, MqttPublisher, node_id

REPO = Path(__file__).resolve().parents[2]
LINE_STATES = ["absent", "initialising", "ready", "in_call", "faulted"]


class Lines:
    """Lines whose readings a test changes."""

    def __init__(self, *readings: LineReading) -> None:
        self.readings = list(readings)

    def __call__(self) -> list[LineReading]:
        return list(self.readings)


def publisher(broker: Broker, lines: Lines, *, prefix: str, box_id: str | None = None, poll_s: float = 0.05,
              **cfg: Any) -> MqttPublisher:
    config = MqttConfig(enabled=True, host=broker.host, port=broker.port, topic_prefix=prefix,
                        discovery_prefix=f"{prefix}-ha", **cfg)
    return MqttPublisher(config, box_id=box_id or uuid.uuid4().hex, box_name="Corner Shop", lines=lines,
                         line_states=LINE_STATES, counters=DailyCounters(ZoneInfo("Europe/Berlin")), poll_s=poll_s,
                         version="0.1.0")


def unique_prefix() -> str:
    return f"cb{uuid.uuid4().hex[:8]}"  # each test its own topics on the shared broker (retained values stay)


# -- settings -------------------------------------------------------------------------------------------------
def test_mqtt_settings_are_validated() -> None:
    cfg = parse_config({"mqtt": {"enabled": True, "host": "ha.local", "port": 8883, "tls": True,
                                 "username": "callbox", "password": "pw", "topic_prefix": "shop/callbox"}})
    assert cfg.mqtt == MqttConfig(enabled=True, host="ha.local", port=8883, tls=True, username="callbox",
                                  password="pw", topic_prefix="shop/callbox")
    assert parse_config({}).mqtt.enabled is False  # off unless asked for
    bad = [({"mqtt": {"enabled": True}}, "mqtt.host"),
           ({"mqtt": {"host": "x", "retain": True}}, "mqtt.retain"),
           ({"mqtt": {"host": "x", "port": 0}}, "mqtt.port"),
           ({"mqtt": {"host": "x", "port": "1883"}}, "mqtt.port"),
           ({"mqtt": {"host": "x", "password": "pw"}}, "mqtt.username"),
           ({"mqtt": {"host": "x", "topic_prefix": "a/+/b"}}, "mqtt.topic_prefix"),
           ({"mqtt": {"host": "x", "discovery_prefix": "home assistant"}}, "mqtt.discovery_prefix"),
           ({"mqtt": {"host": "x", "client_id": "a b"}}, "mqtt.client_id")]
    for data, key in bad:
        with pytest.raises(ConfigError) as err:
            parse_config(data, file="callbox.toml")
        assert err.value.key == key and "callbox.toml" in str(err.value), data


def test_counters_start_from_zero_on_a_new_day() -> None:
    now = [datetime(2026, 5, 4, 21, 30, tzinfo=UTC)]  # 23:30 in Berlin
    counters = DailyCounters(ZoneInfo("Europe/Berlin"), clock=lambda: now[0])
    counters.add("completed", answered=True)
    counters.add("busy", answered=False)
    counters.add("completed", answered=True)
    assert counters.as_dict() == {"date": "2026-05-04", "calls": 3, "answered": 2,
                                  "outcomes": {"busy": 1, "completed": 2}}
    now[0] += timedelta(hours=1)  # 00:30 the next day in Berlin (still the 4th in UTC)
    assert counters.as_dict() == {"date": "2026-05-05", "calls": 0, "answered": 0, "outcomes": {}}


# -- against the broker ---------------------------------------------------------------------------------------
def test_discovery_availability_and_line_state(mosquitto: Broker) -> None:
    prefix = unique_prefix()
    box_id = uuid.uuid4().hex
    node = node_id(box_id)
    lines = Lines(LineReading("sim 0", "ready", -73, 20))
    pub = publisher(mosquitto, lines, prefix=prefix, box_id=box_id)
    pub.start()
    try:
        box = Listener(mosquitto, f"{prefix}/#")
        assert text(box.wait(f"{prefix}/{node}/availability")) == "online"
        box.wait(f"{prefix}/{node}/counters")  # published after discovery on connect
        ha = Listener(mosquitto, f"{prefix}-ha/#")  # subscribes later: Home Assistant gets the retained configs

        state = ha.wait(f"{prefix}-ha/sensor/{node}_line_sim_0_state/config")
        assert state.retain
        config = body(state)
        assert config["unique_id"] == f"callbox_{node}_line_sim_0_state"
        assert config["state_topic"] == f"{prefix}/{node}/line/sim_0/state"
        assert config["availability_topic"] == f"{prefix}/{node}/availability"
        assert config["device_class"] == "enum" and "in_call" in config["options"]
        assert config["value_template"] == "{{ value }}"
        assert config["device"]["identifiers"] == [f"callbox_{node}"] and "Corner Shop" in config["device"]["name"]
        signal_cfg = body(ha.wait(f"{prefix}-ha/sensor/{node}_line_sim_0_signal/config"))
        assert signal_cfg["unit_of_measurement"] == "dBm" and signal_cfg["device_class"] == "signal_strength"
        assert signal_cfg["value_template"] == "{{ value_json.dbm }}"
        calls_cfg = body(ha.wait(f"{prefix}-ha/sensor/{node}_calls_today/config"))
        assert calls_cfg["state_topic"] == f"{prefix}/{node}/counters"
        assert calls_cfg["state_class"] == "total_increasing" and calls_cfg["json_attributes_topic"] == \
            f"{prefix}/{node}/counters"
        assert body(ha.wait(f"{prefix}-ha/sensor/{node}_answered_today/config"))["value_template"] == \
            "{{ value_json.answered }}"
        last = body(ha.wait(f"{prefix}-ha/sensor/{node}_last_outcome/config"))
        assert last["state_topic"] == f"{prefix}/{node}/call/ended" and last["value_template"] == \
            "{{ value_json.outcome }}"
        # every entity of the box: one device, unique ids
        configs = [body(m) for m in ha.seen if m.topic.endswith("/config")]
        assert len({c["unique_id"] for c in configs}) == len(configs) == 5

        assert text(box.wait(f"{prefix}/{node}/line/sim_0/state")) == "ready"
        assert body(box.wait(f"{prefix}/{node}/line/sim_0/signal")) == {"dbm": -73, "rssi": 20}
        counters = body(box.wait(f"{prefix}/{node}/counters"))
        assert counters["calls"] == 0 and counters["outcomes"] == {}

        # a change of state is published; an unchanged one is not published again
        lines.readings = [LineReading("sim 0", "in_call", -73, 20)]
        box.wait(f"{prefix}/{node}/line/sim_0/state", lambda m: text(m) == "in_call", timeout=5)
        lines.readings = [LineReading("sim 0", "ready", None, None)]
        box.wait(f"{prefix}/{node}/line/sim_0/state", lambda m: text(m) == "ready", timeout=5, fresh=True)
        assert body(box.wait(f"{prefix}/{node}/line/sim_0/signal", lambda m: body(m)["dbm"] is None)) == \
            {"dbm": None, "rssi": None}
        time.sleep(0.3)  # six polls
        box.seen.extend(_drain(box))
        states = [text(m) for m in box.seen if m.topic.endswith("/state")]
        # the first "ready" may arrive twice: the retained copy as the subscription is made, and the publication
        # racing it; after that, six polls of an unchanged state published nothing more
        assert states[-2:] == ["in_call", "ready"] and states.count("in_call") == 1, states
        assert states[:-2] in (["ready"], ["ready", "ready"]), states
        ha.close()
        box.close()
    finally:
        pub.stop()
    # a subscriber that comes later gets the retained values, and "offline" after a clean stop
    late = Listener(mosquitto, f"{prefix}/#")
    try:
        assert text(late.wait(f"{prefix}/{node}/availability")) == "offline"
        assert text(late.wait(f"{prefix}/{node}/line/sim_0/state")) == "ready"
    finally:
        late.close()


def _drain(listener: Listener) -> list[Any]:
    out = []
    while not listener.messages.empty():
        out.append(listener.messages.get_nowait())
    return out


def test_call_events_and_todays_counters(mosquitto: Broker) -> None:
    prefix = unique_prefix()
    pub = publisher(mosquitto, Lines(LineReading("sim0", "ready")), prefix=prefix)
    node = pub.topics.node
    listener = Listener(mosquitto, f"{prefix}/#")
    pub.start()
    try:
        assert pub.connected.wait(5)
        listener.wait(f"{prefix}/{node}/availability", lambda m: text(m) == "online")
        pub.call_started(line="sim0", task_id=7, ticket_id="T-1")
        started = listener.wait(f"{prefix}/{node}/call/started")
        assert not started.retain
        assert body(started)["ticket_id"] == "T-1" and body(started)["line"] == "sim0" and body(started)["task_id"] == 7
        pub.call_ended(call_id=3, ticket_id="T-1", outcome="completed", disposition="confirmed",
                       ticket_status="closed", line="sim0", answered=True, duration_s=12.5)
        pub.call_ended(call_id=4, ticket_id="T-2", outcome="busy", disposition=None, ticket_status="open",
                       line="sim0", answered=False, duration_s=None)
        pub.call_ended(call_id=0, ticket_id="T-3", outcome="blocked", disposition=None, ticket_status="skipped",
                       line=None, answered=False, duration_s=None)  # no call made: an event, not a call
        ended = listener.wait(f"{prefix}/{node}/call/ended", lambda m: body(m)["call_id"] == 3)
        event = body(ended)
        assert event["outcome"] == "completed" and event["disposition"] == "confirmed" and event["answered"] is True
        assert event["duration_s"] == 12.5 and datetime.fromisoformat(event["at"]).tzinfo is not None
        assert body(listener.wait(f"{prefix}/{node}/call/ended", lambda m: body(m)["call_id"] == 0))["outcome"] == \
            "blocked"
        counters = listener.wait(f"{prefix}/{node}/counters", lambda m: body(m)["outcomes"].get("blocked") is None
                                 and body(m)["calls"] == 2)
        assert body(counters)["answered"] == 1 and body(counters)["outcomes"] == {"busy": 1, "completed": 1}
    finally:
        pub.stop()
        listener.close()
    late = Listener(mosquitto, f"{prefix}/{node}/counters")  # retained: HA shows it after a restart
    try:
        assert body(late.wait(f"{prefix}/{node}/counters"))["calls"] == 2
    finally:
        late.close()


PUBLISHER_PROCESS = textwrap.dedent("""
    import sys, time
    from zoneinfo import ZoneInfo
    from appliance.config import MqttConfig
    from appliance.sync.mqtt import DailyCounters, LineReading, MqttPublisher

    host, port, prefix, box_id = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    pub = MqttPublisher(MqttConfig(enabled=True, host=host, port=port, topic_prefix=prefix), box_id=box_id,
                        box_name="Corner Shop", lines=lambda: [LineReading("sim0", "ready")], line_states=["ready"],
                        counters=DailyCounters(ZoneInfo("UTC")))
    pub.start()
    assert pub.connected.wait(10)
    print("connected", flush=True)
    time.sleep(600)
""")


def test_last_will_says_offline_when_the_process_dies(mosquitto: Broker) -> None:
    prefix = unique_prefix()
    box_id = uuid.uuid4().hex
    node = node_id(box_id)
    listener = Listener(mosquitto, f"{prefix}/{node}/availability")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", PUBLISHER_PROCESS, mosquitto.host, str(mosquitto.port), prefix,
                             box_id], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"connected\n"
        assert text(listener.wait(f"{prefix}/{node}/availability")) == "online"
        proc.send_signal(signal.SIGKILL)  # no goodbye: only the broker's last will can tell
        proc.wait(5)
        will = listener.wait(f"{prefix}/{node}/availability", lambda m: text(m) == "offline", timeout=10)
        assert text(will) == "offline"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        listener.close()
    late = Listener(mosquitto, f"{prefix}/{node}/availability")
    try:
        assert text(late.wait(f"{prefix}/{node}/availability")) == "offline"  # the will was retained
    finally:
        late.close()


def test_broker_with_a_password_file(tmp_path: Path) -> None:
    passwords = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwords), "callbox", "s3cret"], check=True,
                   capture_output=True)
    broker = start_broker(tmp_path, extra=f"allow_anonymous false\npassword_file {passwords}\n")
    try:
        prefix = unique_prefix()
        listener = Listener(broker, f"{prefix}/#", username="callbox", password="s3cret")
        wrong = publisher(broker, Lines(), prefix=prefix, username="callbox", password="nope", client_id="wrong")
        right = publisher(broker, Lines(), prefix=prefix, username="callbox", password="s3cret")
        wrong.start()
        right.start()
        try:
            assert right.connected.wait(5)
            assert text(listener.wait(f"{prefix}/{right.topics.node}/availability")) == "online"
            assert not wrong.connected.is_set()  # refused, and it keeps trying without raising
            started = time.monotonic()
            wrong.call_ended(call_id=1, ticket_id="T", outcome="busy", disposition=None, ticket_status="open",
                             line="sim0", answered=False, duration_s=None)
            assert time.monotonic() - started < 0.1
            assert not [m for m in _drain(listener) if m.topic.startswith(f"{prefix}/{wrong.topics.node}/")]
        finally:
            wrong.stop()
            right.stop()
            listener.close()
    finally:
        stop_broker(broker)


def test_a_broker_that_is_down_makes_nobody_wait(tmp_path: Path) -> None:
    """No broker yet: start() and the call hooks return at once; when the broker comes up the publisher connects
    by itself and publishes what it kept (the counters of the call that ended meanwhile)."""
    port = free_port()
    prefix = unique_prefix()
    config = MqttConfig(enabled=True, host="127.0.0.1", port=port, topic_prefix=prefix)
    pub = MqttPublisher(config, box_id=uuid.uuid4().hex, box_name="Corner Shop",
                        lines=Lines(LineReading("sim0", "ready")), line_states=LINE_STATES,
                        counters=DailyCounters(ZoneInfo("UTC")), poll_s=0.05)
    started = time.monotonic()
    pub.start()
    pub.call_started(line="sim0", task_id=1, ticket_id="T-9")
    pub.call_ended(call_id=9, ticket_id="T-9", outcome="no_answer", disposition=None, ticket_status="open",
                   line="sim0", answered=False, duration_s=None)
    assert time.monotonic() - started < 0.2 and not pub.connected.is_set()
    broker = start_broker(tmp_path, port=port, extra="allow_anonymous true\n")
    try:
        listener = Listener(broker, f"{prefix}/#")
        try:
            assert pub.connected.wait(10)  # the reconnect backoff starts at 1 s
            node = pub.topics.node
            assert text(listener.wait(f"{prefix}/{node}/availability")) == "online"
            counters = body(listener.wait(f"{prefix}/{node}/counters"))
            assert counters["calls"] == 1 and counters["outcomes"] == {"no_answer": 1}
            assert text(listener.wait(f"{prefix}/{node}/line/sim0/state")) == "ready"
        finally:
            listener.close()
    finally:
        pub.stop()
        stop_broker(broker)


def test_stop_is_bounded_while_the_broker_is_away() -> None:
    """SIGTERM must finish within 10 s: a publisher that never reached its broker stops in well under that."""
    config = MqttConfig(enabled=True, host="127.0.0.1", port=free_port(), topic_prefix=unique_prefix())
    pub = MqttPublisher(config, box_id=uuid.uuid4().hex, box_name="Corner Shop", lines=Lines(),
                        line_states=LINE_STATES, counters=DailyCounters(ZoneInfo("UTC")))
    pub.start()
    time.sleep(1.5)  # into the reconnect backoff
    started = time.monotonic()
    pub.stop()
    assert time.monotonic() - started < 3.0
    assert not pub.connected.is_set() and not (pub._thread and pub._thread.is_alive())
