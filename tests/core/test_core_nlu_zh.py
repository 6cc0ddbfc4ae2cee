"""The intent matcher on Chinese as Whisper writes it: no spaces, Traditional characters, full-width and
Chinese punctuation; the flow is tests/fixtures/asr/flow.zh.json (Simplified)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from appliance.dialog.flow.load import load_flow
from appliance.dialog.nlu.hanzi import TRADITIONAL, to_simplified
from appliance.dialog.nlu.intents import match_intent
from appliance.dialog.nlu.textnorm import normalise_text

FLOW = Path(__file__).resolve().parents[1] / "fixtures" / "asr" / "flow.zh.json"


def intents() -> list[Any]:
    flow = load_flow(FLOW)
    return [flow.intents[b.intent] for b in flow.nodes[flow.start].branches]


@pytest.mark.parametrize(("heard", "intent"), [
    ("是的", "confirm"),
    ("是的 没问题", "confirm"),  # Whisper's words joined by a space
    ("是的沒問題", "confirm"),  # Traditional, as Whisper writes without a prompt
    ("對，解決了！", "confirm"),  # Traditional with Chinese punctuation
    ("没有", "deny"),
    ("還沒解決。", "deny"),
    ("我現在很忙，晚點再打", "call_later"),
    ("轉人工客服", "person"),
    ("別再打了", "stop"),
    ("不要再給我打電話了", "stop"),
    ("你打錯了", "wrong_number"),
    ("我不是这个人", "wrong_number"),  # 不是 alone would say no; the person is the point
    ("ＯＫ，是的", "confirm"),  # full-width Latin letters
])
def test_chinese_as_whisper_writes_it(heard: str, intent: str) -> None:
    assert match_intent(heard, intents()).intent == intent


def test_noise_words_decide_nothing() -> None:
    assert match_intent("4 4 4 4", intents()).intent is None
    assert match_intent("", intents()).intent is None


def test_traditional_folds_to_simplified_one_character_at_a_time() -> None:
    assert to_simplified("別再給我打電話了，號碼錯了") == "别再给我打电话了，号码错了"
    assert to_simplified("hello 是的") == "hello 是的"  # Simplified and Latin text untouched
    assert all(len(t) == 1 and len(s) == 1 and t != s for t, s in TRADITIONAL.items())
    assert normalise_text("對！ＯＫ") == "对!okay"  # NFKC, then the English folds
