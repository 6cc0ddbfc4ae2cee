"""Recognition in a worker process: same answers as in-process, and a dead worker never hangs a call."""

from __future__ import annotations

import gc
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.errors import SpeechError
from appliance.speech.asr.base import AsrEngine
from appliance.speech.asr.factory import load_engine
from appliance.speech.asr.worker import EngineSpec, WorkerEngine
from appliance.speech.audio import frames, read_wav_line

GRAMMAR = ["yes", "yes someone will be home", "no", "call me tomorrow", "not tomorrow", "another day"]


@pytest.fixture(scope="module")
def worker_engine() -> Iterator[WorkerEngine]:
    engine = WorkerEngine(EngineSpec("pocketsphinx", "en"), workers=1)
    yield engine
    engine.close()


def _recognise(engine: AsrEngine, wav: Path, grammar: list[str] | None) -> str:
    session = engine.open_session(grammar)
    for frame in frames(read_wav_line(wav)):
        session.accept(frame)
    return session.finish().text


def test_worker_hears_what_the_in_process_engine_hears(worker_engine: WorkerEngine, pocketsphinx_engine: AsrEngine,
                                                       voices_dir: Path) -> None:
    assert isinstance(worker_engine, AsrEngine)
    assert worker_engine.name == "pocketsphinx" and worker_engine.language == "en"
    for name in ("en_confirm.wav", "en_reschedule.wav"):
        wav = voices_dir / name
        assert _recognise(worker_engine, wav, GRAMMAR) == _recognise(pocketsphinx_engine, wav, GRAMMAR)
    assert "yes" in _recognise(worker_engine, voices_dir / "en_confirm.wav", GRAMMAR).split()


def test_partial_and_cancel_go_through_the_worker(worker_engine: WorkerEngine, voices_dir: Path) -> None:
    session = worker_engine.open_session(GRAMMAR)
    for frame in frames(read_wav_line(voices_dir / "en_confirm.wav")):
        session.accept(frame)
    assert "yes" in session.partial().split()
    session.cancel()
    session.cancel()  # twice is harmless
    with pytest.raises(SpeechError, match="already finished"):
        session.finish()


def test_sessions_dropped_without_finish_do_not_exhaust_the_worker(worker_engine: WorkerEngine,
                                                                    voices_dir: Path) -> None:
    for _ in range(6):  # more than the decoder pool holds
        dropped = worker_engine.open_session(GRAMMAR)
        dropped.accept(b"\0" * 320)
        del dropped
        gc.collect()
    assert "yes" in _recognise(worker_engine, voices_dir / "en_confirm.wav", GRAMMAR).split()


def test_a_killed_worker_fails_the_turn_at_once_and_is_replaced(voices_dir: Path) -> None:
    engine = WorkerEngine(EngineSpec("pocketsphinx", "en"), workers=1)
    try:
        old_pid = engine.pids[0]
        session = engine.open_session(GRAMMAR)
        session.accept(b"\0" * 320)
        os.kill(old_pid, signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(SpeechError, match="worker"):
            session.finish()
        assert time.monotonic() - started < 5
        assert "yes" in _recognise(engine, voices_dir / "en_confirm.wav", GRAMMAR).split()
        assert engine.pids[0] != old_pid
    finally:
        engine.close()
    with pytest.raises(ProcessLookupError):
        os.kill(old_pid, 0)


def test_close_stops_every_worker_process() -> None:
    engine = WorkerEngine(EngineSpec("pocketsphinx", "en"), workers=2)
    pids = engine.pids
    assert len(set(pids)) == 2
    engine.close()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_an_engine_that_cannot_load_is_a_clear_error() -> None:
    with pytest.raises(SpeechError, match="could not load its engine: unknown recognition engine 'nope'"):
        WorkerEngine(EngineSpec("nope", "en"))
    with pytest.raises(SpeechError, match=r"could not load its engine: .*English only"):
        WorkerEngine(EngineSpec("pocketsphinx", "ko"))


def test_load_engine_puts_the_fallback_in_workers_when_asked() -> None:
    engine = load_engine(vosk_model_dir=None, language="en", workers=1)
    try:
        assert isinstance(engine, WorkerEngine)
        assert engine.fallback_reason and "no vosk model" in engine.fallback_reason
    finally:
        engine.close()
