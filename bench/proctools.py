"""What the benchmarks read about processes: a process tree's memory (PSS and RSS) and CPU time, a peak sampled
while work runs, and fixture audio fed to a recogniser session in 20 ms frames. Linux ``/proc`` only.

The benchmarks run as scripts (``python bench/x.py``), so this directory is on ``sys.path`` and they import it
as ``proctools``.
"""

from __future__ import annotations

import os
import threading
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["children", "cpu_s", "feed", "memory_mb", "pcm", "peak_while"]

CLK = os.sysconf("SC_CLK_TCK")
FRAME_BYTES = 320  # 20 ms of 8 kHz S16LE


def children(pid: int) -> list[int]:
    """``pid``'s child processes (the ASR workers), from ``/proc/<pid>/task/*/children``."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def memory_mb(pid: int) -> tuple[float, float]:
    """(PSS, RSS) in MB of ``pid`` and its children: PSS counts pages shared among them once in all."""
    pss = rss = 0
    for p in [pid, *children(pid)]:
        try:
            text = Path(f"/proc/{p}/smaps_rollup").read_text()
        except OSError:
            continue  # a worker that just exited
        for line in text.splitlines():
            if line.startswith("Pss:"):
                pss += int(line.split()[1])
            elif line.startswith("Rss:"):
                rss += int(line.split()[1])
    return pss / 1024, rss / 1024


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far (every thread; 0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK
    except (OSError, IndexError, ValueError):
        return 0.0


def peak_while(work: Callable[[], None], pid: int | None = None, every_s: float = 0.02) -> tuple[float, float]:
    """The largest (PSS, RSS) of ``pid``'s tree (default: this process) seen while ``work`` runs."""
    pid = os.getpid() if pid is None else pid
    peak = list(memory_mb(pid))
    done = threading.Event()

    def sample() -> None:
        while not done.wait(every_s):
            pss, rss = memory_mb(pid)
            peak[0], peak[1] = max(peak[0], pss), max(peak[1], rss)

    sampler = threading.Thread(target=sample, name="memory-sampler", daemon=True)
    sampler.start()
    try:
        work()
    finally:
        done.set()
        sampler.join(5)
    pss, rss = memory_mb(pid)
    return max(peak[0], pss), max(peak[1], rss)


def pcm(path: Path) -> bytes:
    """A fixture WAV's frames (8 kHz S16LE mono)."""
    with wave.open(str(path)) as w:
        return w.readframes(w.getnframes())


def feed(session: Any, audio: bytes) -> None:
    """``audio`` to a recogniser session in 20 ms frames, as a line delivers it."""
    for i in range(0, len(audio) - len(audio) % FRAME_BYTES, FRAME_BYTES):
        session.accept(audio[i : i + FRAME_BYTES])

