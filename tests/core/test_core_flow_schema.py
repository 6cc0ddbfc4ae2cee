"""The published JSON Schema and the parser agree: every shipped flow passes both, and broken documents fail
both, the parser naming the node and the field."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from appliance.dialog.flow.load import builtin_flow_path, flow_schema
from appliance.dialog.flow.parse import check_flow

EXAMPLES = Path(__file__).resolve().parents[2] / "flows" / "examples"
FLOW_FILES = [*sorted(EXAMPLES.glob("*.json")), builtin_flow_path("delivery-confirmation.en")]
VALIDATOR = jsonschema.Draft202012Validator(flow_schema())


def test_the_schema_is_a_valid_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(flow_schema())


@pytest.mark.parametrize("path", FLOW_FILES, ids=lambda p: p.name)
def test_shipped_flows_pass_schema_and_parser(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert list(VALIDATOR.iter_errors(doc)) == []
    flow, problems = check_flow(doc)
    assert problems == [] and flow is not None


def test_there_are_five_examples() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.json")) == [
        "delivery-confirmation.en.json", "delivery-confirmation.zh.json", "payment-reminder.en.json",
        "return-follow-up.en.json", "satisfaction-survey.en.json"]


BASE = json.loads((EXAMPLES / "return-follow-up.en.json").read_text(encoding="utf-8"))
Mutation = Callable[[dict[str, Any]], None]
BROKEN: list[tuple[Mutation, str]] = [
    (lambda d: d["nodes"]["received"].update(type="chat"), "received.type"),
    (lambda d: d["nodes"]["refund_ok"].update(disposition="happy"), "refund_ok.disposition"),
    (lambda d: d["nodes"]["lookup"].update(retries=9), "lookup.retries"),
    (lambda d: d["nodes"]["lookup"]["request"].update(method="FETCH"), "lookup.request.method"),
    (lambda d: d["nodes"]["lookup"]["branches"][0].update(status="4x4"), "lookup.branches[0].status"),
    (lambda d: d["nodes"]["lookup"].pop("failure"), "lookup.failure"),
    (lambda d: d["nodes"]["ask_callback"]["slots"][0].update(type="colour"), "ask_callback.slots[0].type"),
    (lambda d: d["nodes"]["received"].update(dtmf={"12": "confirm"}), "received.dtmf.12"),
    (lambda d: d["vui"].update(max_no_input=-1), "vui.max_no_input"),
    (lambda d: d["vui"]["long_utterance"].update(when=["sometimes"]), "vui.long_utterance.when"),
    (lambda d: d["knowledge_base"][0].pop("answer"), "knowledge_base[0].answer"),
    (lambda d: d["nodes"]["refund_ok"]["operations"].append({"op": "explode"}), "refund_ok.operations[2]"),
    (lambda d: d.update(colour="red"), "unknown key"),
]


@pytest.mark.parametrize(("mutate", "where"), BROKEN, ids=[w for _, w in BROKEN])
def test_broken_documents_fail_schema_and_parser(mutate: Mutation, where: str) -> None:
    doc = copy.deepcopy(BASE)
    mutate(doc)
    assert list(VALIDATOR.iter_errors(doc)), "the schema let it through"
    _, problems = check_flow(doc)
    assert any(str(p).startswith(where) for p in problems), [str(p) for p in problems]


def test_graph_problems_are_all_listed() -> None:
    doc = copy.deepcopy(BASE)
    doc["nodes"]["received"]["intents"]["confirm"] = "nowhere"  # missing target, and refund_ok unreachable
    doc["nodes"]["in_transit"]["say"] += " {parcel_colour}"  # unknown variable
    doc["nodes"]["loop"] = {"type": "api", "request": {"url": "http://x/"}, "next": "loop", "failure": "loop"}
    problems = [str(p) for p in check_flow(doc)[1]]
    assert "received.intents.confirm: points to missing node 'nowhere'" in problems
    assert "in_transit.say: unknown variable(s) parcel_colour" in problems
    assert "refund_ok: unreachable from the start node 'lookup'" in problems
    assert "loop: unreachable from the start node 'lookup'" in problems
    assert "loop: no way out: no hangup node can be reached from here" in problems
    assert len(problems) == 5
