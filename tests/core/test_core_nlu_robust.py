"""Whatever the recogniser writes, understanding never raises: seeded random word salad through the NLU,
every slot type and the date/time resolver (a crash here would end a live call)."""

from __future__ import annotations

import random
from datetime import datetime

from appliance.dialog.flow.model import Intent
from appliance.dialog.nlu.intents import match_intent
from appliance.dialog.nlu.slots import SlotSpec, extract_slots

WORDS = (
    "yes no not never nobody tomorrow today friday monday at in the 3 12 31 0 99 00:00 24:61 13:99 half past "
    "quarter to hours minutes days week next this morning afternoon noon midnight am pm 明天 下午 三点 十 百 万 "
    "周五 下周 号 月 31号 13月 两个小时后 半 一刻 点 不 没 别 但是 but , . ! ? - + plus oh double triple 一三九 ０ ９ "
    "ｙｅｓ 😀 \u200b é ß 안 않 못 ない the 32nd 0th february 30 29 of dec 2026-02-30 9999-99-99 0001-01-01 in 0 hours "
    "in 99999999 days in 99999999999 hours 99月99号 0点 25点 24点 99:99 a dozen hundred thousand million"
).split()
INTENTS = [
    Intent("confirm", ("yes", "i will be home", "是的", "好的"), ("yes", "home", "好")),
    Intent("not_home", ("not home", "不在家", "nobody will be home"), ("nobody", "不在")),
    Intent("later", ("call me later", "晚点再打", "in two hours"), ("later",)),
]
SPECS = [
    SlotSpec("colour", "enum", values={"red": ["红", "crimson"], "blue": []}),
    SlotSpec("n", "number"),
    SlotSpec("when", "datetime"),
    SlotSpec("day", "date"),
    SlotSpec("at", "time"),
    SlotSpec("phone", "phone", region="CN"),
    SlotSpec("order", "regex", pattern=r"(?P<order>\d+)"),
    SlotSpec("note", "text"),
]


def test_word_salad_never_raises() -> None:
    rnd = random.Random(11)
    matched = filled = 0
    for _ in range(2500):
        glue = " " if rnd.random() < 0.6 else ""
        text = glue.join(rnd.choice(WORDS) for _ in range(rnd.randrange(0, 9)))
        m = match_intent(text, INTENTS, asr_confidence=rnd.random())
        assert 0.0 <= m.confidence <= 1.0 and all(0.0 <= c.score <= 1.0 for c in m.candidates)
        matched += m.intent is not None
        now = datetime(2026, rnd.randrange(1, 13), rnd.randrange(1, 29), rnd.randrange(24), rnd.randrange(60))
        found = extract_slots(SPECS, text, now=now, tz="Asia/Shanghai")
        filled += "when" in found
        for value in found.values():
            assert 0.0 < value.confidence <= 1.0
    assert matched > 100 and filled > 100  # the salad does hit things, so the checks above ran on real values
