from __future__ import annotations

import copy

import pytest

from appliance.campaign.rules import decide, parse_rules
from appliance.campaign.ruleset import DEFAULT_RULES, DEFAULT_SCENARIOS
from appliance.campaign.scenarios import parse_scenarios
from appliance.campaign.tickets import parse_ticket
from appliance.errors import RulesInvalid, TicketInvalid

GOOD = {
    "id": "T-1",
    "type": "Delivery",
    "subject": "Parcel",
    "description": "",
    "customer": {"name": "Ann", "phone": "+49 (30) 1234-567"},
    "order": {"id": 991, "status": "SHIPPED"},
}


def with_change(path: str, value: object) -> dict:
    doc = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    target = doc
    for p in parents:
        target = target[p]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return doc


def test_good_ticket_is_normalised() -> None:
    t = parse_ticket(GOOD)
    assert t.customer_phone == "+49301234567"
    assert t.type == "delivery" and t.order_status == "shipped" and t.order_id == "991"
    assert t.vars == {}


def test_vars_add_flow_variables_by_name() -> None:
    t = parse_ticket(with_change("vars", {"due_date": " 1 December ", "amount": "40 euros", "Return_ID": "R-1"}))
    assert t.vars == {"due_date": "1 December", "amount": "40 euros", "Return_ID": "R-1"}
    assert t.variables("Corner Shop") == {"due_date": "1 December", "amount": "40 euros", "Return_ID": "R-1",
                                          "name": "Ann", "order_id": "991", "order_status": "shipped",
                                          "shop": "Corner Shop", "subject": "Parcel"}
    assert parse_ticket(with_change("vars", None)).vars == {}  # null is the same as none


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("id", KeyError, "id"),
        ("id", "  ", "id"),
        ("type", ["x"], "type"),
        ("customer", KeyError, "customer"),
        ("customer", "Ann", "customer"),
        ("customer.phone", KeyError, "customer.phone"),
        ("customer.phone", "call me maybe", "customer.phone"),
        ("customer.phone", True, "customer.phone"),
        ("order.status", None, "order.status"),
        ("subject", "x" * 5000, "subject"),
        ("vars", ["due_date"], "vars"),
        ("vars", "due_date=1 May", "vars"),
        ("vars", {"due date": "1 May"}, "vars.due date"),
        ("vars", {"9lives": "x"}, "vars.9lives"),
        ("vars", {"amount": 40}, "vars.amount"),
        ("vars", {"amount": None}, "vars.amount"),
        ("vars", {"amount": {"value": 40}}, "vars.amount"),
        ("vars", {"due_date": "  "}, "vars.due_date"),
        ("vars", {"due_date": "x" * 5000}, "vars.due_date"),
        ("vars", {"name": "Bob"}, "vars.name"),
        ("vars", {"shop": "Other Shop"}, "vars.shop"),
        ("vars", {f"v{i}": "x" for i in range(51)}, "vars"),
    ],
)
def test_bad_ticket_names_the_field(path: str, value: object, field: str) -> None:
    with pytest.raises(TicketInvalid) as err:
        parse_ticket(with_change(path, value))
    assert err.value.field == field


def test_default_rule_calls_shipped_deliveries_and_skips_the_rest() -> None:
    scenarios = parse_scenarios(DEFAULT_SCENARIOS)
    rules = parse_rules(DEFAULT_RULES, {s.name for s in scenarios})
    yes = decide(parse_ticket(GOOD), rules, scenarios)
    assert yes.call and yes.flow == "delivery-confirmation" and yes.scenario == "delivery"
    no = decide(parse_ticket(with_change("order.status", "delivered")), rules, scenarios)
    assert not no.call and "order status 'delivered'" in no.reason
    other = decide(parse_ticket(with_change("type", "return")), rules, scenarios)
    assert not other.call and "type 'return'" in other.reason
    assert "no rules are configured" in decide(parse_ticket(GOOD), [], scenarios).reason


def test_rule_with_unknown_key_is_refused() -> None:
    with pytest.raises(RulesInvalid, match="colour"):
        parse_rules([{"name": "x", "action": "call", "colour": "red"}])
