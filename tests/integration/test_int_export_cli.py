"""`callbox export calls|turns` on a records file holding the twelve seeded calls (tests/stats_seed.py), with
the shop in Berlin: to a file through main(), to stdout as a user runs it, and a readable line for a bad option."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from stats_seed import seed_calls

from appliance.cli import main
from appliance.config import load_config
from appliance.records.export import CALL_COLUMNS, TURN_COLUMNS
from appliance.records.store import RecordsStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def state(tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "callbox.toml"
    config.write_text('[shop]\nname = "Corner Shop"\ntime_zone = "Europe/Berlin"\n', encoding="utf-8")
    state_dir = tmp_path / "state"
    store = RecordsStore(load_config(config, state_dir=state_dir).paths.records)
    try:
        seed_calls(store)
    finally:
        store.close()
    return config, state_dir


def test_export_calls_to_a_file_on_the_shops_clock(state: tuple[Path, Path], tmp_path: Path) -> None:
    config, state_dir = state
    out = tmp_path / "calls.csv"
    code = main(["--config", str(config), "--state-dir", str(state_dir), "export", "calls", "--since", "2026-11-21",
                 "--out", str(out)])
    assert code == 0
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert tuple(rows[0]) == CALL_COLUMNS
    assert [r[0] for r in rows[1:]] == ["7", "8", "9", "10", "11", "12"]  # 00:30 Berlin on the 21st is in
    assert not out.with_name("calls.csv.part").exists()


def test_export_turns_to_stdout(state: tuple[Path, Path]) -> None:
    config, state_dir = state
    proc = subprocess.run(
        [sys.executable, "-m", "appliance.cli", "--config", str(config), "--state-dir", str(state_dir), "export",
         "turns", "--scenario", "B", "--until", "2026-11-20T12:00"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=dict(os.environ), stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.reader(io.StringIO(proc.stdout)))
    assert tuple(rows[0]) == TURN_COLUMNS
    assert [(r[0], r[3], r[4]) for r in rows[1:]] == [("4", "bot", "Hello, this is the shop."),
                                                      ("4", "customer", "yes")]


def test_a_bad_option_is_one_readable_line(state: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    config, state_dir = state
    code = main(["--config", str(config), "--state-dir", str(state_dir), "export", "calls", "--flow-version",
                 "delivery@x"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("callbox: --flow-version:") and "Traceback" not in err
    code = main(["--config", str(config), "--state-dir", str(state_dir), "export", "calls", "--since", "soon"])
    assert code == 2 and "--since 'soon'" in capsys.readouterr().err
