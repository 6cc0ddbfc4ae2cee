"""A call's templated prompts rendered into the prompt cache while it rings, so they play from the cache.

:class:`RenderAhead` owns one named thread per call. It renders each text sentence by sentence into the
voice's cache (so a prompt the engine joins with another still finds its sentences there), then the whole
text (put together from the cached sentences, no second synthesis), so the conversation's
``PiperTts.stream`` serves it as one chunk, as it serves a fixed prompt. It runs at a low priority (nice 10
on Linux, per thread) and stops between two sentences when cancelled. What it added to the cache is the
call's own (a name, an order number): :meth:`RenderAhead.close` removes it once the call is over, so the
cache does not grow by a few hundred kB per call. Texts in ``keep`` (the flow's fixed prompts and
sentences, which belong to every call) are never removed.

Measured here (joe voice, 8 kHz line, a 2-core x86 shared with other jobs): the built-in flow's greeting (4
sentences, 8.5 s of audio) renders in 0.6-1.2 s; the simulator rings 0.8 s by default and real networks 5-20 s.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Sequence

from appliance.speech.tts.piper import PiperTts
from appliance.speech.tts.sentences import split_sentences

__all__ = ["RenderAhead"]

log = logging.getLogger(__name__)

NICE = 10  # below the audio pump, the line workers and the recognisers


class RenderAhead:
    """Renders ``texts`` into ``tts``'s cache on a thread of its own, started at once."""

    def __init__(self, tts: PiperTts, texts: Sequence[str], *, name: str, keep: Iterable[str] = (),
                 call_id: int | str = "") -> None:
        if tts.cache_dir is None:
            raise ValueError("rendering ahead needs a voice with a prompt cache directory")
        self.tts = tts
        self.texts = tuple(texts)
        self.call_id = call_id
        self._keep = frozenset(keep)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._added: list[str] = []  # cache entries this call created: removed by close()
        self._closing = False
        self._finished = False
        self.rendered: list[str] = []  # texts now in the cache, in order
        self.done = threading.Event()  # every text rendered (or stopped)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
        except (AttributeError, OSError):  # not Linux, or not allowed: render at the normal priority
            pass
        try:
            for text in self.texts:
                parts = split_sentences(text)
                for part in [*parts, text] if len(parts) > 1 else [text]:
                    if self._stop.is_set():
                        return
                    self._render(part)
                self.rendered.append(text)
        except Exception:
            log.exception("call %s: rendering its prompts ahead failed", self.call_id)
        finally:
            with self._lock:
                self._finished = True
                closing = self._closing
            self.done.set()
            if closing:
                self._forget()

    def _render(self, text: str) -> None:
        if self.tts.has_cached(text):
            return
        self.tts.render(text)  # stores it in the cache
        if text not in self._keep:
            with self._lock:
                self._added.append(text)

    def cancel(self) -> None:
        """Stop after the sentence being rendered; never waits."""
        self._stop.set()

    def close(self) -> None:
        """The call is over: stop, and remove what this call added to the cache (now if the thread has ended,
        else by the thread as it ends). Never waits for piper."""
        self._stop.set()
        with self._lock:
            self._closing = True
            finished = self._finished
        if finished:
            self._forget()

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the thread to end; True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _forget(self) -> None:
        with self._lock:
            added, self._added = self._added, []
        removed = sum(self.tts.forget(text) for text in added)
        log.debug("call %s: %d prompt(s) rendered ahead removed from the cache", self.call_id, removed)
