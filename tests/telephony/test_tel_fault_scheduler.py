"""A faulted line gets no work, and gets work again once it recovers; the service starts
lines whose modem is absent at boot (a power cut, a modem slow to enumerate)."""

from __future__ import annotations

import re
import threading
import time

import pytest
from tel_helpers import FAST, FAST_MODEM, no_thread_left, wait_state, wait_until

from appliance.box import Callbox
from appliance.campaign.attempt import Outcome
from appliance.campaign.calls import CallSummary, SpeechKit
from appliance.campaign.scheduler import Scheduler
from appliance.campaign.tickets import parse_ticket
from appliance.config import CallingConfig, Config, LineConfig
from appliance.records.conclusion import Conclusion, TaskEnd
from appliance.records.store import RecordsStore, TaskRow
from appliance.sim.customer import CustomerScript
from appliance.sim.faults import PluggableModem, SimFaults
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.telephony.line import Line, LineState
from appliance.telephony.modem import Modem
from appliance.telephony.profile import load_profile
from appliance.telephony.supervisor import Supervision, supervise

pytestmark = pytest.mark.slow  # faults, unplugs and recoveries take seconds each


class DialOnlyRunner:
    """Places the call and finishes the task; no conversation (that is the campaign's test)."""

    def __init__(self, records: RecordsStore) -> None:
        self.records = records
        self.calls: list[tuple[str, str, str]] = []
        self.done = threading.Event()

    def run(self, task: TaskRow, line: Line) -> CallSummary:
        ticket = self.records.ticket(task.ticket_id)
        assert ticket is not None
        result, call = line.place_call(ticket.customer_phone, ring_timeout=2)
        if call is not None:
            call.hangup()
        self.calls.append((line.name, line.state.value, result.outcome.value))
        self.records.record_conclusion(Conclusion(TaskEnd(task.id, "completed", result.outcome.value), ticket.id))
        self.done.set()
        return CallSummary(0, ticket.id, Outcome(result.outcome.value), None, "open")


def submit(records: RecordsStore, ticket_id: str, phone: str) -> None:
    ticket = parse_ticket(
        {
            "id": ticket_id,
            "type": "delivery",
            "subject": "Parcel",
            "description": "out for delivery",
            "customer": {"name": "Ann", "phone": phone},
            "order": {"id": "1", "status": "shipped"},
        }
    )
    records.submit_ticket(
        ticket,
        webhook_id=f"msg-{ticket_id}",
        decision="call",
        reason="test",
        flow_id="delivery-confirmation.en",
        max_attempts=1,
    )


def test_tel_fault_scheduler_skips_a_faulted_line_and_uses_it_again(tmp_path):
    with no_thread_left():
        sim = SimulatedHuaweiModem(lambda n: CustomerScript("busy"), ring_ms=100, faults=SimFaults())
        sim.start()
        plug = PluggableModem(sim)
        modem = Modem(load_profile("huawei-e1550"), plug.at_port, plug.audio_port, timeouts=FAST_MODEM)
        line = Line("s1", modem, supervision=FAST)
        records = RecordsStore(tmp_path / "r.db")
        runner = DialOnlyRunner(records)
        scheduler = Scheduler(
            records=records,
            runner=runner,  # type: ignore[arg-type]
            lines=[line],
            idle_poll_s=0.05,
        )
        try:
            plug.unplug()
            supervisor = supervise(line)
            assert line.state is LineState.FAULTED
            scheduler.start()
            submit(records, "T-1", "+15550001")
            scheduler.wake()
            wait_until(lambda: supervisor.reopen_failures >= 2, 3.0, "two reopens against the missing modem")
            assert not runner.calls  # the task waits: the only line is faulted
            assert records.next_due_at() is not None
            plug.replug()
            assert wait_state(line, LineState.READY, 15.0) < 2.0
            assert runner.done.wait(5.0)
            assert runner.calls == [("s1", "ready", "busy")]
        finally:
            scheduler.stop(timeout=3)
            supervisor.stop()  # and the line
            records.close()
            sim.stop()
            plug.close()


