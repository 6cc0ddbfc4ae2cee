"""firmware-config/udev/99-callbox-modems.rules against the modem profiles: every family's USB ids
(firmware-config/modems/*.toml, [usb]) have a rule that keeps ModemManager off, names the AT and voice ttys by
the physical USB port (/dev/callbox/<port>-at, -audio) with group dialout and mode 0660, and pins the ALSA card
id per port for the families whose voice is a USB sound card; no rule matches ids no profile claims. The rules
are parsed strictly (an unknown key or operator fails), udev itself reads them (`udevadm test` in a private mount
namespace whose /etc/udev/rules.d holds only this file, so the machine's rules stay as they are), and
`udevadm verify` runs where udev has it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from appliance.config import ConfigError
from appliance.telephony.profile import ModemProfile, load_profile, parse_profile

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "firmware-config" / "udev" / "99-callbox-modems.rules"
PROFILES = sorted((REPO / "firmware-config" / "modems").glob("*.toml"))

_TOKEN = re.compile(r'\s*(?P<key>[A-Z_]+)(?:\{(?P<attr>[^}]+)\})?\s*(?P<op>==|!=|\+=|-=|:=|=)\s*'
                    r'"(?P<value>[^"]*)"\s*(?:,|$)')
_KEYS = {"ACTION", "SUBSYSTEM", "KERNEL", "ATTR", "ATTRS", "ENV", "SYMLINK", "GROUP", "MODE", "PROGRAM",
         "GOTO", "LABEL"}
_MATCH_KEYS = {"ACTION", "SUBSYSTEM", "KERNEL", "ATTRS", "PROGRAM"}


def parse_rules(text: str) -> list[list[tuple[str, str, str]]]:
    """Each rule as (key with {attr}, operator, value) tokens; anything else is an error."""
    rules = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tokens, pos = [], 0
        while pos < len(line):
            m = _TOKEN.match(line, pos)
            if not m:
                raise ValueError(f"line {number}: cannot parse at {line[pos:]!r}")
            key = m["key"] + (f"{{{m['attr']}}}" if m["attr"] else "")
            if m["key"] not in _KEYS:
                raise ValueError(f"line {number}: unknown key {m['key']}")
            if m["key"] in _MATCH_KEYS and m["op"] not in ("==", "!="):
                raise ValueError(f"line {number}: {key} is a match key, not {m['op']}")
            tokens.append((key, m["op"], m["value"]))
            pos = m.end()
        rules.append(tokens)
    return rules


def get(rule: list[tuple[str, str, str]], key: str, op: str) -> str | None:
    return next((v for k, o, v in rule if k == key and o == op), None)


def matches_id(rule: list[tuple[str, str, str]], usb_id: str, attr: str = "ATTRS") -> bool:
    vendor, product = usb_id.split(":")
    return (get(rule, f"{attr}{{idVendor}}", "==") == vendor
            and product in (get(rule, f"{attr}{{idProduct}}", "==") or "").split("|"))


def profiles() -> list[ModemProfile]:
    return [load_profile(str(p)) for p in PROFILES]


def tty_rule(rules: list[list[tuple[str, str, str]]], usb_id: str, interface: str) -> list[tuple[str, str, str]]:
    found = [r for r in rules if get(r, "SUBSYSTEM", "==") == "tty" and matches_id(r, usb_id)
             and get(r, "ENV{ID_USB_INTERFACE_NUM}", "==") == interface]
    assert len(found) == 1, f"{usb_id} interface {interface}: {len(found)} rules"
    return found[0]


def test_every_profile_has_usb_ids() -> None:
    assert len(PROFILES) >= 5
    for profile in profiles():
        assert profile.usb.ids and profile.usb.at_interface, profile.name
        if profile.audio.transport == "serial":
            assert profile.usb.audio_interface, profile.name
        else:
            assert profile.usb.sound_card_ids, profile.name


def test_each_family_gets_port_names_group_mode_and_modemmanager_kept_off() -> None:
    rules = parse_rules(RULES.read_text())
    for profile in profiles():
        for usb_id in profile.usb.ids:
            ignore = [r for r in rules if get(r, "SUBSYSTEM", "==") == "tty" and matches_id(r, usb_id)
                      and get(r, "ENV{ID_MM_DEVICE_IGNORE}", "=") == "1"]
            assert ignore, f"{profile.name} {usb_id}: ModemManager not kept off"
            names = [("at", profile.usb.at_interface)]
            if profile.audio.transport == "serial":
                names.append(("audio", profile.usb.audio_interface))
            for suffix, interface in names:
                rule = tty_rule(rules, usb_id, interface)
                assert get(rule, "SYMLINK", "+=") == f"callbox/%b-{suffix}", (profile.name, rule)
                assert get(rule, "GROUP", "=") == "dialout" and get(rule, "MODE", "=") == "0660"
        for usb_id in profile.usb.sound_card_ids:
            cards = [r for r in rules if get(r, "SUBSYSTEM", "==") == "sound" and matches_id(r, usb_id)]
            assert len(cards) == 1, f"{profile.name} {usb_id}: no ALSA card id pinned"
            assert get(cards[0], "KERNEL", "==") == "card*" and get(cards[0], "ATTR{id}", "=") == "cb%c"
            assert get(cards[0], "ACTION", "==") == "add"


def test_no_rule_matches_ids_no_profile_claims() -> None:
    claimed = {i for p in profiles() for i in (*p.usb.ids, *p.usb.sound_card_ids)}
    for rule in parse_rules(RULES.read_text()):
        for attr in ("ATTRS", "ATTR"):
            vendor = get(rule, f"{attr}{{idVendor}}", "==")
            if vendor is None:
                continue
            for product in (get(rule, f"{attr}{{idProduct}}", "==") or "").split("|"):
                assert f"{vendor}:{product}" in claimed, rule


def test_the_alsa_card_id_is_a_valid_card_name_for_deep_ports() -> None:
    """The PROGRAM of the sound rules, run with %b replaced as udev would: 'cb' + the port must be a card id the
    kernel takes (letters, digits, '_'; at most 15 characters)."""
    rules = parse_rules(RULES.read_text())
    programs = {get(r, "PROGRAM", "==") for r in rules if get(r, "SUBSYSTEM", "==") == "sound"}
    assert len(programs) == 1
    program = programs.pop()
    assert program is not None
    inner = re.fullmatch(r"/bin/sh -c '(.*)'", program)
    assert inner
    for port, expected in (("1-1.2", "cb1_1_2"), ("3-1", "cb3_1"), ("1-1.3.4.2", "cb1_1_3_4_2")):
        out = subprocess.run(["/bin/sh", "-c", inner[1].replace("%b", port)], capture_output=True, text=True,
                             timeout=10, check=True).stdout.rstrip("\n")
        card = "cb" + out
        assert card == expected and re.fullmatch(r"[A-Za-z0-9_]{1,15}", card)


def test_the_parser_refuses_what_udev_would_not_take() -> None:
    with pytest.raises(ValueError, match="unknown key"):
        parse_rules('SUBSYSTEM=="tty", SYMLNK+="callbox/x"')
    with pytest.raises(ValueError, match="match key"):
        parse_rules('SUBSYSTEM="tty", SYMLINK+="callbox/x"')
    with pytest.raises(ValueError, match="cannot parse"):
        parse_rules('SUBSYSTEM=="tty" SYMLINK+="callbox/x')


def test_a_bad_usb_id_in_a_profile_is_refused() -> None:
    data = {"modem": {"name": "x"}, "call": {"dial": "ATD{number};", "hangup": "AT+CHUP"},
            "usb": {"ids": ["12D1-1001"]}}
    with pytest.raises(ConfigError) as caught:
        parse_profile(data, source="x.toml")
    assert "usb.ids" in str(caught.value)
    data["usb"] = {"ids": ["12d1:1001"], "at_interfaces": "02"}
    with pytest.raises(ConfigError) as caught:
        parse_profile(data, source="x.toml")
    assert "usb.at_interfaces" in str(caught.value)


def udev_complaints(rules_dir: Path) -> list[str] | None:
    """What `udevadm test` says about the files in rules_dir, read as /etc/udev/rules.d in a private mount
    namespace; None where that cannot be done (no udevadm, no unshare or not allowed)."""
    udevadm, unshare = shutil.which("udevadm"), shutil.which("unshare")
    device = next((p for p in (Path("/sys/class/tty/tty0"), Path("/sys/class/tty/console")) if p.exists()), None)
    if udevadm is None or unshare is None or device is None:
        return None
    script = f'mount --bind "$1" /etc/udev/rules.d && exec {udevadm} test {device}'
    try:
        result = subprocess.run([unshare, "-m", "sh", "-c", script, "sh", str(rules_dir)], capture_output=True,
                                text=True, timeout=60, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None
    out = result.stdout + result.stderr
    if "Reading rules file: /etc/udev/rules.d/" not in out:
        return None  # the namespace or the bind mount was refused
    return [line for line in out.splitlines() if line.startswith("/etc/udev/rules.d/")]


def test_udev_reads_the_rules_without_a_complaint(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules.d"
    rules_dir.mkdir()
    (rules_dir / RULES.name).write_text(RULES.read_text())
    said = udev_complaints(rules_dir)
    if said is None:
        pytest.skip("udevadm test needs udevadm and a private mount namespace (unshare -m, root)")
    assert said == []

    broken = RULES.read_text().replace('SYMLINK+="callbox/%b-at"', 'SYMLINK+="callbox/%q-at"', 1)
    (rules_dir / RULES.name).write_text(broken)
    said = udev_complaints(rules_dir)
    assert said and "invalid substitution" in said[0], said
