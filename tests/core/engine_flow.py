"""The test flow of the engine tests (test_core_engine.py, test_core_engine_rules.py) and a run of it at a fixed
time: shared here so that no test module imports another."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from appliance.dialog.flow.load import parse_flow
from appliance.dialog.runtime.engine import FlowRun

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday

DOC: dict[str, Any] = {
    "id": "t", "language": "en", "variables": ["name", "order_id"], "start": "greet",
    "intents": {
        "confirm": {"examples": ["yes", "i will be home"], "keywords": ["yes", "home"]},
        "call_later": {"examples": ["call me later", "not a good time"], "keywords": ["later", "busy"]},
        "human": {"examples": ["speak to a human", "talk to a person"], "keywords": ["human", "person", "agent"]},
        "stop": {"examples": ["stop calling me", "do not call me again"], "keywords": ["stop"]},
        "repeat": {"examples": ["say that again", "repeat that", "pardon"], "keywords": ["repeat", "pardon"]},
    },
    "global_intents": {"human": "handoff", "stop": {"next": "dnc", "reply": "Understood."},
                       "repeat": {"action": "repeat"}},
    "knowledge_base": [{"id": "fee", "questions": ["how much is the delivery fee", "is delivery free"],
                        "keywords": ["fee", "cost"], "answer": "Delivery is free."}],
    "vui": {"no_input_prompts": ["Are you still there?", "Hello? {question}"], "max_no_input": 2,
            "no_match_prompts": ["Sorry?", "Please say yes or later."], "max_no_match": 2,
            "fallback_prompt": "Sorry, let us try another time.", "fallback_node": "no_response",
            "barge_in_prompt": "Sorry, go ahead."},
    "nodes": {
        "greet": {"type": "dialogue", "say": "Hello {name}, is someone home for order {order_id}?",
                  "intents": {"confirm": {"next": "confirmed", "reply": "Great."}, "call_later": "ask_time"},
                  "dtmf": {"1": "confirm", "2": "call_later"}},
        "ask_time": {"type": "dialogue", "say": "When should we call you?",
                     "slots": [{"name": "when", "type": "datetime", "ask": "When should we call?",
                                "reask": ["Please say a day and a time."]}],
                     "next": "rescheduled"},
        "confirmed": {"type": "hangup", "say": "Thank you.", "disposition": "confirmed",
                      "operations": [{"op": "close"}]},
        "rescheduled": {"type": "hangup", "say": "We will call you on {when}.", "disposition": "rescheduled",
                        "operations": [{"op": "schedule", "at_slot": "when", "delay_minutes": 1440}]},
        "handoff": {"type": "hangup", "say": "A colleague will call you.", "disposition": "handoff"},
        "dnc": {"type": "hangup", "say": "Goodbye.", "disposition": "do_not_call"},
        "no_response": {"type": "hangup", "say": "Goodbye.", "disposition": "no_response",
                        "operations": [{"op": "schedule", "delay_minutes": 120}]},
    },
}
VARS = {"name": "Ann", "order_id": "A-7"}


def new_run(doc: dict[str, Any] = DOC, **kw: Any) -> FlowRun:
    return FlowRun(parse_flow(doc), dict(VARS), clock=lambda: NOW, tz=UTC, version=3, **kw)
