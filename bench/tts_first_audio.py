"""How soon a prompt starts playing: piper's first audio for a templated prompt, streamed vs rendered whole,
with one call and with several starting the same prompt together.

    .venv/bin/python bench/tts_first_audio.py [--rate 8000] [--runs 7] [--calls 8] [--json]

A templated prompt ("... your order {order_id} ...") cannot be cached, so the
first sentence is synthesised at call time; ``PiperTts.stream`` yields it
before the rest is rendered. Order numbers change every run so nothing comes
from the cache. Prints medians (one call) and p50/p95 (calls together) in ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from appliance.speech.tts.piper import PiperTts, default_voice
from appliance.speech.tts.prompts import prerender

TEMPLATE = ("Hello {name}, this is the corner shop calling about your order {order_id}. "
            "It will be delivered tomorrow between nine and noon. Will someone be home to receive it?")


def first_chunk_s(tts: PiperTts, text: str) -> float:
    started = time.perf_counter()
    stream = tts.stream(text)
    next(stream)
    took = time.perf_counter() - started
    stream.close()
    return took


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=8000, help="line rate: 8000 or 16000")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--calls", type=int, default=8, help="calls starting the same prompt together")
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()
    model, config = default_voice()
    tts = PiperTts(model, config, line_rate=opts.rate, cache_dir=Path(tempfile.mkdtemp(prefix="bench-tts-")))
    tts.render("Warm up, this is a warm up.")
    whole, streamed, audio_s = [], [], []
    for i in range(opts.runs):
        text = TEMPLATE.format(name="Ann", order_id=48213 + i)
        started = time.perf_counter()
        pcm = tts.render(text)
        whole.append(time.perf_counter() - started)
        audio_s.append(len(pcm) / 2 / opts.rate)
        streamed.append(first_chunk_s(tts, TEMPLATE.format(name="Bo", order_id=58213 + i)))
    prerender(tts, [TEMPLATE])  # a static prompt's sentences are cached; the templated first one is not

    together: list[float] = []
    for run in range(max(1, opts.runs // 2)):
        barrier = threading.Barrier(opts.calls)
        lock = threading.Lock()

        def call(i: int, run: int = run, barrier: threading.Barrier = barrier, lock: threading.Lock = lock) -> None:
            barrier.wait()
            took = first_chunk_s(tts, TEMPLATE.format(name="Cy", order_id=70000 + 97 * i + run))
            with lock:
                together.append(took)

        threads = [threading.Thread(target=call, args=(i,), name=f"bench-call-{i}") for i in range(opts.calls)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def ms(x: float) -> int:
        return round(x * 1000)

    report: dict[str, Any] = {
        "rate": opts.rate,
        "prompt_audio_s": round(statistics.median(audio_s), 2),
        "render_whole_ms": ms(statistics.median(whole)),
        "stream_first_audio_ms": ms(statistics.median(streamed)),
        "calls_together": opts.calls,
        "together_first_audio_p50_ms": ms(percentile(together, 0.5)),
        "together_first_audio_p95_ms": ms(percentile(together, 0.95)),
        "synthesis_rtf": round(statistics.median(whole) / statistics.median(audio_s), 3),
    }
    if opts.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:32} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
