"""The rules and scenarios API on the real Flask app, the real config store and (for intake) the real SQLite
store: auth, whole replacement refused whole with every path, the dry run, the OpenAPI schemas agreeing with the
server, and a PUT rule changing which new ticket is called and why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from appliance.campaign.publish import install_defaults
from appliance.campaign.ruleset import DEFAULT_RULES, DEFAULT_SCENARIOS
from web import create_app
from web.openapi import openapi_document

TOKEN = {"Authorization": "Bearer api-token-for-tests"}
SCHEMAS = openapi_document("test")["components"]["schemas"]


def _client(service: Any) -> FlaskClient:
    install_defaults(service.configs)  # what the box stores on first boot
    app = create_app(service, secret_key="k", test_config={"TESTING": True, "API_TOKEN": "api-token-for-tests"})
    return app.test_client()


def test_rules_need_a_session_or_the_bearer_token(client: FlaskClient) -> None:
    for method, path in (("get", "/api/v1/rules"), ("put", "/api/v1/rules"), ("get", "/api/v1/scenarios"),
                         ("put", "/api/v1/scenarios"), ("post", "/api/v1/rules/test")):
        response = getattr(client, method)(path, json={"rules": []})
        assert response.status_code == 401, path


def test_get_then_put_round_trips_and_a_bad_set_is_refused_whole(service: Any) -> None:
    client = _client(service)
    assert client.get("/api/v1/rules", headers=TOKEN).get_json() == {"rules": DEFAULT_RULES}
    assert client.get("/api/v1/scenarios", headers=TOKEN).get_json() == {"scenarios": DEFAULT_SCENARIOS}
    new = [{"name": "delivered", "order_status": ["delivered"], "action": "skip", "reason": "order already delivered"},
           *DEFAULT_RULES]
    stored = client.put("/api/v1/rules", json={"rules": new}, headers=TOKEN)
    assert stored.status_code == 200 and stored.get_json() == {"rules": new}
    bad = [*new, {"name": "x", "subject_regex": "(ab", "action": "call", "scenario": "nope", "colour": 1},
           {"name": "y", "action": "skip"}]
    refused = client.put("/api/v1/rules", json={"rules": bad}, headers=TOKEN)
    body = refused.get_json()
    assert refused.status_code == 422 and body["error"] == "invalid_rules"
    assert [p["path"] for p in body["problems"]] == ["rules[2].colour", "rules[2].subject_regex", "rules[2].scenario",
                                                      "rules[3].reason"]
    assert client.get("/api/v1/rules", headers=TOKEN).get_json() == {"rules": new}  # nothing changed
    for data in ("[1, 2]", "{not json", '{"rules": "\\ud800"}'):
        response = client.put("/api/v1/rules", data=data, headers={**TOKEN, "Content-Type": "application/json"})
        assert response.status_code == 400 and response.get_json()["error"] == "malformed_json", data
    assert client.put("/api/v1/rules", json={"rules": [], "extra": 1}, headers=TOKEN).status_code == 422


def test_a_scenario_whose_flow_needs_a_variable_nothing_supplies_is_refused(service: Any) -> None:
    client = _client(service)
    flow = json.loads((Path(__file__).resolve().parents[2] / "flows" / "examples" / "payment-reminder.en.json")
                      .read_text(encoding="utf-8"))
    flow["variables"]["amount"] = {}  # no longer marked as coming from the ticket's vars
    service.configs.publish_flow(flow)
    pay = {"name": "pay", "flow": flow["id"]}
    refused = client.put("/api/v1/scenarios", json={"scenarios": [*DEFAULT_SCENARIOS, pay]}, headers=TOKEN)
    assert refused.status_code == 422
    assert [(p["path"], "nothing supplies it" in p["message"]) for p in refused.get_json()["problems"]] == [
        ("scenarios[1].variables.amount", True)]
    mapped = {**pay, "variables": {"amount": "vars.total"}}
    assert client.put("/api/v1/scenarios", json={"scenarios": [*DEFAULT_SCENARIOS, mapped]},
                      headers=TOKEN).status_code == 200
    dropped = client.put("/api/v1/scenarios", json={"scenarios": [mapped]}, headers=TOKEN)  # a rule calls 'delivery'
    assert dropped.status_code == 422 and "'delivery'" in dropped.get_json()["problems"][0]["message"]


def test_dry_run_changes_nothing_and_explains(service: Any, ticket: Any) -> None:
    client = _client(service)
    before = service.configs.decisions()
    t = {**ticket("T-9"), "type": "delivery", "order": {"id": "A-1", "status": "shipped"}}
    result = client.post("/api/v1/rules/test", json=t, headers=TOKEN)
    body = result.get_json()
    assert result.status_code == 200 and body["decision"] == "call" and body["scenario"] == "delivery"
    assert body["flow"] == "delivery-confirmation" and body["version"] == 1 and body["missing"] == []
    assert body["variables"]["shop"] == "Corner Shop" and body["variables"]["name"] == "Ada Park"
    Draft202012Validator(SCHEMAS["RulesDryRun"]).validate(body)
    skip = client.post("/api/v1/rules/test", json=ticket("T-8"), headers=TOKEN).get_json()
    assert skip["decision"] == "skip" and skip["rules"] == [
        {"rule": "delivery shipped", "matched": False, "why_not": "type 'repair' is not delivery"}]
    invalid = client.post("/api/v1/rules/test", json={"id": "x"}, headers=TOKEN)
    assert invalid.status_code == 422 and invalid.get_json()["field"] == "customer"
    assert service.configs.decisions() == before
    assert service.records.db.read(lambda c: c.execute("SELECT COUNT(*) FROM tickets").fetchone()[0]) == 0


def test_the_documented_examples_are_what_the_server_takes(service: Any) -> None:
    client = _client(service)
    scenario = SCHEMAS["Scenario"]["examples"][0]
    Draft202012Validator(SCHEMAS["Scenario"]).validate(scenario)
    assert client.put("/api/v1/scenarios", json={"scenarios": [scenario]}, headers=TOKEN).status_code == 200
    rules = SCHEMAS["Rule"]["examples"]
    for item in rules:
        Draft202012Validator(SCHEMAS["Rule"]).validate(item)
    assert client.put("/api/v1/rules", json={"rules": rules}, headers=TOKEN).status_code == 200
    for wrong in ({"name": "r", "action": "maybe"}, {"name": "r", "action": "skip"},
                  {"name": "r", "action": "call", "tags_any": []}, {"name": "r", "action": "call", "color": 1}):
        assert not Draft202012Validator(SCHEMAS["Rule"]).is_valid(wrong) or wrong["action"] == "skip"
        assert client.put("/api/v1/rules", json={"rules": [wrong]}, headers=TOKEN).status_code == 422, wrong


def test_a_put_rule_changes_which_new_ticket_is_called_and_the_stored_reason_says_why(
        admitting: Any, sign: Any) -> None:
    install_defaults(admitting.configs)
    app = create_app(admitting, secret_key="k", test_config={"TESTING": True, "API_TOKEN": "api-token-for-tests"})
    client = app.test_client()

    def deliver(ticket_id: str, status: str, tags: list[str] | None = None) -> dict[str, Any]:
        payload = {"id": ticket_id, "type": "delivery", "subject": "Your parcel", "customer": {
            "name": "Ann", "phone": "+15550100"}, "order": {"id": "A-" + ticket_id, "status": status},
            **({"tags": tags} if tags else {})}
        text = json.dumps(payload)
        response = client.post("/api/v1/tickets", data=text, headers=sign(text, msg_id="m-" + ticket_id))
        assert response.status_code == 202, response.get_json()
        return response.get_json()

    assert deliver("T-1", "shipped", ["do-not-call"])["decision"] == "call"  # today's default rule
    rules = [{"name": "tagged", "tags_any": ["do-not-call"], "action": "skip", "reason": "the shop tagged it"},
             *DEFAULT_RULES]
    assert client.put("/api/v1/rules", json={"rules": rules}, headers=TOKEN).status_code == 200
    skipped = deliver("T-2", "shipped", ["Do-Not-Call"])
    assert skipped["decision"] == "skip" and skipped["task"] is None
    stored = admitting.records.ticket("T-2")
    assert (stored.decision, stored.reason) == ("skip", "the shop tagged it (rule 'tagged')")
    called = deliver("T-3", "shipped")
    assert called["decision"] == "call" and called["task"] is not None
    stored = admitting.records.ticket("T-3")
    assert stored.reason == "rule 'delivery shipped' matched → scenario 'delivery'" and stored.scenario == "delivery"
    assert stored.tags == ()


def test_the_three_helpdesks_tags_reach_the_ticket(deliver: Any, admitting: Any, helpdesk_fixture: Any) -> None:
    zendesk = helpdesk_fixture("zendesk")
    zendesk["ticket"]["tags"] = ["VIP", "call-me", "vip"]
    zammad = helpdesk_fixture("zammad")
    zammad["ticket"]["tags"] = ["call-me"]
    freshdesk = helpdesk_fixture("freshdesk")
    freshdesk["freshdesk_webhook"]["ticket_tags"] = "call-me, priority "
    ids = []
    for name, body in (("zendesk", zendesk), ("zammad", zammad), ("freshdesk", freshdesk)):
        response = deliver(name, body, delivery=f"tags-{name}")
        assert response.status_code == 202, response.get_json()
        ids.append(response.get_json()["ticket"])
    tags = [admitting.records.ticket(i).tags for i in ids]
    assert tags == [("vip", "call-me"), ("call-me",), ("call-me", "priority")]


def test_a_scenarios_task_settings_reach_its_standing_call_task(admitting: Any, sign: Any) -> None:
    """Webhook tickets join one standing call task per scenario, carrying its task settings (priority, lines,
    hours, retry; not valid_days: the standing task lasts as long as its scenario); an owner's edit of the
    scenario reaches the standing task with the next ticket; two scenarios on one flow are two call tasks."""
    install_defaults(admitting.configs)
    app = create_app(admitting, secret_key="k", test_config={"TESTING": True, "API_TOKEN": "api-token-for-tests"})
    client = app.test_client()

    def deliver(ticket_id: str, tags: list[str] | None = None) -> int:
        payload = {"id": ticket_id, "type": "delivery", "subject": "Your parcel", "customer": {
            "name": "Ann", "phone": f"+1555010{ticket_id[-2:]}00"}, "order": {"id": "A-" + ticket_id,
                                                                         "status": "shipped"},
            **({"tags": tags} if tags else {})}
        text = json.dumps(payload)
        response = client.post("/api/v1/tickets", data=text, headers=sign(text, msg_id="m-" + ticket_id))
        assert response.status_code == 202 and response.get_json()["decision"] == "call", response.get_json()
        row = admitting.records.db.read(lambda c: dict(c.execute(
            "SELECT call_task_id FROM tasks WHERE ticket_id=?", (ticket_id,)).fetchone()))
        return int(row["call_task_id"])

    hours = {"mon": ["10:00-12:00"], "sat": []}
    scenarios = [{**DEFAULT_SCENARIOS[0], "task": {"priority": 7, "lines": 1, "hours": hours, "valid_days": 3,
                                                   "retry": {"busy": 20}}},
                 {"name": "vip", "flow": DEFAULT_SCENARIOS[0]["flow"], "task": {"priority": 50}}]
    rules = [{"name": "vip", "tags_any": ["vip"], "action": "call", "scenario": "vip"}, *DEFAULT_RULES]
    assert client.put("/api/v1/scenarios", json={"scenarios": scenarios}, headers=TOKEN).status_code == 200
    assert client.put("/api/v1/rules", json={"rules": rules}, headers=TOKEN).status_code == 200

    first = deliver("T-11")
    assert deliver("T-12") == first  # one standing task per scenario
    vip = deliver("T-13", ["vip"])
    assert vip != first
    standing = admitting.records.call_tasks.get(first)
    assert (standing["name"], standing["source"], standing["priority"], standing["lines"]) == (
        "delivery", "trigger", 7, 1)
    assert standing["settings"] == {"priority": 7, "lines": 1, "hours": hours, "retry": {"busy": 20}}
    assert standing.get("valid_until") is None
    assert admitting.records.call_tasks.get(vip)["priority"] == 50

    scenarios[0]["task"] = {"priority": 2}  # the owner lowers it: the next ticket carries the edit over
    assert client.put("/api/v1/scenarios", json={"scenarios": scenarios}, headers=TOKEN).status_code == 200
    assert deliver("T-14") == first
    standing = admitting.records.call_tasks.get(first)
    assert (standing["priority"], standing["lines"], standing["settings"]) == (2, None, {"priority": 2})
