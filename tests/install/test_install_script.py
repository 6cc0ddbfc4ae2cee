"""install.sh, run for real: a dry run touches nothing, an install into a temporary root (``--root``) lays out the
box with the right modes and owners, a second run changes nothing and says so, uninstall keeps the owner's data
unless ``--purge``, and the checks fail with a clear message. The virtual environment (a pip install of the whole
package, minutes) is left out with ``--no-venv``."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "install.sh"
UID, GID = 998, 997  # the callbox user and group in the temporary root's etc/passwd and etc/group


def run(*args: str, env: dict[str, str] | None = None, script: Path = SCRIPT,
        user: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(script), *args]
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env={**os.environ, **(env or {})})


def snapshot(root: Path) -> dict[str, tuple[int, int, int, int, str]]:
    """Every path under root with its mode, owner, group, mtime and (links) target."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        target = os.readlink(path) if path.is_symlink() else ""
        out[str(path.relative_to(root))] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, target)
    return out


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A temporary root whose user database has the callbox user (as root, install.sh chowns to it)."""
    box = tmp_path / "root"
    (box / "etc").mkdir(parents=True)
    if os.geteuid() == 0:
        (box / "etc" / "passwd").write_text(
            f"root:x:0:0:root:/root:/bin/sh\ncallbox:x:{UID}:{GID}::/var/lib/callbox:/usr/sbin/nologin\n")
        (box / "etc" / "group").write_text(f"root:x:0:\ncallbox:x:{GID}:\n")
    return box


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_dry_run_prints_each_step_and_touches_nothing(root: Path) -> None:
    before = snapshot(root)
    result = run("--root", str(root), "--no-venv", "--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for step in ("would    create /etc/callbox (mode 0770)",
                 "would    install /etc/callbox/callbox.toml from firmware-config/callbox.toml.example",
                 "would    create /var/lib/callbox (mode 0700)",
                 "would    link /usr/local/bin/callbox -> /opt/callbox/bin/callbox",
                 "would    install /etc/udev/rules.d/99-callbox-modems.rules",
                 "would    install /etc/systemd/system/callbox.service",
                 "skipped  system packages python3-venv python3-dev libasound2-dev (--root)",
                 "skipped  system user callbox in dialout audio (--root)",
                 "skipped  systemctl daemon-reload, enable and start callbox (--root)",
                 "skipped  virtual environment /opt/callbox (--no-venv)"):
        assert step in out, out
    assert "nothing was changed" in out
    assert snapshot(root) == before


def test_dry_run_on_this_machine_changes_nothing() -> None:
    """Without --root it looks at the real system (packages, user, units) and still only prints."""
    watched = [Path(p) for p in ("/opt/callbox", "/etc/callbox", "/var/lib/callbox", "/usr/local/bin/callbox",
                                 "/etc/systemd/system/callbox.service", "/etc/udev/rules.d/99-callbox-modems.rules")]
    before = {p: p.exists() for p in watched}
    result = run("--dry-run", "--no-venv")
    assert result.returncode == 0, result.stderr
    assert "Callbox install (dry run: nothing is changed) into /" in result.stdout
    assert "system packages" in result.stdout and "callbox.service" in result.stdout
    assert "doing" not in result.stdout
    assert {p: p.exists() for p in watched} == before


def test_install_into_a_root_lays_out_the_box_then_a_second_run_changes_nothing(root: Path) -> None:
    first = run("--root", str(root), "--no-venv")
    assert first.returncode == 0, first.stderr
    assert "Done:" in first.stdout

    etc, state = root / "etc" / "callbox", root / "var" / "lib" / "callbox"
    config = etc / "callbox.toml"
    assert config.read_text() == (REPO / "firmware-config" / "callbox.toml.example").read_text()
    assert (mode(etc), mode(config), mode(state)) == (0o770, 0o640, 0o700)
    link = root / "usr" / "local" / "bin" / "callbox"
    assert link.is_symlink() and os.readlink(link) == "/opt/callbox/bin/callbox"
    unit = root / "etc" / "systemd" / "system" / "callbox.service"
    rules = root / "etc" / "udev" / "rules.d" / "99-callbox-modems.rules"
    assert unit.read_bytes() == (REPO / "systemd" / "callbox.service").read_bytes()
    assert rules.read_bytes() == (REPO / "firmware-config" / "udev" / "99-callbox-modems.rules").read_bytes()
    assert (mode(unit), mode(rules)) == (0o644, 0o644)
    if os.geteuid() == 0:
        assert (etc.stat().st_uid, etc.stat().st_gid) == (0, GID)
        assert (config.stat().st_uid, config.stat().st_gid) == (0, GID)
        assert (state.stat().st_uid, state.stat().st_gid) == (UID, GID)
    else:
        assert "skipped  chown callbox:callbox /var/lib/callbox (no callbox user here)" in first.stdout

    before = snapshot(root)
    second = run("--root", str(root), "--no-venv")
    assert second.returncode == 0, second.stderr
    assert "Nothing to change: Callbox is already installed." in second.stdout
    assert "doing" not in second.stdout
    assert snapshot(root) == before


def test_a_present_config_is_kept_and_wrong_modes_are_put_right(root: Path) -> None:
    etc = root / "etc" / "callbox"
    etc.mkdir(parents=True)
    config = etc / "callbox.toml"
    config.write_text("# the owner's own\n[web]\nlisten = \"0.0.0.0:8080\"\n")
    config.chmod(0o644)
    state = root / "var" / "lib" / "callbox"
    state.mkdir(parents=True, mode=0o755)
    state.chmod(0o755)

    result = run("--root", str(root), "--no-venv")
    assert result.returncode == 0, result.stderr
    assert "/etc/callbox/callbox.toml kept (present)" in result.stdout
    assert "chmod 0640 /etc/callbox/callbox.toml (was 644)" in result.stdout
    assert "chmod 0700 /var/lib/callbox (was 755)" in result.stdout
    assert config.read_text().startswith("# the owner's own")
    assert (mode(config), mode(state)) == (0o640, 0o700)


def test_uninstall_keeps_the_data_and_purge_removes_it(root: Path) -> None:
    assert run("--root", str(root), "--no-venv").returncode == 0
    venv = root / "opt" / "callbox"
    (venv / "bin").mkdir(parents=True)  # stands in for the virtual environment --no-venv left out
    (root / "var" / "lib" / "callbox" / "callbox.db").write_bytes(b"SQLite format 3\0")

    result = run("--root", str(root), "--uninstall")
    assert result.returncode == 0, result.stderr
    for gone in ("etc/systemd/system/callbox.service", "etc/udev/rules.d/99-callbox-modems.rules",
                 "usr/local/bin/callbox", "opt/callbox"):
        assert not (root / gone).exists() and not (root / gone).is_symlink(), gone
    assert (root / "etc" / "callbox" / "callbox.toml").is_file()
    assert (root / "var" / "lib" / "callbox" / "callbox.db").read_bytes() == b"SQLite format 3\0"
    assert "kept     /var/lib/callbox (--purge removes it)" in result.stdout

    again = run("--root", str(root), "--uninstall")
    assert "Nothing to change: Callbox is already removed." in again.stdout

    purged = run("--root", str(root), "--uninstall", "--purge")
    assert purged.returncode == 0, purged.stderr
    assert not (root / "etc" / "callbox").exists() and not (root / "var" / "lib" / "callbox").exists()
    assert "skipped  remove user callbox (--root)" in purged.stdout


def test_uninstall_leaves_a_callbox_command_that_is_not_ours(root: Path) -> None:
    bin_dir = root / "usr" / "local" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "callbox").write_text("#!/bin/sh\necho mine\n")
    result = run("--root", str(root), "--uninstall")
    assert result.returncode == 0
    assert "is not ours" in result.stdout and (bin_dir / "callbox").read_text().endswith("mine\n")
    refused = run("--root", str(root), "--no-venv")
    assert refused.returncode == 1
    assert "/usr/local/bin/callbox exists and is not a link" in refused.stderr


def test_clear_errors(root: Path, tmp_path: Path) -> None:
    before = snapshot(root)
    fedora = tmp_path / "os-release"
    fedora.write_text('ID=fedora\nID_LIKE="rhel centos"\n')
    result = run("--root", str(root), "--dry-run", env={"CALLBOX_OS_RELEASE": str(fedora)})
    assert result.returncode == 1
    assert "this installer is for Raspberry Pi OS / Debian 12" in result.stderr and "ID=fedora" in result.stderr

    old = tmp_path / "python3.9"
    old.write_text("#!/bin/sh\ncase \"$*\" in *'print'*) echo 3.9;; *) exit 1;; esac\n")
    old.chmod(0o755)
    result = run("--root", str(root), "--dry-run", env={"CALLBOX_PYTHON": str(old)})
    assert result.returncode == 1
    assert "needs python3 3.11 or newer" in result.stderr and "is 3.9" in result.stderr

    result = run("--root", str(root), "--dry-run", env={"CALLBOX_PYTHON": str(tmp_path / "nope")})
    assert result.returncode == 1 and "no " in result.stderr and "3.11" in result.stderr

    result = run("--bogus")
    assert result.returncode == 2 and "unknown option: --bogus" in result.stderr
    result = run("--purge")
    assert result.returncode == 2 and "--purge goes with --uninstall" in result.stderr
    assert snapshot(root) == before


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root to drop to nobody")
def test_not_root_is_refused() -> None:
    with tempfile.TemporaryDirectory(dir="/tmp") as where:  # pytest's tmp_path is 0700 root: nobody cannot reach it
        Path(where).chmod(0o755)
        copy = Path(where) / "install.sh"
        shutil.copy(SCRIPT, copy)
        copy.chmod(0o755)
        result = run(script=copy, user="65534")
        assert result.returncode == 1
        assert "run it as root: sudo" in result.stderr
        assert sorted(p.name for p in Path(where).iterdir()) == ["install.sh"]


def test_the_packages_are_the_makefiles_runtime_ones() -> None:
    makefile = (REPO / "Makefile").read_text()
    runtime = re.search(r"^APT_RUNTIME := (.+)$", makefile, re.M)
    script = re.search(r"^APT_PACKAGES=\((.+)\)$", SCRIPT.read_text(), re.M)
    assert runtime and script
    assert script.group(1).split() == runtime.group(1).split()
    assert re.search(r"^install:\n\t\./install\.sh$", makefile, re.M)
    assert re.search(r"^uninstall:\n\t\./install\.sh --uninstall$", makefile, re.M)


def test_the_virtual_environment_is_rebuilt_only_from_a_new_checkout(root: Path) -> None:
    """Without --no-venv (dry run: the pip install itself takes minutes): a missing environment would be created
    and this checkout installed into it; one built from another checkout would be reinstalled."""
    result = run("--root", str(root), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would    create the virtual environment /opt/callbox" in result.stdout
    assert "would    pip install this checkout into /opt/callbox" in result.stdout

    venv_bin = root / "opt" / "callbox" / "bin"
    venv_bin.mkdir(parents=True)
    for name in ("python", "callbox"):
        (venv_bin / name).write_text("#!/bin/sh\n")
        (venv_bin / name).chmod(0o755)
    (root / "opt" / "callbox" / ".callbox-source").write_text("/elsewhere 0000000 0000\n")
    result = run("--root", str(root), "--dry-run")
    assert "ok       virtual environment /opt/callbox" in result.stdout
    assert "would    pip install this checkout into /opt/callbox" in result.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to the callbox user needs root")
def test_a_config_saved_by_the_settings_page_is_left_as_it_is(root: Path) -> None:
    """The Settings page saves callbox.toml as the service (callbox:callbox 0600, renamed over the old file):
    a later run keeps that, where it would put a world-readable or foreign-owned file right."""
    assert run("--root", str(root), "--no-venv").returncode == 0
    config = root / "etc" / "callbox" / "callbox.toml"
    os.chown(config, UID, GID)
    config.chmod(0o600)
    result = run("--root", str(root), "--no-venv")
    assert "Nothing to change" in result.stdout and "(saved by the Settings page)" in result.stdout
    assert (config.stat().st_uid, config.stat().st_gid, mode(config)) == (UID, GID, 0o600)

    os.chown(config, 1234, 1234)
    config.chmod(0o644)
    result = run("--root", str(root), "--no-venv")
    assert "chmod 0640 /etc/callbox/callbox.toml (was 644)" in result.stdout
    assert (config.stat().st_uid, config.stat().st_gid, mode(config)) == (0, GID, 0o640)


def test_shellcheck_finds_nothing() -> None:
    assert shutil.which("shellcheck"), "shellcheck is missing: make sysdeps-test installs it"
    result = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout
