"""`callbox doctor`'s checks of one configured line: the profile, the ports (every audio form), who may open
them, who holds them, then the modem itself over AT (SIM, registration, signal, voice) and the audio path.

Nothing is configured on the modem: only the read-only queries of `callbox modem probe` are sent, with short
timeouts. A port another process holds is not opened (the AT checks would fight `callbox serve` over it).
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from appliance.config import LineConfig
from appliance.errors import CallboxError, PortError
from appliance.telephony.probe import ProbeResult, probe_modem
from appliance.telephony.profile import REPO_DIR, SYSTEM_DIR, load_profile

__all__ = ["PROC_CARDS", "Check", "ServiceUser", "alsa_cards", "holders", "line_checks", "may_open",
           "port_path", "service_user"]

PROC_CARDS = Path("/proc/asound/cards")
SERVICE_USER = "callbox"  # the systemd unit's User=


@dataclass(frozen=True)
class Check:
    """One line of `callbox doctor`: what was checked, ok | warn | error, what was found, and the fix in words."""

    name: str
    status: str
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}

    def __str__(self) -> str:
        return f"{self.status:<5} {self.name}: {self.detail}" + (f" -- fix: {self.fix}" if self.fix else "")


@dataclass(frozen=True)
class ServiceUser:
    """The user `callbox serve` runs as (the unit's ``User=callbox``) and its groups."""

    name: str
    uid: int
    gids: frozenset[int]


def service_user(name: str = SERVICE_USER) -> ServiceUser | None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    gids = {entry.pw_gid} | {g.gr_gid for g in grp.getgrall() if name in g.gr_mem}
    return ServiceUser(name, entry.pw_uid, frozenset(gids))


def alsa_cards(cards: Path = PROC_CARDS) -> dict[str, str]:
    """The sound cards the kernel knows: {id: index} from /proc/asound/cards (`` 1 [Android ]: USB-Audio ...``)."""
    try:
        text = cards.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    return {m.group(2): m.group(1) for m in re.finditer(r"^\s*(\d+)\s+\[(\S+)\s*\]", text, re.MULTILINE)}


def _alsa_card(device: str) -> str:
    """The card an ALSA device names: ``Android``, ``plughw:CARD=Android,DEV=0``, ``hw:1,0`` -> Android / 1."""
    found = re.search(r"CARD=([^,]+)", device)
    if found:
        return found.group(1)
    return device.partition(":")[2].split(",")[0] if ":" in device else device


def port_path(spec: str) -> tuple[str, str]:
    """(kind, what) of a port spec: ``serial``/``pty``/bare path, ``alsa:CARD``, ``fifo:FOLDER``, ``loop:``."""
    kind, sep, rest = spec.partition(":")
    if sep and kind in ("serial", "pty"):
        return "serial", rest
    if sep and kind in ("alsa", "fifo", "loop"):
        return kind, rest
    return "serial", spec


def may_open(path: Path, user: ServiceUser) -> bool:
    """Would ``user`` be allowed to read and write ``path`` by its owner, group and mode (root: always)?"""
    st = path.stat()
    if user.uid == 0:
        return True
    if st.st_uid == user.uid:
        need = stat.S_IRUSR | stat.S_IWUSR
    elif st.st_gid in user.gids:
        need = stat.S_IRGRP | stat.S_IWGRP
    else:
        need = stat.S_IROTH | stat.S_IWOTH
    return st.st_mode & need == need


def holders(path: Path, proc: Path = Path("/proc")) -> list[tuple[int, str]]:
    """(pid, command name) of every other process with ``path`` open, from /proc/*/fd."""
    target = os.path.realpath(path)
    found = []
    for entry in proc.iterdir() if proc.is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue  # gone, or not ours to look at
        for fd in fds:
            try:
                if os.readlink(fd) == target:
                    comm = (entry / "comm").read_text(encoding="utf-8").strip()
                    found.append((int(entry.name), comm))
                    break
            except OSError:
                continue
    return found


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _port_checks(lc: LineConfig, role: str, spec: str, *, cards: Path, user: ServiceUser | None,
                 proc: Path) -> tuple[list[Check], bool]:
    """Present, permitted, not held: the checks of one port, and whether it may be opened for the next ones."""
    name = f"line {lc.name} {role} port"
    kind, what = port_path(spec)
    if kind == "loop":
        return [Check(name, "ok", f"{spec} (the built-in loopback)")], True
    if kind == "alsa":
        card = _alsa_card(what)
        known = alsa_cards(cards)
        if card in known or card in known.values() or card == "default":
            return [Check(name, "ok", f"{spec}: sound card {card} is present ({cards})")], True
        listed = ", ".join(sorted(known)) or "none"
        return [Check(name, "error", f"{spec}: no sound card {card!r} in {cards} (cards: {listed})",
                      "plug the modem in (a powered hub helps); for a Quectel module check that AT+QPCMV=1,2 "
                      "is accepted and the udev rules pin its card id (firmware-config/udev); `aplay -l` lists "
                      "the cards")], False
    path = Path(what)
    if kind == "fifo":
        ok = (path / "capture").exists() and (path / "playback").exists()
        if ok:
            return [Check(name, "ok", f"{spec}: the sound card stand-in is there")], True
        return [Check(name, "error", f"{spec}: no capture/playback FIFOs in {path}",
                      "start the simulator that makes them, or use the real card (alsa:NAME)")], False
    if not path.exists():
        return [Check(name, "error", f"{spec} does not exist",
                      "plug the modem in and check `ls /dev/callbox/ /dev/ttyUSB*`; ports are named by USB "
                      "port by the udev rules (firmware-config/udev): use /dev/callbox/<port>-at / -audio; "
                      "a modem in storage mode needs usb_modeswitch")], False
    out: list[Check] = []
    if not os.access(path, os.R_OK | os.W_OK):
        st = path.stat()
        return [Check(name, "error", f"{spec}: this user may not read and write it "
                      f"(group {_group_name(st.st_gid)}, mode {stat.filemode(st.st_mode)})",
                      f"run as the callbox user, or add this user to group {_group_name(st.st_gid)} "
                      f"(sudo usermod -aG {_group_name(st.st_gid)} $USER, then log in again)")], False
    if user is not None and not may_open(path, user):
        st = path.stat()
        group = _group_name(st.st_gid)
        out.append(Check(name, "error", f"{spec}: the service user {user.name} may not open it "
                         f"(owner uid {st.st_uid}, group {group}, mode {stat.filemode(st.st_mode)})",
                         f"sudo usermod -aG {group} {user.name}, and let the udev rules (firmware-config/udev) "
                         f"set GROUP=\"dialout\" MODE=\"0660\"; then sudo systemctl restart callbox"))
    else:
        out.append(Check(name, "ok", f"{spec} is present and may be opened"))
    held = holders(path, proc)
    if held:
        who = ", ".join(f"{comm} (pid {pid})" for pid, comm in held)
        if any(comm.lower().startswith("modemmanager") for _pid, comm in held):
            out.append(Check(f"line {lc.name} {role} port holder", "error", f"{spec} is held by {who}",
                             "ModemManager grabs modem ports: install the udev rules (they set "
                             "ID_MM_DEVICE_IGNORE=1) and replug, or `sudo systemctl disable --now ModemManager`"))
        else:
            out.append(Check(f"line {lc.name} {role} port holder", "warn", f"{spec} is held by {who}; "
                             "the modem checks are skipped",
                             "if that is callbox serve, this is expected: stop it to check the modem itself"))
        return out, False
    return out, True


def _modem_checks(lc: LineConfig, found: ProbeResult, profile_name: str | None) -> list[Check]:
    name = f"line {lc.name}"
    if not found.responding:
        return [Check(f"{name} modem", "error", f"no answer to AT on {lc.at_port}",
                      "this is not the AT port (try the modem's other ttyUSB) or the modem hangs: unplug it and "
                      "plug it in again, or set power_cycle for the line")]
    out = [Check(f"{name} modem", "ok", f"{found.manufacturer or '?'} {found.model or '?'} answers")]
    sim = found.sim or "unknown"
    if sim == "READY":
        out.append(Check(f"{name} SIM", "ok", "ready"))
    elif "PIN" in sim or "PUK" in sim:
        fix = ("enter the PUK from the SIM's card in a phone and choose a new PIN" if "PUK" in sim else
               "switch the PIN off: put the SIM in a phone (Settings > SIM lock), or send "
               'AT+CLCK="SC",0,"<PIN>" on the AT port once; the box does not enter PINs')
        out.append(Check(f"{name} SIM", "error", f"the SIM needs its {'PUK' if 'PUK' in sim else 'PIN'} ({sim})",
                         fix))
    else:
        out.append(Check(f"{name} SIM", "error", f"not ready ({sim})",
                         "insert the SIM (contacts down, the notch as drawn on the modem), with the modem "
                         "unplugged; check it works in a phone"))
    if found.registered:
        out.append(Check(f"{name} network", "ok", f"{found.registration or found.lte_registration}"
                         f"{f', {found.operator}' if found.operator else ''}"))
    else:
        state = found.registration or "unknown"
        lte = f" (LTE: {found.lte_registration})" if found.lte_registration else ""
        out.append(Check(f"{name} network", "error", f"not registered: {state}{lte}",
                         "check the antenna and the SIM's plan (a phone with the SIM can call?); "
                         "an LTE-only network needs a modem with VoLTE (the E1550 and SIM800 are 2G/3G); "
                         "'denied' means the operator refuses the SIM"))
    if found.signal_rssi is None or found.signal_rssi == 99:
        out.append(Check(f"{name} signal", "warn", "unknown (AT+CSQ: 99)",
                         "the antenna may be missing; check again once registered"))
    elif found.signal_rssi < 10:
        out.append(Check(f"{name} signal", "warn", f"weak: {found.signal_dbm} dBm (rssi {found.signal_rssi})",
                         "move the box or the antenna (a window, a USB extension cable away from the Pi)"))
    else:
        out.append(Check(f"{name} signal", "ok", f"{found.signal_dbm} dBm (rssi {found.signal_rssi})"))
    voice = {True: "ok", False: "error", None: "warn"}[found.voice]
    fix = {True: "", None: "the voice query did not answer: try a test call from the panel's Modems page",
           False: "this modem or firmware has no voice: a Huawei needs voice-enabled firmware (^CVOICE:0), an "
                  "EC25 a firmware with USB audio (or the quectel-ec25-tty profile)"}[found.voice]
    out.append(Check(f"{name} voice", voice, found.voice_detail or "unknown", fix))
    if found.profile and profile_name and found.profile != profile_name and not profile_name.startswith(
            found.profile):
        out.append(Check(f"{name} profile", "error",
                         f"the config says {profile_name}, the modem looks like {found.profile}",
                         f'set profile = "{found.profile}" in this [[lines]] table'))
    return out


def _audio_check(lc: LineConfig) -> Check:
    from appliance.telephony.audio import open_audio_transport

    transport = open_audio_transport(lc.audio_port)
    try:
        transport.open()
    except (PortError, OSError) as exc:
        return Check(f"line {lc.name} audio path", "error", f"cannot open {lc.audio_port}: {exc}",
                     "check the audio port in the config (the modem's other ttyUSB, or alsa:<card id> for a "
                     "USB audio card); `arecord -l` lists the cards")
    finally:
        transport.close()
    return Check(f"line {lc.name} audio path", "ok", f"{lc.audio_port} opens")


def profile_names() -> list[str]:
    return sorted({p.stem for d in (SYSTEM_DIR, REPO_DIR) if d.is_dir() for p in d.glob("*.toml")})


def line_checks(lc: LineConfig, *, cards: Path = PROC_CARDS, user: ServiceUser | None = None,
                proc: Path = Path("/proc"), timeout: float = 1.0,
                probe: Callable[..., ProbeResult] = probe_modem) -> list[Check]:
    """Every check of one configured line, in the order a person would fix them."""
    out: list[Check] = []
    try:
        profile = load_profile(lc.profile)
        out.append(Check(f"line {lc.name} profile", "ok", f"{profile.name}"))
        profile_name: str | None = profile.name
    except CallboxError as exc:
        out.append(Check(f"line {lc.name} profile", "error", f"unknown modem profile {lc.profile!r}: {exc}",
                         f"set profile to one of {', '.join(profile_names())} (callbox serve refuses this one)"))
        profile_name = None
    at_checks, at_usable = _port_checks(lc, "AT", lc.at_port, cards=cards, user=user, proc=proc)
    audio_checks, audio_usable = _port_checks(lc, "audio", lc.audio_port, cards=cards, user=user, proc=proc)
    out += at_checks + audio_checks
    if at_usable and port_path(lc.at_port)[0] == "serial":
        try:
            found = probe(port_path(lc.at_port)[1], timeout=timeout)
        except PortError as exc:
            out.append(Check(f"line {lc.name} modem", "error", str(exc),
                             "another program may have the port: stop it (or callbox serve) and try again"))
        else:
            out += _modem_checks(lc, found, profile_name)
    if audio_usable:
        out.append(_audio_check(lc))
    return out
