"""Faults on demand for a simulated modem.

A :class:`SimFaults` object is consulted by the simulated modem at a few hook
points (every AT line received, every AT command, every audio tick, the moment
a call connects); tests and ``callbox sim modem --fault F`` switch faults on
and off. :class:`PluggableModem` gives a simulated modem stable port paths
(symlinks, like ``/dev/serial/by-id/...``) so that it can be unplugged and
plugged back in while the driver keeps the same paths.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

FAULTS = (
    "unplug",  # both ports vanish (PluggableModem.unplug); on the CLI: 1 s into the first call, back 5 s later
    "stop_answering",  # the AT port swallows everything
    "garbage",  # bytes that are not text, half lines, a lone CR, invalid UTF-8
    "cme_burst",  # the next commands all answer +CME ERROR
    "registration_lost",  # +CREG/+CEREG say searching; a +CREG: 2 URC is sent
    "cpcmreg_refused",  # AT+CPCMREG=1 (audio start) answers ERROR for a while
    "one_way_audio",  # the customer's audio never reaches the box
    "early_answer",  # the call is reported active at ringback, before anyone picks up
)

GARBAGE = b"\xff\xfe\x00garbage\x80\x81\r\r\n\xc3(\r\n+CSQ: 1\xff\r\n\r\xe2\x82"


@dataclass
class SimFaults:
    """Switches the simulated modem reads. Thread-safe enough: plain flags and one lock."""

    mute: threading.Event = field(default_factory=threading.Event)
    registration: int = 1  # +CREG stat the modem reports
    sim_state: str = "READY"  # what AT+CPIN? answers: "SIM PIN" plays a SIM whose PIN is on (`callbox doctor`)
    cme_left: int = 0
    cme_code: int = 100
    refused: dict[str, float] = field(default_factory=dict)  # command -> refused until (monotonic)
    uplink_muted: bool = False  # customer -> box audio dropped
    downlink_muted: bool = False  # box -> customer audio dropped
    early_answer_ms: int = 0  # >0: report ^CONN at once, customer picks up this much later
    log: list[str] = field(default_factory=list)  # what was injected, for tests
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- switches --------------------------------------------------------------

    def stop_answering(self) -> None:
        self.mute.set()
        self.note("stop_answering")

    def answer_again(self) -> None:
        self.mute.clear()
        self.note("answer_again")

    def cme_burst(self, count: int, code: int = 100) -> None:
        with self._lock:
            self.cme_left, self.cme_code = count, code
        self.note(f"cme_burst {count}x{code}")

    def refuse(self, command: str, seconds: float) -> None:
        with self._lock:
            self.refused[command.upper()] = time.monotonic() + seconds
        self.note(f"refuse {command} {seconds}s")

    def lose_registration(self) -> None:
        self.registration = 2
        self.note("registration_lost")

    def regain_registration(self) -> None:
        self.registration = 1
        self.note("registration_back")

    def note(self, what: str) -> None:
        """Log a fault switched on or off (also what PluggableModem does to the ports)."""
        log.info("sim fault: %s", what)
        self.log.append(what)

    # -- hooks the sim calls -----------------------------------------------------

    def intercept(self, command: str) -> list[str] | None:
        """Lines to answer ``command`` with instead of the normal answer, or None for normal."""
        upper = command.strip().upper()
        with self._lock:
            if self.cme_left > 0:
                self.cme_left -= 1
                return [f"+CME ERROR: {self.cme_code}"]
            until = self.refused.get(upper)
            if until is not None:
                if time.monotonic() < until:
                    return ["ERROR"]
                del self.refused[upper]
        if self.sim_state != "READY" and upper == "AT+CPIN?":
            return [f"+CPIN: {self.sim_state}", "OK"]
        if self.registration != 1 and upper in ("AT+CREG?", "AT+CEREG?"):
            return [f"{upper[2:-1]}: 0,{self.registration}", "OK"]
        return None


class SimModem(Protocol):
    """What the faults need from a simulated modem (any dialect)."""

    at_port: str
    audio_port: str
    faults: SimFaults

    def unplug(self) -> None: ...

    def replug(self) -> None: ...

    def inject(self, data: bytes) -> None: ...


class PluggableModem:
    """Stable paths for a simulated modem, so it can be unplugged and plugged back.

    ``at_port`` and ``audio_port`` are symlinks in ``link_dir`` pointing at the
    sim's current ptys; unplugging removes them (the device node is gone) and
    closes the ptys; plugging back makes new ptys and new links."""

    def __init__(self, sim: SimModem, link_dir: Path | None = None) -> None:
        self.sim = sim
        self._tmp = None if link_dir is not None else tempfile.TemporaryDirectory(prefix="callbox-sim-")
        self.link_dir = link_dir or Path(self._tmp.name)  # type: ignore[union-attr]
        self.link_dir.mkdir(parents=True, exist_ok=True)
        self.at_port = str(self.link_dir / "at")
        self._audio_link = str(self.link_dir / "audio")
        # a file-backed sound card is a folder named "fifo:<folder>": link the folder, keep the scheme
        self._scheme = "fifo:" if sim.audio_port.startswith("fifo:") else ""
        self.audio_port = self._scheme + self._audio_link
        self.plugged = threading.Event()
        self._link()

    def _link(self) -> None:
        audio_target = self.sim.audio_port.removeprefix(self._scheme)
        for link, target in ((self.at_port, self.sim.at_port), (self._audio_link, audio_target)):
            tmp = f"{link}.new"
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(target, tmp)
            os.replace(tmp, link)
        self.plugged.set()

    def unplug(self) -> None:
        self.plugged.clear()
        for link in (self.at_port, self._audio_link):
            if os.path.lexists(link):
                os.unlink(link)
        self.sim.unplug()
        self.sim.faults.note("unplug")

    def replug(self) -> None:
        self.sim.replug()
        self._link()
        self.sim.faults.note("replug")

    def unplug_for(self, seconds: float, stop: threading.Event | None = None) -> threading.Thread:
        """Unplug now and plug back after ``seconds`` (a named, bounded thread)."""
        self.unplug()
        waiter = stop or threading.Event()

        def later() -> None:
            if not waiter.wait(seconds):
                self.replug()

        thread = threading.Thread(target=later, name="sim-replug", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        for link in (self.at_port, self._audio_link):
            if os.path.lexists(link):
                os.unlink(link)
        if self._tmp is not None:
            self._tmp.cleanup()


def garbage(seed: int | None = None) -> bytes:
    """The fixed garbage burst, plus some random bytes (never CR/LF-only)."""
    rng = random.Random(seed)
    noise = bytes(rng.randrange(256) for _ in range(32))
    return GARBAGE + noise + b"\r\n"


def apply_fault(sim: SimModem, name: str, *, seconds: float = 10.0) -> str:
    """Switch one named fault on (for ``callbox sim modem --fault``). Returns a sentence saying what it does."""
    f = sim.faults
    if name == "stop_answering":
        f.stop_answering()
        return "the AT port stops answering"
    if name == "garbage":
        sim.inject(garbage())
        return "garbage bytes sent on the AT port"
    if name == "cme_burst":
        f.cme_burst(5)
        return "the next 5 commands answer +CME ERROR: 100"
    if name == "registration_lost":
        f.lose_registration()
        sim.inject(b"\r\n+CREG: 2\r\n")
        return "registration lost (+CREG: 0,2)"
    if name == "cpcmreg_refused":
        f.refuse("AT+CPCMREG=1", seconds)
        return f"AT+CPCMREG=1 refused for {seconds:.0f} s"
    if name == "one_way_audio":
        f.uplink_muted = True
        return "the customer's audio never reaches the box"
    if name == "early_answer":
        f.early_answer_ms = int(seconds * 1000)
        return f"calls are reported answered at ringback; the customer picks up {seconds:.0f} s later"
    raise ValueError(f"unknown fault {name!r} (one of {', '.join(FAULTS)})")
