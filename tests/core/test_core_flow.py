from __future__ import annotations

import copy
import json

import pytest

from appliance.dialog.flow.load import builtin_flow_path, load_flow, parse_flow
from appliance.dialog.nlu.intents import match_intent
from appliance.dialog.runtime.engine import FlowRun
from appliance.errors import FlowError

FLOW_DOC = json.loads(builtin_flow_path("delivery-confirmation.en").read_text())
VARS = {"name": "Ann", "order_id": "A-7", "shop": "Corner Shop"}


def run(*answers: str) -> FlowRun:
    r = FlowRun(parse_flow(FLOW_DOC), VARS)
    r.start()
    for a in answers:
        if r.finished:
            break
        r.hear(a)
    return r


def test_greeting_names_the_order() -> None:
    step = FlowRun(parse_flow(FLOW_DOC), VARS).start()
    assert "A-7" in step.say and "Ann" in step.say and step.listen
    assert "yes" in step.grammar and "call me tomorrow" in step.grammar


@pytest.mark.parametrize(
    ("answers", "disposition", "ops"),
    [
        (["yes someone will be home"], "confirmed", ["remark", "close"]),
        (["yeah and i will be on"], "confirmed", ["remark", "close"]),
        (["nope when i call me tomorrow"], "rescheduled", ["remark", "schedule"]),
        (["i am not home"], "rescheduled", ["remark", "schedule"]),
        (["", ""], "no_response", ["remark", "schedule"]),
        (["banana", "yes that's fine"], "confirmed", ["remark", "close"]),
        (["banana", "potato"], "no_response", ["remark", "schedule"]),
    ],
)
def test_paths_through_the_delivery_flow(answers: list[str], disposition: str, ops: list[str]) -> None:
    r = run(*answers)
    assert r.finished
    assert r.result.disposition == disposition
    assert [o.op for o in r.result.operations] == ops
    assert all("{" not in o.text for o in r.result.operations)


def test_reschedule_is_a_day_later() -> None:
    r = run("no")
    assert [o.delay_minutes for o in r.result.operations if o.op == "schedule"] == [1440]


def test_negation_flips_a_confirm_keyword() -> None:
    flow = parse_flow(FLOW_DOC)
    assert match_intent("nobody will be home", flow.intents.values()).intent == "reschedule"
    assert match_intent("yes", flow.intents.values()).intent == "confirm"
    assert match_intent("hmm", flow.intents.values()).intent is None


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d["nodes"]["greet"]["intents"].update(confirm="nowhere"), "greet"),
        (lambda d: d.update(start="missing"), "start"),
        (lambda d: d["nodes"]["confirmed"].update(disposition="happy"), "confirmed.disposition"),
        (lambda d: d["nodes"]["greet"].update(say="Hi {nobody}"), "greet.say"),
        (lambda d: d["nodes"]["greet"].update(colour="red"), "greet"),
        (lambda d: d["nodes"]["greet"]["intents"].update(dance="confirmed"), "greet.intents"),
        (lambda d: d["nodes"]["greet"].pop("no_input"), "greet"),
    ],
)
def test_invalid_flows_name_node_and_field(mutate, where: str) -> None:  # type: ignore[no-untyped-def]
    doc = copy.deepcopy(FLOW_DOC)
    mutate(doc)
    with pytest.raises(FlowError) as err:
        parse_flow(doc)
    assert str(err.value).startswith(where)


def test_load_flow_reports_bad_json(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "f.json"
    bad.write_text("{not json")
    with pytest.raises(FlowError, match=r"f\.json"):
        load_flow(bad)
