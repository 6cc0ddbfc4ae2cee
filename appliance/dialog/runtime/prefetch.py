"""A prompt rendered ahead of its playing: the parts come from a thread of its own, so the conversation keeps
listening (barge-in, keys, hang-up) while piper synthesises the next sentence (100-500 ms on a busy Pi-class
box)."""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Generator

__all__ = ["PromptPrefetch"]


class PromptPrefetch:
    """Runs ``parts`` on a thread; :meth:`get` hands over ``("part", pcm)``, then ``("end", None)``, or
    ``("error", exception)`` when rendering failed."""

    def __init__(self, parts: Generator[bytes, None, None], name: str) -> None:
        self._parts = parts
        self._queue: queue.Queue[tuple[str, object]] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=contextvars.copy_context().run, args=(self._run,), name=name,
                                        daemon=True)  # in the call's log context
        self._thread.start()

    def _run(self) -> None:
        try:
            for part in self._parts:
                self._queue.put(("part", part))
                if self._stop.is_set():
                    break
            else:
                self._queue.put(("end", None))
        except Exception as exc:  # handed to the conversation's thread, which raises it
            self._queue.put(("error", exc))
        finally:
            self._parts.close()  # a prompt cut short is not cached (the generator's own rule)

    def get(self, timeout: float) -> tuple[str, object] | None:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def cancel(self) -> None:
        """Stop after the part being rendered; never waits for it."""
        self._stop.set()
