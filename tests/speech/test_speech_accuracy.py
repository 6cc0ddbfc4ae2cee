"""The ASR accuracy set (tests/fixtures/asr) and bench/asr_accuracy.py on the real models.

The set's manifest must match its WAVs; its labels must be what the product's NLU
decides on the text itself; the bench's noise must be repeatable and at the SNR it
claims. On the real models: a grammar (the flow node's example phrases) turns short
answers into the right intent, and free-form recognition of the same audio does
not (it is recorded here as it is: espeak-ng speech on the telephone band is
beyond the free-form models).
"""

from __future__ import annotations

import json
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bench_loader import load_bench

from appliance.speech.asr.sphinx import PocketSphinxEngine
from appliance.speech.asr.vosk import VoskEngine

REPO = Path(__file__).resolve().parents[2]
bench = load_bench("asr_accuracy")


@pytest.fixture(scope="module")
def asr_dir(fixtures_dir: Path) -> Path:
    return fixtures_dir / "asr"


@pytest.fixture(scope="module")
def answers(asr_dir: Path) -> dict[str, object]:
    return {a.id: a for a in bench.load_answers(asr_dir / "manifest.json")}


@pytest.fixture(scope="module")
def listeners(asr_dir: Path) -> dict[str, object]:
    return bench.load_listeners(asr_dir / "manifest.json")


def test_the_manifest_and_the_wavs_agree(asr_dir: Path) -> None:
    doc = json.loads((asr_dir / "manifest.json").read_text(encoding="utf-8"))
    entries = doc["utterances"]
    assert len(entries) >= 60
    assert len({e["id"] for e in entries}) == len(entries)
    by_language = {lang: [e for e in entries if e["language"] == lang] for lang in ("en", "ko")}
    assert len(by_language["en"]) >= 40 and len(by_language["ko"]) >= 20
    for lang, group in by_language.items():
        flow = json.loads((asr_dir / doc["flows"][lang]).read_text(encoding="utf-8"))
        # every intent of the flow is spoken, and nothing outside it
        assert {e["intent"] for e in group} == set(flow["intents"]), lang
    engines = {e["speaker"]["engine"] for e in by_language["en"]}
    assert engines == {"espeak-ng", "piper"}
    assert len({json.dumps(e["speaker"], sort_keys=True) for e in by_language["ko"]}) >= 4
    for entry in entries:
        path = asr_dir / entry["file"]
        with wave.open(str(path), "rb") as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2), entry["id"]
            assert wav.getnframes() / 8000 == pytest.approx(entry["seconds"], abs=0.002), entry["id"]
            assert 0.5 < entry["seconds"] < 4.0, entry["id"]
    others = doc["paraphrases"]["utterances"] + doc["pauses"]["utterances"]
    on_disk = {p.relative_to(asr_dir).as_posix() for p in asr_dir.glob("*/*.wav")}
    assert on_disk == {e["file"] for e in entries + others}
    for folder in ("en", "ko"):
        assert sum(p.stat().st_size for p in asr_dir.glob(f"{folder}/*.wav")) < 3_000_000


def test_the_paraphrase_set_is_new_wording_in_six_voices_or_more(asr_dir: Path, answers: dict) -> None:
    doc = json.loads((asr_dir / "manifest.json").read_text(encoding="utf-8"))
    para = doc["paraphrases"]["utterances"]
    assert len(para) >= 60 and len({e["id"] for e in para}) == len(para)
    voices = {json.dumps(e["speaker"], sort_keys=True) for e in para}
    assert len(voices) >= 6 and {e["speaker"]["engine"] for e in para} == {"espeak-ng", "piper"}
    assert len({e["speaker"]["length_scale"] for e in para if e["speaker"]["engine"] == "piper"}) >= 3
    espeak = {json.dumps(e["speaker"], sort_keys=True) for e in para if e["speaker"]["engine"] == "espeak-ng"}
    in_grammar_voices = {json.dumps(a["speaker"], sort_keys=True) for a in doc["utterances"]}
    assert len(espeak) >= 6 and not espeak & in_grammar_voices  # espeak-ng voices the in-grammar set never used
    # every global intent, the knowledge base and the time slot are spoken
    labels = {e["intent"] for e in para}
    assert {"confirm", "not_home", "call_later", "human", "stop_calling", "wrong_number", "repeat",
            "slot:next_call"} <= labels
    assert any(label.startswith("kb:") for label in labels)
    for entry in para:
        with wave.open(str(asr_dir / entry["file"]), "rb") as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2), entry["id"]
            assert wav.getnframes() / 8000 == pytest.approx(entry["seconds"], abs=0.002), entry["id"]
    assert sum((asr_dir / e["file"]).stat().st_size for e in para) < 3_000_000
    # not one of them is said word for word in the flow's examples (that is what the in-grammar set is for)
    flow = json.loads((REPO / doc["paraphrases"]["flow"]).read_text(encoding="utf-8"))
    examples = {" ".join(bench.normalise(x)) for i in flow["intents"].values() for x in i["examples"]}
    assert not [e["text"] for e in para if " ".join(bench.normalise(e["text"])) in examples]


