"""`callbox modem probe` against simulated modems on real ptys."""

from __future__ import annotations

import json

import pytest

from appliance.cli import main
from appliance.errors import PortError
from appliance.sim.customer import CustomerScript
from appliance.sim.families import simulated_modem
from appliance.telephony.probe import PROFILE_MATCH, VOICE_CHECKS, match_profile, probe_modem
from appliance.telephony.profile import load_profile


def test_tel_probe_match_table():
    assert match_profile("huawei", "E1550") == "huawei-e1550"
    assert match_profile("HUAWEI", "E173") == "huawei-e1550"
    assert match_profile("Quectel", "EC25") == "quectel-ec25"
    assert match_profile("SIMCOM INCORPORATED", "SIMCOM_SIM7600E-H") == "simcom-sim7600"
    assert match_profile("SIMCOM_Ltd", "SIMCOM_SIM800C") == "sim800"
    assert match_profile(None, "SIM800L") == "sim800"  # maker unknown, model enough
    assert match_profile("Sierra Wireless", "MC7455") is None
    for _maker, _model, profile in PROFILE_MATCH:  # every profile named exists and has a voice check
        assert load_profile(profile).name == profile
        assert profile in VOICE_CHECKS


def test_tel_probe_huawei_sim(make_sim):
    sim = make_sim()
    result = probe_modem(sim.at_port, timeout=1.0)
    assert result.responding
    assert (result.manufacturer, result.model, result.firmware) == ("huawei", "E1550", "11.608.13.02.00")
    assert result.imei == "351234567890123"
    assert result.sim == "READY" and result.registered and result.registration == "registered (home)"
    assert (result.signal_rssi, result.signal_dbm, result.operator) == (20, -73, "Sim Mobile")
    assert result.voice is True and "^CVOICE:0" in result.voice_detail
    assert result.profile == "huawei-e1550" and result.notes == []


def test_tel_probe_huawei_without_voice_and_without_registration(make_sim):
    sim = make_sim(voice_enabled=False)
    sim.faults.lose_registration()
    result = probe_modem(sim.at_port, timeout=1.0)
    assert result.profile == "huawei-e1550" and result.voice is False
    assert not result.registered and result.registration == "searching"
    assert any("not registered" in n for n in result.notes)


@pytest.mark.parametrize(
    ("profile", "model"),
    [("simcom-sim7600", "SIMCOM_SIM7600E-H"), ("quectel-ec25", "EC25"), ("sim800", "SIMCOM_SIM800C")],
)
def test_tel_probe_other_families(profile, model):
    sim = simulated_modem(profile, lambda n: CustomerScript("answer"))
    sim.start()
    try:
        result = probe_modem(sim.at_port, timeout=1.0)
    finally:
        sim.stop()
    assert result.responding and result.model == model and result.profile == profile
    assert result.sim == "READY" and result.registered
    if profile == "quectel-ec25":
        assert result.voice is True


def test_tel_probe_mute_port_and_missing_port(scripted_peer, tmp_path):
    peer = scripted_peer({}, default=None)  # swallows everything
    result = probe_modem(peer.path, timeout=0.3)
    assert not result.responding and "no answer to AT" in result.notes[0]
    with pytest.raises(PortError):
        probe_modem(str(tmp_path / "ttyUSB9"))


def test_tel_probe_cli_json_and_text(make_sim, capsys):
    sim = make_sim()
    assert main(["modem", "probe", sim.at_port, "--json", "--timeout", "1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["profile"] == "huawei-e1550" and data["voice"] is True and data["imei"] == "351234567890123"
    assert main(["modem", "probe", sim.at_port]) == 0
    text = capsys.readouterr().out
    assert "profile:       huawei-e1550" in text and "signal:        -73 dBm (rssi 20)" in text
    assert main(["modem", "probe", "/nonexistent/ttyUSB7"]) == 2
    assert "cannot open AT port" in capsys.readouterr().err


def test_tel_probe_doctor_probes_present_modems(make_sim, capsys, tmp_path):
    good, mute = make_sim(), make_sim(voice_enabled=False)
    cfg = tmp_path / "callbox.toml"
    cfg.write_text(
        f'[[lines]]\nname = "a"\nat_port = "{good.at_port}"\naudio_port = "{good.audio_port}"\n'
        f'[[lines]]\nname = "b"\nat_port = "{mute.at_port}"\naudio_port = "{mute.audio_port}"\n'
        f'profile = "sim800"\n'
    )
    code = main(["--config", str(cfg), "--state-dir", str(tmp_path / "state"), "doctor"])
    out = capsys.readouterr().out
    assert "ok    line a modem: huawei E1550 answers\n" in out and "ok    line a voice: ^CVOICE:0" in out
    assert "ok    line a signal: -73 dBm (rssi 20)\n" in out
    assert "error line b voice: AT^CVOICE? answered" in out
    assert "error line b profile: the config says sim800, the modem looks like huawei-e1550" in out
    assert code == 1
