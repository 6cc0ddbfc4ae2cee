"""`callbox sync status` as a user runs it: per target, pending, oldest age, last error, last success; a bad
[upstream] table is one readable line and exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from appliance.records.outbox import enqueue
from appliance.records.store import RecordsStore

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def callbox(tmp_path: Path, config: str, *args: str) -> subprocess.CompletedProcess[str]:
    conf = tmp_path / "callbox.toml"
    conf.write_text(config, encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "appliance.cli", "--config", str(conf), "--state-dir",
                           str(tmp_path / "state"), *args], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**os.environ, "CALLBOX_CONFIG": str(conf)}, stdin=subprocess.DEVNULL)


def test_sync_status_shows_the_upstream_backlog_and_its_last_error(tmp_path: Path) -> None:
    store = RecordsStore(tmp_path / "state" / "callbox.db")
    try:
        ts = (datetime.now(UTC) - timedelta(minutes=10)).isoformat(timespec="milliseconds")
        ids = store.db.write(lambda c: [enqueue(c, target="upstream", topic="call.record", payload={"call_id": i},
                                                ts=ts, order_key=f"call:{i}") for i in (1, 2)])
        store.outbox.failed(ids[0], "POST https://office.example/in: HTTP 502", datetime.now(UTC))
    finally:
        store.close()
    assert (tmp_path / "state" / "callbox.db").exists()
    config = f'[upstream]\nurl = "https://office.example/in"\nsecret = "{SECRET}"\n'
    proc = callbox(tmp_path, config, "sync", "status", "--json")
    assert proc.returncode == 0, proc.stderr
    up = json.loads(proc.stdout)["targets"]["upstream"]
    assert up["configured"] is True and up["pending"] == 2 and up["oldest_pending_age_s"] >= 599
    assert up["last_error"]["error"] == "POST https://office.example/in: HTTP 502" and up["last_success"] is None
    text = callbox(tmp_path, config, "sync", "status")
    assert text.returncode == 0
    assert "upstream: 2 pending" in text.stdout and "HTTP 502" in text.stdout
    assert "ticket: not configured" in text.stdout


def test_a_bad_upstream_url_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = callbox(tmp_path, f'[upstream]\nurl = "office.example"\nsecret = "{SECRET}"\n', "sync", "status")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "upstream.url" in proc.stderr and "not an http(s) URL" in proc.stderr
    assert "Traceback" not in proc.stderr
