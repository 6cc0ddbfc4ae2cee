"""A real mosquitto broker (the Debian package; `make sysdeps-test` installs it) started from its own config file
in a temp dir on a free port of 127.0.0.1, and a paho subscriber that keeps what it receives."""

from __future__ import annotations

import json
import os
import queue
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise RuntimeError("mosquitto is not installed: run `make sysdeps-test` (apt-get install mosquitto)")
    return found


@dataclass
class Broker:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


def start_broker(directory: Path, *, port: int | None = None, extra: str = "") -> Broker:
    """mosquitto with its own config file in ``directory``; returns once it accepts connections."""
    port = port or free_port()
    conf = directory / "mosquitto.conf"
    # run as root (a container), mosquitto would switch to its own user, who cannot read pytest's private temp dir
    user = "user root\n" if os.geteuid() == 0 else ""
    conf.write_text(f"listener {port} 127.0.0.1\npersistence false\nlog_dest stderr\n{user}{extra}",
                    encoding="utf-8")
    log = directory / "mosquitto.log"
    with log.open("wb") as out:
        process = subprocess.Popen([mosquitto_binary(), "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mosquitto exited: {log.read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return Broker("127.0.0.1", port, process, log)
        except OSError:
            time.sleep(0.02)
    process.kill()
    raise RuntimeError(f"mosquitto did not listen on {port}: {log.read_text(errors='replace')}")


def stop_broker(broker: Broker) -> None:
    broker.process.terminate()
    try:
        broker.process.wait(5)
    except subprocess.TimeoutExpired:
        broker.process.kill()
        broker.process.wait(5)


class Listener:
    """A paho client subscribed to ``topic`` that keeps every message it receives, in order."""

    def __init__(self, broker: Broker, topic: str, **credentials: str) -> None:
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.seen: list[mqtt.MQTTMessage] = []
        self.subscribed = queue.Queue[int]()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        if credentials:
            self.client.username_pw_set(credentials["username"], credentials["password"])
        self.client.on_message = lambda _c, _u, msg: self.messages.put(msg)
        self.client.on_subscribe = lambda _c, _u, mid, _rc, _p: self.subscribed.put(mid)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.client.subscribe(topic, qos=1)
        self.subscribed.get(timeout=5)

    def wait(self, topic: str, match: Callable[[mqtt.MQTTMessage], bool] = lambda _m: True,
             timeout: float = 10.0, fresh: bool = False) -> mqtt.MQTTMessage:
        """The first message on ``topic`` (already seen, unless ``fresh``, or arriving within ``timeout``) that
        ``match`` accepts."""
        for msg in [] if fresh else self.seen:
            if msg.topic == topic and match(msg):
                return msg
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = self.messages.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(msg)
            if msg.topic == topic and match(msg):
                return msg
        raise AssertionError(f"no matching message on {topic} within {timeout} s; saw {[m.topic for m in self.seen]}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def text(msg: mqtt.MQTTMessage) -> str:
    return msg.payload.decode("utf-8")


def body(msg: mqtt.MQTTMessage) -> Any:
    return json.loads(msg.payload)
