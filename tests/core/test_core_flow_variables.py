"""A flow's variables: declared as a list or with defaults and sources; what a call is missing, what nothing
supplies (publishing refuses it), and the defaults a conversation speaks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from appliance.dialog.flow.parse import check_flow
from appliance.dialog.runtime.engine import FlowRun
from appliance.records.ticket import STANDARD_VARIABLES

EXAMPLES = Path(__file__).resolve().parents[2] / "flows" / "examples"
PAYMENT = json.loads((EXAMPLES / "payment-reminder.en.json").read_text(encoding="utf-8"))


def with_variables(variables: Any) -> dict[str, Any]:
    return {**PAYMENT, "variables": variables}


def test_a_list_of_names_is_what_the_ticket_must_supply() -> None:
    flow, problems = check_flow(with_variables(["name", "order_id", "shop", "amount", "due_date"]))
    assert problems == [] and flow is not None
    assert flow.variables == ("name", "order_id", "shop", "amount", "due_date")
    assert flow.declared.unsupplied(STANDARD_VARIABLES) == ["amount", "due_date"]
    assert flow.declared.missing({"name": "Ann", "order_id": "A-7", "shop": "S", "amount": "40 euros"}) == ["due_date"]
    assert flow.declared.missing({"name": "Ann", "order_id": "A-7", "shop": "S", "amount": " ", "due_date": "1 May"}) \
        == ["amount"]  # a blank is as missing as an absent one


def test_defaults_and_vars_say_where_a_variable_comes_from() -> None:
    flow, problems = check_flow(with_variables({"name": {}, "order_id": {}, "shop": {}, "amount": {"from": "vars"},
                                                "due_date": {"default": "the due date", "description": "d"}}))
    assert problems == [] and flow is not None
    assert flow.variables == ("name", "order_id", "shop", "amount", "due_date")
    assert flow.declared.unsupplied(STANDARD_VARIABLES) == []
    supplied = {"name": "Ann", "order_id": "A-7", "shop": "S", "amount": "40 euros"}
    assert flow.declared.missing(supplied) == []
    assert flow.declared.values(supplied)["due_date"] == "the due date"
    assert flow.declared.values({**supplied, "due_date": "1 May"})["due_date"] == "1 May"  # the ticket's wins
    assert flow.declared.values({**supplied, "due_date": ""})["due_date"] == "the due date"
    assert flow.declared.missing({"name": "Ann", "order_id": "A-7", "shop": "S"}) == ["amount"]  # from vars: absent


def test_the_example_flows_declare_where_each_variable_comes_from() -> None:
    for path in sorted(EXAMPLES.glob("*.json")):
        flow, problems = check_flow(json.loads(path.read_text(encoding="utf-8")))
        assert problems == [] and flow is not None, path
        assert flow.declared.unsupplied(STANDARD_VARIABLES) == [], path


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ("name", "variables"),
        (["name", 7], "variables[1]"),
        (["due date"], "variables[0]"),
        ({"name": {}, "order_id": {}, "amount": "40", "due_date": {}}, "variables.amount"),
        ({"name": {}, "order_id": {}, "amount": {"from": "helpdesk"}, "due_date": {}}, "variables.amount.from"),
        ({"name": {}, "order_id": {}, "amount": {"default": " "}, "due_date": {}}, "variables.amount.default"),
        ({"name": {}, "order_id": {}, "amount": {"default": 40}, "due_date": {}}, "variables.amount.default"),
        ({"name": {}, "order_id": {}, "amount": {"defualt": "x"}, "due_date": {}}, "variables.amount"),
        ({"name": {}, "order_id": {}, "amount": {}, "due_date": {}, "9": {}}, "variables.9"),
    ],
)
def test_bad_variables_name_their_field(variables: Any, field: str) -> None:
    _, problems = check_flow(with_variables(variables))
    assert field in [p.field for p in problems], [str(p) for p in problems]


def test_a_conversation_speaks_a_default_the_ticket_did_not_give() -> None:
    doc = with_variables({"name": {}, "order_id": {}, "shop": {}, "amount": {"default": "the amount due"},
                          "due_date": {"default": "the due date"}})
    flow, problems = check_flow(doc)
    assert problems == [] and flow is not None
    step = FlowRun(flow, {"name": "Ann", "order_id": "A-7", "shop": "Corner Shop", "due_date": "1 May"}).start()
    assert "from Corner Shop: the amount due" in step.say and "1 May" in step.say and "the due date" not in step.say
