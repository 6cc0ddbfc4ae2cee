from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from appliance.dialog.flow.load import builtin_flow_path, load_flow, parse_flow
from appliance.dialog.nlu.intents import match_intent
from appliance.dialog.runtime.engine import FlowRun
from appliance.errors import FlowError

FLOW_DOC = json.loads(builtin_flow_path("delivery-confirmation.en").read_text())
VARS = {"name": "Ann", "order_id": "A-7", "shop": "Corner Shop"}
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # Tuesday 10:00


def run(*answers: str) -> FlowRun:
    """The built-in flow over these answers ("" is a silence)."""
    r = FlowRun(parse_flow(FLOW_DOC), VARS, clock=lambda: NOW, tz=UTC)
    r.start()
    for a in answers:
        if r.finished:
            break
        if a:
            r.hear(a)
        else:
            r.no_input()
    return r


def test_greeting_names_the_shop_and_the_order() -> None:
    step = FlowRun(parse_flow(FLOW_DOC), VARS).start()
    assert "A-7" in step.say and "Ann" in step.say and "this is Corner Shop calling" in step.say and step.listen
    assert "yes" in step.grammar and "stop calling me" in step.grammar  # the global intents are heard too


@pytest.mark.parametrize(
    ("answers", "disposition", "ops"),
    [
        (["yes someone will be home"], "confirmed", ["remark", "close"]),
        (["yeah and i will be on"], "confirmed", ["remark", "close"]),
        (["nope when i call me tomorrow"], "callback", ["remark", "schedule"]),
        (["nobody will be home", "friday at 3"], "rescheduled", ["remark", "schedule"]),
        (["", "", ""], "no_response", ["remark", "schedule"]),
        (["banana", "yes that's fine"], "confirmed", ["remark", "close"]),
        (["banana", "potato", "turnip"], "no_response", ["remark", "schedule"]),
        (["stop calling me"], "do_not_call", ["remark", "do_not_call", "close"]),
        (["you have the wrong number"], "wrong_number", ["remark", "close"]),
    ],
)
def test_paths_through_the_delivery_flow(answers: list[str], disposition: str, ops: list[str]) -> None:
    r = run(*answers)
    assert r.finished
    assert r.result.disposition == disposition
    assert [o.op for o in r.result.operations] == ops
    assert all("{" not in o.text for o in r.result.operations)


def test_call_me_friday_at_3_is_friday_at_3_not_tomorrow() -> None:
    r = run("no, call me Friday at 3")
    assert r.result.disposition == "rescheduled"
    assert [o.at for o in r.result.operations if o.op == "schedule"] == [datetime(2026, 11, 27, 15, 0, tzinfo=UTC)]


def test_negation_flips_a_confirm_keyword() -> None:
    flow = parse_flow(FLOW_DOC)
    assert match_intent("nobody will be home", flow.intents.values()).intent == "not_home"
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
        (lambda d: d["vui"].pop("fallback_node"), "greet"),
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
