"""What recognition costs: CPU seconds per utterance of Whisper tiny.en and of PocketSphinx (grammar), and the
memory of one shared Whisper model with 1 and with 8 turns decoding at once (in this process; the recogniser as the
box builds it, ASR worker processes included, is ``bench/asr_memory.py``).

    .venv/bin/python bench/asr_cost.py --json            # all 32 English fixture answers
    .venv/bin/python bench/asr_cost.py --quick --json    # 8 of them

CPU: each utterance of tests/fixtures/asr/en is fed to a session in 20 ms frames (with a small grammar, which
Whisper takes as its prompt) and finished, one at a time; the process's CPU time over all of them, divided by
their number (CTranslate2 decodes on threads of its own, so thread time would miss it).
Memory: the process's resident set
(``/proc/self/status`` VmRSS, sampled every 5 ms while the turns decode) before loading, with the model loaded,
with 1 turn and with 8 turns at once (each turn a session holding its audio, all finished together); "per extra
line" is (8 turns - 1 turn) / 7. PocketSphinx is measured the same way in this process (each concurrent turn
needs a decoder of its own).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import wave
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from appliance.speech.asr.base import AsrEngine  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "asr" / "en"
GRAMMAR = ("yes", "no", "call me later", "not a good time", "what is this about", "i'm not home", "next week")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pcm(path: Path) -> bytes:
    with wave.open(str(path)) as w:
        return w.readframes(w.getnframes())


def feed(session: Any, audio: bytes) -> None:
    for i in range(0, len(audio) - len(audio) % 320, 320):
        session.accept(audio[i : i + 320])


def peak_rss_while(work: Callable[[], None]) -> float:
    """The largest VmRSS seen while ``work`` runs."""
    peak = rss_mb()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mb())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, name="rss-sampler")
    sampler.start()
    try:
        work()
    finally:
        done.set()
        sampler.join(5)
    return max(peak, rss_mb())


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

    return peak_rss_while(finish_all)


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
    start = rss_mb()
    whisper = WhisperEngine("en", workers=opts.workers)
    loaded = rss_mb()
    cpu_whisper = cpu_per_utterance(whisper, audios, GRAMMAR)
    one = turns_at_once(whisper, longest, 1)
    eight = turns_at_once(whisper, longest, 8)
    report["whisper"] = {"workers": opts.workers, "cpu_s_per_utterance": round(cpu_whisper, 3),
                         "rss_mb_before": round(start, 1), "rss_mb_loaded": round(loaded, 1),
                         "rss_mb_1_turn": round(one, 1), "rss_mb_8_turns": round(eight, 1),
                         "mb_per_extra_line": round((eight - one) / 7, 1), "peak_decodes": whisper.queue.peak}
    whisper.close()
    sphinx = PocketSphinxEngine("en")
    before = rss_mb()
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
