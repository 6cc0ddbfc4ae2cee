"""The owner's rules and scenarios as pure functions: each condition kind, order and first match, skip reasons,
validation naming every problem's path, and a property test that validation raises nothing but RulesInvalid."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.campaign.publish import install_defaults
from appliance.campaign.rules import decide, evaluate, parse_rules
from appliance.campaign.ruleset import (
    DEFAULT_RULES,
    DEFAULT_SCENARIOS,
    dry_run,
    install_default_rules,
    load_ruleset,
    replace_rules,
    replace_scenarios,
)
from appliance.campaign.scenarios import call_variables, parse_scenarios
from appliance.campaign.tickets import parse_ticket
from appliance.config import RetryConfig
from appliance.errors import RulesInvalid, TicketInvalid
from appliance.records.config_store import ConfigStore

BASE: dict[str, Any] = {
    "id": "T-1", "type": "delivery", "subject": "Your parcel is on its way",
    "description": "Fragile: glass vase. Leave with neighbour.",
    "customer": {"name": "Ann Lee", "phone": "+4930123456"},
    "order": {"id": "A-1", "status": "shipped"},
    "vars": {"carrier": "DHL", "helpdesk_status": "open"},
    "tags": ["VIP", "fragile"],
}
SCENARIOS = parse_scenarios([
    {"name": "delivery", "flow": "delivery-confirmation",
     "covers": {"type": ["delivery"], "order_status": ["shipped", "out_for_delivery"]}},
    {"name": "vip", "flow": "vip-call"},
])


def ticket(**changes: Any) -> Any:
    doc = copy.deepcopy(BASE)
    for key, value in changes.items():
        *parents, last = key.split("__")
        node = doc
        for name in parents:
            node = node[name]
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return parse_ticket(doc)


def rule(**conditions: Any) -> dict[str, Any]:
    return {"name": "r", "action": "call", "scenario": "delivery", **conditions}


def matches(conditions: dict[str, Any], t: Any) -> bool:
    rules = parse_rules([rule(**conditions)], {"delivery", "vip"})
    return decide(t, rules, SCENARIOS).call


@pytest.mark.parametrize(("conditions", "yes", "no"), [
    ({"type": ["Delivery", "return"]}, {}, {"type": "repair"}),
    ({"order_status": ["shipped"]}, {}, {"order__status": "delivered"}),
    ({"helpdesk_status": ["open", "new"]}, {}, {"vars": {"helpdesk_status": "solved"}}),
    ({"fields": {"vars.carrier": {"equals": "dhl"}}}, {}, {"vars": {"carrier": "UPS"}}),
    ({"fields": {"order.id": {"one_of": ["a-1", "a-2"]}}}, {}, {"order__id": "B-9"}),
    ({"fields": {"vars.carrier": {"present": True}}}, {}, {"vars": {"helpdesk_status": "open"}}),
    ({"fields": {"vars.carrier": {"absent": True}}}, {"vars": {"other": "x"}}, {}),
    ({"subject_any": ["parcel", "package"]}, {}, {"subject": "Parcels galore"}),  # whole words only
    ({"subject_all": ["your", "way"]}, {}, {"subject": "Your parcel"}),
    ({"description_any": ["GLASS"]}, {}, {"description": "glasses"}),
    ({"description_all": ["fragile", "leave with neighbour"]}, {}, {"description": "Fragile."}),
    ({"subject_regex": r"on its \w+$"}, {}, {"subject": "on its way now"}),
    ({"description_regex": "^fragile"}, {}, {"description": "Not fragile"}),
    ({"tags_any": ["vip", "gold"]}, {}, {"tags": ["bronze"]}),
    ({"tags_all": ["vip", "fragile"]}, {}, {"tags": ["vip"]}),
])
def test_each_condition_kind_holds_and_fails(conditions: dict[str, Any], yes: dict[str, Any],
                                             no: dict[str, Any]) -> None:
    assert matches(conditions, ticket(**yes))
    assert not matches(conditions, ticket(**no))


def test_the_first_matching_rule_decides_and_earlier_ones_say_why_not() -> None:
    rules = parse_rules([
        {"name": "returns", "type": ["return"], "action": "skip", "reason": "returns are handled in store"},
        {"name": "delivered", "order_status": ["delivered"], "action": "skip", "reason": "order already delivered"},
        {"name": "vip", "tags_any": ["vip"], "action": "call", "scenario": "vip"},
        {"name": "everything else", "action": "call"},
    ], {"delivery", "vip"})
    verdict = evaluate(ticket(), rules, SCENARIOS)
    assert verdict.decision.call and verdict.decision.scenario == "vip" and verdict.decision.flow == "vip-call"
    assert verdict.decision.reason == "rule 'vip' matched → scenario 'vip'"
    assert [(c.rule, c.matched) for c in verdict.checks] == [("returns", False), ("delivered", False), ("vip", True)]
    assert verdict.checks[0].why_not == "type 'delivery' is not return"
    skipped = decide(ticket(order__status="delivered"), rules, SCENARIOS)
    assert not skipped.call and skipped.reason == "order already delivered (rule 'delivered')"
    assert skipped.rule == "delivered"
    covered = decide(ticket(tags=["plain"]), rules, SCENARIOS)  # no scenario named: the one that covers it
    assert covered.call and covered.scenario == "delivery"
    uncovered = decide(ticket(tags=["plain"], order__status="packed"), rules, SCENARIOS)
    assert not uncovered.call and "no scenario covers type 'delivery' × order status 'packed'" in uncovered.reason


def test_no_match_names_every_rule_and_no_rules_says_so() -> None:
    rules = parse_rules(DEFAULT_RULES, {"delivery"})
    no = decide(ticket(type="repair"), rules, SCENARIOS)
    assert no.reason == "no rule matched (rule 'delivery shipped': type 'repair' is not delivery)"
    assert decide(ticket(), [], SCENARIOS).reason == "no rules are configured"


def problems(docs: Any, scenarios: set[str] | None = None) -> list[tuple[str, str]]:
    with pytest.raises(RulesInvalid) as err:
        parse_rules(docs, scenarios)
    return err.value.problems


def test_validation_names_each_rule_and_field() -> None:
    found = problems([
        rule(name="ok"),
        {"name": "no action"},
        rule(name="bad regex", subject_regex="(ab"),
        rule(name="colour", colour="red"),
        rule(name="ghost", scenario="nowhere"),
        {"name": "skip without why", "action": "skip"},
        rule(name="bad field", fields={"order.colour": {"equals": "x"}, "vars.x": {"equals": "a", "one_of": ["b"]}}),
        rule(name="ok"),
    ], {"delivery"})
    paths = [p for p, _ in found]
    assert paths == ["rules[1].action", "rules[2].subject_regex", "rules[3].colour", "rules[4].scenario",
                     "rules[5].reason", "rules[6].fields.order.colour", "rules[6].fields.vars.x", "rules[7].name"]
    assert "unterminated subpattern at position 0" in dict(found)["rules[2].subject_regex"]
    assert "no scenario is named 'nowhere'" in dict(found)["rules[4].scenario"]
    assert "earlier rule" in dict(found)["rules[7].name"]


def test_scenario_validation_names_each_field() -> None:
    with pytest.raises(RulesInvalid) as err:
        parse_scenarios([
            {"name": "a", "flow": "f", "task": {"max_attempts": 0, "retry": {"busy": 5, "completed": 3},
                                                "hours": {"mon": ["18:00-09:00", "9-10"], "xyz": []},
                                                "lines": True}},
            {"name": "b", "flow": "f", "variables": {"x": "order.colour", "9y": "id"}, "version": "two"},
            {"name": "a", "flow": "f"},
        ])
    paths = [p for p, _ in err.value.problems]
    # the task is checked as a call task's settings are: a span past midnight ("18:00-09:00") is two windows, as
    # a call task takes it; a bad span is named at its day
    assert paths == ["scenarios[0].task.max_attempts", "scenarios[0].task.lines", "scenarios[0].task.retry.completed",
                     "scenarios[0].task.hours.mon", "scenarios[0].task.hours.xyz", "scenarios[1].version",
                     "scenarios[1].variables.x", "scenarios[1].variables.9y", "scenarios[2].name"]


def test_task_settings_are_a_plain_validated_dict_and_retry_waits_override_the_table() -> None:
    task = {"max_attempts": 5, "retry": {"no_answer": 30}, "priority": 80, "lines": 2, "valid_days": 7,
            "hours": {"mon": ["09:00-12:00", "14:00-24:00"], "sun": []}}
    (scenario,) = parse_scenarios([{"name": "s", "flow": "f", "task": task}])
    assert dict(scenario.task) == task
    retry = scenario.retry_override(RetryConfig())
    assert retry.no_answer == 1800.0 and retry.busy == RetryConfig().busy


# Two settings a call task refuses; a scenario's task and a task made by hand get the same messages for them
BAD_SETTINGS = {"priority": 5000, "redials": {"busy": 21, "no_answer": 1}}
BAD_MESSAGES = [("priority", "must be from -1000 to 1000, not 5000"), ("redials.busy", "must be from 0 to 20, not 21")]


def test_a_scenario_task_is_checked_by_the_call_tasks_check_naming_every_problem() -> None:
    from appliance.campaign.calltask import parse_settings
    from appliance.errors import TaskInvalid

    with pytest.raises(RulesInvalid) as err:
        parse_scenarios([{"name": "ok", "flow": "f"}, {"name": "s", "flow": "f", "task": BAD_SETTINGS}])
    assert err.value.problems == [(f"scenarios[1].task.{path}", message) for path, message in BAD_MESSAGES]
    with pytest.raises(TaskInvalid) as task_err:
        parse_settings(BAD_SETTINGS)
    assert task_err.value.problems == [(f"settings.{path}", message) for path, message in BAD_MESSAGES]
    assert (task_err.value.field, task_err.value.message) == task_err.value.problems[0]
    # one range: what a scenario may say, a task made by hand may say, and the other way round
    (scenario,) = parse_scenarios([{"name": "s", "flow": "f", "task": {"priority": -5, "retry": {"busy": 1.5}}}])
    assert dict(scenario.task) == {"priority": -5, "retry": {"busy": 1.5}}
    assert parse_settings(dict(scenario.task)).priority == -5


def test_call_variables_mapping_over_ticket_over_scenario_defaults() -> None:
    (scenario,) = parse_scenarios([{"name": "s", "flow": "f",
                                    "variables": {"courier": "vars.carrier", "customer": "customer.name",
                                                  "where": "vars.missing", "order_id": "order.status"},
                                    "defaults": {"where": "your door", "carrier": "unused", "extra": "x"}}])
    values = call_variables(ticket(), "Corner Shop", scenario)
    assert values["courier"] == "DHL" and values["customer"] == "Ann Lee" and values["shop"] == "Corner Shop"
    assert values["where"] == "your door"  # the mapped field is empty: the default stands
    assert values["order_id"] == "shipped"  # the mapping is strongest
    assert values["carrier"] == "DHL"  # the ticket's own var beats the scenario's default
    assert values["extra"] == "x"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    | st.sampled_from(["call", "skip", "delivery", "(a", "vars.x", "order.id", "09:00-10:00", "latest"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["name", "action", "scenario", "reason", "type", "fields", "subject_regex", "tags_any",
                         "equals", "one_of", "present", "flow", "version", "covers", "variables", "defaults",
                         "task", "retry", "hours", "mon", "busy", "order_status", "x"]) | st.text(max_size=4),
        inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(JSON)
def test_validation_raises_only_rules_invalid_for_any_json(doc: Any) -> None:
    for parse in (lambda d: parse_rules(d, {"delivery"}), parse_scenarios,
                  lambda d: parse_rules([d]), lambda d: parse_scenarios([d])):
        try:
            parse(doc)
        except RulesInvalid as exc:
            assert exc.problems and all(isinstance(p, str) and isinstance(m, str) for p, m in exc.problems)


# -- the stored set, against real flows in a real config store --------------------------------------------------

@pytest.fixture
def configs(tmp_path: Path) -> Any:
    store = ConfigStore(tmp_path / "config.json")
    install_defaults(store)
    yield store
    store.close()


EXAMPLES = Path(__file__).resolve().parents[2] / "flows" / "examples"
PAYMENT = json.loads((EXAMPLES / "payment-reminder.en.json").read_text(encoding="utf-8"))
# the example with {amount} no longer marked as coming from the ticket's vars: nothing supplies it
PAYMENT = {**PAYMENT, "id": "payment", "variables": {**PAYMENT["variables"], "amount": {}}}


def test_the_defaults_are_stored_on_first_boot_and_reproduce_the_old_rule(configs: ConfigStore) -> None:
    assert configs.decisions() == {"rules": DEFAULT_RULES, "scenarios": DEFAULT_SCENARIOS}
    ruleset = load_ruleset(configs)
    assert decide(ticket(), ruleset.rules, ruleset.scenarios).flow == "delivery-confirmation"
    replace_rules(configs, [])
    install_defaults(configs)  # the owner deleted them: they stay deleted
    assert configs.decisions()["rules"] == []  # type: ignore[index]


def test_rules_stored_before_scenarios_are_carried_over(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path / "old.json")
    store._db.table("trigger_rules").insert_multiple([  # as a box before scenarios kept them
        {"position": 0, "name": "payments", "type": ["payment"], "subject_contains": ["invoice"], "flow": "pay"}])
    install_default_rules(store)
    assert store.decisions() == {
        "rules": [{"name": "payments", "action": "call", "scenario": "pay", "type": ["payment"],
                   "subject_any": ["invoice"]}],
        "scenarios": [{"name": "pay", "flow": "pay"}]}
    store.close()


def test_a_scenario_whose_flow_needs_an_unsupplied_variable_is_refused_whole(configs: ConfigStore) -> None:
    configs.publish_flow(PAYMENT)
    before = configs.decisions()
    with pytest.raises(RulesInvalid) as err:
        replace_scenarios(configs, [*DEFAULT_SCENARIOS, {"name": "pay", "flow": "payment"},
                                    {"name": "gone", "flow": "nowhere"},
                                    {"name": "pinned", "flow": "payment", "version": 7}])
    assert [p for p, _ in err.value.problems] == ["scenarios[1].variables.amount", "scenarios[2].flow",
                                                  "scenarios[3].version"]
    assert configs.decisions() == before
    replace_scenarios(configs, {"scenarios": [*DEFAULT_SCENARIOS, {"name": "pay", "flow": "payment", "version": 1,
                                                                    "variables": {"amount": "vars.total"}}]})
    with pytest.raises(RulesInvalid, match="'delivery'"):  # a stored rule calls it
        replace_scenarios(configs, [{"name": "pay", "flow": "payment", "defaults": {"amount": "the amount"}}])


def test_dry_run_shows_the_rule_scenario_flow_version_and_variables(configs: ConfigStore) -> None:
    configs.publish_flow(PAYMENT)
    replace_scenarios(configs, [*DEFAULT_SCENARIOS, {"name": "pay", "flow": "payment", "version": 1,
                                                      "variables": {"amount": "vars.total"}}])
    replace_rules(configs, [{"name": "unpaid", "type": ["payment"], "action": "call", "scenario": "pay"},
                            *DEFAULT_RULES])
    payload = {**copy.deepcopy(BASE), "type": "payment", "vars": {"total": "40 euros"}}
    result = dry_run(configs, payload, shop="Corner Shop")
    assert result["decision"] == "call" and result["rule"] == "unpaid" and result["scenario"] == "pay"
    assert (result["flow"], result["version"]) == ("payment", 1)
    assert result["variables"]["amount"] == "40 euros" and result["variables"]["name"] == "Ann Lee"
    assert result["missing"] == ["due_date"]  # the ticket does not send it: the call would be blocked
    before = configs.decisions()
    skipped = dry_run(configs, {**copy.deepcopy(BASE), "type": "repair"})
    assert skipped["decision"] == "skip" and [c["matched"] for c in skipped["rules"]] == [False, False]
    assert configs.decisions() == before
    with pytest.raises(TicketInvalid):
        dry_run(configs, {"id": "x"})


def test_scenario_redials_are_validated_with_their_path_and_reach_the_call_task() -> None:
    from appliance.campaign.calltask import parse_settings
    from appliance.campaign.intake import standing_settings

    with pytest.raises(RulesInvalid) as err:
        parse_scenarios([{"name": "a", "flow": "f", "task": {"redials": {
            "completed": 1, "busy": -1, "no_answer": "2", "failed": 1.5, "rejected": 21}}},
            {"name": "b", "flow": "f", "task": {"redials": [3]}}])
    paths = [p for p, _ in err.value.problems]
    assert paths == ["scenarios[0].task.redials.completed", "scenarios[0].task.redials.busy",
                     "scenarios[0].task.redials.no_answer", "scenarios[0].task.redials.failed",
                     "scenarios[0].task.redials.rejected", "scenarios[1].task.redials"]
    (scenario,) = parse_scenarios([{"name": "s", "flow": "f",
                                    "task": {"max_attempts": 6, "redials": {"busy": 3, "no_answer": 0}}}])
    assert dict(scenario.task)["redials"] == {"busy": 3, "no_answer": 0}
    assert parse_settings(standing_settings(scenario)).redials == {"busy": 3, "no_answer": 0}


def test_the_parsed_rules_are_kept_until_the_file_changes_here_or_in_another_process(configs: ConfigStore) -> None:
    first = load_ruleset(configs)
    assert load_ruleset(configs) is first  # not read and parsed again per ticket
    other = ConfigStore(configs.path)  # another writer of the same file, as `callbox rules set` is
    try:
        replace_rules(other, [])
    finally:
        other.close()
    assert load_ruleset(configs).rules == ()  # the other writer's change is seen at once
    configs.set_decisions(rules=DEFAULT_RULES)
    again = load_ruleset(configs)
    assert [r.name for r in again.rules] == [r["name"] for r in DEFAULT_RULES]
    assert load_ruleset(configs) is again


def test_a_broken_stored_set_is_reported_on_every_read_not_kept(configs: ConfigStore) -> None:
    data = json.loads(configs.path.read_text(encoding="utf-8"))
    (table,) = data["decisions"].values()
    table["rules"] = [{"name": "no action"}]
    configs.path.write_text(json.dumps(data), encoding="utf-8")  # by hand, under the box
    for _ in range(2):
        with pytest.raises(RulesInvalid):
            load_ruleset(configs)
    configs.set_decisions(rules=[])
    assert load_ruleset(configs).rules == ()


def test_a_flow_counts_as_published_from_the_moment_it_is(configs: ConfigStore) -> None:
    assert not configs.published("payment")
    configs.publish_flow(PAYMENT)
    assert configs.published("payment")
