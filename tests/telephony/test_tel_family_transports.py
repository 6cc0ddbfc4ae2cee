"""Voice-path transports (serial, ALSA, the simulator's file-backed card), 16 kHz conversion,
and the profile checks that go with the new families."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from appliance.errors import ConfigError, PortError
from appliance.events import DialOutcome
from appliance.sim.card import FifoCard
from appliance.telephony import profile as profile_mod
from appliance.telephony.alsa import AlsaTransport, FifoTransport
from appliance.telephony.audio import SerialTransport, downsample, open_audio_transport, upsample
from appliance.telephony.profile import load_profile, parse_profile

MODEMS = Path(profile_mod.__file__).resolve().parents[2] / "firmware-config" / "modems"


def test_tel_family_transport_specs():
    serial = open_audio_transport("serial:/dev/ttyUSB4")
    assert isinstance(serial, SerialTransport) and serial.path == "/dev/ttyUSB4"
    bare = open_audio_transport("/dev/ttyUSB1")
    assert isinstance(bare, SerialTransport) and bare.path == "/dev/ttyUSB1"
    alsa = open_audio_transport("alsa:Android", rate=8000)
    assert isinstance(alsa, AlsaTransport) and alsa.device == "plughw:CARD=Android,DEV=0" and alsa.period == 160
    assert open_audio_transport("alsa:hw:1,0").device == "hw:1,0"  # type: ignore[attr-defined]
    fifo = open_audio_transport("fifo:/tmp/card")
    assert isinstance(fifo, FifoTransport) and fifo.folder == Path("/tmp/card")


def test_tel_family_alsa_without_the_card_is_a_port_error():
    transport = AlsaTransport("CallboxNoSuchCard")
    with pytest.raises(PortError, match="CallboxNoSuchCard"):
        transport.open()
    transport.close()  # harmless after a failed open


def test_tel_family_fifo_card_carries_audio_both_ways_and_unplugs():
    card = FifoCard()
    box = FifoTransport(card.folder)
    box.open()
    try:
        frame = bytes(range(256)) + bytes(64)
        assert card.write(frame) == 320
        got = b""
        while len(got) < 320:
            chunk = box.read(320 - len(got))
            assert chunk, "the box should read what the card wrote"
            got += chunk
        assert got == frame
        box.write(b"\x01\x02" * 160)
        assert card.read(0.5) == b"\x01\x02" * 160
        card.drain()  # nothing pending: returns at once
        card.close()
        assert not card.folder.exists()
        with pytest.raises(PortError, match="went away"):
            for _ in range(10):
                box.read(320)
    finally:
        box.close()
        card.close()


def test_tel_family_16k_conversion_keeps_the_signal():
    t = np.arange(160) / 8000
    narrow = (np.sin(2 * np.pi * 500 * t) * 8000).astype("<i2").tobytes()
    wide, last = upsample(narrow, 2)
    assert len(wide) == 640 and last == np.frombuffer(narrow, "<i2")[-1]
    back = np.frombuffer(downsample(wide, 2), "<i2").astype(np.float64)
    original = np.frombuffer(narrow, "<i2").astype(np.float64)
    assert np.corrcoef(back[2:], original[2:])[0, 1] > 0.98


@pytest.mark.parametrize("name", ["simcom-sim7600", "quectel-ec25", "quectel-ec25-tty", "sim800", "huawei-e1550"])
def test_tel_family_profiles_load_and_classify(name: str):
    p = load_profile(name)
    assert p.name == name and p.dtmf.send and p.dtmf.detect
    assert p.audio.frame_bytes == p.audio.rate // 50 * 2
    assert p.outcome_for_final_code("BUSY") is DialOutcome.BUSY


def test_tel_family_profile_stat_urcs_and_cause_text():
    sim7600 = load_profile("simcom-sim7600")
    assert sim7600.classify('+CLCC: 1,0,3,0,0,"5550",129,""')[0] == "alerting"  # type: ignore[index]
    assert sim7600.classify('+CLCC: 1,1,4,0,0,"5550",129,""') is None  # an incoming call is not ours
    assert sim7600.classify("VOICE CALL: END: 000012")[0] == "released"  # type: ignore[index]
    report = sim7600.outcome_from_cause_report(["+CEER: Call rejected"])
    assert report is not None and report.outcome is DialOutcome.REJECTED
    ec25 = load_profile("quectel-ec25")
    assert ec25.classify('+QIND: "ccinfo",1,0,-1,0,0,"5550",129')[0] == "released"  # type: ignore[index]
    assert ec25.classify('+QIND: "csq",20,99') is None
    sim800 = load_profile("sim800")
    assert sim800.classify("MO CONNECTED")[0] == "active" and not sim800.release_after_hangup  # type: ignore[index]


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda d: d["audio"].update(transport="usb"), "audio.transport"),
        (lambda d: d["audio"].update(frame_bytes=320), "audio.frame_bytes"),
        (lambda d: d["progress"]["stat"][0].update(pattern="^\\+CLCC: (\\d)"), "progress.stat[0].pattern"),
        (lambda d: d["progress"]["stat"][0]["states"].update({"9": "ringing"}), "progress.stat[0].states.9"),
        (lambda d: d["call"].update(audio_start_retry_s="3"), "call.audio_start_retry_s"),
        (lambda d: d["dtmf"].update(sned="AT+VTS={digit}"), "dtmf.sned"),
    ],
)
def test_tel_family_profile_errors_name_the_key(mutate, key):
    data = tomllib.loads((MODEMS / "simcom-sim7600.toml").read_text())
    mutate(data)
    with pytest.raises(ConfigError) as info:
        parse_profile(data, source="x.toml")
    assert info.value.key == key
