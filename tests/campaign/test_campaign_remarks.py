"""The remarks the box writes on tickets in the shop's language (``campaign.remarks``): every kind of remark in
Chinese for a ``zh`` shop, the English ones byte for byte as they always were, and a catalogue that has every
remark the code can write, translated, with the same fields."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from killswitch import TICKET

from appliance.box import Callbox, build_line
from appliance.campaign.attempt import Outcome
from appliance.campaign.calls import CallSummary, SpeechKit
from appliance.campaign.compliance import outside_hours
from appliance.campaign.conclude import AttemptResult, blocked, conclude, held, no_call_after, recover
from appliance.campaign.guards import dial_guard, flow_not_published, missing_variable, no_room
from appliance.campaign.hours import every_day
from appliance.campaign.intake import admit
from appliance.campaign.publish import install_defaults
from appliance.campaign.remarks import ENGLISH, LOCALE_DIR, Phrase, Remarks, phrase, remark_language
from appliance.campaign.texts import UnreachableTexts
from appliance.config import CallingConfig, Config, LineConfig, RetryConfig, ShopConfig, SmsConfig
from appliance.dialog.flow.load import builtin_flow_path, load_flow
from appliance.dialog.runtime.engine import RenderedOperation
from appliance.errors import CallboxError
from appliance.records.conclusion import Turn
from appliance.records.config_store import ConfigStore
from appliance.records.store import InFlight, RecordsStore, TaskRow, iso
from appliance.sim.customer import CustomerScript
from appliance.sim.huawei import SimulatedHuaweiModem

NOW = datetime(2026, 11, 24, 14, 35, tzinfo=UTC)
WHEN = f"{NOW.astimezone():%Y-%m-%d %H:%M}"  # the box writes times on its own clock
RETRY = RetryConfig(busy=300, interrupted=60, failed=600, machine=5400)
ZH = Remarks.for_language("zh-CN")
FIELD = re.compile(r"{(\w+)}")


def task(attempts: int = 1, max_attempts: int = 3) -> TaskRow:
    return TaskRow(7, "T1", "delivery", "running", attempts, max_attempts, iso(NOW))


def answered(outcome: Outcome = Outcome.COMPLETED, *ops: RenderedOperation, **kw: object) -> AttemptResult:
    turns = (Turn("customer", "hello", node="answer"), Turn("bot", "Is anyone home?"),
             Turn("customer", "yes i will be home", "confirm", 0.9, "ask", 5100))
    return AttemptResult(outcome, answered=True, disposition="confirmed", operations=ops, turns=turns, **kw)  # type: ignore[arg-type]


# -- the shop's language -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("tag", "language"), [
    ("zh", "zh"), ("zh-CN", "zh"), ("zh-Hans", "zh"), ("zh_TW", "zh"), ("ZH-hans-CN", "zh"), ("cmn", "zh"),
    ("en", "en"), ("en-GB", "en"), ("fr", "en"), ("", "en"), ("zhx", "en"),
])
def test_the_remark_language_comes_from_the_shop_language_tag(tag: str, language: str) -> None:
    assert remark_language(tag) == language
    assert Remarks.for_language(tag).language == language


# -- the catalogue ---------------------------------------------------------------------------------------------

def catalogue() -> dict[str, str]:
    with (LOCALE_DIR / "zh" / "LC_MESSAGES" / "remarks.po").open("rb") as f:
        return {str(m.id): str(m.string) for m in read_po(f) if m.id}


def test_every_remark_the_code_writes_has_a_chinese_translation_with_the_same_fields() -> None:
    """Extracted afresh from the code as ``make i18n`` does: a new remark left out of the catalogue fails here."""
    in_code = {str(msg) for _, _, msg, _, _ in extract_from_dir(
        str(Path(LOCALE_DIR).parent), method_map=[("campaign/**.py", "python"),
                                                  ("dialog/runtime/greeting.py", "python")],
        keywords={"phrase": None, "N_": None})}
    assert len(in_code) > 40 and "Next try at {at}." in in_code and "no answer" in in_code
    assert "a beep after the greeting" in in_code  # what gave a machine away (appliance/dialog/runtime/greeting.py)
    po = catalogue()
    assert in_code <= set(po), f"not in remarks.po (run make i18n): {sorted(in_code - set(po))}"
    for msgid in in_code:
        translated = ZH.phrase(msgid, **{name: f"<{name}>" for name in FIELD.findall(msgid)})
        assert po[msgid] and translated != msgid.format(**{n: f"<{n}>" for n in FIELD.findall(msgid)}), msgid
        assert sorted(FIELD.findall(po[msgid])) == sorted(FIELD.findall(msgid)), msgid
        assert re.search(r"[\u4e00-\u9fff]|；", translated), (msgid, translated)  # the compiled .mo says it


def test_english_reads_no_catalogue_and_says_the_msgid() -> None:
    assert Remarks.for_language("en-GB") is ENGLISH
    assert ENGLISH.phrase("Next try at {at}.", at="2026-11-24 14:35") == "Next try at 2026-11-24 14:35."
    guard = flow_not_published("gone")
    assert isinstance(guard.remark, Phrase) and guard.remark == "Flow 'gone' is not published; no call made."
    assert ENGLISH.render(guard.remark) == guard.remark and ZH.render("as it is") == "as it is"


# -- English: byte for byte as before -----------------------------------------------------------------------

def test_english_remarks_are_unchanged() -> None:
    busy = conclude(TICKET, task(), AttemptResult(Outcome.BUSY, cause=17), NOW, call_id=3, retry=RETRY)
    at = f"{(NOW + timedelta(seconds=300)).astimezone():%Y-%m-%d %H:%M:%S}"
    assert busy.operations == (("remark", f"Attempt 1 of 3: busy (cause 17). Next try at {at}."),)
    last = conclude(TICKET, task(3, 3), AttemptResult(Outcome.NO_ANSWER), NOW, call_id=4, retry=RETRY)
    assert last.operations[0][1] == "Attempt 3 of 3: no answer. Giving up: customer not reached."
    cut = conclude(TICKET, task(1, 3), AttemptResult(Outcome.INTERRUPTED, detail="port closed"), NOW, call_id=5,
                   retry=RETRY, redials={"interrupted": 1}, ended_alike=1)
    assert cut.operations[0][1] == ("Attempt 1 of 3: interrupted. Redialled 1 time(s) after interrupted, the most "
                                    "this task allows. Giving up: customer not reached. Line fault: port closed.")
    done = conclude(TICKET, task(), answered(Outcome.COMPLETED, RenderedOperation("remark", "Someone is home."),
                                             RenderedOperation("close")), NOW, call_id=3, retry=RETRY,
                    remarks=ENGLISH)
    assert done.operations == (
        ("remark", f"Call 3 on {WHEN}: confirmed. Customer said 'yes i will be home'. Someone is home."),
        ("close", "closed after call 3 (confirmed)"))
    hung = conclude(TICKET, task(), answered(Outcome.HUNG_UP), NOW, call_id=6, retry=RETRY)
    assert hung.operations[0][1].startswith(f"Call 6 on {WHEN}: hung_up. Customer said 'yes i will be home'. "
                                            "Attempt 1 of 3: hung up. Next try at ")
    machine = conclude(TICKET, task(), AttemptResult(Outcome.MACHINE, answered=True, screen_why="a beep",
                                                     screen_ms=4620), NOW, call_id=7, retry=RETRY)
    assert machine.operations[0][1].startswith(f"Call 7 on {WHEN}: an answering machine answered (a beep, 4.6 s "
                                               "after the answer); no message left. Attempt 1 of 3: machine. ")
    invalid = conclude(TICKET, task(), AttemptResult(Outcome.INVALID_NUMBER, answered=True), NOW, call_id=8,
                       retry=RETRY)
    assert invalid.operations[0][1] == (f"Call 8 on {WHEN}: the network says the number is not in service (on "
                                        "answering). Not called again: check the customer's number (+15550001).")
    until = NOW + timedelta(hours=2)
    stop = held(TICKET, task(), no_room(10, 500), until)
    assert stop.operations[0][1] == ("Not called: no room for recordings on the box (10 MB free, 500 MB needed). "
                                     f"Next try at {until.astimezone():%Y-%m-%d %H:%M}.")
    [lost] = recover([InFlight(task(3, 3), TICKET, 9, True)], NOW, retry=RETRY)
    assert lost.operations[0][1] == ("Attempt 3 of 3: interrupted. Giving up: customer not reached. "
                                     "The box stopped during the attempt.")


# -- Chinese: each kind of remark -----------------------------------------------------------------------------

def test_a_conversation_in_chinese_keeps_the_customer_s_words_and_the_flow_s_own_remark() -> None:
    c = conclude(TICKET, task(), answered(Outcome.COMPLETED, RenderedOperation("remark", "Someone is home."),
                                          RenderedOperation("close"), RenderedOperation("do_not_call", "asked"),
                                          strength={"score": 82, "grade": "strong"}),
                 NOW, call_id=3, retry=RETRY, remarks=ZH)
    assert c.operations == (
        ("remark", f"通话 3（{WHEN}）：confirmed。客户说：'yes i will be home'。意向强度 82（strong）。"
                   "Someone is home."),
        ("close", "通话 3 后关闭（confirmed）"),
        ("do_not_call", "+15550001 已加入免打扰名单：asked"),
    )
    assert c.call is not None and c.call.remark == c.operations[0][1] and c.outbox[0][1]["detail"] == c.call.remark


def test_unanswered_and_cut_off_calls_in_chinese() -> None:
    busy = conclude(TICKET, task(), AttemptResult(Outcome.BUSY, cause=17), NOW, call_id=3, retry=RETRY, remarks=ZH)
    at = f"{(NOW + timedelta(seconds=300)).astimezone():%Y-%m-%d %H:%M:%S}"
    assert busy.operations == (("remark", f"第 1 次尝试（共 3 次）：忙线（原因码 17）。下次尝试时间：{at}。"),)
    assert busy.call is not None and busy.call.remark == busy.operations[0][1] and busy.ticket_status == "open"
    cut = conclude(TICKET, task(3, 3), AttemptResult(Outcome.INTERRUPTED, detail="port closed"), NOW, call_id=4,
                   retry=RETRY, remarks=ZH)
    assert cut.operations[0][1] == "第 3 次尝试（共 3 次）：中断。放弃：未能联系到客户。线路故障：port closed。"
    spent = conclude(TICKET, task(2, 5), AttemptResult(Outcome.NO_ANSWER), NOW, call_id=5, retry=RETRY,
                     redials={"no_answer": 1}, ended_alike=1, remarks=ZH)
    assert spent.operations[0][1] == ("第 2 次尝试（共 5 次）：无人接听。因无人接听已重拨 1 次，已达此任务上限。"
                                      "放弃：未能联系到客户。")
    hung = conclude(TICKET, task(), answered(Outcome.HUNG_UP), NOW, call_id=6, retry=RETRY,
                    remarks=ZH)
    assert hung.operations[0][1].startswith(f"通话 6（{WHEN}）：客户挂断。客户说：'yes i will be home'。"
                                            "第 1 次尝试（共 3 次）：客户挂断。")


def test_a_machine_and_a_number_not_in_service_in_chinese() -> None:
    # what gave it away, as the callee's greeting listener says it (a Phrase: said in the shop's language)
    beep = phrase("a beep after the greeting")
    left = AttemptResult(Outcome.MACHINE, answered=True, screen_why=beep, screen_ms=4620, voicemail_left=True,
                         disposition="voicemail_left", turns=(Turn("bot", "Please call us back."),))
    m = conclude(TICKET, task(3, 3), left, NOW, call_id=7, retry=RETRY, remarks=ZH)
    assert m.operations[0][1] == (f"通话 7（{WHEN}）：答录机接听（问候语之后有提示音，接听后 4.6 秒）；"
                                  "已留下流程的留言：“Please call us back.”。"
                                  "第 3 次尝试（共 3 次）：答录机。放弃：未能联系到客户。")
    bad = conclude(TICKET, task(), AttemptResult(Outcome.INVALID_NUMBER, answered=True), NOW, call_id=8,
                   retry=RETRY, remarks=ZH)
    assert conclude(TICKET, task(), left, NOW, call_id=7, retry=RETRY).operations[0][1].startswith(
        f"Call 7 on {WHEN}: an answering machine answered (a beep after the greeting, 4.6 s after the answer)")
    assert bad.operations[0][1] == (f"通话 8（{WHEN}）：网络提示该号码为空号（接听时）。"
                                    "不再拨打：请核对客户的号码（+15550001）。")
    assert bad.ticket_status == "unreachable"


def test_a_ticket_skipped_during_its_call_says_so_in_chinese() -> None:
    from dataclasses import replace
    skipped = replace(TICKET, decision="skip", reason="")
    c = no_call_after(skipped, conclude(TICKET, task(), AttemptResult(Outcome.BUSY), NOW, call_id=3, retry=RETRY,
                                        remarks=ZH), ZH)
    assert c.ticket_status == "skipped" and c.operations[-1] == ("remark", "不再拨打：工单已更新。")


def test_guards_that_block_or_hold_a_ticket_in_chinese() -> None:
    flow = load_flow(builtin_flow_path("delivery-confirmation.en"))
    guard = missing_variable(flow, {"name": "Ann", "shop": "Corner Shop", "order_id": " "})
    assert guard is not None
    c = blocked(TICKET, task(), guard, ZH)
    text = ("未拨打：工单未提供流程 'delivery-confirmation' 需要的 order_id。"
            "请在工单的 vars 中提供，或为流程设置默认值。")
    assert c.operations == (("remark", text),) and c.outbox[0][1]["detail"] == text
    assert blocked(TICKET, task(), flow_not_published("gone"), ZH).operations[0][1] == "流程 'gone' 未发布；未拨打。"
    until = NOW + timedelta(hours=2)
    late = held(TICKET, task(), outside_hours((UTC,), every_day("09:00-20:00")), until, ZH)
    assert late.operations[0][1].startswith("未拨打：客户所在时区（UTC）处于允许呼叫时段（")
    assert late.operations[0][1].endswith(f"之外。下次尝试时间：{until.astimezone():%Y-%m-%d %H:%M}。")
    [lost] = recover([InFlight(task(1, 2), TICKET, 9, True)], NOW, retry=RETRY, remarks=ZH)
    assert lost.operations[0][1].endswith("尝试期间设备停止运行。") and lost.call is not None
    assert lost.call.remark == lost.operations[0][1]


# -- on a real store: a ticket blocked by the do-not-call list, one whose pending call an update cancels ---------

@pytest.fixture
def stores(tmp_path: Path):  # type: ignore[no-untyped-def]
    records = RecordsStore(tmp_path / "r.db")
    configs = ConfigStore(tmp_path / "c.json")
    install_defaults(configs)
    yield records, configs
    records.close()
    configs.close()


def ticket_payload(status: str = "shipped") -> dict[str, object]:
    return {"id": "Z-1", "type": "delivery", "subject": "Parcel", "description": "",
            "customer": {"name": "王芳", "phone": "+15550100001"}, "order": {"id": "7", "status": status}}


def test_a_blocked_and_a_cancelled_ticket_are_stored_with_chinese_remarks(stores) -> None:  # type: ignore[no-untyped-def]
    records, configs = stores
    first = admit(ticket_payload(), webhook_id="d-1", records=records, configs=configs, max_attempts=3, remarks=ZH)
    assert first.decision == "call" and first.task_id is not None
    records.do_not_call.add("+15550100001", "asked by phone")  # after the task was planned: the dial guard stops it
    ticket, row = records.ticket("Z-1"), records.task(first.task_id)
    assert ticket is not None and row is not None
    guard = dial_guard(ticket.customer_phone, row.flow_id, configs=configs, do_not_call=records.do_not_call)
    assert guard is not None and guard.name == "do_not_call"
    records.record_conclusion(blocked(ticket, row, guard, ZH))
    day = datetime.now(UTC).date().isoformat()
    assert [op["detail"] for op in records.operations("Z-1") if op["kind"] == "remark"] == [
        f"未拨打：+15550100001 自 {day} 起在免打扰名单中（asked by phone）。"]
    assert records.ticket("Z-1").status == "skipped"  # type: ignore[union-attr]

    records.do_not_call.remove("+15550100001")
    again = admit(ticket_payload() | {"id": "Z-2"}, webhook_id="d-2", records=records, configs=configs,
                  max_attempts=3, remarks=ZH)
    gone = admit(ticket_payload("delivered") | {"id": "Z-2"}, webhook_id="d-3", records=records, configs=configs,
                 max_attempts=3, remarks=ZH)
    assert again.decision == "call" and gone.change == "cancelled" and gone.cancelled_task == again.task_id
    [remark] = [op["detail"] for op in records.operations("Z-2") if op["kind"] == "remark"]
    assert remark.startswith("待拨电话因工单更新而取消：") and remark.endswith("。") and "'delivered'" in remark


# -- on a real box: [shop] language = "zh-Hans", a busy customer on a simulated modem ---------------------------

def test_a_chinese_shop_s_box_writes_its_call_remarks_in_chinese(tmp_path: Path, pocketsphinx_engine: object) -> None:
    sim = SimulatedHuaweiModem(lambda n: CustomerScript("busy"))
    sim.start()
    config = Config(state_dir=tmp_path / "state", calling=CallingConfig(hours="00:00-00:00"),
                    shop=ShopConfig(language="zh-Hans"))
    kit = SpeechKit(asr=pocketsphinx_engine, tts=None, endpointer=lambda: None)  # type: ignore[arg-type]
    box = Callbox(config, lines=[build_line(LineConfig("sim0", sim.at_port, sim.audio_port))], speech=kit)
    done: list[CallSummary] = []
    ended = threading.Event()
    box.on_call(lambda summary: (done.append(summary), ended.set()))
    try:
        box.start()
        answer = box.admit_ticket({"id": "Z-9", "type": "delivery", "subject": "Parcel", "description": "",
                                   "customer": {"name": "Ann", "phone": "+15550501234"},
                                   "order": {"id": "A-1", "status": "shipped"}}, "m-1")
        assert answer["decision"] == "call", answer
        assert ended.wait(30), "the scheduler never took the task"
        [summary] = done
        assert summary.outcome is Outcome.BUSY and summary.call_id > 0
        [remark] = [op["detail"] for op in box.records.operations("Z-9") if op["kind"] == "remark"]
        assert re.fullmatch(r"第 1 次尝试（共 3 次）：忙线（原因码 17）。"
                            r"下次尝试时间：\d{4}-\d\d-\d\d \d\d:\d\d:\d\d。", remark), remark
        [call] = box.records.calls(ticket_id="Z-9")
        assert call["remark"] == remark
    finally:
        box.stop()
        sim.stop()


@dataclass
class ReadyLine:
    """A line that says it is ready; the text is handed to ``UnreachableTexts``' own ``send`` seam, which fails."""

    name: str = "sim0"
    ready: bool = True


