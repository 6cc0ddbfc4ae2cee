"""Call tasks through the API, against the real records store (SQLite) and config store: create from customers,
tickets or a CSV with a preview of what is refused and why; list with progress and filters; pause, resume and
cancel by the state table (409 naming the states); bad input a 4xx naming the field, never a 500."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from appliance.campaign.publish import install_defaults
from appliance.dialog.flow.load import load_flow

TOKEN = {"Authorization": "Bearer api-token-for-tests"}
EXAMPLES = Path(__file__).resolve().parents[2] / "flows" / "examples"
CSV = """phone,name,order_id,amount,due_date
+15550100,Ada,A-1,40 dollars,Friday
+15550101,Bob,A-2,12 dollars,Monday
not-a-number,Cy,A-3,1 dollar,Today
+15550100,Ada again,A-4,40 dollars,Friday
+15550102,Dee,A-5,,Friday
+15550103,Eve,A-6,9 dollars,Sunday
"""


@pytest.fixture
def flows(service) -> str:  # type: ignore[no-untyped-def]
    install_defaults(service.configs)
    flow = load_flow(EXAMPLES / "payment-reminder.en.json")
    service.configs.publish_flow(flow.document)
    service.records.do_not_call.add("+15550103", "asked")
    return flow.id


def post(client, path: str, body: Any, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return client.post(path, data=json.dumps(body), headers={**TOKEN, "Content-Type": "application/json",
                                                            **(headers or {})})


def test_a_csv_preview_lists_who_is_called_and_who_is_refused_and_why(client, service, flows) -> None:
    before = service.records.db.read(lambda c: c.execute("SELECT COUNT(*) FROM tickets").fetchone()[0])
    response = post(client, "/api/v1/tasks/preview", {"flow": flows, "csv": CSV, "name": "November reminders"})
    assert response.status_code == 200, response.get_json()
    preview = response.get_json()
    assert [(c["row"], c["phone"]) for c in preview["accepted"]] == [(1, "+15550100"), (2, "+15550101")]
    assert preview["accepted"][0]["vars"] == {"amount": "40 dollars", "due_date": "Friday"}
    assert {r["row"]: r["reason"] for r in preview["refused"]} == {
        3: "bad_phone", 4: "duplicate", 5: "missing_variables", 6: "do_not_call"}
    assert "amount" in next(r["detail"] for r in preview["refused"] if r["row"] == 5)
    assert preview["counts"] == {"accepted": 2, "refused": 4}
    after = service.records.db.read(lambda c: c.execute("SELECT COUNT(*) FROM tickets").fetchone()[0])
    assert after == before  # a preview stores nothing


def test_creating_from_a_csv_stores_a_ticket_per_customer_and_refuses_live_numbers(client, service, flows) -> None:
    response = post(client, "/api/v1/tasks", {"flow": flows, "csv": CSV, "name": "November",
                                              "settings": {"priority": 5, "lines": 1}})
    assert response.status_code == 201, response.get_json()
    task = response.get_json()
    assert task["source"] == "csv" and task["state"] == "pending" and task["priority"] == 5
    assert task["progress"]["total"] == 2 and task["progress"]["by_state"] == {"pending": 2}
    assert [a["ticket_id"] for a in task["attempts"]] == [f"csv-{task['id']}-1", f"csv-{task['id']}-2"]
    ticket = service.records.ticket(f"csv-{task['id']}-2")
    assert ticket is not None and ticket.vars == {"amount": "12 dollars", "due_date": "Monday"}
    assert ticket.customer_name == "Bob" and ticket.order_id == "A-2"
    again = post(client, "/api/v1/tasks/preview", {"flow": flows, "csv": CSV}).get_json()
    assert {r["row"]: r["reason"] for r in again["refused"]}[1] == "already_in_task"
    assert again["counts"]["accepted"] == 0
    nobody = post(client, "/api/v1/tasks", {"flow": flows, "csv": CSV})
    assert nobody.status_code == 400 and nobody.get_json()["field"] == "customers"
    listed = client.get("/api/v1/tasks?source=csv", headers=TOKEN).get_json()["tasks"]
    assert [t["id"] for t in listed] == [task["id"]]


def test_pause_resume_cancel_and_illegal_moves_over_the_api(client, service, flows) -> None:
    made = post(client, "/api/v1/tasks", {"flow": flows, "customers": [
        {"phone": "+15550110", "name": "Fay", "order_id": "B-1", "vars": {"amount": "5", "due_date": "Tue"}},
        {"phone": "+15550111", "name": "Gus", "order_id": "B-2", "vars": {"amount": "6", "due_date": "Wed"}},
    ]}).get_json()
    path = f"/api/v1/tasks/{made['id']}"
    assert made["source"] == "manual"
    paused = post(client, f"{path}/pause", {})
    assert paused.status_code == 200 and paused.get_json()["state"] == "paused"
    assert post(client, f"{path}/pause", {}).status_code == 409
    assert post(client, f"{path}/resume", {}).get_json()["state"] == "running"
    cancelled = post(client, f"{path}/cancel", {}).get_json()
    assert cancelled["state"] == "cancelled"
    assert [a["state"] for a in cancelled["attempts"]] == ["cancelled", "cancelled"]
    assert cancelled["progress"]["finished"] == 2
    ticket = service.records.ticket(cancelled["attempts"][0]["ticket_id"])
    assert ticket is not None and ticket.status == "skipped"
    illegal = post(client, f"{path}/resume", {})
    body = illegal.get_json()
    assert illegal.status_code == 409 and body["error"] == "illegal_transition"
    assert body["state"] == "cancelled" and body["action"] == "resume" and "cancelled" in body["message"]
    assert post(client, "/api/v1/tasks/999/pause", {}).status_code == 404
    assert post(client, f"{path}/explode", {}).status_code == 404
    assert client.get("/api/v1/tasks/999", headers=TOKEN).status_code == 404
    assert client.get(path, headers=TOKEN).get_json()["state"] == "cancelled"


def test_existing_tickets_join_a_task_by_id(client, service, flows, post_ticket, ticket) -> None:
    assert post_ticket(ticket("T-9")).status_code == 202
    service.records.submit_ticket(
        __import__("appliance.records.ticket", fromlist=["Ticket"]).Ticket(
            "K-1", "delivery", "s", "", "Kim", "+15550120", "O-1", "shipped"),
        webhook_id="k1", decision="skip", reason="no rule", flow_id=None, max_attempts=3)
    response = post(client, "/api/v1/tasks", {"flow": "delivery-confirmation", "tickets": ["K-1", "nope"]})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert [a["ticket_id"] for a in body["attempts"]] == ["K-1"]
    assert body["refused"][0]["reason"] == "unknown_ticket"
    stored = service.records.ticket("K-1")
    assert stored is not None and stored.status == "open" and stored.flow_id == "delivery-confirmation"


def test_settings_are_refused_naming_every_problem_as_a_scenario_task_names_them(client, service, flows) -> None:
    """The task API and a scenario's ``task`` go through one check: the same settings, the same messages."""
    from appliance.campaign.scenarios import parse_scenarios
    from appliance.errors import RulesInvalid

    settings = {"priority": 5000, "redials": {"busy": 21, "no_answer": 1}, "lines": 0}
    with pytest.raises(RulesInvalid) as err:
        parse_scenarios([{"name": "s", "flow": "f", "task": settings}])
    expected = [{"field": path.replace("scenarios[0].task", "settings"), "message": message}
                for path, message in err.value.problems]
    assert [p["field"] for p in expected] == ["settings.priority", "settings.lines", "settings.redials.busy"]
    for path in ("/api/v1/tasks/preview", "/api/v1/tasks"):
        response = post(client, path, {"flow": flows, "customers": [{"phone": "+15550100"}], "settings": settings})
        body = response.get_json()
        assert response.status_code == 400 and body["error"] == "invalid_task", body
        assert body["problems"] == expected
        assert (body["field"], body["message"]) == (expected[0]["field"], expected[0]["message"])
    assert service.records.call_tasks.find() == []


