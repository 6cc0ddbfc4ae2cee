"""Answering-machine and network-announcement detection on the committed fixtures.

    PYTHONPATH=. .venv/bin/python bench/amd.py [--json] [--snr DB] [--only NAME] [--recogniser hybrid|whisper|grammar]

Each fixture of ``tests/fixtures/amd`` (voicemail greetings with and without a beep, special-information tones
with an announcement, announcements alone, people's greetings; see its ``make_amd_fixtures.py``) is played frame
by frame into the box's own greeting listener (:class:`appliance.dialog.runtime.greeting.CalleeGreeting`, as on
a call), followed by silence. The recogniser is loaded as the box loads it
(:func:`appliance.speech.asr.factory.load_engine`, in this process), by default the box's default
(``[speech] recogniser``: the hybrid, whose greeting is heard by Whisper free-form); ``grammar`` is PocketSphinx
with the greeting grammar, as without Whisper. Reports per class how many were decided right, the time from
the answer to the decision (audio time, the frames are fed as fast as the listener takes them; after a
person's greeting the rest of the file plays as during the bot's first prompt, where a beep still counts),
every wrong
decision, and ``false_machine_on_human`` (the target is 0: a person must never be taken for a machine).
``--snr`` adds seeded white noise, band-limited to 300-3400 Hz, at that signal-to-noise ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # Whisper loads from its package; nothing is fetched

from appliance.config import SpeechConfig  # noqa: E402
from appliance.dialog.runtime.greeting import CalleeGreeting, GreetingLimits  # noqa: E402
from appliance.events import FRAME_BYTES  # noqa: E402
from appliance.speech.asr.base import AsrEngine  # noqa: E402
from appliance.speech.asr.factory import RECOGNISERS, load_engine  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "amd"


class FileAudio:
    """A call's audio from a file: its frames, then silence; ``ended`` is set ``tail_s`` after the file."""

    def __init__(self, pcm: bytes, ended: threading.Event, tail_s: float = 4.0) -> None:
        pad = int(tail_s * 50) * FRAME_BYTES
        self.pcm = pcm + bytes(pad)
        self.pos = 0
        self.ended = ended

    def read_frame(self, timeout: float) -> bytes | None:
        if self.pos + FRAME_BYTES > len(self.pcm):
            self.ended.set()
            return None
        frame = self.pcm[self.pos : self.pos + FRAME_BYTES]
        self.pos += FRAME_BYTES
        return frame

    def read_frame_with_played(self, timeout: float) -> tuple[bytes, bytes] | None:
        frame = self.read_frame(timeout)
        return None if frame is None else (frame, bytes(FRAME_BYTES))

    def play(self, pcm: bytes, *, more: bool = False) -> None:
        pass

    def flush_playback(self) -> int:
        return 0

    def playing(self) -> bool:
        return False

    def wait_played(self, timeout: float) -> bool:
        return True


def read_pcm(path: Path) -> bytes:
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == 8000 and w.getnchannels() == 1 and w.getsampwidth() == 2, path
        return w.readframes(w.getnframes())


def with_noise(pcm: bytes, snr_db: float, seed: int) -> bytes:
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    loud = x[np.abs(x) > 300]
    signal = float(np.sqrt(np.mean(loud**2))) if loud.size else 1000.0
    noise = np.random.default_rng(seed).standard_normal(x.size + 64)
    spectrum = np.fft.rfft(noise)
    hz = np.fft.rfftfreq(noise.size, 1 / 8000)
    spectrum[(hz < 300) | (hz > 3400)] = 0
    noise = np.fft.irfft(spectrum, noise.size)[: x.size]
    noise *= signal / 10 ** (snr_db / 20) / float(np.sqrt(np.mean(noise**2)))
    return np.clip(x + noise, -32768, 32767).astype("<i2").tobytes()


def decide(engine: AsrEngine, pcm: bytes, limits: GreetingLimits | None = None) -> tuple[CalleeGreeting,
                                                                                                  float]:
    """The greeting listener's decision on ``pcm`` and the CPU seconds it took."""
    ended = threading.Event()
    started = time.process_time()
    audio = FileAudio(pcm, ended)
    heard = CalleeGreeting.await_on(audio, engine, ended, limits or GreetingLimits())
    while not heard.screened and (frame := audio.read_frame(0)) is not None:  # the bot's first prompt
        heard = heard.later(frame) or heard
    return heard, time.process_time() - started


def load(recogniser: str) -> AsrEngine:
    """The recogniser as the box loads it (in this process: the bench measures the listener, not IPC)."""
    return load_engine(vosk_model_dir=None, language="en", recogniser=recogniser)


def run(snr: float | None, only: str | None, recogniser: str = SpeechConfig.recogniser) -> dict[str, Any]:
    manifest = json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))
    engine = load(recogniser)
    rows = []
    for i, item in enumerate(manifest):
        if only and only not in item["file"]:
            continue
        pcm = read_pcm(FIXTURES / item["file"])
        if snr is not None:
            pcm = with_noise(pcm, snr, seed=i)
        heard, cpu = decide(engine, pcm)
        rows.append({"file": item["file"], "label": item["label"], "decided": heard.answered_by.value,
                     "why": heard.why, "text": heard.text, "decided_ms": heard.decided_ms,
                     "cpu_s": round(cpu, 3)})
    classes: dict[str, Any] = {}
    for label in ("machine", "invalid_number", "human"):
        mine = [r for r in rows if r["label"] == label]
        if not mine:
            continue
        right = [r for r in mine if r["decided"] == label]
        times = [r["decided_ms"] for r in right]
        classes[label] = {
            "n": len(mine), "right": len(right), "rate": round(len(right) / len(mine), 3),
            "decided_ms_median": int(statistics.median(times)) if times else None,
            "decided_ms_max": max(times) if times else None,
        }
    engine.close()
    return {
        "recogniser": recogniser,
        "engine": describe(engine),
        "snr_db": snr,
        "classes": classes,
        "false_machine_on_human": sum(1 for r in rows if r["label"] == "human" and r["decided"] != "human"),
        "wrong": [r for r in rows if r["decided"] != r["label"]],
        "rows": rows,
    }


def describe(engine: AsrEngine) -> str:
    if engine.fallback_reason:
        return f"{engine.name} (fallback: {engine.fallback_reason})"
    return engine.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--snr", type=float, default=None, help="add noise at this SNR (dB)")
    parser.add_argument("--only", default=None, help="fixtures whose name contains this")
    parser.add_argument("--recogniser", choices=RECOGNISERS, default=SpeechConfig.recogniser,
                        help="which recogniser hears the greeting (default: the box's default, %(default)s)")
    opts = parser.parse_args()
    report = run(opts.snr, opts.only, opts.recogniser)
    if opts.json:
        print(json.dumps(report, indent=1))
        return
    for r in report["rows"]:
        mark = "ok " if r["decided"] == r["label"] else "BAD"
        print(f"{mark} {r['file']:30} {r['label']:15} -> {r['decided']:15} {r['decided_ms']:5d} ms  "
              f"{r['why']}  {r['text']!r}")
    for label, c in report["classes"].items():
        print(f"{label:15} {c['right']}/{c['n']} right, decided in {c['decided_ms_median']} ms median, "
              f"{c['decided_ms_max']} ms at most")
    print(f"false machine on human greetings: {report['false_machine_on_human']} ({report['engine']})")


if __name__ == "__main__":
    main()
