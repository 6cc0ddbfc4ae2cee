"""systemd/callbox.service: ``systemd-analyze verify`` on a copy of the unit (ExecStart pointed at a file that
exists here) reports nothing about it, and the unit has what the box relies on: notify with a watchdog, the
callbox user with its serial and audio groups, and hardening that still lets it reach the modems."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "callbox.service"
ANALYZE = shutil.which("systemd-analyze")


def verify(text: str, where: Path) -> list[str]:
    """The unit written to where/callbox.service with ExecStart on an existing program; the lines
    ``systemd-analyze verify`` says about it (warnings and errors)."""
    assert ANALYZE, "systemd-analyze is missing: make sysdeps-test installs it (the systemd package)"
    program = where / "callbox"
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    unit = where / "callbox.service"
    unit.write_text(text.replace("/opt/callbox/bin/callbox", str(program)))
    assert ANALYZE is not None
    result = subprocess.run([ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL)
    said = [line for line in (result.stdout + result.stderr).splitlines() if "callbox.service" in line]
    if result.returncode != 0:
        said.append(f"exit {result.returncode}")
    return said


def test_systemd_analyze_verify_says_nothing_about_the_unit(tmp_path: Path) -> None:
    assert verify(UNIT.read_text(), tmp_path) == []


def test_the_check_catches_a_bad_key(tmp_path: Path) -> None:
    """The same check on a unit with a misspelt key reports it (so the test above can fail)."""
    said = verify(UNIT.read_text().replace("WatchdogSec=30", "WatchdogSecs=30"), tmp_path)
    assert any("WatchdogSecs" in line for line in said), said


def service() -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for raw in UNIT.read_text().splitlines():  # repeated keys (DeviceAllow=) are a list
        line = raw.strip()
        if line.startswith("[") or not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        values.setdefault(key, []).append(value)
    return values


def test_the_unit_has_what_the_box_relies_on() -> None:
    s = service()
    one = {k: v[-1] for k, v in s.items()}
    assert one["Type"] == "notify" and one["WatchdogSec"] == "30" and one["NotifyAccess"] == "main"
    assert one["Restart"] == "on-failure"
    assert one["ExecStart"] == "/opt/callbox/bin/callbox serve"
    assert (one["User"], one["Group"]) == ("callbox", "callbox")
    assert one["SupplementaryGroups"].split() == ["dialout", "audio"]
    assert (one["StateDirectory"], one["StateDirectoryMode"]) == ("callbox", "0700")
    assert one["ConfigurationDirectory"] == "callbox"
    for key in ("ProtectHome", "PrivateTmp", "NoNewPrivileges", "ProtectKernelTunables", "ProtectKernelModules"):
        assert one[key] == "yes", key
    assert one["ProtectSystem"] == "strict"
    assert set(one["RestrictAddressFamilies"].split()) == {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}
    assert one["DevicePolicy"] == "closed"
    assert {d.split()[0] for d in s["DeviceAllow"]} == {"char-ttyUSB", "char-ttyACM", "char-alsa"}
    assert all(d.split()[1] == "rw" for d in s["DeviceAllow"])
    assert "/etc/callbox" in one["ReadWritePaths"].split()
