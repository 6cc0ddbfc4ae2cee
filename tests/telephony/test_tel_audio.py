"""Audio pump on the simulated modem's voice port: cadence, playback, barge-in flush."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from appliance.events import DialOutcome
from appliance.sim.customer import CustomerScript, frame_rms
from appliance.telephony.audio import AudioPump
from appliance.telephony.modem import Modem, ModemTimeouts


@pytest.fixture
def answered(make_sim, huawei_profile):
    sim = make_sim(lambda n: CustomerScript("silent", max_call_s=20))
    modem = Modem(huawei_profile, sim.at_port, sim.audio_port, timeouts=ModemTimeouts(hangup=1.0))
    modem.open()
    assert modem.dial("5550", ring_timeout=2).outcome is DialOutcome.ANSWERED
    yield sim, modem
    modem.close()


def voiced(pcm: bytes, threshold: float = 1000.0) -> int:
    return sum(frame_rms(pcm[i : i + 320]) > threshold for i in range(0, len(pcm) - 319, 320))


def test_tel_audio_cadence_is_the_modems_clock(answered):
    sim, modem = answered
    ticks: list[float] = []
    lock = threading.Lock()

    def tap(inbound: bytes, outbound: bytes) -> None:
        assert len(inbound) == len(outbound) == 320
        with lock:
            ticks.append(time.monotonic())

    pump = modem.start_audio(tap)
    try:
        time.sleep(1.0)
        frames_in, frames_out = pump.frames_in, pump.frames_out
    finally:
        pump.stop()
        modem.hangup()
    assert abs(frames_in - frames_out) <= 1
    assert 40 <= frames_in <= 55  # 50 expected in 1 s
    gaps = np.diff(np.array(ticks[5:]))
    assert 0.018 <= float(np.mean(gaps)) <= 0.022, float(np.mean(gaps))
    assert float(np.percentile(gaps, 95)) < 0.045
    # the sim heard one outbound frame per inbound frame
    heard = len(sim.calls[-1].heard) // 320
    assert abs(heard - frames_out) <= 3
    assert pump.closed.is_set() and pump.error is None


def test_tel_audio_playback_reaches_the_customer_and_pads_last_frame(answered, tone):
    sim, modem = answered
    pump = modem.start_audio()
    try:
        pump.play(tone(410, 300.0))  # 20.5 frames -> 21, last padded with silence
        assert pump.playing()
        assert pump.wait_played(3)
        assert not pump.playing()
        time.sleep(0.1)
        frames = pump.frames_out
    finally:
        pump.stop()
        modem.hangup()
    assert sim.calls[-1].ended.wait(1)
    assert 19 <= voiced(bytes(sim.calls[-1].heard)) <= 21
    assert frames >= 21
    # customer audio (silence here) was delivered as whole frames
    assert pump.read_frame(0.01) == bytes(320)


def test_tel_audio_flush_playback_is_barge_in(answered, tone):
    sim, modem = answered
    pump = modem.start_audio()
    try:
        pump.play(tone(5000, 300.0))
        time.sleep(0.2)
        dropped = pump.flush_playback()
        assert dropped > 200
        assert not pump.playing()
        assert pump.wait_played(0.1)
        time.sleep(0.1)
    finally:
        pump.stop()
        modem.hangup()
    assert sim.calls[-1].ended.wait(1)
    assert 5 <= voiced(bytes(sim.calls[-1].heard)) <= 25


def test_tel_audio_streamed_play_counts_underruns(answered, tone):
    _, modem = answered
    pump = modem.start_audio()
    try:
        pump.play(tone(30), more=True)  # 1.5 frames: one goes out, half a frame is held back
        time.sleep(0.25)
        assert pump.playing() and pump.underruns >= 5
        before = pump.underruns
        pump.play(tone(30))  # end of stream: the held half frame is joined, the rest padded
        assert pump.wait_played(1)
        time.sleep(0.1)
        assert pump.underruns == before
    finally:
        pump.stop()
        modem.hangup()


def test_tel_audio_inbound_queue_drops_oldest(answered):
    _, modem = answered
    for cmd in modem.profile.audio_start:
        modem.command(cmd)
    pump = AudioPump(modem.audio_port, inbound_capacity=5)
    pump.start()
    try:
        time.sleep(0.3)
        assert pump.frames_in >= 10
        assert pump.dropped_in == pump.frames_in - 5
        got = [pump.read_frame(0.01) for _ in range(6)]
        assert all(g is not None for g in got[:5])
    finally:
        pump.stop()
        modem.hangup()
    assert pump.read_frame(0.05) is None or pump.closed.is_set()


def test_tel_audio_voice_port_vanishing_sets_closed_with_error(answered):
    sim, modem = answered
    pump = modem.start_audio()
    try:
        time.sleep(0.1)
        sim.unplug()
        assert pump.closed.wait(2)
        assert pump.error is not None
        assert pump.read_frame(0.2) is None or pump.closed.is_set()
    finally:
        pump.stop()
