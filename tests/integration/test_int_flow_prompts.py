"""A flow's own prompts reach real calls: in ``mixed`` mode the greeting is the shop's recording."""

from __future__ import annotations

import io
import time
import uuid
import wave
from pathlib import Path
from typing import Any

import numpy as np

from appliance.box import Callbox
from appliance.campaign.calls import SpeechKit
from appliance.config import CallingConfig, Config, LineConfig
from appliance.dialog.flow.load import builtin_flow_path, load_document
from appliance.sim.customer import CustomerScript
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.speech.tts.prompts import RecordedPrompts
from appliance.speech.vad import Endpointer

TONE_HZ = 440.0


def tone_wav(seconds: float = 1.5, rate: int = 44100) -> bytes:
    """A studio-style recording: 44.1 kHz stereo, a 440 Hz tone."""
    t = np.arange(int(seconds * rate)) / rate
    mono = (np.sin(2 * np.pi * TONE_HZ * t) * 12000).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(mono, 2).tobytes())
    return out.getvalue()


def energy_at(pcm: bytes, freq: float, rate: int = 8000) -> float:
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x))
    bins = np.fft.rfftfreq(x.size, 1 / rate)
    band = (bins > freq - 15) & (bins < freq + 15)
    return float(spectrum[band].sum() / spectrum.sum())


def test_mixed_flow_plays_its_recording_then_synthesises_the_rest(tmp_path: Path, piper_tts: Any,
                                                                  pocketsphinx_engine: Any, voices_dir: Path) -> None:
    script = CustomerScript("answer", replies=[voices_dir / "en_confirm.wav"], max_call_s=25)
    sim = SimulatedHuaweiModem(lambda n: script, ring_ms=100)
    sim.start()
    config = Config(state_dir=tmp_path, calling=CallingConfig(hours="00:00-00:00", ring_timeout_s=3, max_attempts=1),
                    lines=(LineConfig("sim0", sim.at_port, sim.audio_port),))
    speech = SpeechKit(asr=pocketsphinx_engine, tts=piper_tts, endpointer=lambda: Endpointer(silence_timeout_ms=3000))
    box = Callbox(config, speech=speech, shop_name="Corner Shop")
    try:
        document = load_document(builtin_flow_path("delivery-confirmation.en"))
        document["broadcast"] = "mixed"
        RecordedPrompts(box.paths.prompt_recordings).save(document["id"], document["start"], tone_wav())
        box.flows.publish(document)
        box.scheduler.idle_poll_s = 0.1
        box.start()
        ticket = {"id": "REC-1", "type": "delivery", "subject": "Parcel", "description": "",
                  "customer": {"name": "Ada Lovelace", "phone": "+15550100001"},
                  "order": {"id": "A-7731", "status": "shipped"}}
        assert box.panel.submit_ticket(ticket, webhook_id=f"m_{uuid.uuid4().hex}")["decision"] == "call"
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            row = box.records.ticket("REC-1")
            if row is not None and row.status in ("closed", "scheduled", "unreachable"):
                break
            time.sleep(0.1)
        heard = bytes(sim.calls[-1].heard)
        voiced = [heard[i:i + 320] for i in range(0, len(heard) - 319, 320)
                  if np.abs(np.frombuffer(heard[i:i + 320], dtype="<i2")).mean() > 300]
        first = b"".join(voiced[:40])  # the first 0.8 s of what the bot said
        assert energy_at(first, TONE_HZ) > 0.5  # the greeting was the recording...
        later = b"".join(voiced[-40:])  # ...and the closing words were synthesised (speech, not the tone)
        assert energy_at(later, TONE_HZ) < 0.2
        [call] = box.records.calls(ticket_id="REC-1")
        assert call["outcome"] == "completed"
    finally:
        box.stop()
        sim.stop()
