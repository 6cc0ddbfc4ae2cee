"""Run one simulated Huawei modem from the command line, with a default directory."""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from appliance.sim.customer import CustomerScript
from appliance.sim.huawei import SimulatedHuaweiModem

VOICES_DIR = Path(__file__).resolve().parent / "voices"

# Last digit of the number -> what the customer does. Anything else answers.
BEHAVIOUR_BY_LAST_DIGIT = {
    "1": "busy",
    "2": "no_answer",
    "3": "reject",
    "4": "silent",
    "5": "hangup_mid_sentence",
}


def default_directory(number: str, *, voices_dir: Path = VOICES_DIR) -> CustomerScript:
    """Every number answers, except by last digit: 1 busy, 2 no answer, 3 reject,
    4 silent, 5 hangs up mid-sentence. The customer greets with ``*hello*.wav``
    and then answers prompts with ``*confirm*.wav`` (``*reschedule*.wav`` for
    numbers ending in 6), falling back to every other WAV in ``voices_dir``."""
    behaviour = BEHAVIOUR_BY_LAST_DIGIT.get(number[-1:], "answer")
    wavs = sorted(voices_dir.glob("*.wav")) if voices_dir.is_dir() else []
    greeting = next((p for p in wavs if "hello" in p.stem), None)
    topic = "reschedule" if number.endswith("6") else "confirm"
    replies = [p for p in wavs if topic in p.stem] or [p for p in wavs if p != greeting]
    return CustomerScript(behaviour=behaviour, replies=replies, greeting=greeting)


def run_sim_modem(args: Sequence[str] | None = None, *, stop: threading.Event | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callbox sim modem", description=__doc__)
    parser.add_argument("--ring-ms", type=int, default=800, help="ring time before a customer answers")
    parser.add_argument("--voices", type=Path, default=VOICES_DIR, help="folder of customer reply WAVs")
    parser.add_argument("-v", "--verbose", action="store_true")
    opts = parser.parse_args(args)
    if stop is None:
        logging.basicConfig(level=logging.DEBUG if opts.verbose else logging.INFO, format="%(message)s")
    voices: Path = opts.voices
    sim = SimulatedHuaweiModem(lambda n: default_directory(n, voices_dir=voices), ring_ms=opts.ring_ms)
    sim.start()
    print(f"AT port:    {sim.at_port}", flush=True)
    print(f"audio port: {sim.audio_port}", flush=True)
    print("numbers ending in 1 busy, 2 no answer, 3 reject, 4 silent, 5 hang up mid-sentence; "
          "others answer. Ctrl-C to stop.", flush=True)
    waiter = stop or threading.Event()
    try:
        while not waiter.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0