@pytest.mark.parametrize(("body", "field"), [
    ({}, "flow"),
    ({"flow": "nope", "customers": [{"phone": "+15550100"}]}, "flow"),
    ({"flow": "delivery-confirmation"}, "customers"),
    ({"flow": "delivery-confirmation", "csv": "a,b\n1,2"}, "csv"),
    ({"flow": "delivery-confirmation", "csv": "phone,name,order_id,shop\n1,2,3,4"}, "csv"),
    ({"flow": "delivery-confirmation", "customers": [], "csv": "x"}, "csv"),
    ({"flow": "delivery-confirmation", "customers": "x"}, "customers"),
    ({"flow": "delivery-confirmation", "customers": [{"phone": 5.5}]}, "customers[0].phone"),
    ({"flow": "delivery-confirmation", "customers": [{"phone": "1", "what": 1}]}, "customers[0]"),
    ({"flow": "delivery-confirmation", "tickets": [1]}, "tickets"),
    ({"flow": "delivery-confirmation", "tickets": ["a"], "settings": {"lines": 0}}, "settings.lines"),
    ({"flow": "delivery-confirmation", "tickets": ["a"], "settings": {"lines": True}}, "settings.lines"),
    ({"flow": "delivery-confirmation", "tickets": ["a"], "settings": {"retry": {"completed": 5}}},
     "settings.retry.completed"),
    ({"flow": "delivery-confirmation", "tickets": ["a"], "settings": {"hours": {"funday": ["09:00-10:00"]}}},
     "settings.hours.funday"),
    ({"flow": "delivery-confirmation", "tickets": ["a"], "settings": {"hours": {"mon": ["9-10"]}}},
     "settings.hours.mon"),
    ({"flow": "delivery-confirmation", "tickets": ["a"], "settings": {"valid_until": "2026-12-01T10:00"}},
     "settings.valid_until"),
    ({"flow": "delivery-confirmation", "tickets": ["a"], "settings": {"colour": "red"}}, "settings"),
    ({"flow": "delivery-confirmation", "tickets": ["a"], "cron": "every day"}, "cron"),
    ({"flow": "delivery-confirmation", "what": 1}, "body"),
])
def test_bad_bodies_are_400_naming_the_field_and_store_nothing(client, service, flows, body, field) -> None:
    for path in ("/api/v1/tasks/preview", "/api/v1/tasks"):
        response = post(client, path, body)
        assert response.status_code == 400, (path, response.get_json())
        assert response.get_json()["error"] == "invalid_task" and response.get_json()["field"] == field
    assert service.records.call_tasks.find() == [] and service.records.call_tasks.timers() == []


