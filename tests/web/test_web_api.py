"""/healthz and the read API under /api/v1."""

from __future__ import annotations

from web import create_app

TOKEN = {"Authorization": "Bearer api-token-for-tests"}


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"ok": True}


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
    assert len(client.get("/api/v1/calls?limit=junk", headers=TOKEN).get_json()["calls"]) == 2


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
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"].startswith("3.1") and doc["info"]["version"] == "0.1.0"
    routes = {
        (rule.rule.replace("<int:", "{").replace(">", "}"), method.lower())
        for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert routes == documented
    assert set(doc["paths"]["/api/v1/tickets"]["post"]["responses"]) == {"202", "400", "401", "413", "422", "503"}
    ticket = doc["components"]["schemas"]["Ticket"]
    assert ticket["required"] == ["id", "type", "subject", "customer", "order"]
