"""DTMF: the in-band detector on its own, and sending and receiving digits on every modem family."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from appliance.errors import ModemError
from appliance.events import DialOutcome
from appliance.sim.customer import CustomerScript, load_pcm
from appliance.sim.families import simulated_modem
from appliance.telephony.audio import upsample
from appliance.telephony.modem import Modem, ModemTimeouts
from appliance.telephony.profile import load_profile, parse_profile
from appliance.telephony.tones import DIGITS, DtmfDetector, SpeechDetector, dtmf_pcm

FAST = ModemTimeouts(command=2.0, dial_ack=2.0, hangup=1.0, audio_start=2.0)


def detect(pcm: bytes, rate: int = 8000, chunk: int = 320) -> list[str]:
    detector = DtmfDetector(rate)
    found: list[str] = []
    for i in range(0, len(pcm), chunk):
        found += detector.feed(pcm[i : i + chunk])
    return found


def test_tel_dtmf_detector_hears_all_sixteen_keys_once_each():
    assert detect(dtmf_pcm(DIGITS)) == list(DIGITS)
    # a held key is one digit; the same key twice needs a gap between
    assert detect(dtmf_pcm("55", tone_ms=300, gap_ms=60)) == ["5", "5"]
    # odd chunk sizes change nothing
    assert detect(dtmf_pcm("90#"), chunk=77 * 2) == ["9", "0", "#"]


def test_tel_dtmf_detector_at_16k_and_under_noise():
    wide, _ = upsample(dtmf_pcm("147*"), 2)
    assert detect(wide, rate=16000, chunk=640) == ["1", "4", "7", "*"]
    rng = np.random.default_rng(7)
    tones = np.frombuffer(dtmf_pcm("2580"), dtype="<i2").astype(np.float64)
    noisy = np.clip(tones + rng.normal(0, 600, tones.size), -32768, 32767).astype("<i2").tobytes()
    assert detect(noisy) == ["2", "5", "8", "0"]


def test_tel_dtmf_detector_ignores_speech_noise_and_ringback(voices_dir: Path):
    for wav in sorted(voices_dir.glob("*.wav")):
        assert detect(load_pcm(wav)) == [], wav.name
    rng = np.random.default_rng(1)
    assert detect(rng.normal(0, 3000, 8000 * 2).astype("<i2").tobytes()) == []
    t = np.arange(8000 * 2) / 8000
    ringback = ((np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 480 * t)) * 6000).astype("<i2").tobytes()
    assert detect(ringback) == []
    # and the speech check used to confirm an early answer tells the two apart
    speech, tone = SpeechDetector(), SpeechDetector()
    hello = load_pcm(voices_dir / "en_hello.wav")
    assert any(speech.feed(hello[i : i + 320]) for i in range(0, len(hello) - 319, 320))
    assert not any(tone.feed(ringback[i : i + 320]) for i in range(0, len(ringback) - 319, 320))


@pytest.mark.parametrize("profile", ["simcom-sim7600", "quectel-ec25", "sim800", "huawei-e1550"])
def test_tel_dtmf_send_and_receive_on_every_family(profile: str):
    sim = simulated_modem(profile, lambda n: CustomerScript("silent", max_call_s=10), ring_ms=100)
    sim.start()
    modem = Modem(load_profile(profile), sim.at_port, sim.audio_port, timeouts=FAST)
    try:
        modem.open()
        assert modem.dial("5550", ring_timeout=3).outcome is DialOutcome.ANSWERED
        pump = modem.start_audio()
        modem.send_dtmf("1#9")
        assert sim.dtmf_sent == ["1", "#", "9"]  # type: ignore[attr-defined]
        sim.press("42*")  # type: ignore[attr-defined]
        got = [modem.read_dtmf(2.0) for _ in range(3)]
        assert got == ["4", "2", "*"]
        assert modem.read_dtmf(0.3) is None  # each key once
        pump.stop()
        modem.hangup()
    finally:
        modem.close()
        sim.stop()


def test_tel_dtmf_on_an_answered_call_of_a_line():
    """What the dialogue layer uses: keys through the line's ActiveCall; none after the call ended."""
    from appliance.telephony.line import Line

    sim = simulated_modem("quectel-ec25", lambda n: CustomerScript("silent", max_call_s=10), ring_ms=100)
    sim.start()
    line = Line("dtmf", Modem(load_profile("quectel-ec25"), sim.at_port, sim.audio_port, timeouts=FAST))
    try:
        line.start()
        result, call = line.place_call("5550", ring_timeout=3)
        assert result.outcome is DialOutcome.ANSWERED and call is not None
        call.send_dtmf("7")
        assert sim.dtmf_sent == ["7"]  # type: ignore[attr-defined]
        sim.press("3")  # type: ignore[attr-defined]
        assert call.read_dtmf(2.0) == "3"
        call.hangup()
        assert call.read_dtmf(0.1) is None
    finally:
        line.stop()
        sim.stop()


@pytest.mark.parametrize("profile", ["simcom-sim7600", "quectel-ec25", "sim800", "huawei-e1550"])
def test_tel_dtmf_scripted_customer_presses_a_key_after_the_prompt(profile: str):
    """A customer script with a "dtmf:1" reply answers the bot's prompt with a key, which the box reads."""
    from appliance.telephony.line import Line

    script = CustomerScript("answer", replies=[Path("dtmf:1")], prompt_end_ms=200, reply_gap_ms=100)
    sim = simulated_modem(profile, lambda n: script, ring_ms=100)
    sim.start()
    line = Line("keys", Modem(load_profile(profile), sim.at_port, sim.audio_port, timeouts=FAST))
    try:
        line.start()
        result, call = line.place_call("5550", ring_timeout=3)
        assert result.outcome is DialOutcome.ANSWERED and call is not None
        assert call.read_dtmf(0.3) is None  # nothing before the prompt
        t = np.arange(8000 * 6 // 10) / 8000
        call.audio.play((np.sin(2 * np.pi * 300 * t) * 6000).astype("<i2").tobytes())  # the bot's 0.6 s prompt
        assert call.read_dtmf(4.0) == "1"
        assert call.read_dtmf(0.3) is None
        call.hangup()
        record = sim.calls[-1]  # type: ignore[attr-defined]
        assert record.ended.wait(3.0) and record.said == ["dtmf:1"]
    finally:
        line.stop()
        sim.stop()


def test_tel_dtmf_customer_keys_must_be_keys():
    with pytest.raises(ValueError, match="keys must be"):
        CustomerScript("answer", replies=[Path("dtmf:1x")])


def test_tel_dtmf_profile_without_sending_says_so(huawei_profile):
    import dataclasses

    from appliance.telephony.profile import DtmfProfile

    mute = dataclasses.replace(huawei_profile, dtmf=DtmfProfile())
    with pytest.raises(ModemError, match="cannot send DTMF"):
        Modem(mute, "/dev/null", "/dev/null").send_dtmf("1")
    with pytest.raises(Exception, match="digit or ascii"):
        parse_profile({"modem": {"name": "x"}, "call": {"dial": "ATD{number};", "hangup": "ATH"},
                       "dtmf": {"detect": "^\\+DTMF: (?P<key>.)$"}})
