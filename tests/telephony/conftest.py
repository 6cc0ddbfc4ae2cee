"""Fixtures for the telephony tests: a scripted AT peer on a real pty, the simulated modem, the fault rigs
(a supervised line on a pluggable simulated modem; plain helpers in tel_helpers.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from tel_helpers import FAST, Rig, no_thread_left

from appliance.sim.customer import CustomerScript
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.sim.pty import PtyPair
from appliance.telephony.at import LineAssembler
from appliance.telephony.health import Supervision
from appliance.telephony.profile import ModemProfile, load_profile

Reply = bytes | Callable[["ScriptedPeer"], None] | None


class ScriptedPeer:
    """The far end of a pty that answers commands from a table, one byte at a time.

    ``replies`` maps a command line (as received) to raw bytes to send back
    (None: stay silent, a callable: do something else). Unknown commands get
    ``default`` (``\\r\\nERROR\\r\\n``).
    """

    def __init__(
        self,
        replies: dict[str, Reply],
        *,
        echo: bool = False,
        byte_gap: float = 0.0005,
        default: Reply = b"\r\nERROR\r\n",
    ) -> None:
        self.pty = PtyPair()
        self.path = self.pty.path
        self.replies = replies
        self.default = default
        self.echo = echo
        self.byte_gap = byte_gap
        self.received: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scripted-peer", daemon=True)
        self._thread.start()

    def send(self, data: bytes, *, gap: float | None = None) -> None:
        """Send bytes one at a time (each its own write, with a tiny gap)."""
        for i in range(len(data)):
            while self.pty.write(data[i : i + 1]) == 0 and not self.pty.closed:
                time.sleep(0.001)
            time.sleep(self.byte_gap if gap is None else gap)

    def _run(self) -> None:
        assembler = LineAssembler()
        while not self._stop.is_set() and not self.pty.closed:
            data = self.pty.read(0.05)
            if not data:
                continue
            if self.echo:
                self.send(data)
            for line in assembler.feed(data):
                self.received.append(line)
                reply = self.replies.get(line, self.default)
                if callable(reply):
                    reply(self)
                elif reply is not None:
                    self.send(reply)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.pty.close()


@pytest.fixture
def scripted_peer() -> Iterator[Callable[..., ScriptedPeer]]:
    peers: list[ScriptedPeer] = []

    def make(replies: dict[str, Reply], **kw: object) -> ScriptedPeer:
        peer = ScriptedPeer(replies, **kw)  # type: ignore[arg-type]
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.close()


@pytest.fixture(scope="session")
def huawei_profile() -> ModemProfile:
    return load_profile("huawei-e1550")


def tone(ms: int, freq: float = 440.0, amplitude: int = 8000, rate: int = 8000) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return (np.sin(2 * np.pi * freq * t) * amplitude).astype("<i2").tobytes()


@pytest.fixture(scope="session")
def reply_wavs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two customer replies as WAV files in awkward formats (16 kHz stereo, 22.05 kHz mono)."""
    import wave

    folder = tmp_path_factory.mktemp("replies")
    out = []
    for name, rate, channels, ms in (("yes", 16000, 2, 400), ("tomorrow", 22050, 1, 600)):
        pcm = np.frombuffer(tone(ms, 500.0, 9000, rate), dtype="<i2")
        if channels == 2:
            pcm = np.repeat(pcm, 2)
        path = folder / f"{name}.wav"
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(channels)
            wav.setsampwidth(2)
            wav.setframerate(rate)
            wav.writeframes(pcm.astype("<i2").tobytes())
        out.append(path)
    return out


@pytest.fixture
def make_sim() -> Iterator[Callable[..., SimulatedHuaweiModem]]:
    sims: list[SimulatedHuaweiModem] = []

    def make(directory: Callable[[str], CustomerScript] | None = None, **kw: object) -> SimulatedHuaweiModem:
        kw.setdefault("ring_ms", 200)
        sim = SimulatedHuaweiModem(directory or (lambda n: CustomerScript("answer")), **kw)  # type: ignore[arg-type]
        sim.start()
        sims.append(sim)
        return sim

    yield make
    for sim in sims:
        sim.stop()


@pytest.fixture(name="tone")
def tone_fixture() -> Callable[..., bytes]:
    """``tone(ms, freq=440, amplitude=8000)``: a sine burst as 8 kHz S16LE."""
    return tone


@pytest.fixture
def rig() -> Iterator[Callable[..., Rig]]:
    """``rig(directory=None, supervision=FAST, **sim_kw)``: a Huawei sim behind a pluggable port and a line on it
    (``r.start()`` supervises it). Every rig is closed, and no thread may be left behind."""
    made: list[Rig] = []

    def make(
        directory: Callable[[str], CustomerScript] | None = None, supervision: Supervision = FAST, **kw: object
    ) -> Rig:
        r = Rig(directory or (lambda n: CustomerScript("silent", max_call_s=20)), supervision, **kw)
        made.append(r)
        return r

    with no_thread_left():
        yield make
        for r in made:
            r.close()


@pytest.fixture
def family_rig() -> Iterator[Callable[[str, CustomerScript], Rig]]:
    """``family_rig(profile, script)``: the same rig for any modem family (ring 150 ms, line named after it)."""
    made: list[Rig] = []

    def make(profile: str, script: CustomerScript) -> Rig:
        r = Rig(lambda n: script, FAST, profile=profile, name=profile, ring_ms=150)
        made.append(r)
        return r

    with no_thread_left():
        yield make
        for r in made:
            r.close()
