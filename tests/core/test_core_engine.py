"""The flow engine on a small flow: slots, global intents, knowledge base, VUI escalation, DTMF, barge-in, and
API nodes against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from engine_flow import DOC, new_run
from flow_http_server import api_server

from appliance.dialog.flow.parse import check_flow


def test_the_test_flow_has_no_problems() -> None:
    assert check_flow(DOC)[1] == []


def test_straight_path_with_a_branch_reply() -> None:
    run = new_run()
    first = run.start()
    assert first.say == "Hello Ann, is someone home for order A-7?" and first.listen
    assert first.dtmf == ("1", "2") and first.no_input_ms == 7000 and first.barge_in
    step = run.hear("yes I will be home")
    assert step.say == "Great. Thank you." and not step.listen and run.finished
    assert run.result.disposition == "confirmed" and [o.op for o in run.result.operations] == ["close"]
    assert run.result.flow_version == 3 and run.result.intents == ["confirm"]
    assert [(t.speaker, t.event) for t in run.turns] == [("bot", "prompt"), ("customer", "speech"),
                                                        ("bot", "hangup")]


def test_slot_in_the_first_answer_skips_the_question() -> None:
    run = new_run()
    run.start()
    step = run.hear("not a good time, call me later on Friday at 3")
    assert run.finished and run.result.disposition == "rescheduled"
    assert run.result.slots["when"] == datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    (op,) = run.result.operations
    assert op.op == "schedule" and op.at == datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert "Friday" in step.say


def test_slot_asked_then_reasked() -> None:
    run = new_run()
    run.start()
    step = run.hear("call me later")
    assert step.node == "ask_time" and step.say == "When should we call you?" and step.grammar == ()
    step = run.hear("hmm")
    assert step.say == "Please say a day and a time." and step.event == "no_match"
    step = run.hear("tomorrow afternoon")
    assert run.result.slots["when"].day == 25 and step.node == "rescheduled"


def test_silence_escalates_then_falls_back() -> None:
    run = new_run()
    run.start()
    assert run.no_input().say == "Are you still there?"
    assert run.hear("").say == "Hello? Hello Ann, is someone home for order A-7?"
    last = run.no_input()
    assert last.say == "Sorry, let us try another time. Goodbye." and run.result.disposition == "no_response"
    assert [t.event for t in run.turns if t.speaker == "customer"] == ["no_input"] * 3


def test_no_match_escalates_then_falls_back() -> None:
    run = new_run()
    run.start()
    assert run.hear("banana").say == "Sorry?"
    assert run.hear("potato").say == "Please say yes or later."
    run.hear("cucumber")
    assert run.finished and run.result.disposition == "no_response"


def test_knowledge_base_answer_returns_to_the_question() -> None:
    run = new_run()
    run.start()
    step = run.hear("how much is the delivery fee")
    assert step.say == "Delivery is free. Hello Ann, is someone home for order A-7?" and step.event == "kb"
    assert run.turns[-2].intent == "kb:fee"
    run.hear("yes")
    assert run.result.disposition == "confirmed"


@pytest.mark.parametrize(("said", "disposition", "ops"), [
    ("can I speak to a human please", "handoff", []),
    ("stop calling me", "do_not_call", ["do_not_call"]),
])
def test_global_intents(said: str, disposition: str, ops: list[str]) -> None:
    run = new_run()
    run.start()
    run.hear("call me later")
    run.hear(said)  # from the slot node too
    assert run.result.disposition == disposition and [o.op for o in run.result.operations] == ops


def test_repeat_says_the_question_again() -> None:
    run = new_run()
    first = run.start()
    step = run.hear("sorry can you repeat that")
    assert step.say == first.say and step.event == "repeat" and not run.finished


def test_dtmf_and_barge_in() -> None:
    run = new_run()
    run.start()
    step = run.interrupted()
    assert step.say == "Sorry, go ahead." and step.listen and step.node == "greet"
    assert run.dtmf("9").event == "no_match"
    run.dtmf("1")
    assert run.result.disposition == "confirmed"
    assert [t.event for t in run.turns if t.speaker == "customer"] == ["no_match", "dtmf"]
    assert [t.event for t in run.turns if t.speaker == "bot"][1:3] == ["barge_in", "after_barge_in"]


def test_hear_after_the_end_is_an_error() -> None:
    run = new_run()
    run.start()
    run.hear("yes")
    with pytest.raises(RuntimeError):
        run.hear("yes")


def api_doc(url: str, **node: Any) -> dict[str, Any]:
    doc = copy.deepcopy(DOC)
    doc["start"] = "lookup"
    doc["nodes"]["lookup"] = {
        "type": "api", "request": {"method": "POST", "url": url, "body": {"order": "{order_id}", "n": 2}},
        "timeout_ms": 200, "retries": 1, "save": {"status": "data.status", "got": "data.got.order"},
        "branches": [{"status": "404", "next": "handoff"},
                     {"var": "status", "equals": "received", "next": "confirmed"}],
        "next": "greet", "failure": "no_response", **node,
    }
    return doc


def test_api_node_maps_the_answer_and_branches_on_a_value() -> None:
    with api_server() as server:
        run = new_run(api_doc(server.url + "/returns/R-1"))
        step = run.start()
        assert step.node == "confirmed" and run.vars["status"] == "received"
        assert server.requests[0][3] == {"order": "A-7", "n": 2}
        run = new_run(api_doc(server.url + "/echo"))
        assert run.start().node == "greet" and run.vars["got"] == "A-7"
        run = new_run(api_doc(server.url + "/returns/nothing"))
        assert run.start().node == "handoff"
    assert [t.event for t in run.turns][:1] == ["api"]


def test_api_node_timeout_takes_the_failure_branch_after_the_retries() -> None:
    with api_server() as server:
        run = new_run(api_doc(server.url + "/slow/1"))
        started = datetime.now()
        step = run.start()
        took = (datetime.now() - started).total_seconds()
        assert step.node == "no_response" and run.result.disposition == "no_response"
        assert len(server.requests) == 2 and took < 2
        assert run.turns[0].event == "api_failure" and "timed out" in run.turns[0].text.lower()


def test_api_node_server_error_and_refused_connection_fail() -> None:
    with api_server() as server:
        assert new_run(api_doc(server.url + "/broken")).start().node == "no_response"
        assert len(server.requests) == 2  # 5xx is retried
    assert new_run(api_doc("http://127.0.0.1:9/nothing")).start().node == "no_response"
