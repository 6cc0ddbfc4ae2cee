"""A flow's voicemail node: the message left on an answering machine. At most one; nothing leads to it (a
machine's answer does); its message is a template whose variables follow the flow's rules (an unknown one is a
flow error, an unsupplied one stops the call before dialing); the schema and the parser agree; the graph draws it."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest

from appliance.dialog.flow.load import builtin_flow_path, flow_schema, parse_flow
from appliance.dialog.flow.parse import check_flow
from appliance.dialog.flow.svg import flow_svg
from appliance.dialog.runtime.engine import VOICEMAIL_LEFT, FlowRun

BASE = json.loads(builtin_flow_path("delivery-confirmation.en").read_text())
MESSAGE = "Hello {name}, this is the shop about order {order_id}. Please call us back."


def with_voicemail(**node: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    doc["nodes"]["leave_message"] = {"type": "voicemail", "say": MESSAGE, **node}
    return doc


def test_a_flow_with_a_voicemail_node_is_valid_and_renders_its_message() -> None:
    doc = with_voicemail(name="Message for the mailbox")
    assert jsonschema.Draft202012Validator(flow_schema()).is_valid(doc)
    flow = parse_flow(doc)
    assert flow.voicemail is not None and flow.voicemail.id == "leave_message"
    assert ("leave_message", "say") in flow.prompt_templates()  # prerendered like any prompt
    run = FlowRun(flow, {"name": "Ann", "order_id": "A-7"})
    step = run.voicemail()
    assert step is not None and step.say == "Hello Ann, this is the shop about order A-7. Please call us back."
    assert not step.listen and run.finished and run.result.disposition == VOICEMAIL_LEFT
    assert [(t.speaker, t.node, t.event) for t in run.turns] == [("bot", "leave_message", "voicemail")]
    assert 'class="node voicemail"' in flow_svg(flow)


def test_without_a_voicemail_node_no_message_is_left() -> None:
    flow = parse_flow(copy.deepcopy(BASE))
    run = FlowRun(flow, {"name": "Ann", "order_id": "A-7"})
    assert flow.voicemail is None and run.voicemail() is None and run.turns == [] and not run.finished


def test_the_message_variables_must_be_declared_and_supplied() -> None:
    flow = parse_flow(with_voicemail())
    assert "order_id" in flow.declared.missing({"name": "Ann"})  # the call is blocked before dialing


@pytest.mark.parametrize(("mutate", "node", "field", "words"), [
    (lambda d: d["nodes"]["leave_message"].update(say=""), "leave_message", "say", "needs the message"),
    (lambda d: d["nodes"]["leave_message"].update(say="Hi {nobody}"), "leave_message", "say", "unknown variable"),
    (lambda d: d["nodes"]["leave_message"].update(disposition="confirmed"), "leave_message", None, "disposition"),
    (lambda d: d["nodes"].update(second={"type": "voicemail", "say": "Again."}), "second", "type",
     "one voicemail message"),
    (lambda d: d["nodes"]["greet"]["intents"].update(confirm="leave_message"), "greet", "intents.confirm",
     "only an answering machine reaches"),
    (lambda d: d["global_intents"].update(human="leave_message"), None, None, "only an answering machine"),
    (lambda d: d.update(start="leave_message"), None, "start", "cannot be the voicemail node"),
])
def test_a_bad_voicemail_node_is_a_flow_error_naming_where(mutate: Any, node: str | None, field: str | None,
                                                           words: str) -> None:
    doc = with_voicemail()
    mutate(doc)
    _, problems = check_flow(doc)
    found = [p for p in problems if words in str(p)]
    assert found, problems
    assert any(p.node == node and (field is None or p.field == field) for p in found), found
    if (field == "say" and "needs" in words) or (node == "leave_message" and field is None):
        assert not jsonschema.Draft202012Validator(flow_schema()).is_valid(doc)  # the schema says so too
