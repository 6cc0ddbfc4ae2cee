"""When a mailbox records: ``await_recording`` on the AMD fixtures (after the greeting was decided a machine's,
the screen goes on listening): its beep, else the end of a greeting without one; nothing when the call ends or
the greeting outlasts the bound."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from bench_loader import load_bench

from appliance.dialog.runtime.voicemail import BeepWait, RecordFrom, await_recording
from appliance.events import FRAME_BYTES
from appliance.speech.amd import AnswerScreen

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "amd"
bench_amd = load_bench("amd")


def screened(name: str, decided_after_s: float) -> tuple[AnswerScreen, Any, threading.Event]:
    """The screen fed the first ``decided_after_s`` of fixture ``name`` (as the greeting listener fed it), and the
    call's audio (the fixture then 3 s of silence, bench/amd.py's FileAudio)."""
    ended = threading.Event()
    audio = bench_amd.FileAudio(bench_amd.read_pcm(FIXTURES / name), ended, tail_s=3.0)
    screen = AnswerScreen()
    for _ in range(int(decided_after_s * 50)):
        frame = audio.read_frame(0)
        assert frame is not None
        screen.feed(frame)
    return screen, audio, ended


def test_the_beep_is_when_it_records() -> None:
    screen, audio, ended = screened("vm_us_m_beep.wav", 3.0)
    assert await_recording(screen, audio, ended, BeepWait()) is RecordFrom.BEEP
    assert audio.pos < len(audio.pcm) - 2 * 50 * FRAME_BYTES  # at the beep, not at the end of the audio


def test_without_a_beep_the_end_of_the_greeting_is() -> None:
    screen, audio, ended = screened("vm_gb_slow_nobeep.wav", 3.0)
    assert await_recording(screen, audio, ended, BeepWait(silence_ms=1500)) is RecordFrom.SILENCE
    assert not ended.is_set()


def test_no_message_when_the_call_ends_or_the_greeting_runs_too_long() -> None:
    screen, audio, ended = screened("vm_gb_slow_nobeep.wav", 3.0)
    assert await_recording(screen, audio, ended, BeepWait(max_ms=4000)) is None  # still speaking at 4 s
    screen, audio, ended = screened("vm_gb_slow_nobeep.wav", 3.0)
    ended.set()
    assert await_recording(screen, audio, ended, BeepWait()) is None
