"""What recognition costs: CPU seconds per utterance of Whisper tiny.en and of PocketSphinx (grammar), and the
memory of one shared Whisper model with 1 and with 8 turns decoding at once (in this process; the recogniser as the
box builds it, ASR worker processes included, is ``bench/asr_memory.py``).

    .venv/bin/python bench/asr_cost.py --json            # all 32 English fixture answers
    .venv/bin/python bench/asr_cost.py --quick --json    # 8 of them

CPU: each utterance of tests/fixtures/asr/en is fed to a session in 20 ms frames (with a small grammar, which
Whisper takes as its prompt) and finished, one at a time; the process's CPU time over all of them, divided by
their number (CTranslate2 decodes on threads of its own, so thread time would miss it).
Memory: the process's resident set (``Rss`` of
``/proc/self/smaps_rollup``, sampled every 20 ms while the turns decode: ``proctools.peak_while``) before
loading, with the model loaded, with 1 turn and with 8 turns at once (each turn a session holding its audio,
all finished together); "per extra line" is (8 turns - 1 turn) / 7. PocketSphinx is measured the same way
in this process (each concurrent turn needs a decoder of its own).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from proctools import feed, memory_mb, pcm, peak_while  # noqa: E402

from appliance.speech.asr.base import AsrEngine  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "asr" / "en"
GRAMMAR = ("yes", "no", "call me later", "not a good time", "what is this about", "i'm not home", "next week")


def turns_at_once(engine: AsrEngine, audio: bytes, n: int) -> float:
    sessions = []
    for _ in range(n):
        session = engine.open_session()
        feed(session, audio)
        sessions.append(session)

    def finish_all() -> None:
        threads = [threading.Thread(target=s.finish, name=f"turn-{i}") for i, s in enumerate(sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)

    return peak_while(finish_all)[1]


def cpu_per_utterance(engine: AsrEngine, audios: Sequence[bytes], grammar: Sequence[str] | None) -> float:
    """Process CPU seconds per utterance, one turn at a time (CTranslate2 decodes on threads of its own)."""
    started = time.process_time()
    for audio in audios:
        session = engine.open_session(grammar)
        feed(session, audio)
        session.finish()
    return (time.process_time() - started) / len(audios)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 utterances instead of all")
    parser.add_argument("--workers", type=int, default=2, help="Whisper decodes at once ([speech] whisper_decodes)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    opts = parser.parse_args(argv)
    files = sorted(FIXTURES.glob("*.wav"))
    if opts.quick:
        files = files[:: max(1, len(files) // 8)][:8]
    audios = [pcm(f) for f in files]
    longest = max(audios, key=len)

    from appliance.speech.asr.sphinx import PocketSphinxEngine
    from appliance.speech.asr.whisper import WhisperEngine

    report: dict[str, Any] = {"utterances": len(audios),
                              "seconds_of_audio": round(sum(len(a) for a in audios) / 16000, 1),
                              "cpus": os.cpu_count()}
    start = memory_mb(os.getpid())[1]
    whisper = WhisperEngine("en", workers=opts.workers)
    loaded = memory_mb(os.getpid())[1]
    cpu_whisper = cpu_per_utterance(whisper, audios, GRAMMAR)
    one = turns_at_once(whisper, longest, 1)
    eight = turns_at_once(whisper, longest, 8)
    report["whisper"] = {"workers": opts.workers, "cpu_s_per_utterance": round(cpu_whisper, 3),
                         "rss_mb_before": round(start, 1), "rss_mb_loaded": round(loaded, 1),
                         "rss_mb_1_turn": round(one, 1), "rss_mb_8_turns": round(eight, 1),
                         "mb_per_extra_line": round((eight - one) / 7, 1), "peak_decodes": whisper.queue.peak}
    whisper.close()
    sphinx = PocketSphinxEngine("en")
    before = memory_mb(os.getpid())[1]
    cpu_sphinx = cpu_per_utterance(sphinx, audios, GRAMMAR)
    one = turns_at_once(sphinx, longest, 1)
    eight = turns_at_once(sphinx, longest, 8)
    report["pocketsphinx_grammar"] = {"cpu_s_per_utterance": round(cpu_sphinx, 3),
                                      "rss_mb_loaded": round(before, 1), "rss_mb_1_turn": round(one, 1),
                                      "rss_mb_8_turns": round(eight, 1),
                                      "mb_per_extra_line": round((eight - one) / 7, 1)}
    if opts.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
