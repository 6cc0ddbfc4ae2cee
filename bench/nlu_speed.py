"""How long one customer turn takes to match against a node's intents (10 intents x 10 examples).

Prints JSON: per-turn mean and 95th percentile in milliseconds for English and Chinese utterances, and
for the first (uncached) call that compiles the intents.

    .venv/bin/python bench/nlu_speed.py [--turns 2000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance.dialog.flow.model import Intent
from appliance.dialog.nlu.intents import IntentMatcher, match_intent

WORDS = (
    "parcel delivery tomorrow morning afternoon evening home work office later again friday monday "
    "payment invoice refund return address courier window door neighbour reception weekend number person"
).split()
ZH_WORDS = "包裹 快递 明天 上午 下午 晚上 在家 上班 公司 晚点 再打 周五 付款 退货 地址 门口 邻居 前台 周末 人工".split()


def intents(words: list[str], sep: str) -> list[Intent]:
    out = []
    for n in range(10):
        examples = tuple(sep.join(words[(n * 3 + k + j) % len(words)] for j in range(3)) for k in range(10))
        out.append(Intent(f"intent{n}", examples, (words[n],)))
    return out


def timed(matcher: IntentMatcher, texts: list[str]) -> list[float]:
    out = []
    for t in texts:
        started = time.perf_counter()
        matcher.match(t)
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=2000)
    args = parser.parse_args()
    en = intents(WORDS, " ")
    zh = intents(ZH_WORDS, "")
    started = time.perf_counter()
    match_intent("warm up", en)
    compile_ms = (time.perf_counter() - started) * 1000
    en_texts = ["yes someone will be home tomorrow morning", "no i won't be home call me later on friday",
                "parcel delivery tomorow", "hmm", "could you send the courier to my office instead please"]
    zh_texts = ["我明天不在家，晚点再打", "包裹放门口就行", "下午在公司", "嗯"]  # fmt: skip
    report = {}
    for name, its, texts in (("en", en, en_texts), ("zh", zh, zh_texts)):
        matcher = IntentMatcher(its)
        times = timed(matcher, (texts * (args.turns // len(texts) + 1))[: args.turns])
        times.sort()
        report[name] = {
            "turns": len(times),
            "mean_ms": round(statistics.fmean(times), 4),
            "p95_ms": round(times[int(0.95 * len(times)) - 1], 4),
            "max_ms": round(times[-1], 4),
        }
    report["compile_10x10_ms"] = round(compile_ms, 3)
    report["intents"] = 10
    report["examples_per_intent"] = 10
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
