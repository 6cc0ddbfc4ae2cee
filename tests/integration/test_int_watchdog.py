"""systemd's notify protocol, with a real NOTIFY_SOCKET (a unix datagram socket the test binds): a real
``callbox serve`` says READY=1, pings WATCHDOG=1 every WatchdogSec/2 and says STOPPING=1 on SIGTERM; in a real
box in-process, the pings stop when a line supervisor dies, the outbox worker dies, or the scheduler hangs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.box import Callbox, build_line
from appliance.campaign.calls import SpeechKit
from appliance.config import Config, LineConfig, WebConfig
from appliance.sim.customer import CustomerScript
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.watchdog import Notifier, Watchdog, watchdog_interval

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", path)  # where sdnotify looks
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)
    try:
        yield sock, path
    finally:
        sock.close()


def received(sock: socket.socket, seconds: float) -> list[str]:
    """Every message that arrives within ``seconds``."""
    out: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            out.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
    return out


def test_no_notify_socket_no_messages_and_interval_from_watchdog_usec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    quiet = Notifier()
    quiet.ready()
    quiet.ping()  # nothing to send to, nothing raised
    assert quiet.enabled is False
    assert watchdog_interval({"WATCHDOG_USEC": "20000000"}) == 10.0
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}) is None  # not ours
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None


@pytest.fixture
def box(tmp_path: Path, pocketsphinx_engine: object) -> Iterator[Callbox]:
    sim = SimulatedHuaweiModem(lambda n: CustomerScript("busy"))
    sim.start()
    kit = SpeechKit(asr=pocketsphinx_engine, tts=None, endpointer=lambda: None)  # type: ignore[arg-type]
    config = Config(state_dir=tmp_path / "state", web=WebConfig(callback_url="http://127.0.0.1:9/hook"))
    box = Callbox(config, speech=kit, lines=[build_line(LineConfig("sim0", sim.at_port, sim.audio_port))])
    box.start()
    try:
        yield box
    finally:
        box.stop()
        sim.stop()


def test_pings_stop_when_a_line_supervisor_dies(box: Callbox, notify_socket: tuple[socket.socket, str]) -> None:
    sock, _ = notify_socket
    watchdog = Watchdog(Notifier(), box.dead_parts, 0.05)
    ticking = threading.Event()

    def loop() -> None:  # the main loop's part: tick often
        while not ticking.is_set():
            watchdog.tick()
            time.sleep(0.01)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        assert received(sock, 0.6).count("WATCHDOG=1") >= 5  # every 50 ms while all lives
        [supervisor] = box.supervisors
        supervisor.stop_event.set()  # its thread ends: the line would never be reopened after a fault
        supervisor.join()
        assert not supervisor.alive
        received(sock, 0.1)  # a ping already on its way
        assert received(sock, 0.6) == []
        assert watchdog.withheld == ["line-supervisor-sim0"]
    finally:
        ticking.set()
        t.join()


def test_pings_stop_when_the_outbox_worker_dies(box: Callbox, notify_socket: tuple[socket.socket, str]) -> None:
    sock, _ = notify_socket
    watchdog = Watchdog(Notifier(), box.dead_parts, 0.0)
    assert watchdog.tick() and received(sock, 0.3) == ["WATCHDOG=1"]
    assert box.outbox is not None
    box.outbox.stop()
    assert not watchdog.tick() and received(sock, 0.3) == []
    assert watchdog.withheld == ["outbox"]


def test_pings_stop_while_the_scheduler_hangs(box: Callbox, notify_socket: tuple[socket.socket, str]) -> None:
    sock, _ = notify_socket
    watchdog = Watchdog(Notifier(), lambda: box.dead_parts(hung_after_s=0.5), 0.0)
    assert watchdog.tick() and received(sock, 0.3) == ["WATCHDOG=1"]
    release, stuck = threading.Event(), threading.Event()
    looks = box.scheduler._hand_one

    def hang() -> bool:  # a dispatcher stuck on something that never returns (a lock, a dead disk)
        stuck.set()
        release.wait(30)
        return looks()

    box.scheduler._hand_one = hang  # type: ignore[method-assign]
    box.scheduler.wake()
    try:
        assert stuck.wait(5)
        time.sleep(0.7)
        assert not watchdog.tick() and received(sock, 0.3) == []
        assert watchdog.withheld[0].startswith("scheduler (hung ")
    finally:
        release.set()
    time.sleep(1.2)  # it turns again: the pings come back
    assert watchdog.tick() and received(sock, 0.3) == ["WATCHDOG=1"]


@pytest.mark.slow
def test_serve_tells_systemd_ready_pings_and_stopping(tmp_path: Path,
                                                      notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "callbox.toml"
    config.write_text('[calling]\nhours = "00:00-00:00"\n')
    env = {**os.environ, "CALLBOX_CONFIG": str(config), "CALLBOX_STATE_DIR": str(tmp_path / "state"),
           "CALLBOX_LISTEN": f"127.0.0.1:{port}", "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"}
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen([sys.executable, "-m", "appliance.cli", "serve", "--simulate", "1"], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        messages: list[str] = []
        deadline = time.monotonic() + 120
        while not any(m.startswith("READY=1") for m in messages) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            messages += received(sock, 0.5)
        [ready] = [m for m in messages if m.startswith("READY=1")]
        assert f"STATUS=serving on port {port}" in ready
        pings = received(sock, 2.2).count("WATCHDOG=1")
        assert 3 <= pings <= 6, pings  # every 0.5 s (WatchdogSec=1)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    rest = received(sock, 0.3)  # what it said since the last read, queued on the socket
    assert rest and rest[-1] == "STOPPING=1", rest