def test_every_paraphrase_label_is_what_the_flow_engine_decides_on_the_text(asr_dir: Path) -> None:
    paraphrases = bench.load_paraphrases(asr_dir / "manifest.json")
    assert paraphrases
    wrong = {a.id: bench.flow_decision(a, a.text) for a in paraphrases if bench.flow_decision(a, a.text) != a.intent}
    assert wrong == {}
    # and a wrong transcript is decided wrongly: the check can fail
    stop = next(a for a in paraphrases if a.intent == "stop_calling")
    assert bench.flow_decision(stop, "we are out all day") != "stop_calling"


def test_the_pause_fixtures_have_the_pause_they_claim(asr_dir: Path) -> None:
    doc = json.loads((asr_dir / "manifest.json").read_text(encoding="utf-8"))
    pauses = doc["pauses"]["utterances"]
    assert len(pauses) >= 12
    assert min(e["pause_ms"] for e in pauses) == 400 and max(e["pause_ms"] for e in pauses) == 900
    for entry in pauses:
        with wave.open(str(asr_dir / entry["file"]), "rb") as wav:
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64)
        start = int(entry["pause_start"] * 8000)
        gap = samples[start + 80 : start + int(entry["pause_ms"] * 8) - 80]  # 10 ms in from each edge
        speech = samples[int(0.15 * 8000) : start]
        assert np.sqrt(np.mean(gap**2)) < 0.01 * np.sqrt(np.mean(speech**2)), entry["id"]


def test_every_label_is_what_the_nlu_decides_on_the_text(answers: dict, listeners: dict) -> None:
    wrong = {a.id: listeners[a.language].decide(a.text) for a in answers.values()
             if listeners[a.language].decide(a.text) != a.intent}
    assert wrong == {}


def test_the_grammar_is_the_flow_nodes_example_phrases_and_vosk_knows_every_word(
    listeners: dict, vosk_ko_engine: VoskEngine
) -> None:
    ko = listeners["ko"]
    examples = {p.lower() for intent in ko.intents for p in intent.examples}
    assert set(ko.grammar) == examples
    assert vosk_ko_engine.missing_words(ko.grammar) == []
    assert {"yes", "no", "call me later", "who is calling"} <= set(listeners["en"].grammar)


def test_the_noise_is_repeatable_and_at_the_snr_it_claims(answers: dict) -> None:
    answer = answers["en_reschedule_03"]
    clean = bench.answer_audio(answer, "clean")
    noisy = bench.answer_audio(answer, "snr10")
    assert noisy == bench.answer_audio(answer, "snr10")  # seeded: the same every run
    assert noisy != bench.add_noise(clean, 10.0, "another id")
    speech = np.frombuffer(clean, dtype="<i2").astype(np.float64)
    noise = np.frombuffer(noisy, dtype="<i2").astype(np.float64) - speech
    snr = 10 * np.log10(bench.active_power(speech) / np.mean(noise**2))
    assert snr == pytest.approx(10.0, abs=0.3)
    # pink and on the telephone band: more power at 300-1000 Hz than at 2000-3400 Hz, none below 250 Hz
    spectrum = np.abs(np.fft.rfft(noise)) ** 2
    freqs = np.fft.rfftfreq(noise.size, 1 / 8000)
    low, high = (spectrum[(freqs >= a) & (freqs < b)].sum() for a, b in ((300, 1000), (2000, 3400)))
    assert low > 1.5 * high
    assert spectrum[freqs < 250].sum() < 1e-3 * spectrum.sum()


def _intents(engine: Any, answers: dict, listener: Any, ids: list[str], grammar: bool) -> dict[str, Any]:
    decided = {}
    for uid in ids:
        pcm = bench.answer_audio(answers[uid], "clean")
        text, confidence, _, _ = bench.recognise(engine, pcm, listener.grammar if grammar else None)
        decided[uid] = listener.decide(text, confidence)
    return decided


