"""What the Flows pages show around a flow: which scenarios and rules use it, and the variables to try it with,
taken from a stored ticket or from a sample ticket built for one of its scenarios.

The variables are made as a call makes them (``campaign.scenarios.call_variables``, then the flow's defaults), so
what the try console says is what a customer would hear; the names still without a value are listed before the
conversation starts instead of being spoken as ``<name>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from appliance.campaign.scenarios import Scenario, call_variables, parse_scenarios
from appliance.dialog.flow.model import Flow
from appliance.errors import RulesInvalid
from appliance.records.config_store import ConfigStore
from appliance.records.ticket import Ticket

__all__ = ["flow_usage", "sample_ticket", "stored_scenarios", "try_variables"]

SAMPLE_ID = "sample"


def stored_scenarios(configs: ConfigStore) -> list[Scenario]:
    stored = configs.decisions()
    if stored is None:
        return []
    try:
        return parse_scenarios(stored["scenarios"])
    except RulesInvalid:  # the store only keeps checked sets; an old file's oddity hides usage, not the page
        return []


def flow_usage(configs: ConfigStore) -> dict[str, dict[str, list[str]]]:
    """flow id -> ``{"scenarios": [names], "rules": [names]}``: the scenarios that call it, and the call rules
    that name one of them or (naming none) take whichever scenario covers the ticket."""
    stored = configs.decisions() or {"rules": [], "scenarios": []}
    scenarios = stored_scenarios(configs)
    out: dict[str, dict[str, list[str]]] = {}
    for s in scenarios:
        out.setdefault(s.flow, {"scenarios": [], "rules": []})["scenarios"].append(s.name)
    for rule in stored["rules"]:
        if not isinstance(rule, dict) or rule.get("action", "call") != "call":
            continue
        named = rule.get("scenario")
        for s in scenarios:
            if (named == s.name) or (named is None and s.covering):
                rules = out[s.flow]["rules"]
                if rule.get("name") not in rules:
                    rules.append(str(rule.get("name")))
    return out


def sample_ticket(scenario: Scenario | None) -> Ticket:
    """A ticket the scenario covers, with made-up customer and order fields; its ``vars`` are left empty, so a
    variable the scenario takes from them shows as missing until the owner types one."""
    kind = scenario.types[0] if scenario is not None and scenario.types else "delivery"
    status = scenario.order_statuses[0] if scenario is not None and scenario.order_statuses else "shipped"
    return Ticket(id=SAMPLE_ID, type=kind, subject="Sample ticket", description="", customer_name="Alex Sample",
                  customer_phone="+15550100000", order_id="10001", order_status=status)


def try_variables(flow: Flow, *, scenario: Scenario | None, ticket: Ticket | None, shop: str,
                  scenarios: Sequence[str] = ()) -> dict[str, Any]:
    """``{"variables": {name: value} (the flow's declared names first), "missing": [names], "ticket": id,
    "sample": bool, "scenario": name | None, "scenarios": [names]}``."""
    used = ticket if ticket is not None else sample_ticket(scenario)
    values = flow.declared.values(call_variables(used, shop, scenario))
    declared = list(flow.declared.names)
    shown = {name: values.get(name, "") for name in declared}
    if ticket is not None:  # a stored ticket's own vars may feed templates the flow does not declare
        shown |= {k: v for k, v in values.items() if k not in shown and k in ticket.vars}
    return {"variables": shown, "missing": flow.declared.missing(values), "ticket": used.id,
            "sample": ticket is None, "scenario": scenario.name if scenario is not None else None,
            "scenarios": list(scenarios)}
