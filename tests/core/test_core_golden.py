"""Golden conversations for every example flow, run through the `callbox flow try --json` logic in-process:
the straight path, silence until the fallback, repeated no-match, a barge-in, a knowledge-base question mid-flow,
a slot given in the first answer, DTMF, and each global intent. (The API node's own goldens, including the
timeout against a real local server, are in test_core_golden_api.py.)"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from rehearsed import EXAMPLES, bot, customer, ops, talk

from appliance.dialog.flow.load import parse_flow
from appliance.dialog.flow.model import DISPOSITIONS


@dataclass
class Example:
    file: str
    straight: list[str]
    straight_end: str
    straight_ops: list[str]
    question: str  # the first question's start
    kb: tuple[str, str]  # question, entry id
    first_slot: tuple[str, str, str, str]  # answer, disposition, slot, ISO value
    dtmf: list[str]
    dtmf_end: str
    globals_: dict[str, str] = field(default_factory=dict)  # intent -> what the customer says
    nonsense: tuple[str, str, str] = ("banana", "potato", "cucumber")
    fallback: str = "I am sorry, I could not understand you."


EN_GLOBALS = {"human": "can I speak to a real person please", "wrong_number": "you have the wrong number",
              "call_later": "I'm busy right now", "stop_calling": "stop calling me",
              "repeat": "sorry, can you repeat that"}
EXAMPLES_TABLE = [
    Example("delivery-confirmation.en.json", ["yes, someone will be home"], "confirmed", ["remark", "close"],
            "Hello Ann, this is your delivery service", ("how much is the delivery fee", "delivery_fee"),
            ("not tomorrow, call me Friday at 3", "rescheduled", "next_call", "2026-11-27T15:00+00:00"),
            ["#2", "Monday at 10 in the morning"], "rescheduled", EN_GLOBALS),
    Example("delivery-confirmation.zh.json", ["是的，家里有人"], "confirmed", ["remark", "close"],
            "Ann您好，这里是快递服务", ("运费多少钱", "delivery_fee"),
            ("明天不行，周五下午三点打给我", "rescheduled", "next_call", "2026-11-27T15:00+00:00"),
            ["#2", "明天下午三点"], "rescheduled",
            {"human": "转人工", "wrong_number": "你打错了", "call_later": "我现在很忙", "stop_calling": "别再打了",
             "repeat": "再说一遍"},
            nonsense=("喂", "嗯", "啊"), fallback="抱歉，我没能听懂您的意思。"),
    Example("payment-reminder.en.json", ["yes I will pay", "on Friday"], "confirmed", ["remark", "schedule"],
            "Hello Ann, this is a reminder from the shop: 40 euros", ("how much do I owe", "amount"),
            ("I'm driving, call me back tomorrow at 5", "callback", "callback_time", "2026-11-25T17:00+00:00"),
            ["#2"], "confirmed", EN_GLOBALS),
    Example("satisfaction-survey.en.json", ["yes", "I'd give it a four", "the driver was very friendly"], "confirmed",
            ["remark", "close"], "Hello Ann, thank you for your order A-7", ("who is this", "why"),
            ("not now, call me tomorrow afternoon", "callback", "callback_time", "2026-11-25T15:00+00:00"),
            ["#1", "#5", ""], "confirmed", EN_GLOBALS),
]
IDS = [e.file for e in EXAMPLES_TABLE]
GLOBAL_ENDS = {"human": "handoff", "wrong_number": "wrong_number", "stop_calling": "do_not_call"}


@pytest.mark.parametrize("ex", EXAMPLES_TABLE, ids=IDS)
def test_straight_path(ex: Example) -> None:
    out = talk(ex.file, *ex.straight)
    assert out["finished"] and out["disposition"] == ex.straight_end and ops(out) == ex.straight_ops
    assert bot(out)[0][1].startswith(ex.question)
    assert all(intent is not None for _, intent in customer(out))
    assert out["intent_strength"]["grade"] in ("A", "B") and out["intent_strength"]["reasons"]
    assert all("{" not in o.get("text", "") for o in out["operations"])


@pytest.mark.parametrize("ex", EXAMPLES_TABLE, ids=IDS)
def test_silence_until_the_fallback(ex: Example) -> None:
    out = talk(ex.file, "", "", "", "")
    assert out["disposition"] == "no_response" and "schedule" in ops(out)
    events = [e for e, _ in bot(out)]
    assert events == ["prompt", "no_input", "no_input", "hangup"]
    assert bot(out)[-1][1].startswith(ex.fallback)
    assert [t["event"] for t in out["turns"] if t["speaker"] == "customer"] == ["no_input"] * 3
    assert out["intent_strength"]["grade"] == "D"


@pytest.mark.parametrize("ex", EXAMPLES_TABLE, ids=IDS)
def test_repeated_no_match_until_the_fallback(ex: Example) -> None:
    out = talk(ex.file, *ex.nonsense)
    assert out["disposition"] == "no_response"
    assert [e for e, _ in bot(out)] == ["prompt", "no_match", "no_match", "hangup"]
    assert bot(out)[1][1] != bot(out)[2][1]  # escalating prompts
    assert customer(out) == [(n, None) for n in ex.nonsense]


@pytest.mark.parametrize("ex", EXAMPLES_TABLE, ids=IDS)
def test_barge_in_then_the_straight_path(ex: Example) -> None:
    out = talk(ex.file, "!", *ex.straight)
    assert out["disposition"] == ex.straight_end
    assert [e for e, _ in bot(out)][:3] == ["prompt", "barge_in", "after_barge_in"]


@pytest.mark.parametrize("ex", EXAMPLES_TABLE, ids=IDS)
def test_knowledge_base_question_mid_flow(ex: Example) -> None:
    question, entry = ex.kb
    out = talk(ex.file, question, *ex.straight)
    assert out["disposition"] == ex.straight_end
    assert customer(out)[0] == (question, f"kb:{entry}")
    event, said = bot(out)[1]
    assert event == "kb" and ex.question in said  # the answer, then the node's question again


@pytest.mark.parametrize("ex", EXAMPLES_TABLE, ids=IDS)
def test_slot_given_in_the_first_answer(ex: Example) -> None:
    said, disposition, slot, value = ex.first_slot
    out = talk(ex.file, said)
    assert out["finished"] and out["disposition"] == disposition
    assert out["slots"] == {slot: value}
    schedule = next(o for o in out["operations"] if o["op"] == "schedule")
    assert schedule["at"] == value
    assert [t["event"] for t in out["turns"] if t["speaker"] == "system"] == ["slots_filled"]
    assert any("required slot filled" in r for r in out["intent_strength"]["reasons"])  # counted, though early


@pytest.mark.parametrize("ex", EXAMPLES_TABLE, ids=IDS)
def test_dtmf(ex: Example) -> None:
    out = talk(ex.file, *ex.dtmf)
    assert out["disposition"] == ex.dtmf_end
    assert next(t["event"] for t in out["turns"] if t["speaker"] == "customer") == "dtmf"


@pytest.mark.parametrize("intent", ["human", "wrong_number", "stop_calling"])
@pytest.mark.parametrize("ex", EXAMPLES_TABLE, ids=IDS)
def test_global_intents_that_end_the_call(ex: Example, intent: str) -> None:
    out = talk(ex.file, ex.globals_[intent])
    assert customer(out)[0][1] == intent
    assert out["disposition"] == GLOBAL_ENDS[intent]
    assert ("do_not_call" in ops(out)) == (intent == "stop_calling")


@pytest.mark.parametrize("ex", EXAMPLES_TABLE, ids=IDS)
def test_global_busy_asks_when_to_call_back(ex: Example) -> None:
    out = talk(ex.file, ex.globals_["call_later"], ex.dtmf[-1] if ex.file.endswith("zh.json") else "tomorrow at 4 pm")
    assert out["disposition"] == "callback" and "callback_time" in out["slots"]
    assert [c[1] for c in customer(out)] == ["call_later", "slot:callback_time"]


@pytest.mark.parametrize("ex", EXAMPLES_TABLE, ids=IDS)
def test_global_repeat_says_the_question_again(ex: Example) -> None:
    out = talk(ex.file, ex.globals_["repeat"], *ex.straight)
    assert out["disposition"] == ex.straight_end
    (first, again) = bot(out)[:2]
    assert again == ("repeat", first[1])


@pytest.mark.parametrize("ex", EXAMPLES_TABLE, ids=IDS)
def test_every_disposition_is_a_known_one_and_the_flow_validates(ex: Example) -> None:
    flow = parse_flow(json.loads((EXAMPLES / ex.file).read_text(encoding="utf-8")))
    ends = {n.disposition for n in flow.nodes.values() if n.type == "hangup"}
    assert ends <= set(DISPOSITIONS)
    if ex.file.startswith("delivery-confirmation"):
        assert ends == set(DISPOSITIONS)  # every one of the seven can happen
