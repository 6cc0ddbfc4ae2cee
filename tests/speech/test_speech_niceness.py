"""Whisper decodes at a lower priority than the box's own threads (appliance.speech.niceness), as the
PocketSphinx worker processes do: its model's threads and the decode queue's are niced, the caller is not."""

from __future__ import annotations

import os
import threading

import pytest

from appliance.events import Utterance
from appliance.speech.asr.whisper import WhisperEngine
from appliance.speech.niceness import SPEECH_NICE, thread_nice, with_lowered_thread


def _tids() -> set[int]:
    return {int(t) for t in os.listdir("/proc/self/task")}


def test_whisper_threads_decode_lowered_and_the_callers_thread_keeps_its_priority() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    mine = thread_nice(threading.get_native_id())
    before = _tids()
    engine = WhisperEngine(language="en", workers=1)
    try:
        started = _tids() - before
        assert started, "loading the model started no thread"
        assert {thread_nice(t) for t in started} - {None} == {max(SPEECH_NICE, mine or 0)}
        seen: list[int | None] = []

        def work() -> Utterance:
            seen.append(thread_nice(threading.get_native_id()))
            return engine.decode(b"\0\0" * 8000, None)  # a second of silence

        assert engine.queue.submit("probe", work).result(timeout=60).text == ""
        assert seen == [max(SPEECH_NICE, mine or 0)]
        assert thread_nice(threading.get_native_id()) == mine
    finally:
        engine.close()


def test_a_lowered_call_hands_back_its_result_and_its_exception() -> None:
    assert with_lowered_thread(lambda: thread_nice(threading.get_native_id()), name="probe") >= SPEECH_NICE

    def fails() -> None:
        raise ValueError("from the lowered thread")

    with pytest.raises(ValueError, match="lowered thread"):
        with_lowered_thread(fails, name="probe")
