"""GET /api/v1/stats and the CSV exports over the box's own statistics code and a real SQLite store holding the
twelve seeded calls (tests/stats_seed.py; the service's shop clock is Berlin's): 200 with the hand counts, a 400
naming each unusable parameter, 401 without a token, CSV with its header and the filtered rows."""

from __future__ import annotations

import csv
import io

import pytest
from flask.testing import FlaskClient
from stats_seed import seed_calls

from appliance.records.export import CALL_COLUMNS, TURN_COLUMNS

TOKEN = {"Authorization": "Bearer api-token-for-tests"}


@pytest.fixture
def seeded(service, client: FlaskClient) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return seed_calls(service.records)


def test_stats_by_day_on_the_shops_clock(client: FlaskClient, seeded: dict[str, int]) -> None:
    response = client.get("/api/v1/stats", headers=TOKEN)  # group_by defaults to day
    assert response.status_code == 200
    body = response.get_json()
    assert body["group_by"] == "day" and body["zone"] == "Europe/Berlin"
    assert [(g["key"], g["calls"], g["connected"]) for g in body["groups"]] == [("2026-11-20", 6, 3),
                                                                                ("2026-11-21", 6, 4)]
    assert body["total"]["connect_rate"] == 0.5833 and body["total"]["duration"]["average_s"] == 82.5


def test_stats_filters_and_groupings(client: FlaskClient, seeded: dict[str, int]) -> None:
    # a date without an offset is the shop's midnight: the call at 00:30 Berlin (23:30 UTC) is in
    body = client.get("/api/v1/stats", query_string={"since": "2026-11-21", "group_by": "hour"},
                      headers=TOKEN).get_json()
    assert body["total"]["calls"] == 6 and [g["key"] for g in body["groups"]] == [0, 9, 14, 16]
    assert body["filters"]["since"] == "2026-11-21T00:00:00+01:00"
    body = client.get("/api/v1/stats", query_string={"group_by": "task", "task": seeded["B"]},
                      headers=TOKEN).get_json()
    assert [(g["key"], g["name"], g["calls"]) for g in body["groups"]] == [(seeded["B"], "B", 5)]
    body = client.get("/api/v1/stats", query_string={"group_by": "flow_version", "flow_version": "delivery@2"},
                      headers=TOKEN).get_json()
    assert [(g["key"], g["calls"]) for g in body["groups"]] == [("delivery@2", 1)]
    body = client.get("/api/v1/stats", query_string={"group_by": "scenario", "until": "2026-11-20T10:00:00Z"},
                      headers=TOKEN).get_json()
    assert [(g["key"], g["calls"]) for g in body["groups"]] == [("A", 3), ("B", 1)]  # before 11:00 Berlin


@pytest.mark.parametrize(("query", "parameter", "words"), [
    ({"group_by": "week"}, "group_by", "must be one of day, hour"),
    ({"since": "last tuesday"}, "since", "must be a date"),
    ({"until": "2026-11-31"}, "until", "must be a date"),
    ({"since": "2026-11-21", "until": "2026-11-20"}, "until", "later than since"),
    ({"task": "two"}, "task", "whole number"),
    ({"task": "0"}, "task", "must be 1 or more"),
    ({"flow_version": "delivery@latest"}, "flow_version", "<flow id>@<version>"),
])
def test_unusable_parameters_are_400_naming_them(client: FlaskClient, seeded: dict[str, int], query: dict[str, str],
                                                 parameter: str, words: str) -> None:
    for path in ("/api/v1/stats", "/api/v1/export/calls.csv", "/api/v1/export/turns.csv"):
        if parameter == "group_by" and path != "/api/v1/stats":
            continue
        response = client.get(path, query_string=query, headers=TOKEN)
        body = response.get_json()
        assert response.status_code == 400, (path, body)
        assert body["error"] == "invalid_parameter" and body["parameter"] == parameter and words in body["message"]


def test_no_token_no_figures(client: FlaskClient) -> None:
    for path in ("/api/v1/stats", "/api/v1/export/calls.csv", "/api/v1/export/turns.csv"):
        assert client.get(path).status_code == 401


def test_csv_exports(client: FlaskClient, seeded: dict[str, int]) -> None:
    response = client.get("/api/v1/export/calls.csv", query_string={"scenario": "B"}, headers=TOKEN)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="calls.csv"'
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert tuple(rows[0]) == CALL_COLUMNS
    assert [(r[0], r[CALL_COLUMNS.index("outcome")]) for r in rows[1:]] == [
        ("4", "completed"), ("5", "hung_up"), ("7", "completed"), ("10", "completed"), ("11", "rejected")]
    response = client.get("/api/v1/export/turns.csv", query_string={"flow_version": "delivery@2"}, headers=TOKEN)
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert tuple(rows[0]) == TURN_COLUMNS
    assert [r[TURN_COLUMNS.index("text")] for r in rows[1:]] == [
        "Hello, this is the shop.", "yes", "at the door", "my neighbour", "number five", "thanks"]
    empty = client.get("/api/v1/export/turns.csv", query_string={"scenario": "nobody"}, headers=TOKEN)
    assert empty.get_data(as_text=True) == ",".join(TURN_COLUMNS) + "\r\n"  # the header alone
