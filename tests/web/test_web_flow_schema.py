"""GET /api/v1/flow-schema serves the flow JSON Schema that ships in the package."""

from __future__ import annotations

import json

from appliance.dialog.flow.model import DISPOSITIONS, NODE_TYPES, SCHEMA_PATH


def test_flow_schema_is_served_as_shipped(client):
    response = client.get("/api/v1/flow-schema", headers={"Authorization": "Bearer api-token-for-tests"})
    assert response.status_code == 200
    assert response.mimetype == "application/schema+json"
    doc = json.loads(response.get_data(as_text=True))
    assert doc == json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert doc["$schema"].endswith("2020-12/schema")
    assert set(doc["$defs"]["node"]["properties"]["type"]["enum"]) == set(NODE_TYPES) \
        == {"dialogue", "api", "hangup", "voicemail"}
    assert doc["$defs"]["hangup"]["properties"]["disposition"]["enum"] == list(DISPOSITIONS)
