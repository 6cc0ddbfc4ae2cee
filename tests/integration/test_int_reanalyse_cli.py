"""`callbox recordings reanalyse` as a user runs it (a subprocess, as the command lowers its own priority): bad
dates and an unknown flow are one readable line and exit code 2; a run over a state directory says per call what it
did on stderr (plain lines off a terminal), its summary or JSON on stdout, and continues the same run when typed
again (a call without a recording is skipped with the reason, and no model is loaded for it); it runs at nice 19."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from appliance.campaign.publish import install_defaults
from appliance.records.conclusion import CallEnd, Conclusion, TaskEnd, Turn
from appliance.records.config_store import ConfigStore
from appliance.records.store import RecordsStore, Ticket

ROOT = Path(__file__).resolve().parents[2]


def reanalyse(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "appliance.cli", "recordings", "reanalyse", *args],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, stdin=subprocess.DEVNULL,
                          env={**os.environ, "CALLBOX_STATE_DIR": str(state), "CALLBOX_CONFIG": str(state / "none")})


def test_bad_dates_and_an_unknown_flow_are_one_line_and_exit_2(tmp_path: Path) -> None:
    for args, said in (
        (("--since", "2024-13-45"), "callbox: --since '2024-13-45': not a date (2024-05-01) or a date and time"),
        (("--since", "last week"), "callbox: --since 'last week': not a date"),
        (("--since", "2024-05-02", "--until", "2024-05-01"), "callbox: --until '2024-05-01' is not after --since"),
        (("--since", "2024-05-01", "--flow", "nope"), "callbox: --flow 'nope': no such flow on this box"),
    ):
        proc = reanalyse(tmp_path, *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.startswith(said) and proc.stderr.count("\n") == 1, proc.stderr
        assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_a_run_reports_each_call_and_continues_when_typed_again(tmp_path: Path) -> None:
    configs = ConfigStore(tmp_path / "config.json")
    install_defaults(configs)
    configs.close()
    store = RecordsStore(tmp_path / "callbox.db")
    try:
        store.submit_ticket(Ticket("C-1", "delivery", "Parcel", "", "Alex", "+15550100", "A1", "shipped"),
                            webhook_id="m1", decision="call", reason="test", flow_id="delivery-confirmation",
                            max_attempts=3)
        task = store.claim_due_task(datetime.now(UTC))
        assert task is not None
        call_id = store.start_call(task=task, phone="+15550100", line="sim0", flow_version=1)
        store.mark_answered(call_id)  # no recording: the box could not write one
        turns = (Turn("bot", "Will someone be home?", node="greet"),
                 Turn("customer", "yes", "confirm", 0.9, "greet", 3000, "speech"))
        store.record_conclusion(Conclusion(TaskEnd(task.id, "completed", "completed"), "C-1", call_id,
                                           CallEnd("completed", None, "confirmed", "", turns)))
    finally:
        store.close()
    today = date.today().isoformat()

    first = reanalyse(tmp_path, "--since", today, "--flow", "delivery-confirmation", "--json")
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert out["run"]["state"] == "finished" and (out["run"]["done"], out["run"]["total"]) == (1, 1)
    assert out["skipped"] == [{"call": call_id, "reason": "no recording"}] and out["analysed"] == 0
    assert out["calls"] == [{"call": call_id, "intent": None, "changed": False, "strength": None,
                             "skipped": "no recording"}]
    assert f"re-analysing 1/1: call {call_id}: skipped (no recording)" in first.stderr
    assert "loading" not in first.stderr  # nothing to hear: no recogniser loaded

    again = reanalyse(tmp_path, "--since", today, "--flow", "delivery-confirmation")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0] == (
        f"re-analysis run {out['run']['id']} (continued, hybrid): 1 of 1 calls done, 0 heard again now, 0 changed, "
        "0 skipped; finished")
    anew = reanalyse(tmp_path, "--since", today, "--flow", "delivery-confirmation", "--restart")
    assert anew.returncode == 0 and f"call {call_id} skipped: no recording" in anew.stdout
    assert "(new, hybrid)" in anew.stdout


def test_the_command_runs_at_the_lowest_priority(tmp_path: Path) -> None:
    script = ("import os, sys; from appliance.cli import main; "
              "code = main(['recordings', 'reanalyse', '--since', '2024-05-01']); "
              "print(code, os.getpriority(os.PRIO_PROCESS, 0))")  # this thread's nice value (Linux)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          stdin=subprocess.DEVNULL, env={**os.environ, "CALLBOX_STATE_DIR": str(tmp_path),
                                                         "CALLBOX_CONFIG": str(tmp_path / "none")})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "0 19"
