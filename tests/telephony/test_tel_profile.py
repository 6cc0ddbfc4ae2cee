"""Modem profiles: loading, search order, unknown keys."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from appliance.errors import ConfigError
from appliance.events import DialOutcome
from appliance.telephony import profile as profile_mod
from appliance.telephony.profile import load_profile, parse_profile

REPO_PROFILE = Path(profile_mod.__file__).resolve().parents[2] / "firmware-config/modems/huawei-e1550.toml"


def raw() -> dict:
    return tomllib.loads(REPO_PROFILE.read_text())


def test_tel_profile_huawei_loads_by_name_and_path():
    by_name = load_profile("huawei-e1550")
    by_path = load_profile(str(REPO_PROFILE))
    assert by_name == by_path or by_name.source == by_path.source
    p = by_name
    assert p.dial_command("+4915551234") == "ATD+4915551234;"
    assert p.hangup == "AT+CHUP" and p.audio_start == ("AT^DDSETEX=2",)
    assert p.audio.rate == 8000 and p.audio.frame_bytes == 320 and p.audio.format == "S16LE"
    assert [s.command for s in p.init][:2] == ["ATE0", "AT+CMEE=1"]
    cvoice = next(s for s in p.init if s.command == "AT^CVOICE?")
    assert cvoice.expect is not None and cvoice.expect.match("^CVOICE:0,8000,16,20")
    assert not cvoice.expect.match("^CVOICE:1,8000,16,20")
    assert p.release_needs_origination


def test_tel_profile_call_progress_and_cause_table():
    p = load_profile("huawei-e1550")
    state, m = p.classify("^CEND:1,12,104,17") or ("", None)
    assert state == "released" and m is not None and m["cause"] == "17"
    assert p.classify("^ORIG:1,0")[0] == "dialing"  # type: ignore[index]
    assert p.classify("^CONF:1")[0] == "alerting"  # type: ignore[index]
    assert p.classify("^CONN:1,0")[0] == "active"  # type: ignore[index]
    assert p.classify("+CSQ: 20,99") is None
    assert p.outcome_for_cause(17) is DialOutcome.BUSY
    assert p.outcome_for_cause(18) is DialOutcome.NO_ANSWER
    assert p.outcome_for_cause(19) is DialOutcome.NO_ANSWER
    assert p.outcome_for_cause(21) is DialOutcome.REJECTED
    assert p.outcome_for_cause(34) is DialOutcome.FAILED
    assert p.outcome_for_final_code("BUSY") is DialOutcome.BUSY
    assert p.outcome_for_final_code("NO CARRIER") is DialOutcome.FAILED


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda d: d.update(colour="blue"), "colour"),
        (lambda d: d["call"].update(dail="ATD{number};"), "call.dail"),
        (lambda d: d["init"][1].update(expext="x"), "init[1].expext"),
        (lambda d: d["outcomes"]["cause"].update({"17": "engaged"}), "outcomes.cause.17"),
        (lambda d: d["progress"].update(ringing="^RING$"), "progress.ringing"),
        (lambda d: d["call"].update(dial="ATD;"), "call.dial"),
        (lambda d: d["progress"].update(active="^(CONN"), "progress.active"),
    ],
)
def test_tel_profile_errors_name_the_key(mutate, key):
    data = raw()
    mutate(data)
    with pytest.raises(ConfigError) as info:
        parse_profile(data, source="x.toml")
    assert info.value.key == key
    assert key in str(info.value)


def test_tel_profile_search_order(tmp_path, monkeypatch):
    system, share = tmp_path / "etc", tmp_path / "prefix"
    (share / "share" / "callbox" / "modems").mkdir(parents=True)
    system.mkdir()
    monkeypatch.setattr(profile_mod, "SYSTEM_DIR", system)
    monkeypatch.setattr(profile_mod.sys, "prefix", str(share))
    text = REPO_PROFILE.read_text()
    (share / "share" / "callbox" / "modems" / "only-shared.toml").write_text(
        text.replace('name = "huawei-e1550"', 'name = "only-shared"')
    )
    assert load_profile("only-shared").name == "only-shared"
    assert load_profile("huawei-e1550").source == str(REPO_PROFILE)
    (system / "huawei-e1550.toml").write_text(text.replace('model = "E1550"', 'model = "E1550-local"'))
    assert load_profile("huawei-e1550").model == "E1550-local"
    with pytest.raises(ConfigError, match="no modem profile named 'quectel-nope'"):
        load_profile("quectel-nope")
