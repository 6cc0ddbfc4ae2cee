"""Rehearsed conversations for the golden tests (test_core_golden.py, test_core_golden_api.py): an example flow
talked through in-process as `callbox flow try --json` does, and what to read from its result."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from appliance.dialog.flow.load import parse_flow
from appliance.dialog.runtime.rehearsal import converse, result_json

EXAMPLES = Path(__file__).resolve().parents[2] / "flows" / "examples"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # Tuesday 10:00
VARS = {"name": "Ann", "order_id": "A-7", "shop": "the shop", "amount": "40 euros", "due_date": "1 November"}


def talk(flow_file: str, *says: str, doc: dict[str, Any] | None = None, **variables: str) -> dict[str, Any]:
    doc = doc or json.loads((EXAMPLES / flow_file).read_text(encoding="utf-8"))
    run = converse(parse_flow(doc), {**VARS, **variables}, says, clock=lambda: NOW, tz=UTC)
    return result_json(run)


def customer(out: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(t["text"], t["intent"]) for t in out["turns"] if t["speaker"] == "customer"]


def bot(out: dict[str, Any]) -> list[tuple[str, str]]:
    return [(t["event"], t["text"]) for t in out["turns"] if t["speaker"] == "bot"]


def ops(out: dict[str, Any]) -> list[str]:
    return [o["op"] for o in out["operations"]]
