"""`callbox flow validate|try|graph` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from appliance.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "flows" / "examples"
DELIVERY = EXAMPLES / "delivery-confirmation.en.json"


def callbox(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "appliance.cli", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, input=stdin, env={**os.environ, "PYTHONIOENCODING": "utf-8"},
                          stdin=None if stdin is not None else subprocess.DEVNULL)


def test_validate_every_example_is_ok() -> None:
    for path in sorted(EXAMPLES.glob("*.json")):
        proc = callbox("flow", "validate", str(path))
        assert proc.returncode == 0 and ": ok (" in proc.stdout, proc.stderr


def test_validate_prints_every_problem(tmp_path: Path) -> None:
    doc = json.loads(DELIVERY.read_text(encoding="utf-8"))
    doc["nodes"]["greet"]["intents"]["confirm"] = "nowhere"
    doc["nodes"]["ask_time"]["say"] = "When, {nickname}?"
    doc["nodes"]["orphan"] = {"type": "api", "request": {"url": "http://127.0.0.1/"}, "next": "orphan",
                              "failure": "orphan"}
    doc["nodes"]["confirmed"]["disposition"] = "delighted"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    proc = callbox("flow", "validate", str(bad))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert f"{bad}: greet.intents.confirm: points to missing node 'nowhere'" in lines
    assert f"{bad}: ask_time.say: unknown variable(s) nickname" in lines
    assert any(line.startswith(f"{bad}: confirmed.disposition: unknown disposition 'delighted'") for line in lines)
    assert f"{bad}: orphan: unreachable from the start node 'greet'" in lines
    assert f"{bad}: orphan: no way out: no hangup node can be reached from here" in lines
    assert lines[-1] == f"{bad}: 6 problems"  # confirmed is unreachable too, once its only way in is gone


def test_validate_bad_json_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text("{nope", encoding="utf-8")
    proc = callbox("flow", "validate", str(bad))
    assert proc.returncode == 2 and "broken.json" in proc.stderr and "Traceback" not in proc.stderr


def test_try_scripted_json() -> None:
    proc = callbox("flow", "try", str(DELIVERY), "--var", "name=Ann", "--var", "order_id=A-7",
                   "--now", "2026-11-24T10:00:00+00:00", "--tz", "UTC",
                   "--say", "", "--say", "where is my parcel", "--say", "not tomorrow, call me Friday at 3", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert {"disposition", "slots", "intent_strength", "operations", "turns"} <= set(out)
    assert out["disposition"] == "rescheduled" and out["slots"] == {"next_call": "2026-11-27T15:00+00:00"}
    assert {"op": "schedule", "delay_minutes": 1440, "at": "2026-11-27T15:00+00:00"} in out["operations"]
    assert out["intent_strength"]["grade"] in "ABCD" and 0 <= out["intent_strength"]["score"] <= 100
    turns = out["turns"]
    assert set(turns[0]) >= {"speaker", "text", "intent", "confidence", "node"}
    said = [(t["text"], t["intent"]) for t in turns if t["speaker"] == "customer"]
    assert said == [("", None), ("where is my parcel", "kb:parcel_location"),
                    ("not tomorrow, call me Friday at 3", "not_home")]


def test_try_interactive_at_a_prompt() -> None:
    proc = callbox("flow", "try", str(DELIVERY), "--var", "name=Ann", stdin="#1\n")
    assert proc.returncode == 0, proc.stderr
    assert "bot (greet): Hello Ann" in proc.stdout and "you> " in proc.stdout
    assert "disposition: confirmed" in proc.stdout and "intent strength:" in proc.stdout


def test_try_that_does_not_finish_exits_1() -> None:
    proc = callbox("flow", "try", str(DELIVERY), "--say", "banana", "--json")
    assert proc.returncode == 1 and json.loads(proc.stdout)["finished"] is False


def test_graph_writes_svg(tmp_path: Path) -> None:
    target = tmp_path / "flow.svg"
    proc = callbox("flow", "graph", str(EXAMPLES / "return-follow-up.en.json"), "-o", str(target))
    assert proc.returncode == 0, proc.stderr
    root = ET.parse(target).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    ids = {g.get("id") for g in root.iter("{http://www.w3.org/2000/svg}g")}
    flow = json.loads((EXAMPLES / "return-follow-up.en.json").read_text(encoding="utf-8"))
    assert {f"node-{n}" for n in flow["nodes"]} <= ids
    labels = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if t.get("class") == "edge-label"}
    assert {"status 404", "failure", "return_status = received", "human", "confirm"} <= labels
    stdout = callbox("flow", "graph", str(DELIVERY))
    assert stdout.stdout.startswith("<svg")


def test_try_an_api_node_without_api_base_takes_its_failure_branch(capsys: pytest.CaptureFixture[str]) -> None:
    # {api_base} is not given: the URL is "<api_base>/returns/R-1", which no request can be made to
    code = main(["flow", "try", str(EXAMPLES / "return-follow-up.en.json"), "--var", "return_id=R-1",
                 "--var", "name=Ann", "--json"])
    captured = capsys.readouterr()
    assert code == 0 and "Traceback" not in captured.err
    out = json.loads(captured.out)
    assert out["disposition"] == "callback"
    failure = [t for t in out["turns"] if t["speaker"] == "system"]
    assert failure[0]["event"] == "api_failure" and "not an absolute http(s) URL" in failure[0]["text"]


def test_validate_warns_about_variables_nothing_supplies(tmp_path: Path) -> None:
    doc = json.loads((EXAMPLES / "payment-reminder.en.json").read_text(encoding="utf-8"))
    doc["variables"] = ["name", "order_id", "shop", "amount", "due_date"]  # no default, not marked "from": "vars"
    draft = tmp_path / "draft.json"
    draft.write_text(json.dumps(doc), encoding="utf-8")
    proc = callbox("flow", "validate", str(draft))
    assert proc.returncode == 0 and ": ok (" in proc.stdout  # a warning: the file may be a draft
    warnings = [line for line in proc.stderr.splitlines() if ": warning: " in line]
    assert [w.split(": warning: ")[1].split(":")[0] for w in warnings] == ["variables.amount", "variables.due_date"]
    assert "give it a default" in warnings[0]
