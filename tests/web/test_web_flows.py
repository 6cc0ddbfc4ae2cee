"""The panel's flow pages: import (checked, all or nothing), export, drawing, and trying a flow in text."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

EXAMPLE = Path(__file__).resolve().parents[2] / "flows" / "examples" / "delivery-confirmation.en.json"


def upload(client: FlaskClient, csrf: Callable[[str], str], body: bytes, name: str = "flow.json") -> Any:
    token = csrf(client.get("/flows").get_data(as_text=True))
    return client.post("/flows", data={"csrf_token": token, "file": (io.BytesIO(body), name)},
                       content_type="multipart/form-data")


def test_flows_need_a_login(client: FlaskClient) -> None:
    response = client.get("/flows")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_import_publishes_a_good_flow_and_lists_it(logged_in: FlaskClient, csrf: Callable[[str], str],
                                                   service: Any) -> None:
    page = logged_in.get("/flows").get_data(as_text=True)
    assert "No flows yet" in page
    response = upload(logged_in, csrf, EXAMPLE.read_bytes(), "delivery-confirmation.en.json")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/flows/delivery-confirmation-example?published=1")
    page = logged_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "Published as version 1." in page
    listed = logged_in.get("/flows").get_data(as_text=True)
    assert 'id="flow-delivery-confirmation-example"' in listed and "v1" in listed
    assert service.flows.flow_document("delivery-confirmation-example")[1] == json.loads(EXAMPLE.read_text())


def test_a_flow_with_problems_lists_every_one_and_changes_nothing(logged_in: FlaskClient,
                                                                 csrf: Callable[[str], str], service: Any) -> None:
    assert upload(logged_in, csrf, EXAMPLE.read_bytes()).status_code == 302
    broken = json.loads(EXAMPLE.read_text())
    broken["nodes"]["greet"]["intents"]["confirm"] = {"next": "nowhere"}
    broken["nodes"]["greet"]["say"] = "Hello {nickname}"
    response = upload(logged_in, csrf, json.dumps(broken).encode(), "broken.json")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "broken.json was not published" in page and "Nothing was changed" in page
    assert "nowhere" in page and "nickname" in page  # both problems, each with its node
    assert page.count('<li><span class="mono">greet') >= 2
    assert service.flows.list_flows()[0]["versions"] == [1]  # still only the first version


def test_import_refuses_what_is_not_json_or_not_sent(logged_in: FlaskClient, csrf: Callable[[str], str],
                                                     service: Any) -> None:
    response = upload(logged_in, csrf, b"\x89PNG not a flow", "picture.png")
    assert response.status_code == 400
    assert "picture.png is not a JSON file" in response.get_data(as_text=True)
    token = csrf(logged_in.get("/flows").get_data(as_text=True))
    response = logged_in.post("/flows", data={"csrf_token": token}, content_type="multipart/form-data")
    assert response.status_code == 400 and "Choose a flow file" in response.get_data(as_text=True)
    stale = logged_in.post("/flows", data={"file": (io.BytesIO(EXAMPLE.read_bytes()), "f.json")},
                           content_type="multipart/form-data")
    assert stale.status_code == 400 and "stale" in stale.get_data(as_text=True)
    assert service.flows.list_flows() == []


def test_try_a_flow_in_text_shows_the_transcript_and_the_outcome(logged_in: FlaskClient,
                                                                  csrf: Callable[[str], str]) -> None:
    assert upload(logged_in, csrf, EXAMPLE.read_bytes()).status_code == 302
    page = logged_in.get("/flows/delivery-confirmation-example").get_data(as_text=True)
    assert "name=Alex Sample\norder_id=10001" in page  # the flow's variables, filled from a sample ticket
    response = logged_in.post("/flows/delivery-confirmation-example", data={
        "csrf_token": csrf(page), "variables": "name=Ada\norder_id=A-77", "says": "how much is the delivery fee\nyes"})
    result = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Hello Ada" in result and "A-77" in result
    assert "how much is the delivery fee" in result and "→ Confirm" in result
    assert "<dt>Disposition</dt><dd>Confirmed</dd>" in result
    assert "grade" in result  # intent strength shown with its grade


def test_try_refuses_bad_variables_and_unknown_flows(logged_in: FlaskClient, csrf: Callable[[str], str]) -> None:
    assert upload(logged_in, csrf, EXAMPLE.read_bytes()).status_code == 302
    page = logged_in.get("/flows/delivery-confirmation-example").get_data(as_text=True)
    response = logged_in.post("/flows/delivery-confirmation-example",
                              data={"csrf_token": csrf(page), "variables": "just a name", "says": "yes"})
    assert response.status_code == 400 and "NAME=VALUE" in response.get_data(as_text=True)
    assert logged_in.get("/flows/no-such-flow").status_code == 404


def test_export_and_graph(logged_in: FlaskClient, csrf: Callable[[str], str]) -> None:
    assert upload(logged_in, csrf, EXAMPLE.read_bytes()).status_code == 302
    exported = logged_in.get("/flows/delivery-confirmation-example/v1.json")
    assert exported.status_code == 200
    assert "attachment" in exported.headers["Content-Disposition"]
    assert json.loads(exported.get_data(as_text=True)) == json.loads(EXAMPLE.read_text())
    assert logged_in.get("/flows/delivery-confirmation-example/v2.json").status_code == 404
    graph = logged_in.get("/flows/delivery-confirmation-example/graph.svg")
    assert graph.status_code == 200 and graph.mimetype == "image/svg+xml"
    svg = graph.get_data(as_text=True)
    assert svg.lstrip().startswith(("<svg", "<?xml")) and "greet" in svg


def test_try_an_api_node_without_api_base_takes_its_failure_branch(logged_in: FlaskClient,
                                                                  csrf: Callable[[str], str]) -> None:
    returns = EXAMPLE.parent / "return-follow-up.en.json"
    assert upload(logged_in, csrf, returns.read_bytes()).status_code == 302
    page = logged_in.get("/flows/return-follow-up-example").get_data(as_text=True)
    response = logged_in.post("/flows/return-follow-up-example", data={
        "csrf_token": csrf(page), "variables": "name=Ada\nreturn_id=R-1\napi_base=", "says": ""})
    result = response.get_data(as_text=True)
    assert response.status_code == 200  # was a 500: "/returns/R-1" is no URL to request
    assert "not an absolute http(s) URL" in result
    assert "<dt>Disposition</dt><dd>Callback</dd>" in result


def test_publishing_refuses_variables_nothing_supplies(logged_in: FlaskClient, csrf: Callable[[str], str],
                                                       service: Any) -> None:
    doc = json.loads((EXAMPLE.parent / "payment-reminder.en.json").read_text())
    doc["variables"] = {"name": {}, "order_id": {}, "shop": {}, "amount": {}, "due_date": {"default": "the date"}}
    response = upload(logged_in, csrf, json.dumps(doc).encode(), "payment.json")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "payment.json was not published" in page
    assert "variables.amount" in page and "give it a default" in page and "variables.due_date" not in page
    assert service.flows.list_flows() == []
    doc["variables"]["amount"] = {"from": "vars"}
    assert upload(logged_in, csrf, json.dumps(doc).encode(), "payment.json").status_code == 302
