"""A ticket's vars reach its flow by name; a call whose flow needs a variable the ticket does not supply is not
made (guard ``missing_variable``): the attempt ends blocked in one transaction and a remark names the variables."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from appliance.box import Callbox
from appliance.campaign.attempt import Outcome
from appliance.campaign.calls import SpeechKit
from appliance.campaign.guards import missing_variable
from appliance.config import CallingConfig, Config, ShopConfig
from appliance.dialog.flow.load import parse_flow
from appliance.errors import TicketInvalid
from appliance.speech.vad import Endpointer
from appliance.telephony.ports import LinePort

PAYMENT = json.loads((Path(__file__).resolve().parents[2] / "flows" / "examples" / "payment-reminder.en.json")
                     .read_text(encoding="utf-8"))


def ticket(tid: str, **vars_: str) -> dict[str, Any]:
    out: dict[str, Any] = {"id": tid, "type": "payment", "subject": "Invoice overdue", "description": "",
                           "customer": {"name": "Ada Lovelace", "phone": "+15550123"},
                           "order": {"id": "A-7731", "status": "unpaid"}}
    if vars_:
        out["vars"] = vars_
    return out


@pytest.fixture
def box(tmp_path: Path, piper_tts: Any, pocketsphinx_engine: Any) -> Any:
    kit = SpeechKit(asr=pocketsphinx_engine, tts=piper_tts, endpointer=lambda: Endpointer())
    # calling hours all day: the guard under test must not depend on the time the suite runs at
    config = Config(state_dir=tmp_path, shop=ShopConfig(name="Corner Shop"), calling=CallingConfig(hours="00:00-00:00"))
    box = Callbox(config, lines=[], speech=kit)
    box.configs.publish_flow(PAYMENT)
    # stored as is (the API and CLI would refuse a scenario whose flow needs a variable nothing supplies)
    box.configs.set_decisions(rules=[{"name": "unpaid", "type": ["payment"], "action": "call", "scenario": "unpaid"}],
                              scenarios=[{"name": "unpaid", "flow": PAYMENT["id"]}])
    yield box
    box.stop()


def test_a_call_missing_a_variable_is_blocked_and_says_which(box: Any) -> None:
    admitted = box.panel.submit_ticket(ticket("P-1", amount="40 euros"), webhook_id="m1")
    assert admitted["decision"] == "call"
    task = box.records.claim_due_task(datetime.now(UTC))
    assert task is not None and task.ticket_id == "P-1"
    ended = box.runner.run(task, cast(LinePort, None))  # no line is touched: the guard stops it first
    assert ended.outcome is Outcome.BLOCKED and ended.guard == "missing_variable" and ended.call_id == 0
    stored = box.records.ticket("P-1")
    assert stored is not None and stored.status == "open"  # held for the shop to send the missing data
    remarks = [op["detail"] for op in box.records.operations("P-1") if op["kind"] == "remark"]
    assert len(remarks) == 1 and "due_date" in remarks[0] and "amount" not in remarks[0]
    told = [json.loads(item["payload"]) for item in box.records.outbox_due(datetime.now(UTC))]
    assert [(e["ticket"], e["operation"]) for e in told] == [("P-1", "remark")]  # the ticketing system hears it
    assert box.records.claim_due_task(datetime.now(UTC)) is None  # the task ended; nothing dials it later


def test_a_tickets_vars_fill_the_flow_by_name(box: Any) -> None:
    box.panel.submit_ticket(ticket("P-2", amount="40 euros", due_date="1 November"), webhook_id="m2")
    stored = box.records.ticket("P-2")
    assert stored is not None and stored.vars == {"amount": "40 euros", "due_date": "1 November"}
    flow = parse_flow(PAYMENT)
    variables = flow.declared.values(stored.variables(box.shop_name))
    assert missing_variable(flow, variables) is None
    assert variables["shop"] == "Corner Shop" and variables["due_date"] == "1 November"


def test_bad_vars_are_refused_naming_the_field_and_store_nothing(box: Any) -> None:
    bad = ticket("P-3")
    bad["vars"] = {"amount": 40}
    with pytest.raises(TicketInvalid) as caught:
        box.panel.submit_ticket(bad, webhook_id="m3")
    assert caught.value.field == "vars.amount"
    assert box.records.ticket("P-3") is None
