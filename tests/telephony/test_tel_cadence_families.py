"""The audio cadence holds while recognition runs on the same call (a short version of
bench/tel_cadence_families.py, which runs 60 s): 50 frames a second, no gap over 40 ms."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from appliance.events import DialOutcome
from appliance.sim.customer import CustomerScript, frame_rms
from appliance.sim.families import simulated_modem
from appliance.speech.asr_vosk import VoskEngine
from appliance.telephony.line import Line
from appliance.telephony.modem import Modem, ModemTimeouts
from appliance.telephony.profile import load_profile

KO_GRAMMAR = ["네", "예", "아니요", "내일 전화해 주세요", "집에 있어요"]
SECONDS = 6


def test_tel_cadence_16k_sim7600_while_vosk_recognises(vosk_ko_engine: VoskEngine, fixtures_dir: Path) -> None:
    replies = [fixtures_dir / "audio" / name for name in ("ko_tomorrow.wav", "ko_home.wav")] * 4
    script = CustomerScript("answer", replies=replies, max_call_s=30, prompt_end_ms=200, reply_gap_ms=100)
    sim = simulated_modem("simcom-sim7600", lambda n: script, ring_ms=100)
    sim.start()
    line = Line("cadence", Modem(load_profile("simcom-sim7600"), sim.at_port, sim.audio_port,
                                 timeouts=ModemTimeouts(hangup=1.0)))
    ticks: list[float] = []
    lock = threading.Lock()

    def tap(inbound: bytes, outbound: bytes) -> None:
        with lock:
            ticks.append(time.monotonic())

    # a control thread that only sleeps: how late the machine itself wakes threads (other test runs, CI)
    control: list[float] = []
    control_stop = threading.Event()

    def wake_up_late() -> None:
        last = time.monotonic()
        while not control_stop.wait(0.01):
            now = time.monotonic()
            control.append(now - last - 0.01)
            last = now

    watcher = threading.Thread(target=wake_up_late, name="cadence-control", daemon=True)
    watcher.start()
    prompt = (np.sin(2 * np.pi * 700 * np.arange(4000) / 8000) * 8000).astype("<i2").tobytes()  # 0.5 s
    heard: list[str] = []
    try:
        line.start()
        result, call = line.place_call("5550", ring_timeout=3, tap=tap)
        assert result.outcome is DialOutcome.ANSWERED and call is not None
        assert call.audio.device_frame_bytes == 640
        call.audio.play(prompt)
        started = time.monotonic()
        session, quiet = None, 0
        while time.monotonic() < started + SECONDS:  # recognition on this thread, the pump on its own
            frame = call.audio.read_frame(0.2)
            if frame is None:
                continue
            voiced = frame_rms(frame) > 300
            if session is None and voiced:
                session = vosk_ko_engine.open_session(KO_GRAMMAR)
            if session is None:
                continue
            session.accept(frame)
            quiet = 0 if voiced else quiet + 20
            if quiet >= 500:
                heard.append(session.finish().text)
                session, quiet = None, 0
                call.audio.play(prompt)
        call.hangup()
    finally:
        control_stop.set()
        watcher.join(1)
        line.stop()
        sim.stop()
    with lock:
        t = np.array([x for x in ticks if started <= x < started + SECONDS])
    per_second = [int(((t >= started + k) & (t < started + k + 1)).sum()) for k in range(SECONDS)]
    gaps = np.diff(t) * 1000
    assert all(49 <= n <= 51 for n in per_second), per_second
    machine_late_ms = max(control) * 1000
    # 40 ms is the figure; a machine that itself woke a sleeping thread late adds its own lateness
    assert gaps.max() <= 40 + max(0.0, machine_late_ms - 10), (
        f"longest gap {gaps.max():.1f} ms; the machine woke threads up to {machine_late_ms:.1f} ms late")
    words = " ".join(heard).split()
    assert words and set(words) <= {w for phrase in KO_GRAMMAR for w in phrase.split()}, heard
    assert "있어요" in words, heard  # recognition really ran on the customer's turns
