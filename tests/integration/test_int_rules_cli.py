"""`callbox rules` as a person runs it: a real subprocess on a real state directory; exit codes, the problems
named one per line, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def callbox(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CALLBOX_CONFIG", None)
    env.pop("CALLBOX_STATE_DIR", None)
    return subprocess.run([sys.executable, "-m", "appliance.cli", "--config", os.devnull, "--state-dir", str(state),
                           "rules", *args], capture_output=True, text=True, env=env, timeout=60, check=False)


def test_rules_cli_lists_sets_refuses_and_tests(tmp_path: Path) -> None:
    state = tmp_path / "state"
    listed = callbox(state, "list")
    assert listed.returncode == 0 and "delivery shipped" in listed.stdout  # the first boot's defaults
    shown = callbox(state, "show", "delivery shipped")
    assert shown.returncode == 0 and json.loads(shown.stdout)["scenario"] == "delivery"
    good = tmp_path / "rules.toml"
    good.write_text('[[rules]]\nname = "delivered"\norder_status = ["delivered"]\naction = "skip"\n'
                    'reason = "order already delivered"\n\n[[rules]]\nname = "parcels"\nsubject_regex = "parcel"\n'
                    'action = "call"\nscenario = "delivery"\n', encoding="utf-8")
    stored = callbox(state, "set", str(good))
    assert stored.returncode == 0 and "2 rules stored" in stored.stdout
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"name": "x", "subject_regex": "(ab", "action": "call", "scenario": "nope"}]))
    refused = callbox(state, "set", str(bad))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "rules[0].subject_regex: missing ), unterminated subpattern at position 0" in refused.stderr
    assert "rules[0].scenario: no scenario is named 'nope'" in refused.stderr
    assert [line.split(":")[0] for line in callbox(state, "list").stdout.splitlines()] == ["1. delivered",
                                                                                          "2. parcels"]
    broken = tmp_path / "broken.json"
    broken.write_text("{half")
    unreadable = callbox(state, "set", str(broken))
    assert unreadable.returncode == 2 and "not JSON" in unreadable.stderr and "Traceback" not in unreadable.stderr
    assert callbox(state, "set", str(tmp_path / "missing.json")).returncode == 2
    ticket = tmp_path / "ticket.json"
    ticket.write_text(json.dumps({"id": "T-1", "type": "delivery", "subject": "Your parcel", "customer": {
        "name": "Ann", "phone": "+15550100"}, "order": {"id": "A-1", "status": "delivered"}}))
    tried = callbox(state, "test", str(ticket))
    assert tried.returncode == 0 and "skip: order already delivered (rule 'delivered')" in tried.stdout
    as_json = json.loads(callbox(state, "test", str(ticket), "--json").stdout)
    assert as_json["rule"] == "delivered" and as_json["rules"][0]["matched"] is True
    invalid = callbox(state, "test", str(good))
    assert invalid.returncode == 1 and "the ticket is invalid" in invalid.stderr


def test_scenarios_cli_lists_and_refuses_a_missing_flow(tmp_path: Path) -> None:
    state = tmp_path / "state"
    listed = callbox(state, "scenarios", "list")
    assert listed.returncode == 0 and "delivery: flow delivery-confirmation (latest)" in listed.stdout
    bad = tmp_path / "s.json"
    bad.write_text(json.dumps({"scenarios": [{"name": "delivery", "flow": "nowhere", "task": {"priority": 5000}}]}))
    refused = callbox(state, "scenarios", "set", str(bad))
    assert refused.returncode == 1
    assert "scenarios[0].task.priority: must be from -1000 to 1000, not 5000" in refused.stderr
    pinned = tmp_path / "p.json"
    pinned.write_text(json.dumps([{"name": "delivery", "flow": "delivery-confirmation", "version": 1,
                                   "task": {"max_attempts": 2, "retry": {"no_answer": 15}}}]))
    assert callbox(state, "scenarios", "set", str(pinned)).returncode == 0
    assert json.loads(callbox(state, "scenarios", "show", "delivery").stdout)["version"] == 1
    assert callbox(state, "scenarios", "show", "nope").returncode == 2
