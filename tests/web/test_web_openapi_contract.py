"""The OpenAPI document against the server: every /api/v1 route is documented; every ticket the schema allows is
stored (202) and every one it refuses is a 422 naming the field, through the real intake and SQLite store; every
documented query parameter's good values are 200 and its bad ones a 400 naming it."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from appliance.campaign.tickets import MAX_TEXT
from appliance.records.ticket import STANDARD_VARIABLES
from web.openapi import MAX_TEXT as DOCUMENTED_MAX_TEXT
from web.openapi import openapi_document

TOKEN = {"Authorization": "Bearer api-token-for-tests"}
DOC = openapi_document("test")
TICKET_SCHEMA = DOC["components"]["schemas"]["Ticket"]
VALIDATOR = Draft202012Validator(TICKET_SCHEMA)


def example(schema: dict[str, Any], *, everything: bool) -> Any:
    """An instance from the schema's examples: only required properties, or every property."""
    if "properties" in schema:
        names = schema["properties"] if everything else schema.get("required", [])
        return {name: example(schema["properties"][name], everything=everything) for name in names}
    return copy.deepcopy(schema["examples"][0])


def paths(schema: dict[str, Any], prefix: str = "") -> list[tuple[str, dict[str, Any], bool]]:
    """(dotted path, schema, required) of every property, depth first."""
    out = []
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        out.append((path, sub, name in schema.get("required", [])))
        out.extend(paths(sub, f"{path}."))
    return out


def set_at(doc: dict[str, Any], path: str, value: Any, *, remove: bool = False) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    *parents, last = path.split(".")
    node = doc
    for name in parents:
        node = node[name]
    if remove:
        node.pop(last)
    else:
        node[last] = value
    return doc


def mutations(base: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    """(what, ticket, the field the server must name) for each way the schema says a ticket is wrong."""
    cases = []
    for path, schema, required in paths(TICKET_SCHEMA):
        if required:
            cases.append((f"{path} missing", set_at(base, path, None, remove=True), path))
            cases.append((f"{path} null", set_at(base, path, None), path))
        if path == "vars":
            cases.append(("vars a list", set_at(base, path, ["x"]), "vars"))
            cases.append(("vars bad name", set_at(base, path, {"9due": "Friday"}), "vars.9due"))
            cases.append(("vars blank text", set_at(base, path, {"due": "   "}), "vars.due"))
            cases.append(("vars number", set_at(base, path, {"due": 7}), "vars.due"))
            cases.extend((f"vars.{name} is the ticket's own", set_at(base, path, {name: "x"}), f"vars.{name}")
                         for name in STANDARD_VARIABLES)
            continue
        if schema.get("type") == "object":
            cases.append((f"{path} a string", set_at(base, path, "x"), path))
            continue
        cases.append((f"{path} a list", set_at(base, path, ["x"]), path))
        cases.append((f"{path} true", set_at(base, path, True), path))
        cases.append((f"{path} too long", set_at(base, path, "x" * (schema["maxLength"] + 1)), path))
        if "pattern" in schema:
            cases.append((f"{path} blank", set_at(base, path, "  "), path))
    return cases


def test_every_api_route_is_documented(app) -> None:
    routes = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes == {(path, method) for path, ops in DOC["paths"].items() for method in ops}


def test_the_documented_text_limit_is_the_intakes() -> None:
    assert DOCUMENTED_MAX_TEXT == MAX_TEXT


def test_tickets_the_schema_allows_are_stored(deliver, admitting) -> None:
    minimal = example(TICKET_SCHEMA, everything=False)
    full = example(TICKET_SCHEMA, everything=True)
    assert "description" not in minimal  # optional on both sides
    numbered = set_at(set_at(minimal, "id", 4711), "order.id", 99)  # whole numbers are read as their digits
    empty_description = {**minimal, "id": "T-empty", "description": ""}
    for n, ticket in enumerate((minimal, {**full, "id": "T-full"}, numbered, empty_description,
                                {**minimal, "id": "T-null", "description": None, "vars": None})):
        VALIDATOR.validate(ticket)
        response = deliver("native", ticket, delivery=f"ok-{n}")
        assert response.status_code == 202, (ticket, response.get_json())
    assert admitting.stored() == (5, 5)


def test_tickets_the_schema_refuses_are_422_naming_the_field(deliver, admitting) -> None:
    base = example(TICKET_SCHEMA, everything=True)
    cases = mutations(base)
    assert len(cases) > 40
    for n, (what, ticket, field) in enumerate(cases):
        assert not VALIDATOR.is_valid(ticket), f"the schema allows {what}"
        response = deliver("native", ticket, delivery=f"bad-{n}")
        body = response.get_json()
        assert response.status_code == 422, (what, body)
        assert body["error"] == "invalid_ticket" and body["field"] == field, (what, body)
    assert admitting.stored() == (0, 0)


def query_cases(schema: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(good values, bad values) of a query parameter, from its schema."""
    if "enum" in schema:
        first = schema["enum"][0]
        other_case = first.upper() if first.upper() != first else first.lower()  # grades are upper case
        return list(schema["enum"]), ["not-" + first, other_case]
    if schema.get("type") == "integer":
        low, high = schema["minimum"], schema.get("maximum")
        good = [str(low)] + ([str(high)] if high is not None else ["123456"])
        bad = [str(low - 1), "two", "1.5", "--1"] + ([str(high + 1)] if high is not None else [])
        return good, bad
    if schema.get("format") == "date-time":
        return ["2024-05-01T14:03:00Z", "2024-05-01T16:03:00+02:00"], ["yesterday", "2024-13-01T00:00:00Z"]
    return ["+15550100"], []


@pytest.mark.parametrize(("path", "parameter"), [
    (path, p) for path, ops in DOC["paths"].items() for op in ops.values()
    for p in op.get("parameters", []) if p["in"] == "query"
])
def test_query_parameters_are_enforced_as_documented(client, path: str, parameter: dict[str, Any]) -> None:
    good, bad = query_cases(parameter["schema"])
    # a path parameter takes an id nothing has: a good query value is then answered 404 (looked up, not found),
    # a bad one still 400 before any look-up
    filled = re.sub(r"\{\w+\}", "999999", path)
    for value in good:
        response = client.get(filled, query_string={parameter["name"]: value}, headers=TOKEN)
        if filled != path and response.status_code == 404:
            assert response.get_json()["error"] == "not_found", (parameter["name"], value)
            continue
        assert response.status_code == 200, (parameter["name"], value, response.get_json())
    for value in bad:
        response = client.get(filled, query_string={parameter["name"]: value}, headers=TOKEN)
        body = response.get_json()
        assert response.status_code == 400, (parameter["name"], value, body)
        assert body["error"] == "invalid_parameter" and body["parameter"] == parameter["name"]
