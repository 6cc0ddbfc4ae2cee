"""The Statistics page over the twelve seeded calls (tests/stats_seed.py, Berlin's clock): the figures and tables
it shows are the hand counts, the filters narrow them, every day of the range is on the chart, the CSV links carry
the same filters."""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient
from stats_seed import seed_calls


def chart_data(html: str) -> dict[str, Any]:
    data = html[html.index('id="stats-data">') + len('id="stats-data">'):]
    parsed: dict[str, Any] = json.loads(data[:data.index("</script>")])
    return parsed


def test_the_page_shows_the_hand_counts(logged_in: FlaskClient, service: Any) -> None:
    seed_calls(service.records)
    response = logged_in.get("/statistics?since=2026-11-19&until=2026-11-21")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<dd id="fig-calls">12</dd>' in html
    charts = chart_data(html)
    assert [d["day"] for d in charts["days"]] == ["2026-11-19", "2026-11-20", "2026-11-21"]
    assert [(d["calls"], d["connected"]) for d in charts["days"]] == [(0, 0), (6, 3), (6, 4)]  # call 7: the 21st
    by_hour = {h["hour"]: h for h in charts["hours"]}
    assert by_hour[9]["calls"] == 4 and by_hour[9]["rate"] == 50.0  # 09:10 and 09:15 answered, 09:40 and 09:50 not
    assert by_hour[3]["calls"] == 0 and by_hour[3]["rate"] is None
    outcomes = html[html.index('id="outcomes"'):html.index('id="intents"')]
    assert "Completed" in outcomes and 'value="6"' in outcomes  # six completed calls, drawn as a meter
    assert "/api/v1/export/calls.csv?since=2026-11-19&amp;until=2026-11-22" in html


def test_the_filters_narrow_the_figures(logged_in: FlaskClient, service: Any) -> None:
    tasks = seed_calls(service.records)
    html = logged_in.get("/statistics?since=2026-11-20&until=2026-11-21&scenario=B").get_data(as_text=True)
    assert '<dd id="fig-calls">5</dd>' in html
    html = logged_in.get(f"/statistics?since=2026-11-20&until=2026-11-21&task={tasks['A']}").get_data(as_text=True)
    assert '<dd id="fig-calls">7</dd>' in html
    html = logged_in.get("/statistics?since=2026-11-20&until=2026-11-21&flow_version=delivery@2"
                         ).get_data(as_text=True)
    assert '<dd id="fig-calls">1</dd>' in html
    bad = logged_in.get("/statistics?since=2026-11-20&flow_version=delivery@zero")
    assert bad.status_code == 400 and "flow_version" in bad.get_data(as_text=True)
    assert "Traceback" not in bad.get_data(as_text=True)
