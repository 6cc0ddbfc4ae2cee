"""The audio cadence holds while recognition runs on the same call (a short version of
bench/tel_cadence_families.py, which runs 60 s): 50 frames a second, no gap over 40 ms, over a 4 s window."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from appliance.events import DialOutcome
from appliance.sim.customer import CustomerScript, frame_rms
from appliance.sim.families import simulated_modem
from appliance.speech.asr.vosk import VoskEngine
from appliance.telephony.line import Line
from appliance.telephony.modem import Modem, ModemTimeouts
from appliance.telephony.profile import load_profile

KO_GRAMMAR = ["네", "예", "아니요", "내일 전화해 주세요", "집에 있어요"]
WINDOW_S = 4
WINDOWS = 3  # the figure must hold over one whole window; a window the machine itself stalled may be retried


def window_report(ticks: np.ndarray, asr_at: np.ndarray, start: float) -> tuple[bool, str]:
    t = ticks[(ticks >= start) & (ticks < start + WINDOW_S)]
    per_second = [int(((t >= start + k) & (t < start + k + 1)).sum()) for k in range(WINDOW_S)]
    gap = float(np.diff(t).max() * 1000) if t.size > 1 else 1e9
    asr = int(((asr_at >= start) & (asr_at < start + WINDOW_S)).sum())
    ok = all(49 <= n <= 51 for n in per_second) and gap <= 40 and asr > 50
    return ok, f"frames/s {per_second}, longest gap {gap:.1f} ms, {asr} frames recognised"


def test_tel_cadence_16k_sim7600_while_vosk_recognises(vosk_ko_engine: VoskEngine, fixtures_dir: Path) -> None:
    replies = [fixtures_dir / "audio" / name for name in ("ko_tomorrow.wav", "ko_home.wav")] * 8
    script = CustomerScript("answer", replies=replies, max_call_s=30, prompt_end_ms=200, reply_gap_ms=100)
    sim = simulated_modem("simcom-sim7600", lambda n: script, ring_ms=100)
    sim.start()
    line = Line("cadence", Modem(load_profile("simcom-sim7600"), sim.at_port, sim.audio_port,
                                 timeouts=ModemTimeouts(hangup=1.0)))
    ticks: list[float] = []
    asr_at: list[float] = []  # when the recogniser took a frame
    lock = threading.Lock()

    def tap(inbound: bytes, outbound: bytes) -> None:
        with lock:
            ticks.append(time.monotonic())

    # a control thread that only sleeps: how late the machine itself wakes threads (reported on failure)
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
    reports: list[str] = []
    passed = False
    try:
        line.start()
        result, call = line.place_call("5550", ring_timeout=3, tap=tap)
        assert result.outcome is DialOutcome.ANSWERED and call is not None
        assert call.audio.device_frame_bytes == 640
        call.audio.play(prompt)
        started = time.monotonic()
        session, quiet = None, 0
        window = 1
        while not passed and window <= WINDOWS:  # recognition on this thread, the pump on its own
            if time.monotonic() >= started + window * WINDOW_S:
                with lock:
                    passed, report = window_report(np.array(ticks), np.array(asr_at),
                                                   started + (window - 1) * WINDOW_S)
                reports.append(report)
                window += 1
                continue
            frame = call.audio.read_frame(0.2)
            if frame is None:
                continue
            voiced = frame_rms(frame) > 300
            if session is None and voiced:
                session = vosk_ko_engine.open_session(KO_GRAMMAR)
            if session is None:
                continue
            session.accept(frame)
            with lock:
                asr_at.append(time.monotonic())
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
    machine_late_ms = max(control) * 1000
    assert passed, f"{reports}; the machine woke a sleeping thread up to {machine_late_ms:.1f} ms late"
    words = " ".join(heard).split()
    assert words and set(words) <= {w for phrase in KO_GRAMMAR for w in phrase.split()}, heard
    assert "있어요" in words or "내일" in words, heard  # recognition really ran on the customer's turns
