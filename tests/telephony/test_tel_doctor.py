"""`callbox doctor`'s line checks against simulated modems on real ptys: each problem found, with its fix."""

from __future__ import annotations

import json
import os
from pathlib import Path

from appliance.cli import main
from appliance.cli.doctor_lines import ServiceUser, alsa_cards, holders, line_checks, may_open
from appliance.config import LineConfig
from appliance.sim.customer import CustomerScript
from appliance.sim.families import simulated_modem

NOBODY = ServiceUser("callbox", 54321, frozenset({54321}))  # a user with no claim on any test file
CARDS = """ 0 [vc4hdmi        ]: vc4-hdmi - vc4-hdmi
                      vc4-hdmi
 1 [Android        ]: USB-Audio - Android
                      Android Android at usb-0000:01:00.0-1.2, high speed
"""


def by_name(checks, suffix):
    found = [c for c in checks if c.name.endswith(suffix)]
    assert found, [str(c) for c in checks]
    return found[0]


def test_doctor_line_all_good(make_sim, tmp_path):
    sim = make_sim()
    checks = line_checks(LineConfig("gsm0", sim.at_port, sim.audio_port), proc=tmp_path)
    assert [c.status for c in checks] == ["ok"] * len(checks), [str(c) for c in checks]
    names = [c.name for c in checks]
    assert names == ["line gsm0 profile", "line gsm0 AT port", "line gsm0 audio port", "line gsm0 modem",
                     "line gsm0 SIM", "line gsm0 network", "line gsm0 signal", "line gsm0 voice",
                     "line gsm0 audio path"]
    assert by_name(checks, "signal").detail == "-73 dBm (rssi 20)"


def test_doctor_line_missing_port_skips_the_modem_checks(tmp_path):
    lc = LineConfig("gsm0", str(tmp_path / "ttyUSB2"), str(tmp_path / "ttyUSB1"))
    checks = line_checks(lc, proc=tmp_path)
    at = by_name(checks, "AT port")
    assert at.status == "error" and "does not exist" in at.detail and "plug the modem in" in at.fix
    assert "/dev/callbox/" in at.fix  # the udev names
    assert not any(c.name.endswith(("SIM", "network", "audio path")) for c in checks)


def test_doctor_line_sim_needs_its_pin(make_sim, tmp_path):
    sim = make_sim()
    sim.faults.sim_state = "SIM PIN"
    checks = line_checks(LineConfig("gsm0", sim.at_port, sim.audio_port), proc=tmp_path)
    check = by_name(checks, "SIM")
    assert check.status == "error" and "needs its PIN" in check.detail
    assert 'AT+CLCK="SC",0' in check.fix and "phone" in check.fix
    assert by_name(checks, "network").status == "ok"


def test_doctor_line_not_registered(make_sim, tmp_path):
    sim = make_sim()
    sim.faults.registration = 0  # +CREG: 0,0: not registered, not searching
    checks = line_checks(LineConfig("gsm0", sim.at_port, sim.audio_port), proc=tmp_path)
    check = by_name(checks, "network")
    assert check.status == "error" and check.detail.startswith("not registered: not registered")
    assert "antenna" in check.fix and "VoLTE" in check.fix
    assert by_name(checks, "SIM").status == "ok"


def test_doctor_line_alsa_card_looked_up_by_name(tmp_path):
    """An EC25 with its voice on the USB audio card "Android": present when /proc/asound/cards lists it."""
    sim = simulated_modem("quectel-ec25", lambda n: CustomerScript("answer"))
    sim.start()
    try:
        cards = tmp_path / "cards"
        cards.write_text(CARDS)
        assert alsa_cards(cards) == {"vc4hdmi": "0", "Android": "1"}
        lc = LineConfig("lte0", sim.at_port, "alsa:Android", profile="quectel-ec25")
        checks = line_checks(lc, cards=cards, proc=tmp_path)
        audio = by_name(checks, "audio port")
        assert audio.status == "ok" and "sound card Android is present" in audio.detail
        assert by_name(checks, "voice").status == "ok" and by_name(checks, "SIM").status == "ok"
        lc2 = LineConfig("lte1", sim.at_port, "alsa:plughw:CARD=Android,DEV=0", profile="quectel-ec25")
        assert by_name(line_checks(lc2, cards=cards, proc=tmp_path), "audio port").status == "ok"
        cards.write_text(CARDS.split(" 1 [")[0])  # unplugged
        gone = by_name(line_checks(lc, cards=cards, proc=tmp_path), "audio port")
        assert gone.status == "error" and "no sound card 'Android'" in gone.detail and "vc4hdmi" in gone.detail
        assert "AT+QPCMV=1,2" in gone.fix
    finally:
        sim.stop()


