"""A real mosquitto broker for the MQTT tests, started once per session: anonymous, no persistence."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mqtt_broker import Broker, start_broker, stop_broker


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    broker = start_broker(tmp_path_factory.mktemp("mosquitto"), extra="allow_anonymous true\n")
    try:
        yield broker
    finally:
        stop_broker(broker)