def test_a_text_not_sent_leaves_a_chinese_remark(stores) -> None:  # type: ignore[no-untyped-def]
    records, configs = stores
    admit(ticket_payload() | {"id": "Z-3"}, webhook_id="d-1", records=records, configs=configs, max_attempts=3)

    def refuse(line: object, number: str, text: str) -> list[int]:
        raise CallboxError("+CMS ERROR: 500")

    texts = UnreachableTexts(SmsConfig(unreachable_text="Sorry we missed you, {name}"), send=refuse)
    ticket = records.ticket("Z-3")
    assert ticket is not None
    result = texts.after_unreachable(records, ticket=ticket, call_id=0, line=ReadyLine(),  # type: ignore[arg-type]
                                     flow_document=None, remarks=ZH)
    assert result is not None and not result.sent
    [remark] = [op["detail"] for op in records.operations("Z-3") if op["kind"] == "remark"]
    assert remark == "发给 +15550100001 的短信未发送：sim0: +CMS ERROR: 500。"


def test_an_update_s_own_reasons_are_said_in_chinese_and_the_api_reason_stays_english(stores) -> None:  # type: ignore[no-untyped-def]
    records, configs = stores
    vars_open = {"vars": {"helpdesk": "zendesk", "helpdesk_status": "open"}}
    vars_solved = {"vars": {"helpdesk": "zendesk", "helpdesk_status": "solved"}}
    first = admit(ticket_payload() | {"id": "Z-4"} | vars_open, webhook_id="d-1", records=records,
                  configs=configs, max_attempts=3, remarks=ZH)
    solved = admit(ticket_payload() | {"id": "Z-4"} | vars_solved, webhook_id="d-2", records=records,
                   configs=configs, max_attempts=3, remarks=ZH)
    assert first.decision == "call" and solved.change == "cancelled"
    assert "the helpdesk has it solved" in solved.reason  # the webhook's answer and the ticket's reason
    [remark] = [op["detail"] for op in records.operations("Z-4") if op["kind"] == "remark"]
    assert remark == "待拨电话因工单更新而取消：工单系统中该工单状态为 solved。"
    english = admit(ticket_payload() | {"id": "Z-5"} | vars_open, webhook_id="d-3", records=records,
                    configs=configs, max_attempts=3)
    admit(ticket_payload() | {"id": "Z-5"} | vars_solved, webhook_id="d-4", records=records, configs=configs,
          max_attempts=3)
    assert english.decision == "call"
    assert [op["detail"] for op in records.operations("Z-5") if op["kind"] == "remark"] == [
        "Pending call cancelled by an update: the helpdesk has it solved."]


def test_a_phrase_survives_a_copy_and_a_pickle_with_its_msgid() -> None:
    """`callbox call` copies the attempt (dataclasses.asdict): a reason copied must still say itself in Chinese."""
    import copy
    import pickle

    why = phrase("a greeting of {seconds} s without a pause", seconds=3.2)
    for again in (copy.deepcopy(why), pickle.loads(pickle.dumps(why))):
        assert isinstance(again, Phrase) and again == "a greeting of 3.2 s without a pause"
        assert ZH.render(again) == "问候语持续 3.2 秒没有停顿"
