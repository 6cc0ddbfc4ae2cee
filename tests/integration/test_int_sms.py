"""A customer the campaign gives up on gets a text: the real composition root, real Lines on simulated
modems, real SQLite; the PDUs the simulated network took are decoded with gsmmodem and compared."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gsmmodem.pdu import decodeSmsPdu

from appliance.box import Callbox
from appliance.campaign.calls import SpeechKit
from appliance.campaign.texts import UnreachableTexts
from appliance.config import CallingConfig, Config, LineConfig, RetryConfig, SmsConfig, parse_config
from appliance.dialog.flow.load import builtin_flow_path, load_flow, parse_flow
from appliance.errors import ConfigError, FlowError
from appliance.sim.customer import CustomerScript
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.speech.vad import Endpointer
from appliance.telephony.sms import from_utf16_units

BUSY = "+15550100001"
NO_ANSWER = "+15550100002"
GSM7_TEMPLATE = "Hello {name}, we could not reach you about order {order_id}. Please call {shop} back."
UNICODE_TEMPLATE = "Здравствуйте, {name}! Мы не дозвонились по заказу {order_id} 📦"


def directory(number: str) -> CustomerScript:
    return CustomerScript(behaviour="busy" if number == BUSY else "no_answer", max_call_s=5)


def ticket(tid: str, phone: str, name: str = "Ada Lovelace") -> dict[str, Any]:
    return {
        "id": tid,
        "type": "delivery",
        "subject": "Parcel on its way",
        "description": "Order shipped today.",
        "customer": {"name": name, "phone": phone},
        "order": {"id": "A-7731", "status": "shipped"},
    }


class Rig:
    def __init__(self, box: Callbox, sims: list[SimulatedHuaweiModem]) -> None:
        self.box = box
        self.sims = sims

    def submit(self, payload: dict[str, Any]) -> None:
        assert self.box.panel.submit_ticket(payload, webhook_id=f"msg_{uuid.uuid4().hex}")["decision"] == "call"

    def wait_for_operation(self, tid: str, kinds: set[str], timeout: float = 20) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ops = self.box.records.operations(tid)
            row = self.box.records.ticket(tid)
            if row is not None and row.status == "unreachable" and kinds & {o["kind"] for o in ops[2:]}:
                return ops
            time.sleep(0.05)
        raise AssertionError(f"{tid}: no {kinds} after giving up: {self.box.records.operations(tid)}")

    def outbox(self) -> list[dict[str, Any]]:
        db = sqlite3.connect(self.box.paths.records)
        return [json.loads(p) for (p,) in db.execute("SELECT payload FROM outbox ORDER BY id")]

    def received(self) -> list[Any]:
        return [m for sim in self.sims for m in sim.sms.messages]


@pytest.fixture
def rig(tmp_path: Path, piper_tts: Any, pocketsphinx_engine: Any) -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(sms: SmsConfig, *, lines: int = 1) -> Rig:
        sims = [SimulatedHuaweiModem(directory, ring_ms=100) for _ in range(lines)]
        for sim in sims:
            sim.start()
        config = Config(
            state_dir=tmp_path / f"state{len(made)}",
            calling=CallingConfig(
                hours="00:00-00:00",
                ring_timeout_s=1,
                max_attempts=2,
                retry_s=RetryConfig(busy=0.1, no_answer=0.1, rejected=0.1, failed=0.1, interrupted=0.1),
            ),
            lines=tuple(LineConfig(f"sim{i}", s.at_port, s.audio_port) for i, s in enumerate(sims)),
            sms=sms,
        )
        speech = SpeechKit(asr=pocketsphinx_engine, tts=piper_tts, endpointer=lambda: Endpointer())
        box = Callbox(config, speech=speech, shop_name="Corner Shop")
        box.scheduler.idle_poll_s = 0.1
        box.start()
        made.append(Rig(box, sims))
        return made[-1]

    yield make
    for r in made:
        r.box.stop()
        for sim in r.sims:
            sim.stop()


def test_int_sms_gsm7_text_after_the_last_failed_attempt_only(rig: Callable[..., Rig]) -> None:
    r = rig(SmsConfig(unreachable_text=GSM7_TEMPLATE))
    r.submit(ticket("SMS-1", BUSY))
    ops = r.wait_for_operation("SMS-1", {"sms"})
    expected = "Hello Ada Lovelace, we could not reach you about order A-7731. Please call Corner Shop back."
    # two busy attempts, one remark each, then the one text
    assert [o["kind"] for o in ops] == ["remark", "remark", "sms"]
    assert "Attempt 1 of 2" in ops[0]["detail"] and "Giving up" in ops[1]["detail"]
    assert ops[2]["detail"] == expected
    assert len(r.box.records.calls(ticket_id="SMS-1")) == 2
    [got] = r.received()  # one PDU, sent after the second attempt, not the first
    decoded = decodeSmsPdu(got.pdu_hex)
    assert decoded["type"] == "SMS-SUBMIT"
    assert decoded["number"] == BUSY
    assert decoded["text"] == expected
    # the ticketing system hears of it through the outbox
    sms_events = [e for e in r.outbox() if e.get("operation") == "sms"]
    assert len(sms_events) == 1
    event = sms_events[0]
    assert event["ticket"] == "SMS-1" and event["to"] == BUSY and event["detail"] == expected
    assert event["references"] == [got.message_reference] and event["line"] == "sim0"
    assert event["call"] == r.box.records.calls(ticket_id="SMS-1")[0]["id"]  # newest call first
    # the panel's ticket list shows the text among the remarks
    [listed] = [t for t in r.box.panel.list_tickets() if t["id"] == "SMS-1"]
    assert listed["remarks"][-1] == f"Text message sent: {expected}"


def test_int_sms_unicode_text_from_the_flow_round_trips(rig: Callable[..., Rig]) -> None:
    r = rig(SmsConfig(unreachable_text=GSM7_TEMPLATE))
    flow = load_flow(builtin_flow_path("delivery-confirmation.en")).document
    r.box.configs.publish_flow({**flow, "unreachable_text": UNICODE_TEMPLATE})  # the flow's text wins
    r.submit(ticket("SMS-2", NO_ANSWER, name="Zoë Ångström"))
    ops = r.wait_for_operation("SMS-2", {"sms"})
    expected = "Здравствуйте, Zoë Ångström! Мы не дозвонились по заказу A-7731 📦"
    assert ops[-1]["kind"] == "sms" and ops[-1]["detail"] == expected
    [got] = r.received()
    assert from_utf16_units(decodeSmsPdu(got.pdu_hex)["text"]) == expected
    assert bytes.fromhex(got.pdu_hex)[12] == 0x08  # TP-DCS after an 11-digit number: UCS2


def test_int_sms_refused_by_the_network_is_a_remark_not_an_sms(rig: Callable[..., Rig]) -> None:
    r = rig(SmsConfig(unreachable_text=GSM7_TEMPLATE))
    r.sims[0].sms.refuse = "+CMS ERROR: 500"
    r.submit(ticket("SMS-3", BUSY))
    ops = r.wait_for_operation("SMS-3", {"remark"})
    assert [o["kind"] for o in ops] == ["remark", "remark", "remark"]
    assert "not sent" in ops[2]["detail"] and "+CMS ERROR: 500" in ops[2]["detail"]
    assert r.received() == []
    assert not [e for e in r.outbox() if e.get("operation") == "sms"]
    assert any("not sent" in e.get("detail", "") for e in r.outbox())


def test_int_sms_off_when_no_template_and_through_another_line_when_this_one_is_down(
    rig: Callable[..., Rig],
) -> None:
    r = rig(SmsConfig(), lines=2)
    r.submit(ticket("SMS-4", BUSY))
    deadline = time.monotonic() + 20
    while (row := r.box.records.ticket("SMS-4")) is None or row.status != "unreachable":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    r.box.scheduler.stop()  # nothing may be mid-call when we look
    assert [o["kind"] for o in r.box.records.operations("SMS-4")] == ["remark", "remark"]
    assert r.received() == []
    # the line that made the attempt is gone: the text goes through the other, ready line
    texts = UnreachableTexts(SmsConfig(unreachable_text="Hi {name}"), lines=r.box.lines)
    down, up = r.box.lines
    down.stop()  # type: ignore[attr-defined]
    result = texts.deliver(down, BUSY, "Hi Ada")
    assert result.sent and result.line == up.name and result.references == (1,)
    assert r.sims[1].sms.texts() == [(BUSY, "Hi Ada")] and r.sims[0].sms.messages == []
    up.stop()  # type: ignore[attr-defined]
    failed = texts.deliver(down, BUSY, "Hi Ada")
    assert not failed.sent and failed.error == "no line was ready"


def test_int_sms_templates_are_checked_where_they_are_written() -> None:
    cfg = parse_config({"sms": {"unreachable_text": "Hi {name}", "submit_timeout_s": 30}})
    assert cfg.sms == SmsConfig(unreachable_text="Hi {name}", submit_timeout_s=30.0)
    with pytest.raises(ConfigError, match=r"sms\.colour"):
        parse_config({"sms": {"colour": "red"}})
    with pytest.raises(ConfigError, match="unreachable_text"):
        UnreachableTexts(SmsConfig(unreachable_text="Hi {first_name}"))
    flow = load_flow(builtin_flow_path("delivery-confirmation.en")).document
    assert parse_flow({**flow, "unreachable_text": "Order {order_id}"}).document["unreachable_text"]
    with pytest.raises(FlowError, match="unreachable_text"):
        parse_flow({**flow, "unreachable_text": "Order {tracking}"})


def test_int_sms_which_template_wins_and_how_it_renders() -> None:
    from appliance.records.ticket import Ticket

    row = Ticket("T-1", "delivery", "Parcel", "", "Ada", "+15550100", "", "shipped", {}, "open", "call", "", None,
                    None)
    texts = UnreachableTexts(SmsConfig(unreachable_text="Hi {name}, order {order_id} from {shop}."), shop_name="Shop")
    assert texts.text_for(row, None) == "Hi Ada, order from Shop."  # an empty field leaves no double space
    assert texts.text_for(row, {"unreachable_text": "Flow says hi {name}"}) == "Flow says hi Ada"
    assert texts.text_for(row, {"unreachable_text": ""}) == ""  # the flow turns texts off
    assert UnreachableTexts(SmsConfig()).text_for(row, {"id": "x"}) == ""  # off by default
