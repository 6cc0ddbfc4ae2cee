"""`callbox tasks` as a user runs it: a CSV previewed (--dry-run) then imported, listed, shown, paused, resumed,
cancelled; an illegal move and a bad setting are one readable line and exit code 2, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from appliance.campaign.publish import install_defaults
from appliance.config import load_config
from appliance.records.config_store import ConfigStore

ROOT = Path(__file__).resolve().parents[2]


def run(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "appliance.cli", "--state-dir", str(state), "tasks", *args],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, stdin=subprocess.DEVNULL,
                          env={**os.environ, "CALLBOX_STATE_DIR": str(state)})


def test_tasks_import_preview_then_drive(tmp_path: Path) -> None:
    state = tmp_path / "state"
    configs = ConfigStore(load_config(None, state_dir=state).paths.configs)
    install_defaults(configs)
    configs.close()
    csv = tmp_path / "customers.csv"
    csv.write_text("phone,name,order_id,note\n+15550100,Ada,A-1,fragile\n12,Bob,A-2,\n+15550100,Ada,A-3,\n",
                   encoding="utf-8")
    dry = run(state, "import", str(csv), "--flow", "delivery-confirmation", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    preview = json.loads(dry.stdout)
    assert preview["counts"] == {"accepted": 1, "refused": 2}
    assert [r["reason"] for r in preview["refused"]] == ["bad_phone", "duplicate"]
    text = run(state, "import", str(csv), "--flow", "delivery-confirmation", "--dry-run")
    assert "1 to call, 2 refused" in text.stdout and "bad_phone" in text.stdout

    made = run(state, "import", str(csv), "--flow", "delivery-confirmation", "--priority", "4", "--json")
    assert made.returncode == 0, made.stderr
    task = json.loads(made.stdout)
    assert task["source"] == "csv" and task["priority"] == 4 and task["progress"]["total"] == 1
    listed = run(state, "list")
    assert f"{task['id']}" in listed.stdout and "pending" in listed.stdout
    shown = run(state, "show", str(task["id"]))
    assert f"csv-{task['id']}-1" in shown.stdout and "+15550100" in shown.stdout
    assert "paused" in run(state, "pause", str(task["id"])).stdout
    assert "running" in run(state, "resume", str(task["id"])).stdout
    assert "cancelled" in run(state, "cancel", str(task["id"])).stdout
    illegal = run(state, "resume", str(task["id"]))
    assert illegal.returncode == 2 and "cancelled" in illegal.stderr and "Traceback" not in illegal.stderr
    bad = run(state, "import", str(csv), "--flow", "delivery-confirmation", "--lines", "0", "--priority", "5000")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "settings.priority: must be from -1000 to 1000, not 5000" in bad.stderr  # every problem, each named
    assert "settings.lines: must be from 1 to 64, not 0" in bad.stderr
    missing = run(state, "show", "999")
    assert missing.returncode == 2 and "no call task 999" in missing.stderr


def test_tasks_timers_listed_disabled_enabled_deleted(tmp_path: Path) -> None:
    state = tmp_path / "state"
    configs = ConfigStore(load_config(None, state_dir=state).paths.configs)
    install_defaults(configs)
    configs.close()
    made = run(state, "create", "--flow", "delivery-confirmation", "--cron", "15 9 * * 1-5", "--name", "mornings",
               "--json")
    assert made.returncode == 0, made.stderr
    timer_id = json.loads(made.stdout)["timer"]
    [timer] = json.loads(run(state, "timers", "--json").stdout)
    assert (timer["id"], timer["name"], timer["cron"], timer["active"]) == (timer_id, "mornings", "15 9 * * 1-5",
                                                                            True)
    assert timer["next_due"] is not None and timer["last_due"] is None
    text = run(state, "timers")
    assert f"timer {timer_id:>4}  active" in text.stdout and "mornings" in text.stdout
    off = run(state, "timer-disable", str(timer_id))
    assert off.returncode == 0 and "disabled" in off.stdout and "next -" in off.stdout
    assert json.loads(run(state, "timers", "--json").stdout)[0]["active"] is False
    on = run(state, "timer-enable", str(timer_id), "--json")
    assert on.returncode == 0 and json.loads(on.stdout)["active"] is True
    gone = run(state, "timer-delete", str(timer_id))
    assert gone.returncode == 0 and f"timer {timer_id} deleted" in gone.stdout
    assert run(state, "timers").stdout.strip() == "no timers"
    for args in (("timer-delete", str(timer_id)), ("timer-enable", "77")):
        missing = run(state, *args)
        assert missing.returncode == 2 and "no timer" in missing.stderr and "Traceback" not in missing.stderr
