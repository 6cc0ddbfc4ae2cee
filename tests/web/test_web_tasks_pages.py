"""The console's Tasks, Rules, VUI presets and Knowledge base pages on the real Flask app, the real SQLite records
store and the real config store: a CSV preview lists each refused line and why and stores nothing; creating is
all-or-nothing; pause, resume, cancel through the state table (a refused move said in words); a rule edited,
refused at its field, reordered, deleted; the "test a ticket" dry run; presets refused whole and applied as a new
flow version; a knowledge-base question answered by the entry a call would use."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from appliance.campaign.publish import install_defaults
from appliance.records.ticket import Ticket
from web.openapi import openapi_document

TOKEN = {"Authorization": "Bearer api-token-for-tests"}
DOCUMENT = openapi_document("test")


def conforms(value: Any, schema: str) -> None:
    """``value`` is what the OpenAPI document's ``schema`` describes (its references resolved in the document)."""
    Draft202012Validator({**DOCUMENT, "$ref": f"#/components/schemas/{schema}"}).validate(value)
CSV = (
    "phone,name,order_id\n"
    "+15550140,Ada,A-1\n"
    "not-a-number,Bob,A-2\n"
    "+15550140,Ada again,A-3\n"
    "+15550143,Dee,A-4\n"
    "+15550144,Eve,A-5\n"
)


@pytest.fixture
def box(service: Any, logged_in: Any) -> Any:
    install_defaults(service.configs)  # the default rule, scenario "delivery" and its flow, as on first boot
    service.records.do_not_call.add("+15550143", "asked")
    return logged_in


