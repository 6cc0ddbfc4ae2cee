"""Scheduling priority for the threads that must never be late: the audio pumps.

A 2-core box runs the pumps next to speech recognition and synthesis (worker
processes and onnxruntime threads that use every core). Under that load the
kernel may leave a pump thread waiting 50-100 ms for a CPU, which the customer
hears as a gap. :func:`raise_thread_priority` asks for a real-time round-robin
slot (``SCHED_RR``) for the calling thread; the pump sleeps in ``read()`` between
frames, so it uses about 1% of a core and cannot starve anything. Without the
privilege (``CAP_SYS_NICE`` or an ``RLIMIT_RTPRIO`` > 0, which the systemd unit
grants with ``LimitRTPRIO=``) it tries a lower nice value, and otherwise keeps
normal priority and says so once.
"""

from __future__ import annotations

import logging
import os
import threading

__all__ = ["RT_PRIORITY", "raise_thread_priority"]

log = logging.getLogger(__name__)

RT_PRIORITY = 10  # of 1..99: above normal threads, below the kernel's own real-time work
_NICE = -10
_warned = threading.Event()


def raise_thread_priority(what: str, *, rt_priority: int = RT_PRIORITY) -> str:
    """Raise the calling thread's priority as far as allowed; returns what it got: ``rr``, ``nice`` or ``normal``."""
    try:
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(rt_priority))  # 0: this thread (Linux)
        return "rr"
    except (PermissionError, OSError, AttributeError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _NICE)
        return "nice"
    except (PermissionError, OSError, AttributeError):
        pass
    if not _warned.is_set():
        _warned.set()
        log.info("%s runs at normal priority (no CAP_SYS_NICE / RLIMIT_RTPRIO): audio may stutter under load", what)
    return "normal"
