"""The owner's rules and scenarios as the box keeps them: the defaults, the stored set, replacing it whole, and
a dry run of a ticket through it.

Replacing is all or nothing: the new list is checked with the other one as stored (every rule's scenario
exists; every scenario's flow and pinned version is published and its variables are supplied), under the
config store's lock, and written in one atomic write; any problem refuses the whole list, naming each.

The defaults reproduce the box's first behaviour: delivery tickets whose order is shipped or out for delivery
are called with the built-in delivery-confirmation flow; any other ticket is skipped, saying why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from appliance.campaign.rules import Rule, Verdict, evaluate, parse_rules
from appliance.campaign.scenarios import Scenario, call_variables, check_flows, kind, parse_scenarios
from appliance.campaign.tickets import parse_ticket
from appliance.dialog.flow.load import parse_flow
from appliance.dialog.flow.model import Flow
from appliance.errors import CallboxError, RulesInvalid, TicketInvalid
from appliance.records.config_store import ConfigStore

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_RULES", "DEFAULT_SCENARIOS", "RuleSet", "dry_run", "install_default_rules", "load_ruleset",
           "replace_rules", "replace_scenarios", "unwrap"]

DEFAULT_SCENARIOS: list[dict[str, Any]] = [
    {
        "name": "delivery",
        "description": "confirm a parcel on its way",
        "covers": {"type": ["delivery"], "order_status": ["shipped", "out_for_delivery"]},
        "flow": "delivery-confirmation",
    }
]
DEFAULT_RULES: list[dict[str, Any]] = [
    {
        "name": "delivery shipped",
        "type": ["delivery"],
        "order_status": ["shipped", "out_for_delivery"],
        "action": "call",
        "scenario": "delivery",
    }
]


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    scenarios: tuple[Scenario, ...]

    def scenario(self, name: str | None) -> Scenario | None:
        return next((s for s in self.scenarios if s.name == name), None) if name is not None else None


def load_ruleset(configs: ConfigStore) -> RuleSet:
    """The stored rules and scenarios, parsed (RulesInvalid if the stored set was broken by hand); parsed again
    only when the store's file changed (``ConfigStore.derived``), not per ticket."""
    return configs.derived("ruleset", _parse_stored)


def _parse_stored(configs: ConfigStore) -> RuleSet:
    stored = configs.decisions() or {"rules": [], "scenarios": []}
    scenarios = parse_scenarios(stored["scenarios"])
    rules = parse_rules(stored["rules"], {s.name for s in scenarios})
    return RuleSet(tuple(rules), tuple(scenarios))


def unwrap(doc: Any, key: str) -> Any:
    """A list as given, or the list under ``key`` of an object that holds only it (``{"rules": [...]}``, the
    shape GET answers and a TOML file's ``[[rules]]`` makes)."""
    if isinstance(doc, dict):
        extra = sorted(str(k) for k in doc if k != key)
        if extra:
            raise RulesInvalid([(str(extra[0]), f"is not a known key (the document holds only {key!r})")])
        if key not in doc:
            raise RulesInvalid([(key, "is required")])
        return doc[key]
    if not isinstance(doc, list):
        raise RulesInvalid([(key, f"must be a list, or an object {{{key!r}: [...]}}, not {kind(doc)}")])
    return doc


def _published(configs: ConfigStore) -> tuple[Any, Any]:
    def flow(flow_id: str, version: int | None) -> Flow | None:
        found = configs.flow(flow_id, version)
        if found is None:
            return None
        try:
            return parse_flow(found[1])
        except CallboxError:
            return None

    return flow, configs.flow_versions


def _check(rule_docs: list[dict[str, Any]], scenario_docs: list[dict[str, Any]], configs: ConfigStore, *,
           checking: str) -> None:
    """The whole set, as it would be stored: the list being replaced first, then the other against it."""
    flow, versions = _published(configs)
    if checking == "scenarios":
        scenarios = parse_scenarios(scenario_docs)
        check_flows(scenarios, flow, versions)
        names = {s.name for s in scenarios}
        try:
            parse_rules(rule_docs, names)
        except RulesInvalid as exc:  # a stored rule names a scenario this list drops
            raise RulesInvalid([(f"scenarios: {path}", message) for path, message in exc.problems]) from None
        return
    try:
        scenarios = parse_scenarios(scenario_docs)
    except RulesInvalid:
        scenarios = []
    parse_rules(rule_docs, {s.name for s in scenarios})


