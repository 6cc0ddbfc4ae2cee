"""The Statistics page over the twelve seeded calls (tests/stats_seed.py, Berlin's clock): the figures and tables
it shows are the hand counts, the filters narrow them, every day of the range is on the chart, the CSV links carry
the same filters."""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient
from stats_seed import seed_calls


def chart_data(html: str) -> dict[str, Any]:
    data = html[html.index("id=\"stats-data\" hidden data-json='") + len("id=\"stats-data\" hidden data-json='"):]
    parsed: dict[str, Any] = json.loads(data[:data.index("'")])
    return parsed


def test_the_page_comes_at_once_and_its_figures_follow(logged_in: FlaskClient, service: Any) -> None:
    seed_calls(service.records)
    shell = logged_in.get("/statistics?since=2026-11-19&until=2026-11-21&scenario=A").get_data(as_text=True)
    assert 'hx-get="/statistics/figures?since=2026-11-19&amp;until=2026-11-21&amp;scenario=A"' in shell
    assert 'id="fig-calls"' not in shell  # not counted in the page itself
    assert "/statistics?inline=1&amp;since=2026-11-19" in shell  # without JavaScript: a link to them
    inline = logged_in.get("/statistics?since=2026-11-19&until=2026-11-21&scenario=A&inline=1").get_data(as_text=True)
    assert '<dd id="fig-calls">7</dd>' in inline


def test_the_figures_are_the_hand_counts(logged_in: FlaskClient, service: Any) -> None:
    seed_calls(service.records)
    response = logged_in.get("/statistics/figures?since=2026-11-19&until=2026-11-21")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html  # a fragment
    assert '<dd id="fig-calls">12</dd>' in html
    charts = chart_data(html)
    assert [d["day"] for d in charts["days"]] == ["2026-11-19", "2026-11-20", "2026-11-21"]
    assert [(d["calls"], d["connected"]) for d in charts["days"]] == [(0, 0), (6, 3), (6, 4)]  # call 7: the 21st
    by_hour = {h["hour"]: h for h in charts["hours"]}
    assert by_hour[9]["calls"] == 4 and by_hour[9]["rate"] == 50.0  # 09:10 and 09:15 answered, 09:40 and 09:50 not
    assert by_hour[3]["calls"] == 0 and by_hour[3]["rate"] is None
    outcomes = html[html.index('id="outcomes"'):html.index('id="intents"')]
    assert "Completed" in outcomes and 'value="6"' in outcomes  # six completed calls, drawn as a meter
    page = logged_in.get("/statistics?since=2026-11-19&until=2026-11-21").get_data(as_text=True)
    assert "/api/v1/export/calls.csv?since=2026-11-19&amp;until=2026-11-22" in page  # the day named is counted


def test_the_filters_narrow_the_figures(logged_in: FlaskClient, service: Any) -> None:
    tasks = seed_calls(service.records)
    figures = "/statistics/figures?since=2026-11-20&until=2026-11-21"
    html = logged_in.get(f"{figures}&scenario=B").get_data(as_text=True)
    assert '<dd id="fig-calls">5</dd>' in html
    html = logged_in.get(f"{figures}&task={tasks['A']}").get_data(as_text=True)
    assert '<dd id="fig-calls">7</dd>' in html
    html = logged_in.get(f"{figures}&flow_version=delivery@2").get_data(as_text=True)
    assert '<dd id="fig-calls">1</dd>' in html
    bad = logged_in.get(f"{figures}&flow_version=delivery@zero")  # 200: htmx shows what it is given
    assert bad.status_code == 200 and "Not shown: flow_version must be" in bad.get_data(as_text=True)
    assert "Traceback" not in bad.get_data(as_text=True)
    refused = logged_in.get("/statistics?since=2026-11-20&task=first")
    assert refused.status_code == 400 and "must be a call task&#39;s number" in refused.get_data(as_text=True)
