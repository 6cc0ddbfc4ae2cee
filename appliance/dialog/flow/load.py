"""Reading flows: a document (from a file, or already decoded) into a :class:`Flow` that raises its first
problem, the flows that ship with the box, and the published JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from appliance.dialog.flow.model import SCHEMA_PATH, Flow
from appliance.dialog.flow.parse import check_flow
from appliance.errors import FlowError


def parse_flow(doc: Any) -> Flow:
    """Validate a flow document into a Flow; raises the first problem (FlowError naming node and field)."""
    flow, problems = check_flow(doc)
    if problems:
        raise problems[0]
    assert flow is not None
    return flow


def load_document(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FlowError(f"{path}: {exc}") from exc


def load_flow(path: Path) -> Flow:
    return parse_flow(load_document(path))


def builtin_flow_path(name: str) -> Path:
    return Path(__file__).resolve().parents[2] / "flows" / f"{name}.json"


def flow_schema() -> dict[str, Any]:
    """The published JSON Schema of a flow document."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema
