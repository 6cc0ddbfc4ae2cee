"""Speech decoding yields to the box's own threads: audio pumps, call logic, the webhook and the writer.

Recognition may lag a little; a pump that misses its 20 ms tick, or a ticket acknowledged late, may not. The
PocketSphinx worker processes lower their own priority (``asr.worker``); Whisper decodes inside the box's
process, on CTranslate2's threads and the decode queue's, so those threads are lowered instead. On Linux a
thread's nice value is its own (``setpriority`` on its thread id) and every thread it starts inherits it:
the model is loaded from a lowered thread, so CTranslate2's workers start lowered.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["SPEECH_NICE", "lower_this_thread", "thread_nice", "with_lowered_thread"]

T = TypeVar("T")

SPEECH_NICE = 5  # as the PocketSphinx worker processes: a 3:1 share for the box's threads when cores are busy


def lower_this_thread(nice: int = SPEECH_NICE) -> bool:
    """Set the calling thread's nice value (never raises it: a box already niced stays so); False where the
    system does not allow it."""
    try:
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        return True
    except (OSError, AttributeError):
        return False


def thread_nice(tid: int) -> int | None:
    """A thread's nice value, or None if it has ended (Linux)."""
    try:
        return os.getpriority(os.PRIO_PROCESS, tid)
    except OSError:
        return None


def with_lowered_thread(fn: Callable[[], T], *, name: str, nice: int = SPEECH_NICE) -> T:
    """``fn()`` on a thread of its own at ``nice``, so that the threads it starts inherit that priority; its
    result, or its exception, as if called here."""
    result: list[T] = []
    error: list[BaseException] = []

    def run() -> None:
        lower_this_thread(nice)
        try:
            result.append(fn())
        except BaseException as exc:  # handed back to the caller below
            error.append(exc)

    loader = threading.Thread(target=run, name=name, daemon=True)
    loader.start()
    loader.join()
    if error:
        raise error[0]
    return result[0]