def token(client: Any, path: str = "/tasks/new") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def count(service: Any, table: str) -> int:
    return int(service.records.db.read(lambda c: c.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]))


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def test_pages_need_a_session(client: Any) -> None:
    for path in ("/tasks", "/tasks/new", "/tasks/1", "/rules", "/rules/rule/0", "/rules/vui", "/rules/knowledge"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


def test_a_csv_preview_shows_each_refused_line_and_why_and_creates_nothing(box: Any, service: Any) -> None:
    tickets, tasks = count(service, "tickets"), count(service, "call_tasks")
    response = box.post("/tasks/new", data={
        "csrf_token": token(box), "scenario": "delivery", "source": "csv", "step": "preview", "name": "Week 49",
        "file": (io.BytesIO(CSV.encode()), "customers.csv")}, content_type="multipart/form-data")
    page = text(response)
    assert response.status_code == 200, page
    refused = re.findall(r'<tr class="refused-row">(.*?)</tr>', page, re.S)
    assert len(refused) == 3
    assert "line 3" in refused[0] and "not a phone number" in refused[0]
    assert "line 4" in refused[1] and "the same number twice in the file" in refused[1]
    assert "line 5" in refused[2] and "on the do-not-call list" in refused[2]
    assert len(re.findall(r'<tr class="accepted-row">', page)) == 2
    assert "Create the task (customers to call: 2)" in page
    assert (count(service, "tickets"), count(service, "call_tasks")) == (tickets, tasks)  # a preview stores nothing


def test_creating_from_the_preview_stores_the_task_whole_and_shows_it(box: Any, service: Any) -> None:
    response = box.post("/tasks/new", data={
        "csrf_token": token(box), "scenario": "delivery", "source": "csv", "step": "create", "name": "Week 49",
        "csv": CSV}, content_type="multipart/form-data")
    assert response.status_code == 302, text(response)
    task_id = int(response.headers["Location"].split("/tasks/")[1].split("?")[0])
    made = service.call_task(task_id)
    assert made["name"] == "Week 49" and made["flow_id"] == "delivery-confirmation" and made["source"] == "csv"
    assert [a["phone"] for a in made["attempts"]] == ["+15550140", "+15550144"]
    page = text(box.get(response.headers["Location"]))
    assert "The task was made" in page and "0 of 2 done" in page and "+15550144" in page
    listed = text(box.get("/tasks"))
    assert f'id="task-{task_id}"' in listed and "Week 49" in listed and "0 of 2 done" in listed
    assert '<svg class="taskbar"' in listed  # the progress bar (customers still to call)
    # the same file again: everyone is refused now, so nothing more is stored
    again = box.post("/tasks/new", data={"csrf_token": token(box), "scenario": "delivery", "source": "csv",
                                         "step": "create", "csv": CSV}, content_type="multipart/form-data")
    assert again.status_code == 400 and "no customer can be called" in text(again)
    assert count(service, "call_tasks") == 1


def test_a_task_from_chosen_tickets(box: Any, service: Any) -> None:
    service.records.submit_ticket(Ticket("K-7", "delivery", "Parcel", "", "Kim", "+15550170", "O-7", "shipped"),
                                  webhook_id="k7", decision="skip", reason="no rule", flow_id=None, max_attempts=3)
    response = box.post("/tasks/new", data={"csrf_token": token(box), "scenario": "delivery", "source": "tickets",
                                            "tickets": ["K-7", "nope"], "step": "preview"})
    page = text(response)
    assert response.status_code == 200 and "no such ticket" in page and "customers to call: 1" in page
    made = box.post("/tasks/new", data={"csrf_token": token(box), "scenario": "delivery", "source": "tickets",
                                        "tickets": ["K-7"], "step": "create"})
    assert made.status_code == 302
    none = box.post("/tasks/new", data={"csrf_token": token(box), "scenario": "delivery", "source": "tickets",
                                        "step": "preview"})
    assert none.status_code == 400 and "choose at least one ticket" in text(none)


def test_bad_input_is_said_on_the_page_and_stores_nothing(box: Any, service: Any) -> None:
    csrf = token(box)
    stale = box.post("/tasks/new", data={"csrf_token": "wrong", "scenario": "delivery", "source": "csv",
                                         "csv": CSV, "step": "create"})
    assert stale.status_code == 400 and "stale" in text(stale)
    for data, words in (
        ({"scenario": "nope", "csv": CSV}, "choose a scenario"),
        ({"scenario": "delivery", "csv": "number,who\n1,2\n"}, "the header has no column"),
        ({"scenario": "delivery", "file": (io.BytesIO("phone,name,order_id\n\xff".encode("latin-1")), "x.csv")},
         "not UTF-8"),
    ):
        response = box.post("/tasks/new", data={"csrf_token": csrf, "source": "csv", "step": "create", **data},
                            content_type="multipart/form-data")
        assert response.status_code == 400 and words in text(response), words
        assert "Traceback" not in text(response)
    assert count(service, "call_tasks") == 0


def test_pause_resume_and_cancel_follow_the_state_table(box: Any, service: Any) -> None:
    made = service.create_call_task({"flow": "delivery-confirmation", "customers": [
        {"phone": "+15550150", "name": "Fay", "order_id": "B-1"}, {"phone": "+15550151", "name": "Gus",
                                                                   "order_id": "B-2"}]})
    path = f"/tasks/{made['id']}"
    csrf = token(box, path)
    assert box.post(f"{path}/pause", data={"csrf_token": "wrong"}).status_code == 400
    assert service.call_task(made["id"])["state"] == "pending"
    paused = box.post(f"{path}/pause", data={"csrf_token": csrf})
    assert paused.status_code == 302 and service.call_task(made["id"])["state"] == "paused"
    page = text(box.get(paused.headers["Location"]))
    assert "the task is now paused" in page and ">Resume<" in page and ">Pause<" not in page
    refused = box.post(f"{path}/pause", data={"csrf_token": csrf})
    assert refused.status_code == 409 and "A task that is paused cannot be changed that way." in text(refused)
    assert box.post(f"{path}/resume", data={"csrf_token": csrf}).status_code == 302
    assert service.call_task(made["id"])["state"] == "running"
    assert box.post(f"{path}/cancel", data={"csrf_token": csrf}).status_code == 302
    cancelled = service.call_task(made["id"])
    assert cancelled["state"] == "cancelled" and {a["state"] for a in cancelled["attempts"]} == {"cancelled"}
    assert box.post(f"{path}/explode", data={"csrf_token": csrf}).status_code == 404
    assert box.post("/tasks/999/pause", data={"csrf_token": csrf}).status_code == 404
    assert box.get("/tasks/999").status_code == 404


def test_the_task_list_pages_and_filters(box: Any, service: Any) -> None:
    ids = [service.create_call_task({"flow": "delivery-confirmation", "name": f"t{i}", "customers": [
        {"phone": f"+1555016{i}", "name": "N", "order_id": f"O-{i}"}]})["id"] for i in range(3)]
    service.call_task_action(ids[0], "pause")
    paused = text(box.get("/tasks?state=paused"))
    assert f'id="task-{ids[0]}"' in paused and f'id="task-{ids[1]}"' not in paused
    older = text(box.get(f"/tasks?before={ids[2]}"))
    assert f'id="task-{ids[2]}"' not in older and f'id="task-{ids[1]}"' in older


def test_a_rule_refused_at_its_field_then_saved_moved_and_deleted(box: Any, service: Any) -> None:
    page = text(box.get("/rules"))
    assert "delivery shipped" in page and "order status" in page and "delivery-confirmation" in page
    csrf = token(box, "/rules")
    bad = {"name": "parcels", "subject_regex": "(ab", "action": "call", "scenario": "delivery"}
    refused = box.post("/rules/rule/new", data={"csrf_token": csrf, "document": json.dumps(bad)})
    body = text(refused)
    assert refused.status_code == 422 and 'class="mono field-name">subject_regex</span>' in body
    assert len(service.rules.rules()) == 1  # nothing changed
    broken = box.post("/rules/rule/new", data={"csrf_token": csrf, "document": "{not json"})
    assert broken.status_code == 400 and "This is not JSON" in text(broken)
    good = {"name": "delivered", "order_status": ["delivered"], "action": "skip", "reason": "already delivered"}
    saved = box.post("/rules/rule/new", data={"csrf_token": csrf, "document": json.dumps(good)})
    assert saved.status_code == 302
    assert [r["name"] for r in service.rules.rules()] == ["delivery shipped", "delivered"]
    stale = box.post("/rules/rule/1/move", data={"csrf_token": csrf, "was": "someone else", "direction": "up"})
    assert stale.status_code == 409
    moved = box.post("/rules/rule/1/move", data={"csrf_token": csrf, "was": "delivered", "direction": "up"})
    assert moved.status_code == 302
    assert [r["name"] for r in service.rules.rules()] == ["delivered", "delivery shipped"]
    edited = {**good, "reason": "the parcel arrived"}
    assert box.post("/rules/rule/0", data={"csrf_token": csrf, "was": "delivered",
                                           "document": json.dumps(edited)}).status_code == 302
    assert service.rules.rules()[0]["reason"] == "the parcel arrived"
    assert box.post("/rules/rule/0/delete", data={"csrf_token": "wrong", "was": "delivered"}).status_code == 400
    assert box.post("/rules/rule/0/delete", data={"csrf_token": csrf, "was": "delivered"}).status_code == 302
    assert [r["name"] for r in service.rules.rules()] == ["delivery shipped"]
    # a scenario a rule still calls cannot go: refused in words, nothing changed
    kept = box.post("/rules/scenario/0/delete", data={"csrf_token": csrf, "was": "delivery"})
    assert kept.status_code == 422 and "rules[0].scenario" in text(kept)
    assert [s["name"] for s in service.rules.scenarios()] == ["delivery"]


def test_test_a_ticket_pasted_or_stored(box: Any, service: Any) -> None:
    csrf = token(box, "/rules")
    ticket = {"id": "D-1", "type": "delivery", "subject": "Parcel", "customer": {"name": "Ada", "phone": "+15550100"},
              "order": {"id": "A-1", "status": "shipped"}}
    page = text(box.post("/rules/test", data={"csrf_token": csrf, "ticket": json.dumps(ticket)}))
    assert 'id="dry-run"' in page and "delivery shipped" in page and "delivery-confirmation" in page
    assert ">call</span>" in page
    skipped = text(box.post("/rules/test", data={"csrf_token": csrf, "ticket": json.dumps(
        {**ticket, "order": {"id": "A-1", "status": "delivered"}})}))
    assert ">skip</span>" in skipped and "did not match" in skipped
    invalid = box.post("/rules/test", data={"csrf_token": csrf, "ticket": json.dumps({"id": "x"})})
    assert invalid.status_code == 422 and "The webhook would refuse this ticket" in text(invalid)
    service.tickets["K-8"] = {"id": "K-8", "type": "delivery", "subject": "Parcel", "customer_name": "Kim",
                              "phone": "+15550180", "order_id": "O-8", "order_status": "shipped", "status": "open"}
    stored = text(box.post("/rules/test", data={"csrf_token": csrf, "ticket_id": "K-8"}))
    assert 'id="dry-run"' in stored and "delivery shipped" in stored and "Kim" in stored
    assert box.post("/rules/test", data={"csrf_token": csrf, "ticket_id": "nope"}).status_code == 404


def test_vui_presets_refused_whole_then_applied_as_a_new_flow_version(box: Any, service: Any) -> None:
    page = text(box.get("/rules/vui"))
    assert "patient" in page and "waits 10.0 s of silence" in page
    csrf = token(box, "/rules/vui")
    bad = {"presets": [{"name": "slow", "vui": {"no_input_ms": 99, "fallback_node": "end"}}]}
    refused = box.post("/rules/vui", data={"csrf_token": csrf, "document": json.dumps(bad)})
    body = text(refused)
    assert refused.status_code == 422
    assert "presets[0].vui.fallback_node" in body and "presets[0].vui.no_input_ms" in body
    assert [p["name"] for p in service.knowledge.vui_presets()] == ["standard", "patient", "brisk"]
    good = {"presets": [{"name": "slow", "description": "take time", "vui": {"no_input_ms": 12000, "max_no_input": 3}}]}
    assert box.post("/rules/vui", data={"csrf_token": csrf, "document": json.dumps(good)}).status_code == 302
    assert [p["name"] for p in service.knowledge.vui_presets()] == ["slow"]
    before = service.configs.flow_versions("delivery-confirmation")
    applied = box.post("/rules/vui/apply", data={"csrf_token": csrf, "preset": "slow", "flow": "delivery-confirmation"})
    assert applied.status_code == 302
    version, document = service.configs.flow("delivery-confirmation")
    assert version == before[-1] + 1 and document["vui"]["no_input_ms"] == 12000
    assert "delivery-confirmation" in service.knowledge.vui_presets()[0]["flows"]
    assert box.post("/rules/vui/apply", data={"csrf_token": csrf, "preset": "nope",
                                              "flow": "delivery-confirmation"}).status_code == 404


def test_vui_presets_and_knowledge_over_the_api(client: Any, service: Any) -> None:
    install_defaults(service.configs)
    assert client.get("/api/v1/vui-presets").status_code == 401
    assert client.put("/api/v1/vui-presets", json={"presets": []}).status_code == 401
    got = client.get("/api/v1/vui-presets", headers=TOKEN).get_json()
    assert [p["name"] for p in got["presets"]] == ["standard", "patient", "brisk"]
    conforms(got, "VuiPresets")
    refused = client.put("/api/v1/vui-presets", json={"presets": [{"name": "x", "vui": {"barge_in": "yes"}}]},
                         headers=TOKEN)
    assert refused.status_code == 422 and refused.get_json()["problems"][0]["path"] == "presets[0].vui.barge_in"
    stored = client.put("/api/v1/vui-presets", json={"presets": [{"name": "x", "vui": {"barge_in": False}}]},
                        headers=TOKEN)
    assert stored.status_code == 200 and stored.get_json()["presets"][0]["name"] == "x"
    applied = client.post("/api/v1/vui-presets/apply", json={"preset": "x", "flow": "delivery-confirmation"},
                          headers=TOKEN)
    assert applied.status_code == 200 and applied.get_json()["version"] >= 2
    flows = client.get("/api/v1/knowledge", headers=TOKEN).get_json()["flows"]
    entries = next(f for f in flows if f["flow"] == "delivery-confirmation")["entries"]
    assert entries, "the built-in flow has a knowledge base"
    question = entries[0]["questions"][0]
    answered = client.post("/api/v1/knowledge/test", json={"flow": "delivery-confirmation", "question": question},
                           headers=TOKEN).get_json()
    assert answered["answer"]["entry"] == entries[0]["id"] and answered["answer"]["text"] == entries[0]["answer"]
    conforms(answered, "KnowledgeAnswer")
    conforms({"flows": flows}, "KnowledgeBases")
    assert client.post("/api/v1/knowledge/test", json={"flow": "nope", "question": "hi"},
                       headers=TOKEN).status_code == 404
    assert client.post("/api/v1/knowledge/test", json={"flow": "delivery-confirmation"},
                       headers=TOKEN).get_json()["field"] == "question"


def test_the_knowledge_page_answers_a_question(box: Any, service: Any) -> None:
    entries = service.knowledge.knowledge()[0]["entries"]
    page = text(box.get("/rules/knowledge"))
    assert entries[0]["answer"] in page
    asked = text(box.get("/rules/knowledge", query_string={"flow": "delivery-confirmation",
                                                            "q": entries[0]["questions"][0]}))
    assert 'id="kb-result"' in asked and ">answered<" in asked and entries[0]["id"] in asked
    nothing = text(box.get("/rules/knowledge", query_string={"flow": "delivery-confirmation",
                                                              "q": "zebra quantum violin"}))
    assert ">no answer<" in nothing


def test_a_tasks_customers_are_paged(box: Any, service: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from web import tasks_pages

    monkeypatch.setattr(tasks_pages, "CUSTOMERS_PAGE", 2)
    made = service.create_call_task({"flow": "delivery-confirmation", "customers": [
        {"phone": f"+1555019000{i}", "name": f"Customer {i}", "order_id": f"P-{i}"} for i in range(5)]})
    shown: list[str] = []
    url = f"/tasks/{made['id']}"
    for _page in range(3):
        page = text(box.get(url))
        shown += re.findall(r'id="attempt-(\d+)"', page)
        more = re.search(r'href="([^"]+after=\d+)">More customers', page)
        if more is None:
            break
        url = more.group(1).replace("&amp;", "&")
    assert shown == [str(a["task_id"]) for a in made["attempts"]]  # each customer once, in order, 2 a page
    assert "More customers" not in page


def test_a_sessions_put_of_the_rules_needs_its_csrf_token(box: Any, service: Any) -> None:
    """The Rules page changes the rules with its form's token; the API's PUT from a session needs it too."""
    rules = service.rules.rules()
    changed = [{"name": "skip all", "action": "skip", "reason": "holidays"}]
    assert box.put("/api/v1/rules", json={"rules": changed}).status_code == 401
    assert box.put("/api/v1/scenarios", json={"scenarios": []}).status_code == 401
    assert service.rules.rules() == rules
    stored = box.put("/api/v1/rules", json={"rules": changed}, headers={"X-CSRF-Token": token(box, "/rules")})
    assert stored.status_code == 200 and service.rules.rules() == changed


def test_a_csv_larger_than_the_apis_64_kib_is_previewed(box: Any, service: Any) -> None:
    rows = "".join(f"+1555{i:07d},Customer number {i},ORDER-{i:08d}\n" for i in range(3000))
    csv = "phone,name,order_id\n" + rows
    assert len(csv.encode()) > 100 * 1024
    response = box.post("/tasks/new", data={"csrf_token": token(box), "scenario": "delivery", "source": "csv",
                                            "step": "preview", "file": (io.BytesIO(csv.encode()), "big.csv")},
                        content_type="multipart/form-data")
    page = text(response)
    assert response.status_code == 200 and "customers to call: 3000" in page and "and 2800 more" in page
    assert count(service, "call_tasks") == 0
