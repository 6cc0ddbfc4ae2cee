"""Speech recognition in a worker process, so that a decoder holding the GIL cannot stall the audio.

PocketSphinx's Python binding keeps the GIL while it decodes; at the end of a
free-form utterance that is 100-150 ms on a 2-core x86 machine, long enough to
make the audio pump miss its 20 ms tick. :class:`WorkerEngine` runs an engine in
a child process (``python -m appliance.speech.asr.worker``) and offers the same
:class:`~appliance.speech.asr.base.AsrEngine` interface: sessions send their frames
over a socket pair and wait only for ``partial`` and ``finish``.

The wire is :mod:`multiprocessing.connection` framing (pickled tuples) over a
``socket.socketpair`` whose child end is passed by file descriptor. Requests are
``(op, request_id, session_id, payload)``; ``accept`` and ``cancel`` get no reply
(a failure is reported by the session's next ``finish``), everything else gets
``(request_id, ok, value)``. One receiver thread in the parent routes replies to
the waiting callers, so several lines can share one worker.

With ``EngineSpec.max_decoders`` (the hybrid's grammar decoders) each worker
holds at most that many sessions: the parent refuses the next one with
:class:`~appliance.speech.asr.base.DecodersBusy` without asking a worker (and a
worker that finds its own pool full says so in the same terms).

If the worker dies, every waiting call fails with :class:`SpeechError` at once
and the next ``open_session`` starts a new worker; the child exits when the
parent's end of the socket closes, so a crashed box leaves no orphan decoders.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from appliance.errors import SpeechError
from appliance.events import LINE_RATE, Utterance
from appliance.speech.asr.base import AsrEngine, AsrSession, DecodersBusy
from appliance.speech.asr.sphinx import PocketSphinxEngine
from appliance.speech.asr.vosk import VoskEngine
from appliance.speech.asr.whisper import WINDOW_S, WhisperEngine

__all__ = ["WorkerEngine", "WorkerSession", "worker_main"]

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0
REPLY_TIMEOUT_S = 15.0
WORKER_NICE = 5


@dataclass(frozen=True)
class EngineSpec:
    """What the child builds: ``kind`` is ``pocketsphinx`` or ``vosk``; ``max_decoders`` > 0 caps PocketSphinx's
    decoders (and the sessions) of each worker, 0 leaves them unbounded."""

    kind: str
    language: str
    model_dir: str = ""
    fallback_reason: str | None = None
    line_rate: int = LINE_RATE
    decodes: int = 1  # whisper: decodes at once (the model's num_workers), and threads each
    threads: int = 1
    window_s: float = WINDOW_S  # whisper: the encoder's window for closed answers
    max_decoders: int = 0

    def build(self) -> AsrEngine:
        if self.kind == "pocketsphinx":
            return PocketSphinxEngine(self.language, fallback_reason=self.fallback_reason, line_rate=self.line_rate,
                                      max_decoders=self.max_decoders or None)
        if self.kind == "whisper":
            return WhisperEngine(self.language, Path(self.model_dir) if self.model_dir else None, self.decodes,
                                 cpu_threads=self.threads, line_rate=self.line_rate, window_s=self.window_s)
        if self.kind == "vosk":
            return VoskEngine(Path(self.model_dir), self.language, sample_rate=self.line_rate)
        raise SpeechError(f"unknown recognition engine {self.kind!r}")


class _Worker:
    """One child process and the thread that reads its replies."""

    def __init__(self, spec: EngineSpec, index: int) -> None:
        self.spec = spec
        self.index = index
        parent_sock, child_sock = socket.socketpair()
        self._sock = parent_sock
        self._conn = Connection(os.dup(parent_sock.fileno()))
        cmd = [sys.executable, "-m", "appliance.speech.asr.worker",
               "--fd", str(child_sock.fileno()), "--spec", json.dumps(spec.__dict__)]
        try:
            self.proc = subprocess.Popen(cmd, pass_fds=(child_sock.fileno(),), stdin=subprocess.DEVNULL)
        except OSError as exc:
            self._conn.close()
            parent_sock.close()
            raise SpeechError(f"could not start the recognition worker: {exc}") from exc
        finally:
            child_sock.close()
        self._send_lock = threading.Lock()
        self._pending: dict[int, Future[Any]] = {}
        self._pending_lock = threading.Lock()
        self._ids = itertools.count(1)
        self.sessions = 0
        self.orphans: list[int] = []  # sessions dropped without finish/cancel, cancelled with the next send
        self.alive = True
        self.dead_reason = ""
        self._ready: Future[Any] = Future()
        self._pending[0] = self._ready
        self._reader = threading.Thread(target=self._read_loop, name=f"asr-worker-{index}-rx", daemon=True)
        self._reader.start()
        self.info: dict[str, Any] = {}

    def wait_ready(self) -> None:
        """Wait for the child to load its engine (workers start in parallel, then each is waited for)."""
        try:
            self.info = self._ready.result(timeout=START_TIMEOUT_S)
        except FutureTimeout:
            self.close()
            raise SpeechError(f"the recognition worker did not start within {START_TIMEOUT_S:.0f} s") from None
        except SpeechError:
            self.close()
            raise

    def _read_loop(self) -> None:
        try:
            while True:
                request_id, ok, value = self._conn.recv()
                with self._pending_lock:
                    future = self._pending.pop(request_id, None)
                if future is None:
                    continue
                if ok:
                    future.set_result(value)
                elif isinstance(value, tuple) and value[:1] == ("busy",):
                    future.set_exception(DecodersBusy(str(value[1])))
                else:
                    future.set_exception(SpeechError(str(value)))
        except (EOFError, OSError) as exc:
            reason = "the recognition worker exited" if isinstance(exc, EOFError) else f"worker socket: {exc}"
        except Exception as exc:  # a garbled reply: the worker cannot be trusted any more
            reason = f"bad reply from the recognition worker: {exc!r}"
        self._fail_all(reason)

    def _fail_all(self, reason: str) -> None:
        if self.alive:
            log.warning("recognition worker %d stopped: %s", self.index, reason)
        self.alive = False
        self.dead_reason = reason
        with self._pending_lock:
            waiting, self._pending = list(self._pending.values()), {}
        for future in waiting:
            if not future.done():
                future.set_exception(SpeechError(reason))

    def send(self, op: str, session_id: int, payload: Any = None) -> None:
        """Send without waiting for a reply (``accept``, ``cancel``)."""
        if not self.alive:
            raise SpeechError(self.dead_reason or "the recognition worker is not running")
        try:
            with self._send_lock:
                self._send_orphans()
                self._conn.send((op, 0, session_id, payload))
        except OSError as exc:
            self._fail_all(f"worker socket: {exc}")
            raise SpeechError(self.dead_reason) from exc

    def _send_orphans(self) -> None:
        while self.orphans:
            self._conn.send(("cancel", 0, self.orphans.pop(), None))

    def call(self, op: str, session_id: int, payload: Any = None, timeout: float = REPLY_TIMEOUT_S) -> Any:
        """Send a request and wait for its reply."""
        future: Future[Any] = Future()
        with self._pending_lock:
            if not self.alive:
                raise SpeechError(self.dead_reason or "the recognition worker is not running")
            request_id = next(self._ids)
            self._pending[request_id] = future
        try:
            with self._send_lock:
                self._send_orphans()
                self._conn.send((op, request_id, session_id, payload))
        except OSError as exc:
            self._fail_all(f"worker socket: {exc}")
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            with self._pending_lock:
                self._pending.pop(request_id, None)
            raise SpeechError(f"the recognition worker did not answer {op!r} within {timeout:.0f} s") from None

    def close(self, timeout: float = 5.0) -> None:
        self.alive = False
        try:
            # shutdown, not just close: it wakes the reader thread and gives the child its end of file.
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._reader.join(timeout=timeout)
        for closable in (self._conn, self._sock):
            try:
                closable.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.warning("recognition worker %d did not exit; killing it", self.index)
            self.proc.kill()
            self.proc.wait(timeout=timeout)


class WorkerEngine:
    """An :class:`AsrEngine` whose decoding runs in ``workers`` child processes.

    Sessions go to the worker with the fewest open sessions; a dead worker is
    replaced on the next ``open_session``. Call :meth:`close` when done (the
    children also exit by themselves when this process does).
    """

    def __init__(self, spec: EngineSpec, *, workers: int = 1) -> None:
        self.spec = spec
        self.language = spec.language
        self.fallback_reason = spec.fallback_reason
        self._lock = threading.RLock()  # re-entrant: a session's __del__ may run inside _pick
        self._session_ids = itertools.count(1)
        started = time.perf_counter()
        self._workers = [_Worker(spec, i) for i in range(max(1, workers))]
        try:
            for worker in self._workers:
                worker.wait_ready()
        except SpeechError:
            for worker in self._workers:
                worker.close(timeout=1.0)
            raise
        self.load_seconds = time.perf_counter() - started
        info = self._workers[0].info
        self.name = str(info.get("name", spec.kind))
        self.language = str(info.get("language", spec.language))
        log.info("%s recognition runs in %d worker process(es), started in %.2f s",
                 self.name, len(self._workers), self.load_seconds)

    def _pick(self) -> _Worker:
        with self._lock:
            for i, worker in enumerate(self._workers):
                if not worker.alive:
                    log.warning("restarting recognition worker %d (%s)", i, worker.dead_reason)
                    worker.close(timeout=1.0)
                    self._workers[i] = _Worker(self.spec, i)
                    self._workers[i].wait_ready()
            worker = min(self._workers, key=lambda w: w.sessions)
            cap = self.spec.max_decoders
            if cap and worker.sessions >= cap:
                raise DecodersBusy(f"all {cap * len(self._workers)} recognition decoder(s) in the workers are in use")
            worker.sessions += 1
            return worker

    def open_session(self, grammar: Sequence[str] | None = None) -> WorkerSession:
        worker = self._pick()
        session_id = next(self._session_ids)
        try:
            worker.call("open", session_id, list(grammar) if grammar is not None else None)
        except SpeechError:
            with self._lock:
                worker.sessions -= 1
            raise
        return WorkerSession(self, worker, session_id)

    def _release(self, worker: _Worker) -> None:
        with self._lock:
            worker.sessions = max(0, worker.sessions - 1)

    def decode(self, pcm: bytes, prompt: str | None) -> Utterance:
        """Decode a whole utterance in a worker whose engine decodes whole utterances (Whisper's ``submit``):
        the :class:`~appliance.speech.asr.whisper.RemoteDecoder` of a WhisperEngine in this process."""
        worker = self._pick()
        try:
            result = worker.call("decode", 0, (pcm, prompt))
        finally:
            self._release(worker)
        if not isinstance(result, Utterance):
            raise SpeechError(f"the recognition worker returned {type(result).__name__}, not an utterance")
        return result

    @property
    def pids(self) -> list[int]:
        return [w.proc.pid for w in self._workers]

    def close(self) -> None:
        with self._lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.close()


class WorkerSession:
    """One turn decoded in a worker; not shared between threads (like every session)."""

    def __init__(self, engine: WorkerEngine, worker: _Worker, session_id: int) -> None:
        self._engine = engine
        self._worker = worker
        self._id = session_id
        self._finished = False

    def accept(self, frame: bytes) -> None:
        if self._finished:
            raise SpeechError("this recognition session has already finished")
        self._worker.send("accept", self._id, frame)

    def pause(self) -> None:
        """Nothing to start early: this engine decodes as the frames arrive."""

    def resume(self) -> None:
        """Nothing was started by ``pause``."""

    def partial(self) -> str:
        if self._finished:
            return ""
        return str(self._worker.call("partial", self._id))

    def finish(self) -> Utterance:
        if self._finished:
            raise SpeechError("this recognition session has already finished")
        self._finished = True
        try:
            result = self._worker.call("finish", self._id)
        finally:
            self._engine._release(self._worker)
        if not isinstance(result, Utterance):
            raise SpeechError(f"the recognition worker returned {type(result).__name__}, not an utterance")
        return result

    def cancel(self) -> None:
        if self._finished:
            return
        self._finished = True
        try:  # the worker frees the decoder before this session stops counting against the cap
            self._worker.send("cancel", self._id)
        except SpeechError:
            pass  # a dead worker holds nothing any more
        finally:
            self._engine._release(self._worker)

    def __del__(self) -> None:
        # A session dropped without finish/cancel still frees the worker's decoder. No I/O here (the
        # collector may run while this thread holds the send lock): the next request carries the cancel.
        if not self._finished:
            self._finished = True
            self._worker.orphans.append(self._id)
            self._engine._release(self._worker)


# -- the child ---------------------------------------------------------------


def _serve(conn: Connection, engine: AsrEngine) -> None:
    sessions: dict[int, AsrSession] = {}
    failed: dict[int, str] = {}
    send_lock = threading.Lock()  # a decode's reply is sent from the engine's decode thread

    def send(message: tuple[int, bool, Any]) -> None:
        with send_lock:
            conn.send(message)

    def decoded(request_id: int, future: Future[Utterance]) -> None:
        try:
            send((request_id, True, future.result()))
        except SpeechError as exc:
            send((request_id, False, str(exc)))
        except OSError:
            pass  # the parent went away

    while True:
        try:
            op, request_id, session_id, payload = conn.recv()
        except EOFError:
            return
        try:
            if op == "decode":  # a whole utterance, decoded on the engine's own threads (Whisper)
                submit = getattr(engine, "submit", None)
                if submit is None:
                    raise SpeechError(f"{engine.name} does not decode whole utterances")
                pcm, prompt = payload
                submit(pcm, prompt, f"request {request_id}").add_done_callback(
                    lambda future, rid=request_id: decoded(rid, future))
                continue
            if op == "accept":
                session = sessions.get(session_id)
                if session is not None:
                    try:
                        session.accept(payload)
                    except SpeechError as exc:
                        failed[session_id] = str(exc)
                        sessions.pop(session_id).cancel()
                continue
            if op == "cancel":
                failed.pop(session_id, None)
                dropped = sessions.pop(session_id, None)
                if dropped is not None:
                    dropped.cancel()
                continue
            if op == "open":
                sessions[session_id] = engine.open_session(payload)
                reply: Any = None
            elif op == "partial":
                session = sessions.get(session_id)
                reply = session.partial() if session is not None else ""
            elif op == "finish":
                if session_id in failed:
                    raise SpeechError(failed.pop(session_id))
                session = sessions.pop(session_id, None)
                if session is None:
                    raise SpeechError(f"no recognition session {session_id} in the worker")
                reply = session.finish()
            else:
                raise SpeechError(f"unknown request {op!r}")
            send((request_id, True, reply))
        except DecodersBusy as exc:
            send((request_id, False, ("busy", str(exc))))
        except SpeechError as exc:
            send((request_id, False, str(exc)))


def worker_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m appliance.speech.asr.worker")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--spec", required=True)
    opts = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="asr-worker %(levelname)s %(name)s: %(message)s")
    conn = Connection(opts.fd)
    try:
        # Recognition may lag a little; the audio pumps and the call logic in the parent may not: when the
        # cores are busy, the kernel gives the parent the larger share.
        os.nice(WORKER_NICE)
    except OSError:
        pass
    try:
        spec = EngineSpec(**json.loads(opts.spec))
        engine = spec.build()
    except (SpeechError, TypeError, ValueError) as exc:
        conn.send((0, False, f"the recognition worker could not load its engine: {exc}"))
        return 2
    conn.send((0, True, {"name": engine.name, "language": engine.language, "pid": os.getpid()}))
    try:
        _serve(conn, engine)
    except (OSError, BrokenPipeError):
        pass  # the parent went away
    return 0


if __name__ == "__main__":
    sys.exit(worker_main())
