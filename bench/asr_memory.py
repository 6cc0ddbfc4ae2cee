"""Memory per extra line of the recogniser as the box configures it: the box's process and its ASR worker
processes together, with 1, 4 and 8 turns heard at once.

    .venv/bin/python bench/asr_memory.py --json                       # the default [speech] settings
    .venv/bin/python bench/asr_memory.py --json --grammar-decoders 8  # one grammar decoder per line (no cap)

Each configuration runs in a fresh child process (memory a configuration freed would otherwise blur the
next): it builds the recogniser with ``appliance.speech.build.build_recogniser`` from ``[speech]`` settings
(default: hybrid, ``asr_workers`` 2, ``whisper_decodes`` 2, ``grammar_decoders`` 2), then for N = 1, 4, 8
opens N turns at once on a closed question (the node's phrases as the grammar: the turns that use grammar
decoders), feeds each the longest English fixture answer, and finishes them all together on N threads, as N
lines would. Memory is the sum over the process and its children (the ASR workers) of the proportional set
size (``Pss`` in ``/proc/<pid>/smaps_rollup``: shared pages counted once in all) and of the resident set
(``Rss``), sampled every 20 ms from opening to the last result; the peak is reported. "Per extra line" is
(8 turns - 1 turn) / 7.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from proctools import children, memory_mb, pcm, peak_while  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "asr" / "en"
GRAMMAR = ("yes", "no", "call me later", "not a good time", "what is this about", "i'm not home", "next week")
TURNS = (1, 4, 8)


def turns_at_once(engine: Any, audio: bytes, n: int) -> tuple[float, float]:
    def run() -> None:
        sessions = [engine.open_session(list(GRAMMAR)) for _ in range(n)]
        for session in sessions:
            for i in range(0, len(audio) - len(audio) % 320, 320):
                session.accept(audio[i : i + 320])
        threads = [threading.Thread(target=s.finish, name=f"turn-{i}") for i, s in enumerate(sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)

    return peak_while(run)


def one_configuration(speech: dict[str, Any]) -> dict[str, Any]:
    from appliance.config import StatePaths, parse_config
    from appliance.speech.build import build_recogniser

    config = parse_config({"speech": speech})
    audio = max((pcm(f) for f in sorted(FIXTURES.glob("*.wav"))), key=len)
    with tempfile.TemporaryDirectory(prefix="asr-memory-") as state:
        before = memory_mb(os.getpid())
        engine = build_recogniser(config.speech, StatePaths(Path(state)))
        try:
            loaded = memory_mb(os.getpid())
            turns_at_once(engine, audio, 2)  # warm up: first decodes allocate their working memory
            peaks = {n: turns_at_once(engine, audio, n) for n in TURNS}
            busy = dict(getattr(engine, "decisions", {}))
            workers = len(children(os.getpid()))
        finally:
            engine.close()
    sc = config.speech
    one, eight = peaks[1], peaks[8]
    return {
        "recogniser": getattr(engine, "describe", lambda: engine.name)(),
        "settings": {"recogniser": sc.recogniser, "asr_workers": sc.asr_workers,
                     "whisper_decodes": sc.whisper_decodes, "grammar_decoders": sc.grammar_decoders},
        "worker_processes": workers,
        "pss_mb_before": round(before[0], 1), "pss_mb_loaded": round(loaded[0], 1),
        "pss_mb": {str(n): round(p[0], 1) for n, p in peaks.items()},
        "rss_mb": {str(n): round(p[1], 1) for n, p in peaks.items()},
        "pss_mb_per_extra_line": round((eight[0] - one[0]) / 7, 1),
        "rss_mb_per_extra_line": round((eight[1] - one[1]) / 7, 1),
        "decisions": busy,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recogniser", default="hybrid", help="[speech] recogniser")
    parser.add_argument("--asr-workers", type=int, default=None, help="[speech] asr_workers (default: config's)")
    parser.add_argument("--grammar-decoders", type=int, default=None,
                        help="[speech] grammar_decoders (default: config's)")
    parser.add_argument("--whisper-decodes", type=int, default=None, help="[speech] whisper_decodes")
    parser.add_argument("--one", default="", help=argparse.SUPPRESS)  # internal: one configuration, as JSON
    parser.add_argument("--json", action="store_true", help="print JSON")
    opts = parser.parse_args(argv)
    if opts.one:
        print(json.dumps(one_configuration(json.loads(opts.one))))
        return 0
    speech: dict[str, Any] = {"recogniser": opts.recogniser}
    for key in ("asr_workers", "grammar_decoders", "whisper_decodes"):
        if getattr(opts, key) is not None:
            speech[key] = getattr(opts, key)
    done = subprocess.run([sys.executable, __file__, "--one", json.dumps(speech)], capture_output=True,
                          text=True, check=False, env={**os.environ, "PYTHONPATH": str(REPO)})
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return done.returncode
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["cpus"] = os.cpu_count()
    if opts.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
