"""Whisper's model in a worker process of its own, as the box runs it (``[speech] asr_workers`` > 0): the
sessions, the early decode and the queue stay in the box's process, only the decode crosses over; the
answers are the same, and a worker that dies is replaced at the next decode."""

from __future__ import annotations

import os
import signal
import time

import pytest

from appliance.errors import SpeechError
from appliance.speech.asr.factory import load_engine, load_whisper
from appliance.speech.asr.hybrid import HybridEngine
from appliance.speech.asr.whisper import WhisperEngine
from appliance.speech.asr.worker import WorkerEngine
from tests.speech.test_speech_whisper import FIXTURES, feed, pcm_of

ANSWER = FIXTURES / "en" / "en_call_later_04.wav"  # "Call me back in an hour."


@pytest.fixture(scope="module")
def remote_whisper():  # type: ignore[no-untyped-def]
    os.environ["HF_HUB_OFFLINE"] = "1"
    engine = load_whisper("en", None, 2, 1, in_worker=True)
    yield engine
    engine.close()


def _hear(engine: WhisperEngine) -> str:
    session = engine.open_session()
    feed(session, pcm_of(ANSWER))
    return session.finish().text


def test_the_worker_decodes_what_the_box_process_would(remote_whisper: WhisperEngine,
                                                       whisper_engine: WhisperEngine) -> None:
    remote = remote_whisper._remote
    assert isinstance(remote, WorkerEngine) and remote.pids and remote.pids[0] != os.getpid()
    heard = _hear(remote_whisper)
    assert heard.startswith("call me back") and "hour" in heard.split()
    assert heard == _hear(whisper_engine)  # the same model, the same settings: the same words


def test_a_dead_worker_fails_the_turn_in_hand_and_is_replaced(remote_whisper: WhisperEngine) -> None:
    remote = remote_whisper._remote
    assert isinstance(remote, WorkerEngine)
    (pid,) = remote.pids
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and all(w.alive for w in remote._workers):
        time.sleep(0.05)
    with pytest.raises(SpeechError):  # the turn that met the dead worker has no answer...
        remote._workers[0].call("decode", 0, (pcm_of(ANSWER), None))
    assert "hour" in _hear(remote_whisper).split()  # ...the next one goes to a new worker
    assert remote.pids[0] != pid


def test_the_box_configuration_puts_whisper_in_a_worker() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    engine = load_engine(vosk_model_dir=None, language="en", workers=1, recogniser="hybrid")
    try:
        assert isinstance(engine, HybridEngine)
        assert isinstance(engine.whisper_engine, WhisperEngine)
        assert isinstance(engine.whisper_engine._remote, WorkerEngine)
    finally:
        engine.close()
