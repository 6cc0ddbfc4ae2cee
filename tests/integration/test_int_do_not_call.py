""""Stop calling me": the number goes on the do-not-call list and no rule phones it again."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from appliance.box import Callbox
from appliance.campaign.attempt import Outcome
from appliance.campaign.calls import SpeechKit
from appliance.campaign.conclude import AttemptResult, conclude
from appliance.config import Config, RetryConfig, ShopConfig
from appliance.dialog.runtime.engine import RenderedOperation
from appliance.speech.vad import Endpointer
from appliance.telephony.ports import LinePort

PHONE = "+15550199"


def ticket(tid: str, phone: str = PHONE) -> dict[str, Any]:
    return {"id": tid, "type": "delivery", "subject": "Parcel on its way", "description": "Order shipped today.",
            "customer": {"name": "Ada Lovelace", "phone": phone}, "order": {"id": "A-7731", "status": "shipped"}}


def test_do_not_call_stops_every_later_call(tmp_path: Path, piper_tts: Any, pocketsphinx_engine: Any) -> None:
    kit = SpeechKit(asr=pocketsphinx_engine, tts=piper_tts, endpointer=lambda: Endpointer())
    box = Callbox(Config(state_dir=tmp_path), lines=[], speech=kit)
    records, runner = box.records, box.runner
    try:
        assert box.panel.submit_ticket(ticket("DNC-1"), webhook_id="m1")["decision"] == "call"
        assert box.panel.submit_ticket(ticket("DNC-2"), webhook_id="m2")["decision"] == "call"  # planned already
        task = records.claim_due_task(datetime.now(UTC))
        assert task is not None and task.ticket_id == "DNC-1"
        row = records.ticket("DNC-1")
        assert row is not None
        call_id = records.start_call(task=task, phone=PHONE, line="line1", flow_version=1)
        ops = (RenderedOperation("remark", "Customer asked not to be called again."),
               RenderedOperation("schedule", delay_minutes=60),  # a flow's mistake: must not win
               RenderedOperation("do_not_call", "the customer asked not to be called again"))
        result = AttemptResult(Outcome.COMPLETED, answered=True, disposition="do_not_call", operations=ops)
        conclusion = conclude(row, task, result, datetime.now(UTC), call_id=call_id, retry=RetryConfig())
        records.record_conclusion(conclusion)
        entry = box.records.do_not_call.entry(PHONE)
        assert entry is not None and entry.call_id == call_id and entry.ticket_id == "DNC-1"
        assert conclusion.ticket_status != "scheduled" and conclusion.next_task is None
        kinds = [op["kind"] for op in records.operations("DNC-1")]
        assert "do_not_call" in kinds and "schedule" not in kinds

        # The task planned before the request is not dialled: it ends before any line is touched.
        planned = records.claim_due_task(datetime.now(UTC))
        assert planned is not None and planned.ticket_id == "DNC-2"
        skipped = runner.run(planned, cast(LinePort, None))
        assert skipped.outcome is Outcome.BLOCKED and skipped.guard == "do_not_call" and skipped.call_id == 0
        later = records.ticket("DNC-2")
        assert later is not None and later.status == "skipped"
        assert any("do-not-call list" in op["detail"] for op in records.operations("DNC-2"))
        assert records.claim_due_task(datetime.now(UTC)) is None  # nothing else to dial

        # A new ticket for the number is stored, but not called, and says why.
        new = box.panel.submit_ticket(ticket("DNC-3"), webhook_id="m3")
        assert new["decision"] == "skip" and "do-not-call list" in new["reason"]
        other = box.panel.submit_ticket(ticket("DNC-4", "+15550100"), webhook_id="m4")
        assert other["decision"] == "call"  # others are

        # Only an admin takes it off; then the number is called again.
        assert box.records.do_not_call.remove(PHONE) and not box.records.do_not_call.remove(PHONE)
        assert box.panel.submit_ticket(ticket("DNC-5"), webhook_id="m5")["decision"] == "call"
    finally:
        box.stop()


def test_a_shop_in_france_reads_national_numbers_as_one_customer(tmp_path: Path, piper_tts: Any,
                                                                 pocketsphinx_engine: Any) -> None:
    """[shop] country = "FR": a ticket typed 06 12 34 56 78 is +33612345678, and the do-not-call entry made in
    international form stops it."""
    kit = SpeechKit(asr=pocketsphinx_engine, tts=piper_tts, endpointer=lambda: Endpointer())
    box = Callbox(Config(state_dir=tmp_path, shop=ShopConfig(name="Boutique", country="fr")), lines=[], speech=kit)
    try:
        box.records.do_not_call.add("+33 6 12 34 56 78", "asked on the phone")
        answer = box.panel.submit_ticket(ticket("FR-1", "06 12 34 56 78"), webhook_id="fr1")
        stored = box.records.ticket("FR-1")
        assert stored is not None and stored.customer_phone == "+33612345678"
        assert answer["decision"] == "skip" and "do-not-call list" in answer["reason"]
    finally:
        box.stop()