def replace_rules(configs: ConfigStore, docs: Any) -> list[dict[str, Any]]:
    """Store ``docs`` as the rules, whole, or refuse them (RulesInvalid naming every problem)."""
    rules = unwrap(docs, "rules")
    stored = configs.set_decisions(rules=rules, check=lambda r, s: _check(r, s, configs, checking="rules"))
    log.info("rules replaced: %d rule(s)", len(rules))
    return stored["rules"]


def replace_scenarios(configs: ConfigStore, docs: Any) -> list[dict[str, Any]]:
    """Store ``docs`` as the scenarios, whole, or refuse them (RulesInvalid naming every problem)."""
    scenarios = unwrap(docs, "scenarios")
    stored = configs.set_decisions(scenarios=scenarios,
                                   check=lambda r, s: _check(r, s, configs, checking="scenarios"))
    log.info("scenarios replaced: %d scenario(s)", len(scenarios))
    return stored["scenarios"]


def install_default_rules(configs: ConfigStore) -> None:
    """First boot: the default rules and scenarios; a box that stored rules before scenarios existed keeps its
    rules, each calling a scenario named after its flow. A set already stored (even an empty one) is kept."""
    if configs.decisions() is not None:
        return
    legacy = configs.legacy_trigger_rules()
    if legacy:
        rules, scenarios = _carried_over(legacy)
    elif configs.setting("rules_initialised") is None:
        rules, scenarios = DEFAULT_RULES, DEFAULT_SCENARIOS
    else:  # the owner deleted every rule before scenarios existed
        rules, scenarios = [], DEFAULT_SCENARIOS
    configs.set_decisions(rules=rules, scenarios=scenarios)


def _carried_over(legacy: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rules: list[dict[str, Any]] = []
    flows: list[str] = []
    for old in legacy:
        rule: dict[str, Any] = {"name": old.get("name"), "action": "call", "scenario": old.get("flow")}
        for key, new_key in (("type", "type"), ("order_status", "order_status"), ("subject_contains", "subject_any")):
            if old.get(key):
                rule[new_key] = old[key]
        rules.append(rule)
        if old.get("flow") not in flows:
            flows.append(old.get("flow"))  # type: ignore[arg-type]
    return rules, [{"name": flow, "flow": flow} for flow in flows]


def dry_run(configs: ConfigStore, payload: Any, *, shop: str = "the shop", region: str | None = None) -> dict[str, Any]:
    """What the stored rules would do with a ticket payload, changing nothing: the rule that matched and why
    each earlier one did not, the decision and reason, the scenario, the flow and version, the variables the
    call would have and those it lacks. TicketInvalid for a payload the webhook would refuse."""
    if not isinstance(payload, dict):
        raise TicketInvalid(f"must be a ticket object, not {kind(payload)}", field="ticket")
    ticket = parse_ticket(payload, region=region)
    ruleset = load_ruleset(configs)
    verdict: Verdict = evaluate(ticket, ruleset.rules, ruleset.scenarios)
    decision = verdict.decision
    out: dict[str, Any] = {
        "decision": "call" if decision.call else "skip",
        "reason": decision.reason,
        "rule": decision.rule,
        "rules": [{"rule": c.rule, "matched": c.matched, "why_not": c.why_not} for c in verdict.checks],
        "scenario": decision.scenario,
        "flow": decision.flow,
        "version": None,
        "variables": {},
        "missing": [],
    }
    scenario = verdict.scenario
    if scenario is None:
        return out
    found = configs.flow(scenario.flow, scenario.version)
    if found is None:
        out["problem"] = (f"flow {scenario.flow!r}" + (f" version {scenario.version}" if scenario.version else "")
                          + " is not published")
        return out
    version, document = found
    out["version"] = version
    try:
        flow = parse_flow(document)
    except CallboxError as exc:
        out["problem"] = f"flow {scenario.flow!r} version {version} cannot be read: {exc}"
        return out
    values = flow.declared.values(call_variables(ticket, shop, scenario))
    out["variables"] = {name: values.get(name, "") for name in flow.declared.names}
    out["missing"] = flow.declared.missing(values)
    return out
