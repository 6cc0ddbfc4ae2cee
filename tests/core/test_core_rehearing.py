"""A stored call's turns understood again (appliance/dialog/runtime/rehearing.py, FlowRun.stand_at): each at the
node it was said at, whatever an earlier turn's new reading would have done; a time said in the call is read on the
call's day; keys mean what they meant; an API node the flow would reach sends no request; only dialogue nodes can
be stood at."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from engine_flow import DOC
from flow_http_server import ApiServer, api_server

from appliance.dialog.flow.load import parse_flow
from appliance.dialog.runtime.rehearing import Rehearing
from appliance.errors import FlowError

CALLED = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)  # a Wednesday


@pytest.fixture(scope="module")
def server() -> Iterator[ApiServer]:
    with api_server() as s:
        yield s


def test_each_turn_is_heard_at_its_own_node() -> None:
    r = Rehearing(parse_flow(DOC), at=CALLED, tz=UTC)
    first = r.hear("greet", "yes I will be home")  # the flow would hang up after this ...
    assert (first.intent, first.event, r.run.finished) == ("confirm", "speech", True)
    later = r.hear("greet", "call me later")  # ... but the call went on at greet: heard there
    assert later.intent == "call_later" and later.node == "greet"
    when = r.hear("ask_time", "friday at three")
    assert when.intent == "slot:when" and r.slots == {"when": "2024-05-03T15:00+00:00"}  # the Friday after the call
    assert r.keys("greet", "2").intent == "call_later" and r.silence("greet").event == "no_input"
    assert r.grammar_at("greet") and r.grammar_at("ask_time") == ()  # closed answers; a time is free-form
    strength = r.strength([first, later, when], nodes=["greet", "ask_time", "rescheduled"],
                          disposition="rescheduled", ended_by="flow")
    assert strength.grade == "A" and "1 of 1 required slot filled (15 of 15 points)" in strength.reasons
    unfilled = Rehearing(parse_flow(DOC), at=CALLED, tz=UTC).strength(
        [later], nodes=["greet", "ask_time"], disposition=None, ended_by="customer")
    assert "0 of 1 required slot filled (0 of 15 points)" in unfilled.reasons


def test_an_api_node_on_the_way_sends_no_request(server: ApiServer) -> None:
    doc = copy.deepcopy(DOC)
    doc["nodes"]["greet"]["intents"]["confirm"] = {"next": "lookup", "reply": "Great."}
    doc["nodes"]["lookup"] = {"type": "api", "request": {"method": "GET", "url": f"{server.url}/returns/R-1"},
                              "next": "confirmed", "failure": "confirmed"}
    r = Rehearing(parse_flow(doc), at=CALLED, tz=UTC)
    assert r.hear("greet", "yes").intent == "confirm"
    assert server.requests == []
    with pytest.raises(FlowError, match="not a dialogue node"):
        r.grammar_at("lookup")
    assert not r.listens_at("confirmed") and not r.listens_at("answer") and r.listens_at("ask_time")