def test_vosk_hears_short_korean_answers_only_with_the_grammar(
    vosk_ko_engine: VoskEngine, answers: dict, listeners: dict
) -> None:
    ids = ["ko_confirm_01", "ko_not_home_01"]  # 네 / 아니요, espeak-ng ko+m7 and ko+m2
    expected = {uid: answers[uid].intent for uid in ids}
    assert _intents(vosk_ko_engine, answers, listeners["ko"], ids, grammar=True) == expected
    free = _intents(vosk_ko_engine, answers, listeners["ko"], ids, grammar=False)
    # Measured: free-form hears these as non-words ('레이', '하리오') and the box decides nothing.
    assert all(free[uid] != expected[uid] for uid in ids), free


def test_pocketsphinx_hears_short_english_answers_better_with_the_grammar(
    pocketsphinx_engine: PocketSphinxEngine, answers: dict, listeners: dict
) -> None:
    ids = ["en_confirm_01", "en_confirm_02", "en_not_home_01"]  # Yes. / Okay. / No. (espeak-ng)
    expected = {uid: answers[uid].intent for uid in ids}
    assert _intents(pocketsphinx_engine, answers, listeners["en"], ids, grammar=True) == expected
    free = _intents(pocketsphinx_engine, answers, listeners["en"], ids, grammar=False)
    # Measured: free-form hears "Yes." as 'you' and "Okay." as 'looking'; only "No." survives.
    assert sum(free[uid] == expected[uid] for uid in ids) < len(ids), free


def test_the_bench_reports_every_engine_mode_and_condition(
    vosk_ko_engine: VoskEngine, pocketsphinx_engine: PocketSphinxEngine
) -> None:
    report = bench.run({"vosk": vosk_ko_engine, "pocketsphinx": pocketsphinx_engine}, ["grammar", "free"],
                       ["snr10"], limit=1, details=True)
    cells = {(r["engine"], r["mode"], r["condition"]) for r in report["results"]}
    assert cells == {(e, m, "snr10") for e in ("vosk", "pocketsphinx") for m in ("grammar", "free")}
    for row in report["results"]:
        assert row["n"] == 1 and 0.0 <= row["intent_accuracy"] <= 1.0 and row["rtf"] > 0.0
        assert sum(int(v.split("/")[0]) for v in row["by_speaker"].values()) == row["correct"]
        assert row["language"] == {"vosk": "ko", "pocketsphinx": "en"}[row["engine"]]
        assert ("cer" in row) == (row["language"] == "ko")
    assert report["machine"]["cpu_count"] >= 1
    assert report["set"]["answers"]["en"] >= 40
    json.dumps(report)  # the --json output is plain JSON
    table = bench.table(report)
    assert "pocketsphinx" in table and "snr10" in table


def test_the_bench_splits_each_set_in_halves_and_tries_alternatives_as_the_flow_does(
    answers: dict, listeners: dict
) -> None:
    assert bench.half_of(answers["en_confirm_01"]) == "odd" and bench.half_of(answers["en_confirm_08"]) == "even"
    listener = listeners["en"]
    assert listener.decide("work time") is None  # Whisper's misheard "What time?"
    assert listener.decide("work time", 1.0, ("what time",)) == "question"
    assert listener.decide("call me later", 1.0, ("what time",)) == "call_later"  # what was heard decides first
    para = {a.id: a for a in bench.load_paraphrases()}
    answer = para["para_call_later_06"]  # "I can't talk right now." at the greeting
    assert bench.flow_decision(answer, "i can talk right now") is None
    assert bench.flow_decision(answer, "i can talk right now", 1.0, ("i can't talk now",)) == "call_later"


def test_the_hybrid_offers_no_partial_grammar_path_as_an_alternative(
    pocketsphinx_engine: PocketSphinxEngine, whisper_engine: Any
) -> None:
    from appliance.speech.asr.hybrid import HybridEngine

    para = {a.id: a for a in bench.load_paraphrases()}
    answer = para["para_call_later_06"]  # "I can't talk right now." in 10 dB of the bench's noise
    grammar = bench.node_grammar(answer)
    pcm = bench.answer_audio(answer, "snr10")
    alone = pocketsphinx_engine.open_session(grammar)
    for frame in _frames(pcm):
        alone.accept(frame)
    guess = alone.finish().text
    # Measured: the grammar decoder ends on a partial path of "can i talk to an operator", which Whisper's
    # "i can talk right now" shares more than half of; offered, it made this a request for a person.
    assert guess == "can i talk to an" and guess not in grammar
    session = HybridEngine(pocketsphinx_engine, whisper_engine).open_session(grammar)
    for frame in _frames(pcm):
        session.accept(frame)
    heard = session.finish()
    assert session.decided_by == "whisper" and heard.alternatives == (), heard
    assert bench.flow_decision(answer, heard.text, heard.confidence, heard.alternatives) != "human"


def _frames(pcm: bytes) -> list[bytes]:
    return [pcm[i : i + 320] for i in range(0, len(pcm) - len(pcm) % 320, 320)]
