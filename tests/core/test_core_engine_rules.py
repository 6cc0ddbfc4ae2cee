"""Engine rules beyond the main paths: VUI overrides per node and what a Step tells the conversation, the first
flow format's reprompt semantics, optional slots, text slots against global intents, URL templates, loops,
and the intent strength of a call the customer hung up on."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from engine_flow import DOC, NOW, VARS, new_run

from appliance.dialog.flow.load import parse_flow
from appliance.dialog.runtime.api_client import HttpRequest, HttpResponse
from appliance.dialog.runtime.engine import FlowRun
from appliance.errors import FlowError


def test_step_carries_the_nodes_vui_settings() -> None:
    doc = copy.deepcopy(DOC)
    doc["vui"]["long_utterance"] = {"enabled": True, "wait_ms": 2500, "when": ["slot"]}
    doc["nodes"]["ask_time"]["vui"] = {"no_input_ms": 9000, "barge_in": False, "no_match_prompts": ["When?"]}
    run = new_run(doc)
    first = run.start()
    assert (first.no_input_ms, first.barge_in, first.long_wait_ms) == (7000, True, 0)  # no slot asked here
    assert "yes" in first.grammar and "speak to a human" in first.grammar and "is delivery free" in first.grammar
    step = run.hear("call me later")
    assert (step.no_input_ms, step.barge_in, step.long_wait_ms, step.long_wait_when) == (9000, False, 2500, ("slot",))
    assert step.grammar == ()  # a time is an open answer: free-form recognition
    assert run.node.vui.fallback_node == "no_response"  # inherited from the flow


def test_the_first_flow_format_keeps_its_reprompt_rules() -> None:
    # the box's first built-in flow (reprompt, max_retries, no_input/no_match per node), kept as a fixture
    doc = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "flows" /
                      "delivery-confirmation.first-format.json").read_text())
    run = FlowRun(parse_flow(doc), {"name": "Ann", "order_id": "A-7", "shop": "Shop"})
    run.start()
    again = run.no_input()
    assert again.say.startswith("Sorry, I did not catch that.") and again.event == "no_input"
    assert run.hear("banana").event == "no_match"  # silences and no-matches are counted apart
    end = run.hear("potato")  # max_retries 1: the second no-match falls back
    assert run.finished and end.node == "no_response"


def test_optional_slot_left_out_by_silence_goes_on() -> None:
    doc = copy.deepcopy(DOC)
    note = {"name": "note", "type": "text", "required": False, "ask": "Anything else?"}
    doc["nodes"]["ask_time"]["slots"].append(note)
    doc["nodes"]["ask_time"]["slots"][0]["required"] = False
    run = new_run(doc)
    run.start()
    assert run.hear("call me later").node == "ask_time"
    run.no_input()
    assert run.finished and run.result.disposition == "rescheduled"
    assert [o.at for o in run.result.operations] == [None]  # no time given: the delay


def test_text_slot_yields_to_a_global_intent() -> None:
    doc = copy.deepcopy(DOC)
    doc["nodes"]["ask_time"]["slots"] = [{"name": "note", "type": "text", "ask": "Tell us more."}]
    doc["nodes"]["rescheduled"].update(say="Noted.", operations=[{"op": "remark", "text": "{note}"}])
    run = new_run(doc)
    run.start()
    run.hear("call me later")
    run.hear("stop calling me")
    assert run.result.disposition == "do_not_call" and "note" not in run.result.slots
    run = new_run(doc)
    run.start()
    run.hear("call me later")
    run.hear("the blue door at the back")
    assert run.result.slots["note"] == "the blue door at the back"


def test_url_values_are_quoted_but_a_base_url_is_not() -> None:
    seen: list[HttpRequest] = []

    def client(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        return HttpResponse(200, b'{"ok": true}')

    doc = copy.deepcopy(DOC)
    doc["variables"].append("base")
    doc["start"] = "api"
    doc["nodes"]["api"] = {"type": "api", "request": {"url": "{base}/orders/{order_id}?who={name}",
                                                        "headers": {"X-Order": "{order_id}"}},
                           "next": "greet", "failure": "no_response"}
    run = FlowRun(parse_flow(doc), {**VARS, "order_id": "A 7/x", "base": "http://shop.example:8080/api"},
                  http=client, clock=lambda: NOW, tz=UTC)
    assert run.start().node == "greet"
    assert seen[0].url == "http://shop.example:8080/api/orders/A%207%2Fx?who=Ann"
    assert seen[0].headers == {"X-Order": "A 7/x"} and seen[0].method == "GET" and seen[0].body is None


def test_a_loop_of_api_nodes_is_stopped() -> None:
    doc = copy.deepcopy(DOC)
    doc["start"] = "a"
    doc["nodes"]["a"] = {"type": "api", "request": {"url": "http://x/"}, "next": "a", "failure": "greet"}
    run = FlowRun(parse_flow(doc), dict(VARS), http=lambda r: HttpResponse(200, b"{}"))
    with pytest.raises(FlowError, match="loop"):
        run.start()


def test_strength_of_a_call_the_customer_hung_up_on() -> None:
    run = new_run()
    run.start()
    run.hear("banana")
    strength = run.strength(ended_by="customer")
    assert strength.grade == "D" and any("hung up" in r for r in strength.reasons)
    run.hear("yes")
    assert run.result.intent_strength.grade in ("A", "B") and run.result.to_json()["intent_strength"]["score"] > 60


def test_result_json_is_plain_json() -> None:
    run = new_run()
    run.start()
    run.hear("not a good time, call me on Friday at 3")
    out: dict[str, Any] = run.result.to_json()
    assert json.loads(json.dumps(out)) == out
    assert out["slots"] == {"when": "2026-11-27T15:00+00:00"} and out["flow_version"] == 3
    assert out["operations"] == [{"op": "schedule", "delay_minutes": 1440, "at": "2026-11-27T15:00+00:00"}]
    assert datetime.fromisoformat(out["slots"]["when"]).weekday() == 4
