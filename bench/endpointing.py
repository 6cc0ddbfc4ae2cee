"""Endpointing with webrtcvad against Silero VAD, on the committed customer answers, clean and in noise.

    .venv/bin/python bench/endpointing.py            # a table
    .venv/bin/python bench/endpointing.py --json     # the figures as JSON
    .venv/bin/python bench/endpointing.py --quick    # every 4th answer, for a quick look

The endpointer is the box's: ``appliance.speech.build.endpointer_factory`` with
the default ``[vui]`` settings (end of turn after 700 ms of silence, 1500 ms
after an unfinished-sounding phrase, no-input after 7 s), one per answer (a
fresh call), ``reset()`` as a conversation does before an open question, fed
20 ms frames. Like the conversation it looks at the recogniser's partial
transcript 100 ms before the end-of-turn silence (``end_silence_for``): here a
perfect recogniser's, the words said before that moment (for a pause answer,
its first part), so an answer paused after "Where is ..." waits the long wait.
Each answer is heard after 1 s of the line (silence, or the noise) and followed
by 4 s more of it.

Sets: ``pauses`` (tests/fixtures/asr/pauses/, 16 answers said in two parts with
a 400-900 ms pause between them) and ``answers`` (the 40 in-grammar and 62
paraphrased answers, en/ and en-para/). Conditions: ``clean``, ``snr20`` and
``snr10``: pink noise on the line band 20 / 10 dB below the speech's active
level, made by ``bench/asr_accuracy.py``'s ``add_noise`` (seeded: every run
hears the same noise).

The truth comes from the clean file's energy: speech is the 20 ms frames within
40 dB of its loudest frame; its start is the first such frame, its end the end
of the last one. Per VAD x condition x set:

* ``false_end``: the turn ended (SPEECH_END or MAX_LENGTH) before the true end of
  speech, i.e. inside a mid-sentence pause (or a gap between words); a bug.
* ``late_end_ms`` p50 / p95: from the true end of speech to SPEECH_END, over the
  answers that ended after it (the end-of-turn silence itself is 700 ms of it);
  ``no_end``: answers still open 4 s after their end (noise heard as speech).
* ``missed_start``: no SPEECH_START before the true end; ``early_start``:
  SPEECH_START placed more than 100 ms before the true start (noise taken for
  speech); ``start_lag_ms`` p50: from the true start to where SPEECH_START puts it.
* ``cpu_us_per_frame``: CPU time (the process's) of ``Endpointer.feed`` per
  20 ms frame, the classifier, echo guard and energy floor included.

Also per VAD: the memory one more endpointer takes (RSS growth over 8 of them).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from asr_accuracy import CONDITIONS, MANIFEST, add_noise, machine  # noqa: E402

from appliance.config import VuiConfig  # noqa: E402
from appliance.events import FRAME_BYTES, FRAME_MS, LINE_RATE  # noqa: E402
from appliance.speech.audio import frames, read_wav_line  # noqa: E402
from appliance.speech.build import CLASSIFIERS, endpointer_factory, vad_plan  # noqa: E402
from appliance.speech.vad import Endpointer, EndpointEvent  # noqa: E402

LEAD_MS = 1000  # the line before the answer
TAIL_MS = 4000  # and after it
TRUTH_DB = 40.0  # speech: frames within this much of the loudest
EARLY_START_MS = 100
SETS = ("pauses", "answers")
PARTIAL_BEFORE_END_MS = 100  # the conversation's look at the partial (Conversation._ask_partial)


@dataclass(frozen=True)
class Answer:
    id: str
    path: Path
    text: str  # all of it
    first: str  # the words before the pause ("" when there is none)
    pause_end_ms: int  # where the second part starts, in the file (0 when there is no pause)


@dataclass(frozen=True)
class Truth:
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class Outcome:
    start_ms: int | None  # where SPEECH_START put the start (line time)
    end_event_ms: int | None  # when SPEECH_END / MAX_LENGTH came (line time)
    no_input: bool


def load_set(name: str, manifest: Path = MANIFEST) -> list[Answer]:
    doc = json.loads(manifest.read_text(encoding="utf-8"))
    if name == "pauses":
        out = []
        for e in doc["pauses"]["utterances"]:
            first = e["text"].split(" ... ")[0]
            out.append(Answer(e["id"], manifest.parent / e["file"], e["text"].replace(" ... ", " "), first,
                              round(1000 * e["pause_start"]) + int(e["pause_ms"])))
        return out
    entries = doc["utterances"] + doc["paraphrases"]["utterances"]
    return [Answer(e["id"], manifest.parent / e["file"], e["text"], "", 0) for e in entries
            if e["language"] == "en"]


def truth_of(pcm: bytes) -> Truth:
    """Where speech starts and ends in a clean file, by its frames' energy."""
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % FRAME_BYTES], dtype="<i2").astype(np.float64)
    power = np.mean(samples.reshape(-1, FRAME_BYTES // 2) ** 2, axis=1)
    loud = np.flatnonzero(power >= power.max() * 10 ** (-TRUTH_DB / 10))
    return Truth(int(loud[0]) * FRAME_MS, (int(loud[-1]) + 1) * FRAME_MS)


def line_audio(answer: Answer, condition: str) -> bytes:
    """The answer with the line's lead and tail around it, noisy as ``condition`` says."""
    pad = lambda ms: b"\x00\x00" * (LINE_RATE * ms // 1000)  # noqa: E731
    pcm = pad(LEAD_MS) + read_wav_line(answer.path) + pad(TAIL_MS)
    snr = CONDITIONS[condition]
    return pcm if snr is None else add_noise(pcm, snr, answer.id)


def partial_at(answer: Answer, file_ms: int) -> str:
    """A perfect recogniser's partial transcript ``file_ms`` into the file."""
    return answer.first if answer.first and file_ms < answer.pause_end_ms else answer.text


def listen(ep: Endpointer, answer: Answer, pcm: bytes) -> tuple[Outcome, float, int]:
    """Feed the turn as ``Conversation._listen`` does; (outcome, CPU seconds in feed, frames fed)."""
    ep.reset()
    start: int | None = None
    cpu = 0.0
    fed = 0
    for frame in frames(pcm):
        t0 = time.process_time()
        event = ep.feed(frame)
        cpu += time.process_time() - t0
        fed += 1
        silence = ep.silence_ms
        if event is None and start is not None and silence > 0 and \
                silence == max(PARTIAL_BEFORE_END_MS, ep.end_silence_ms - PARTIAL_BEFORE_END_MS):
            partial = partial_at(answer, ep.elapsed_ms - LEAD_MS)
            event = ep.set_end_silence(ep.end_silence_for(partial, ()))
        if event is EndpointEvent.SPEECH_START:
            start = ep.speech_start_ms
        elif event in (EndpointEvent.SPEECH_END, EndpointEvent.MAX_LENGTH):
            return Outcome(start, ep.elapsed_ms, False), cpu, fed
        elif event is EndpointEvent.NO_INPUT:
            return Outcome(None, None, True), cpu, fed
    return Outcome(start, None, False), cpu, fed


def percentile(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def measure(vad: str, answers: Sequence[Answer], condition: str, truths: dict[str, Truth]) -> dict[str, Any]:
    make = endpointer_factory(VuiConfig(), vad)
    false_end: list[str] = []
    no_end: list[str] = []
    missed: list[str] = []
    early: list[str] = []
    late: list[float] = []
    lags: list[float] = []
    cpu = 0.0
    fed = 0
    for answer in answers:
        truth = truths[answer.id]
        true_start, true_end = LEAD_MS + truth.start_ms, LEAD_MS + truth.end_ms
        outcome, seconds, n = listen(make(), answer, line_audio(answer, condition))
        cpu += seconds
        fed += n
        if outcome.start_ms is None or outcome.start_ms >= true_end:
            missed.append(answer.id)
            continue
        lags.append(outcome.start_ms - true_start)
        if outcome.start_ms < true_start - EARLY_START_MS:
            early.append(answer.id)
        if outcome.end_event_ms is None:
            no_end.append(answer.id)
        elif outcome.end_event_ms < true_end:
            false_end.append(answer.id)
        else:
            late.append(outcome.end_event_ms - true_end)
    return {
        "n": len(answers),
        "false_end": len(false_end), "false_end_ids": false_end,
        "late_end_ms": {"p50": percentile(late, 50), "p95": percentile(late, 95), "max": max(late, default=None)},
        "no_end": len(no_end), "no_end_ids": no_end,
        "missed_start": len(missed), "missed_start_ids": missed,
        "early_start": len(early), "early_start_ids": early,
        "start_lag_ms_p50": percentile(lags, 50),
        "cpu_us_per_frame": round(cpu / max(fed, 1) * 1e6, 1),
        "frames": fed,
    }


def memory_per_instance(vad: str, count: int = 8) -> float:
    """RSS growth (MB) per endpointer over ``count`` of them (the first one built before, so shared
    libraries and the like are not counted)."""
    make = endpointer_factory(VuiConfig(), vad)
    keep = [make()]
    keep[0].feed(b"\x00" * FRAME_BYTES)
    before = _rss_mb()
    for _ in range(count):
        keep.append(make())
        keep[-1].feed(b"\x00" * FRAME_BYTES)
    return round((_rss_mb() - before) / count, 2)


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * 4096 / 1e6


def run(vads: Sequence[str], conditions: Sequence[str], sets: Sequence[str], step: int = 1) -> dict[str, Any]:
    answers = {name: load_set(name)[::step] for name in sets}
    truths = {a.id: truth_of(read_wav_line(a.path)) for group in answers.values() for a in group}
    results: dict[str, Any] = {}
    for vad in vads:
        _, why = vad_plan(vad)
        if why is not None:
            raise SystemExit(f"endpointing: {vad}: {why}")
        results[vad] = {"memory_mb_per_instance": memory_per_instance(vad), "conditions": {
            condition: {name: measure(vad, group, condition, truths) for name, group in answers.items()}
            for condition in conditions}}
    vui = VuiConfig()
    return {
        "bench": "endpointing", "machine": machine(),
        "settings": {"end_silence_ms": vui.end_silence_ms, "long_utterance_wait_ms": vui.long_utterance_wait_ms,
                     "silence_timeout_ms": vui.silence_timeout_ms, "lead_ms": LEAD_MS, "tail_ms": TAIL_MS,
                     "every_nth_answer": step},
        "sets": {name: len(group) for name, group in answers.items()},
        "vad": results,
    }


def table(report: dict[str, Any]) -> str:
    rows = [f"{'vad':7} {'cond':6} {'set':8} {'n':>4} {'false end':>9} {'late p50':>9} {'late p95':>9} "
            f"{'no end':>6} {'missed':>6} {'early':>5} {'cpu us/frame':>12}"]
    for vad, result in report["vad"].items():
        for condition, by_set in result["conditions"].items():
            for name, m in by_set.items():
                rows.append(f"{vad:7} {condition:6} {name:8} {m['n']:4} {m['false_end']:9} "
                            f"{m['late_end_ms']['p50']!s:>9} {m['late_end_ms']['p95']!s:>9} {m['no_end']:6} "
                            f"{m['missed_start']:6} {m['early_start']:5} {m['cpu_us_per_frame']:12}")
        rows.append(f"{vad}: {result['memory_mb_per_instance']} MB per endpointer")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--vad", default=",".join(CLASSIFIERS), help="comma-separated: webrtc,silero")
    parser.add_argument("--conditions", default=",".join(CONDITIONS), help="comma-separated: clean,snr20,snr10")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated: pauses,answers")
    parser.add_argument("--quick", action="store_true", help="every 4th answer of each set")
    opts = parser.parse_args()
    for given, known, what in ((opts.vad, CLASSIFIERS, "--vad"), (opts.conditions, tuple(CONDITIONS), "--conditions"),
                               (opts.sets, SETS, "--sets")):
        unknown = [x for x in given.split(",") if x not in known]
        if unknown:
            parser.error(f"{what}: unknown {', '.join(unknown)} (one of {', '.join(known)})")
    report = run(opts.vad.split(","), opts.conditions.split(","), opts.sets.split(","), 4 if opts.quick else 1)
    print(json.dumps(report, indent=2) if opts.json else table(report))


if __name__ == "__main__":
    main()