def test_doctor_port_the_service_user_may_not_open(make_sim, tmp_path):
    """Root passes every access test, so the check asks for the callbox user: owner, group and mode."""
    sim = make_sim()
    lc = LineConfig("gsm0", sim.at_port, sim.audio_port)
    os.chmod(sim.at_port, 0o600)
    st = os.stat(sim.at_port)
    checks = line_checks(lc, user=NOBODY, proc=tmp_path)
    at = by_name(checks, "AT port")
    assert at.status == "error" and "the service user callbox may not open it" in at.detail
    assert "usermod -aG" in at.fix and 'MODE="0660"' in at.fix
    os.chmod(sim.at_port, 0o660)
    in_group = ServiceUser("callbox", 54321, frozenset({st.st_gid}))
    assert may_open(Path(sim.at_port), in_group) and not may_open(Path(sim.at_port), NOBODY)
    assert by_name(line_checks(lc, user=in_group, proc=tmp_path), "AT port").status == "ok"


def test_doctor_unknown_profile_and_modem_manager(tmp_path):
    port = tmp_path / "ttyUSB2"
    port.write_text("")
    proc = tmp_path / "proc"
    (proc / "4242" / "fd").mkdir(parents=True)
    (proc / "4242" / "comm").write_text("ModemManager\n")
    (proc / "4242" / "fd" / "7").symlink_to(port)
    assert holders(port, proc) == [(4242, "ModemManager")]
    checks = line_checks(LineConfig("gsm0", str(port), str(port), profile="nokia-3310"), proc=proc)
    profile = by_name(checks, "profile")
    assert profile.status == "error" and "huawei-e1550" in profile.fix and "serve refuses" in profile.fix
    held = by_name(checks, "AT port holder")
    assert held.status == "error" and "ModemManager (pid 4242)" in held.detail
    assert "ID_MM_DEVICE_IGNORE" in held.fix
    assert not any(c.name.endswith("modem") for c in checks)  # a held port is not opened


def test_doctor_command_missing_config_changes_nothing(tmp_path, capsys):
    state = tmp_path / "state"
    code = main(["--config", str(tmp_path / "callbox.toml"), "--state-dir", str(state), "doctor", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and data["ok"] is False
    config = data["checks"][0]
    assert (config["name"], config["status"]) == ("config", "error") and "does not exist" in config["detail"]
    assert "callbox.toml.example" in config["fix"]
    assert {c["status"] for c in data["checks"]} <= {"ok", "warn", "error"}
    assert any(c["name"] == "lines" and c["status"] == "error" for c in data["checks"])
    assert not state.exists() and sorted(p.name for p in tmp_path.iterdir()) == []  # nothing made


def test_doctor_without_a_file_checks_what_serve_would_run_on(tmp_path, capsys, monkeypatch):
    """No config file: `callbox serve` would run on the defaults under CALLBOX_* variables, so doctor checks
    those (the state dir and the web port from the environment); a variable that cannot be used is an error."""
    state = tmp_path / "from-env"
    monkeypatch.setenv("CALLBOX_STATE_DIR", str(state))
    monkeypatch.setenv("CALLBOX_LISTEN", "127.0.0.1:18099")
    code = main(["--config", str(tmp_path / "callbox.toml"), "doctor", "--json"])
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert code == 1 and str(state) in checks["state dir"]["detail"]
    assert "127.0.0.1:18099" in checks["web port"]["detail"]
    assert not state.exists()
    monkeypatch.setenv("CALLBOX_LISTEN", "no port here")
    main(["--config", str(tmp_path / "callbox.toml"), "doctor", "--json"])
    named = [c for c in json.loads(capsys.readouterr().out)["checks"] if "CALLBOX_LISTEN" in c["detail"]]
    assert [c["status"] for c in named] == ["error"]


def test_doctor_command_text_lines_and_invalid_config(make_sim, tmp_path, capsys):
    sim = make_sim()
    cfg = tmp_path / "callbox.toml"
    cfg.write_text(f'[shop]\nname = "Corner Shop"\n\n[web]\nprot = 1\n\n[[lines]]\nname = "a"\n'
                   f'at_port = "{sim.at_port}"\naudio_port = "{sim.audio_port}"\n')
    code = main(["--config", str(cfg), "--state-dir", str(tmp_path / "state"), "doctor"])
    out = capsys.readouterr().out
    assert code == 1
    assert f"error config: {cfg}:5: web.prot: unknown key -- fix: " in out
    cfg.write_text(f'[shop]\nname = "Corner Shop"\n\n[[lines]]\nname = "a"\n'
                   f'at_port = "{sim.at_port}"\naudio_port = "{sim.audio_port}"\n')
    main(["--config", str(cfg), "--state-dir", str(tmp_path / "state"), "doctor"])
    out = capsys.readouterr().out
    assert f"ok    config: {cfg} is valid\n" in out
    assert "ok    line a SIM: ready\n" in out and "ok    line a network: registered (home), Sim Mobile\n" in out
    assert "ok    shop: Corner Shop" in out and out.splitlines()[-1].endswith("warnings")
    assert not (tmp_path / "state").exists()
