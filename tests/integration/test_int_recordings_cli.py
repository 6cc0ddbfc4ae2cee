"""`callbox recordings list|delete|prune` as a user runs them, on a state folder with real recordings: retention
as the config file sets it, a range delete that first says what matches, and bad input (a delete without a range,
a bad date, a retention below the preset's legal minimum) as one readable line and exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from recorded_calls import record

from appliance.records.store import RecordsStore

ROOT = Path(__file__).resolve().parents[2]
ANN, BO = "+15550109999", "+15550104444"


def run(state: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "appliance.cli", "--config", str(config), "--state-dir", str(state),
                           "recordings", *args], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          stdin=subprocess.DEVNULL, env={**os.environ, "CALLBOX_STATE_DIR": str(state)})


def test_list_prune_and_delete(tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = tmp_path / "callbox.toml"
    config.write_text("[recordings]\nretention_days = 90\nquota_mb = 100\nmin_free_mb = 0\n", encoding="utf-8")
    store = RecordsStore(state / "callbox.db")
    try:
        old, recent = (record(store, state / "recordings", n, days_ago=days, phone=ANN)
                       for n, days in ((1, 100), (2, 10)))
        bo = record(store, state / "recordings", 3, days_ago=5, phone=BO)
    finally:
        store.close()
    listed = run(state, config, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["call_id"] for r in json.loads(listed.stdout)["recordings"]] == [bo, recent, old]
    ann = run(state, config, "list", "--phone", "+1 (555) 010-9999")
    assert f"{recent:>7}  " in ann.stdout and f"{old:>7}  " in ann.stdout and "2 recording(s)" in ann.stdout

    pruned = run(state, config, "prune", "--json")
    assert pruned.returncode == 0, pruned.stderr
    report = json.loads(pruned.stdout)
    assert report["marked"] == {"retention": 1, "quota": 0, "disk": 0} and report["removed"] == 1
    assert report["room"]["recordings"] == 2
    assert sorted(p.name for p in (state / "recordings").rglob("*.wav")) == sorted([f"{recent}.wav", f"{bo}.wav"])

    asked = run(state, config, "delete", "--phone", BO)
    assert asked.returncode == 1 and "1 recording(s)" in asked.stdout and "--yes" in asked.stdout
    assert (state / "recordings" / BO).exists()  # nothing deleted without --yes
    deleted = run(state, config, "delete", "--phone", BO, "--yes")
    assert deleted.returncode == 0 and deleted.stdout.startswith("deleted 1 recording(s)")
    assert not (state / "recordings" / BO).exists()
    assert [r["call_id"] for r in json.loads(run(state, config, "list", "--json").stdout)["recordings"]] == [recent]


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = tmp_path / "callbox.toml"
    config.write_text("[recordings]\nmin_free_mb = 0\n", encoding="utf-8")
    for args, words in ((("delete",), "give --phone, --since or --until"),
                        (("list", "--since", "yesterday"), "--since 'yesterday': expected a date"),
                        (("list", "--phone", "not a number"), "phone: ")):
        done = run(state, config, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stderr.startswith("callbox: ") and words in done.stderr and "Traceback" not in done.stderr
    config.write_text('[calling]\npreset = "cn"\n[recordings]\nretention_days = 10\n', encoding="utf-8")
    refused = run(state, config, "prune")
    assert refused.returncode == 2 and "recordings.retention_days: must be at least 30" in refused.stderr
