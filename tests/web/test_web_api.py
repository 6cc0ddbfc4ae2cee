"""/healthz and the read API under /api/v1."""

from __future__ import annotations

import re

from web import create_app

TOKEN = {"Authorization": "Bearer api-token-for-tests"}


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] is True
    assert body["lines"] == {"line1": "ready", "line2": "in_call"} and body["ready_lines"] == 2  # a call: up
    assert body["recordings"]["ok"] is True and body["recordings"]["recordings"] == 0  # room, and none kept yet


def test_calls_api_needs_auth(client):
    for path in ("/api/v1/calls", "/api/v1/calls/2"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.get_json()["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_calls_api_rejects_a_wrong_token(client):
    for header in ("Bearer wrong", "Basic api-token-for-tests", "Bearer", "api-token-for-tests"):
        assert client.get("/api/v1/calls", headers={"Authorization": header}).status_code == 401, header


def test_calls_api_with_bearer_token(client):
    response = client.get("/api/v1/calls", headers=TOKEN)
    assert response.status_code == 200
    calls = response.get_json()["calls"]
    assert [c["id"] for c in calls] == [2, 1]
    assert calls[0]["turns"][1]["text"] == "Great, I will pick it up on Friday."
    assert client.get("/api/v1/calls?limit=1", headers=TOKEN).get_json()["calls"][0]["id"] == 2
    bad = client.get("/api/v1/calls?limit=junk", headers=TOKEN)
    assert bad.status_code == 400 and bad.get_json()["parameter"] == "limit"  # as the OpenAPI document says


def test_calls_filters_and_paging(client):
    def ids(query):
        response = client.get(f"/api/v1/calls?{query}", headers=TOKEN)
        assert response.status_code == 200, response.get_json()
        return [c["id"] for c in response.get_json()["calls"]]

    assert ids("outcome=no_answer") == [1] and ids("outcome=completed") == [2]
    assert ids("task=2") == [2] and ids("phone=%2B1%20555%200111") == [2]
    assert ids("since=2024-05-01T14:30:00Z") == [2] and ids("until=2024-05-01T14:30:00%2B00:00") == [1]
    assert ids("since=2024-05-01T16:03:00%2B02:00") == [1, 2][::-1]  # 14:03 UTC: inclusive
    first = client.get("/api/v1/calls?limit=1&outcome=", headers=TOKEN).get_json()
    assert [c["id"] for c in first["calls"]] == [2] and first["next"].startswith("/api/v1/calls?")
    second = client.get(first["next"], headers=TOKEN).get_json()
    assert [c["id"] for c in second["calls"]] == [1] and second["next"] is None
    assert "limit=1" in first["next"] and "before=2" in first["next"]


def test_bad_call_filters_are_400_naming_the_parameter(client, service):
    for query, parameter in (("since=yesterday", "since"), ("until=2024-13-01", "until"),
                             ("outcome=ringing", "outcome"), ("outcome=nope", "outcome"), ("task=two", "task"),
                             ("before=0", "before"), ("limit=0", "limit"), ("limit=501", "limit"),
                             ("limit=--5", "limit"), ("phone=call-me-maybe", "phone"), ("task=" + "9" * 5000, "task")):
        response = client.get(f"/api/v1/calls?{query}", headers=TOKEN)
        assert response.status_code == 400, query
        body = response.get_json()
        assert body["error"] == "invalid_parameter" and body["parameter"] == parameter, query
        assert body["message"]


def test_one_call_has_its_recording_url_served_for_a_bearer_token(client, recorded_call, silent_call):
    call = client.get(f"/api/v1/calls/{recorded_call}", headers=TOKEN).get_json()
    assert call["attempt"] == 2 and call["max_attempts"] == 3 and call["task_id"] == 2
    wav = client.get(call["recording_url"], headers=TOKEN)
    assert wav.status_code == 200 and wav.mimetype == "audio/wav" and wav.data[:4] == b"RIFF"
    assert client.get(call["recording_url"]).status_code == 401
    assert "recording_url" not in client.get(f"/api/v1/calls/{silent_call}", headers=TOKEN).get_json()
    missing = client.get(f"/api/v1/calls/{silent_call}/recording.wav", headers=TOKEN)
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"


def test_tasks_filters_and_paging(client, service):
    from appliance.campaign.publish import install_defaults

    install_defaults(service.configs)
    made = [client.post("/api/v1/tasks", headers=TOKEN, json={"flow": "delivery-confirmation", "customers": [
        {"phone": f"+1555019{n}", "name": "Ada", "order_id": f"O-{n}"}]}).get_json()["id"] for n in range(2)]
    client.post(f"/api/v1/tasks/{made[0]}/pause", headers=TOKEN)
    body = client.get("/api/v1/tasks", headers=TOKEN).get_json()
    assert [t["id"] for t in body["tasks"]] == made[::-1] and body["next"] is None
    assert body["tasks"][0]["progress"]["total"] == 1
    paused = client.get("/api/v1/tasks?state=paused", headers=TOKEN).get_json()["tasks"]
    assert [t["id"] for t in paused] == [made[0]]
    assert client.get("/api/v1/tasks?flow=other", headers=TOKEN).get_json()["tasks"] == []
    page = client.get("/api/v1/tasks?limit=1", headers=TOKEN).get_json()
    assert [t["id"] for t in page["tasks"]] == [made[1]] and f"before={made[1]}" in page["next"]
    bad = client.get("/api/v1/tasks?state=sleeping", headers=TOKEN)
    assert bad.status_code == 400 and bad.get_json()["parameter"] == "state"
    assert client.get("/api/v1/tasks").status_code == 401


def test_one_ticket_and_404(client, post_ticket, ticket):
    assert post_ticket(ticket("T-2")).status_code == 202
    body = client.get("/api/v1/tickets/T-2", headers=TOKEN).get_json()
    assert body["id"] == "T-2" and [c["id"] for c in body["calls"]] == [2] and body["tasks"][0]["id"] == 2
    assert body["calls"][0]["recording_url"].endswith("/calls/2/recording.wav")
    missing = client.get("/api/v1/tickets/T-404", headers=TOKEN)
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"
    assert client.get("/api/v1/tickets/T-2").status_code == 401


def test_one_call_and_404(client):
    assert client.get("/api/v1/calls/2", headers=TOKEN).get_json()["customer_name"] == "Min-jun Kim"
    missing = client.get("/api/v1/calls/999", headers=TOKEN)
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"


def test_calls_api_with_panel_session(logged_in):
    assert logged_in.get("/api/v1/calls").status_code == 200


def test_no_token_configured_means_bearer_never_works(service):
    client = create_app(service, test_config={"TESTING": True}).test_client()
    assert client.get("/api/v1/calls", headers={"Authorization": "Bearer "}).status_code == 401
    assert client.get("/api/v1/calls", headers={"Authorization": "Bearer None"}).status_code == 401


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/v1/nope")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_read_api_error_is_json_500(client, service):
    service.fail_with = RuntimeError("disk on fire")
    response = client.get("/api/v1/calls", headers=TOKEN)
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal", "message": "the server failed to handle this request"}


def test_openapi_document_covers_every_api_route(app, client):
    response = client.get("/api/v1/openapi.json", headers=TOKEN)
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"].startswith("3.1") and doc["info"]["version"] == "0.1.0"
    routes = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert routes == documented
    assert set(doc["paths"]["/api/v1/tickets"]["post"]["responses"]) == {"202", "400", "401", "413", "422", "503"}
    ticket = doc["components"]["schemas"]["Ticket"]
    assert ticket["required"] == ["id", "type", "subject", "customer", "order"]
