"""The whole box with ``[mqtt] enabled`` against a real mosquitto: a ticket becomes a real call on a simulated
modem, and Home Assistant's side of the broker sees the line's entities, its state and signal, the call start,
the call's end with its outcome, and today's counters."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mqtt_broker import Broker, Listener, body, text

from appliance.box import Callbox
from appliance.campaign.calls import SpeechKit
from appliance.config import CallingConfig, Config, LineConfig, MqttConfig, VuiConfig
from appliance.sim.customer import CustomerScript
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.speech.vad import Endpointer

VOICES = Path(__file__).resolve().parents[2] / "appliance" / "sim" / "voices"
PHONE = "+15550100001"


def ticket(tid: str) -> dict[str, Any]:
    return {"id": tid, "type": "delivery", "subject": "Parcel on its way", "description": "Order shipped today.",
            "customer": {"name": "Ann Example", "phone": PHONE}, "order": {"id": "A-7731", "status": "shipped"}}


def test_a_call_through_the_box_reaches_home_assistant(tmp_path: Path, mosquitto: Broker, piper_tts: Any,
                                                       pocketsphinx_engine: Any) -> None:
    customer = CustomerScript(behaviour="answer", replies=[VOICES / "en_confirm.wav"],
                              greeting=VOICES / "en_hello.wav", max_call_s=60)
    sim = SimulatedHuaweiModem(lambda n: customer, ring_ms=300)
    sim.start()
    config = Config(
        state_dir=tmp_path,
        calling=CallingConfig(hours="00:00-00:00", ring_timeout_s=5, max_attempts=1, max_call_s=60),
        vui=VuiConfig(silence_timeout_ms=3000),
        lines=(LineConfig("sim0", sim.at_port, sim.audio_port),),
        mqtt=MqttConfig(enabled=True, host=mosquitto.host, port=mosquitto.port, topic_prefix="boxtest",
                        discovery_prefix="boxtest-ha"),
    )
    speech = SpeechKit(asr=pocketsphinx_engine, tts=piper_tts,
                       endpointer=lambda: Endpointer(end_silence_ms=700, silence_timeout_ms=3000))
    box = Callbox(config, speech=speech, shop_name="Corner Shop")
    assert box.mqtt is not None
    node = box.mqtt.topics.node
    base = f"boxtest/{node}"
    listener = Listener(mosquitto, "boxtest/#")
    ha = Listener(mosquitto, "boxtest-ha/#")
    box.start()
    try:
        assert text(listener.wait(f"{base}/availability")) == "online"
        discovery = body(ha.wait(f"boxtest-ha/sensor/{node}_line_sim0_state/config"))
        assert discovery["state_topic"] == f"{base}/line/sim0/state" and "Corner Shop" in discovery["device"]["name"]
        assert body(ha.wait(f"boxtest-ha/sensor/{node}_calls_today/config"))["state_topic"] == f"{base}/counters"
        assert text(listener.wait(f"{base}/line/sim0/state", lambda m: text(m) == "ready")) == "ready"
        signal = body(listener.wait(f"{base}/line/sim0/signal", lambda m: body(m)["dbm"] is not None))
        assert isinstance(signal["dbm"], int) and -113 <= signal["dbm"] <= -51  # the modem's +CSQ at open

        assert box.admit_ticket(ticket("MQ-1"), webhook_id="mq-1")["decision"] == "call"
        started = body(listener.wait(f"{base}/call/started", timeout=30))
        assert started["ticket_id"] == "MQ-1" and started["line"] == "sim0"
        ended = body(listener.wait(f"{base}/call/ended", timeout=90))
        call = box.records.calls(ticket_id="MQ-1")[0]
        assert ended["ticket_id"] == "MQ-1" and ended["call_id"] == call["id"] and ended["line"] == "sim0"
        assert ended["outcome"] == call["outcome"] == "completed" and ended["disposition"] == "confirmed"
        assert ended["answered"] is True and ended["ticket_status"] == "closed" and ended["duration_s"] > 0
        counters = body(listener.wait(f"{base}/counters", lambda m: body(m)["calls"] == 1))
        assert counters["answered"] == 1 and counters["outcomes"] == {"completed": 1}
        # the line was seen in its call and back
        states = [text(m) for m in listener.seen if m.topic == f"{base}/line/sim0/state"]
        deadline = time.monotonic() + 5
        while states[-1:] != ["ready"] and time.monotonic() < deadline:
            states.append(text(listener.wait(f"{base}/line/sim0/state", timeout=5, fresh=True)))
        assert states[0] == "ready" and "in_call" in states and states[-1] == "ready"
    finally:
        box.stop()
        listener.close()
        ha.close()
        sim.stop()

    # a box that starts again keeps today's counts from its records
    again = Callbox(config, speech=speech, shop_name="Corner Shop")
    try:
        assert again.mqtt is not None and again.mqtt.counters.as_dict()["calls"] == 1
        assert again.mqtt.counters.as_dict()["outcomes"] == {"completed": 1}
    finally:
        again.stop()