def test_changes_need_the_bearer_token_or_a_session_with_csrf(client, flows) -> None:
    body = {"flow": flows, "customers": [{"phone": "+15550130", "name": "Hal", "order_id": "C",
                                          "vars": {"amount": "1", "due_date": "Mon"}}]}
    assert client.post("/api/v1/tasks", json=body).status_code == 401
    assert client.post("/api/v1/tasks", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/api/v1/tasks/1/pause").status_code == 401
    assert post(client, "/api/v1/tasks", b"not json".decode()).status_code == 400
    raw = client.post("/api/v1/tasks", data=b"{nope", headers=TOKEN)
    assert raw.status_code == 400 and raw.get_json()["error"] == "malformed_json"


def test_a_timer_is_made_with_cron(client, service, flows) -> None:
    response = post(client, "/api/v1/tasks", {"flow": "delivery-confirmation", "cron": "0 10 * * 1-5",
                                              "name": "weekday mornings"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["cron"] == "0 10 * * 1-5"
    [timer] = service.records.call_tasks.timers()
    assert timer["name"] == "weekday mornings" and timer["last_due"] is None


def test_a_box_without_call_tasks_answers_503_not_500(client, service, flows) -> None:
    service.call_tasks = None
    for path in ("/api/v1/tasks", "/api/v1/tasks/preview", "/api/v1/tasks/1/pause"):
        response = post(client, path, {"flow": flows, "tickets": ["x"]})
        assert response.status_code == 503 and response.get_json()["error"] == "unavailable", path


def test_timers_are_listed_disabled_enabled_and_deleted_over_the_api(client, service, flows) -> None:
    from datetime import UTC, datetime, timedelta

    made = post(client, "/api/v1/tasks", {"flow": "delivery-confirmation", "cron": "30 10 * * *", "name": "daily"})
    assert made.status_code == 201, made.get_json()
    timer_id = made.get_json()["timer"]
    listed = client.get("/api/v1/timers", headers=TOKEN)
    assert listed.status_code == 200
    [timer] = listed.get_json()["timers"]
    assert (timer["id"], timer["name"], timer["cron"], timer["active"], timer["last_due"]) == (
        timer_id, "daily", "30 10 * * *", True, None)
    upcoming = datetime.fromisoformat(timer["next_due"])
    now = datetime.now(UTC)
    assert now < upcoming <= now + timedelta(days=1, minutes=1)
    local = upcoming.astimezone(service.call_tasks.zone)
    assert (local.hour, local.minute) == (10, 30)  # on the shop's clock, as the timer thread reads it

    off = post(client, f"/api/v1/timers/{timer_id}/disable", {})
    assert off.status_code == 200 and off.get_json()["active"] is False and off.get_json()["next_due"] is None
    assert service.records.call_tasks.timers()[0]["active"] is False
    on = post(client, f"/api/v1/timers/{timer_id}/enable", {})
    assert on.status_code == 200 and on.get_json()["active"] is True and on.get_json()["next_due"] is not None

    for path in (f"/api/v1/timers/{timer_id + 1}/disable", f"/api/v1/timers/{timer_id}/explode"):
        missing = post(client, path, {})
        assert missing.status_code == 404 and missing.get_json()["error"] == "not_found", path
    assert client.get("/api/v1/timers").status_code == 401
    assert client.post(f"/api/v1/timers/{timer_id}/disable").status_code == 401
    assert client.delete(f"/api/v1/timers/{timer_id}").status_code == 401
    assert service.records.call_tasks.timers()[0]["active"] is True  # nothing changed without the token

    gone = client.delete(f"/api/v1/timers/{timer_id}", headers=TOKEN)
    assert gone.status_code == 200 and gone.get_json() == {"deleted": timer_id}
    assert service.records.call_tasks.timers() == []
    again = client.delete(f"/api/v1/timers/{timer_id}", headers=TOKEN)
    assert again.status_code == 404 and again.get_json()["error"] == "not_found"
    assert client.get("/api/v1/timers", headers=TOKEN).get_json() == {"timers": []}


def test_timer_routes_on_a_box_without_call_tasks_answer_503_not_500(client, service, flows) -> None:
    service.call_tasks = None
    assert client.get("/api/v1/timers", headers=TOKEN).status_code == 503
    assert post(client, "/api/v1/timers/1/disable", {}).status_code == 503
    assert client.delete("/api/v1/timers/1", headers=TOKEN).status_code == 503