def test_tel_fault_service_starts_lines_whose_modem_is_absent_at_boot(tmp_path, pocketsphinx_engine):
    with no_thread_left():
        sim = SimulatedHuaweiModem(lambda n: CustomerScript("busy"), faults=SimFaults())
        sim.start()
        plug = PluggableModem(sim)
        plug.unplug()  # the box boots before the modem enumerates
        config = Config(
            state_dir=tmp_path / "state",
            calling=CallingConfig(hours="00:00-00:00"),
            lines=(LineConfig("boot0", plug.at_port, plug.audio_port, reopen_s=0.3, idle_ping_s=1.0),),
        )
        kit = SpeechKit(asr=pocketsphinx_engine, tts=None, endpointer=lambda: None)  # type: ignore[arg-type]
        box = Callbox(config, speech=kit)
        try:
            started = time.monotonic()
            box.start()
            assert time.monotonic() - started < 2.0  # boot is not held up by the absent modem
            line = box.lines[0]
            assert isinstance(line, Line) and line.state is LineState.FAULTED
            (shown,) = box.panel.status()["lines"]  # the panel's status strip says why (a tooltip on the chip)
            assert shown["state"] == "faulted" and "cannot open AT port" in shown["fault"]
            assert line.supervision.reopen_s == 0.3 and line.supervision.power_cycle == ()
            assert [s.line for s in box.supervisors] == [line]  # the box started it supervised
            wait_until(lambda: box.supervisors[0].reopen_failures >= 1, 3.0, "a reopen while absent")
            plug.replug()
            assert wait_state(line, LineState.READY, 15.0) < 2.0
            assert box.panel.status()["lines"] == [{"name": "boot0", "state": "ready"}]
        finally:
            box.stop()
            sim.stop()
            plug.close()


def test_tel_fault_power_cycle_from_config_is_split_like_a_shell(tmp_path):
    config = Config(
        state_dir=tmp_path / "state",
        lines=(LineConfig("p0", "/dev/null-at", "/dev/null-audio", power_cycle="uhubctl -l 1-1 -p 2 -a cycle"),),
    )
    kit = SpeechKit(asr=None, tts=None, endpointer=lambda: None)  # type: ignore[arg-type]
    box = Callbox(config, speech=kit)
    try:
        line = box.lines[0]
        assert isinstance(line, Line)
        assert line.supervision.power_cycle == ("uhubctl", "-l", "1-1", "-p", "2", "-a", "cycle")
        assert isinstance(line.supervision, Supervision)
    finally:
        box.stop()


def test_tel_fault_call_interrupted_by_unplug_is_recorded_and_retried_on_the_recovered_line(
    tmp_path, piper_tts, pocketsphinx_engine
):
    from appliance.config import RetryConfig, VuiConfig
    from appliance.speech.vad import Endpointer

    scripts = iter([CustomerScript("silent", max_call_s=30), CustomerScript("busy")])
    with no_thread_left(grace=5.0):
        sim = SimulatedHuaweiModem(lambda n: next(scripts), ring_ms=150, faults=SimFaults())
        sim.start()
        plug = PluggableModem(sim)
        line = Line("u1", Modem(load_profile("huawei-e1550"), plug.at_port, plug.audio_port, timeouts=FAST_MODEM),
                    supervision=FAST)
        config = Config(
            state_dir=tmp_path / "state",
            calling=CallingConfig(hours="00:00-00:00", ring_timeout_s=3, max_attempts=2,
                                  retry_s=RetryConfig(interrupted=1)),
            vui=VuiConfig(silence_timeout_ms=8000),
        )  # fmt: skip
        kit = SpeechKit(asr=pocketsphinx_engine, tts=piper_tts, endpointer=lambda: Endpointer(silence_timeout_ms=8000))
        box = Callbox(config, lines=[line], speech=kit)
        box.scheduler.idle_poll_s = 0.05
        try:
            box.start()
            assert line.state is LineState.READY
            box.panel.submit_ticket(
                {"id": "U-1", "type": "delivery", "subject": "Parcel", "description": "out for delivery",
                 "customer": {"name": "Ann", "phone": "+15550300001"}, "order": {"id": "7", "status": "shipped"}},
                webhook_id="msg-U-1",
            )  # fmt: skip
            wait_until(lambda: sim.calls and sim.calls[0].connected_at, 10.0, "the call connected")
            time.sleep(0.5)  # into the conversation
            plug.unplug()  # mid-conversation
            time.sleep(0.5)
            plug.replug()

            def both_calls_recorded() -> bool:
                rows = box.records.calls(ticket_id="U-1")
                return len(rows) == 2 and all(r["outcome"] for r in rows)

            wait_until(both_calls_recorded, 20.0, "the interrupted call and its retry recorded")
            calls = sorted(box.records.calls(ticket_id="U-1"), key=lambda c: c["id"])
            assert calls[0]["outcome"] == "interrupted"
            assert re.search(r"Line fault: (AT|voice) port \S+ failed", calls[0]["remark"]), calls[0]["remark"]
            assert calls[1]["outcome"] == "busy" and calls[1]["line"] == "u1"  # the recovered line got the retry
        finally:
            box.stop()
            sim.stop()
            plug.close()
