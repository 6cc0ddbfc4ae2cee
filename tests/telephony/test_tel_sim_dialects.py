"""The simulated families' tables against the product's modem profiles: every command a profile sends is
answered, every progress line and key report the sim says is read as the profile expects, and the quirks
the profile works around are the quirks the table has. Pure: no ptys."""

from __future__ import annotations

import re

import pytest

from appliance.sim.dialect import COMMON_COMMANDS, Action, find_command
from appliance.sim.families import FAMILIES, HUAWEI_E1550, QUECTEL_EC25
from appliance.telephony.profile import load_profile


def answered(dialect_commands, line: str) -> Action | None:
    found = find_command(dialect_commands, line) or find_command(COMMON_COMMANDS, line)
    return found[0].action if found is not None else None


@pytest.mark.parametrize("family", list(FAMILIES))
def test_tel_sim_dialect_answers_every_command_its_profile_sends(family: str) -> None:
    dialect, profile = FAMILIES[family], load_profile(family)
    sent = [step.command for step in profile.init]
    sent += [profile.dial_command("+15550100"), profile.hangup, *profile.audio_start, *profile.audio_stop]
    sent += [*profile.dtmf.detect_start, profile.dtmf_command("5")]
    sent += [profile.cause_query] if profile.cause_query else []
    missing = [line for line in sent if answered(dialect.commands, line) is None]
    assert missing == [], f"{family}: the simulator answers ERROR to {missing}"
    assert answered(dialect.commands, profile.dial_command("5550")) is Action.DIAL
    assert answered(dialect.commands, profile.hangup) is Action.HANGUP
    assert {answered(dialect.commands, c) for c in profile.audio_start} <= {Action.AUDIO_ON}
    assert answered(dialect.commands, profile.dtmf_command("5")) is Action.SEND_KEYS


@pytest.mark.parametrize("family", list(FAMILIES))
def test_tel_sim_dialect_progress_lines_read_as_the_profile_expects(family: str) -> None:
    dialect, profile = FAMILIES[family], load_profile(family)
    values = {"number": "5550", "duration": 3, "cause": 16}
    for state in ("dialing", "alerting", "active", "released"):
        lines = [template.format(**values) for template in getattr(dialect, state)]
        seen = [profile.classify(line) for line in lines]
        assert all(s is not None and s[0] == state for s in seen), (family, state, lines, seen)
    assert dialect.alerting and dialect.active, "every family reports ringing and answer"


@pytest.mark.parametrize("family", list(FAMILIES))
def test_tel_sim_dialect_quirks_match_what_the_profile_works_around(family: str) -> None:
    dialect, profile = FAMILIES[family], load_profile(family)
    # a key the customer presses: a URC the profile's pattern reads, or tones the box hears in-band
    if dialect.key_report is None:
        assert profile.dtmf.detect == "inband"
    else:
        line = dialect.key_report.format(digit="#", ascii=ord("#"))
        match = re.match(profile.dtmf.detect, line)
        assert match is not None, (family, line)
        assert match.groupdict().get("digit") == "#" or match.groupdict().get("ascii") == str(ord("#"))
    # audio that needs no start command; a sound card where the profile reads ALSA; 16 kHz where it asks for it
    assert dialect.audio_opens_when_active is (profile.audio_start == ())
    assert (dialect.audio_device == "card") is (profile.audio.transport == "alsa")
    # the E1550 says nothing about a call hung up before ^ORIG: the profile waits for the origination first
    assert dialect.released_when_cancelled is not profile.release_needs_origination
    # a family that refuses its audio start for a while is one whose profile retries it
    if dialect.audio_start_refused_ms:
        assert profile.audio_start_retry_s * 1000 > dialect.audio_start_refused_ms


def test_tel_sim_dialect_command_arguments_are_cut_as_typed() -> None:
    dial = find_command(COMMON_COMMANDS, "atd+15550100;")
    assert dial is not None and dial[0].action is Action.DIAL and dial[1] == "+15550100"
    keys = find_command(HUAWEI_E1550.commands, "AT^DTMF=1,5")
    assert keys is not None and keys[0].action is Action.SEND_KEYS and keys[1] == "5"
    no_digit = find_command(HUAWEI_E1550.commands, "AT^DTMF=1")
    assert no_digit is not None and no_digit[1] == ""
    spaced = find_command(QUECTEL_EC25.commands, 'AT+QINDCFG = "ccinfo", 1, 0')
    assert spaced is not None and spaced[0].action is Action.SWITCH_ON and spaced[0].value == "ccinfo"
    assert find_command(QUECTEL_EC25.commands, 'AT+QINDCFG="ccinfo",1,1') is None
    assert find_command(HUAWEI_E1550.commands, "AT+CPCMREG=1") is None  # another family's audio start
