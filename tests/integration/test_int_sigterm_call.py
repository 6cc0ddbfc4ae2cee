"""SIGTERM to `callbox serve --simulate 1` in mid-call, as systemd stops the box: the call in progress finishes
its prompt, says goodbye and hangs up; the process exits 0 within 12 s; the call row ends ``interrupted`` with
the goodbye as the bot's last turn (and on the recording); a second ticket waiting for the line was never
dialed, is still pending and not counted as an attempt, and the next start dials it."""

from __future__ import annotations

import array
import base64
import os
import signal
import sqlite3
import subprocess
import sys
import time
import wave
from pathlib import Path
from typing import Any

import pytest

from appliance.cli.demo import post_ticket
from appliance.dialog.runtime.goodbye import BOX_STOPPING

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_" + base64.b64encode(b"sigterm-mid-call-secret-0123456789").decode()

pytestmark = pytest.mark.slow


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(tmp_path: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    config = tmp_path / "callbox.toml"
    config.write_text('[calling]\nhours = "00:00-00:00"\nring_timeout_s = 6\nmax_attempts = 3\n'
                      '[log]\nformat = "text"\n')
    env = {**os.environ, "CALLBOX_CONFIG": str(config), "CALLBOX_STATE_DIR": str(tmp_path / "state"),
           "CALLBOX_LISTEN": f"127.0.0.1:{port}", "CALLBOX_WEBHOOK_SECRET": SECRET}
    env.pop("NOTIFY_SOCKET", None)
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "appliance.cli", "serve", "--simulate", "1"], cwd=ROOT,
                                env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)


def wait_for(check: Any, timeout: float, proc: subprocess.Popen[bytes], log: Path) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "callbox serve exited early: " + log.read_text()[-3000:]
        try:
            found = check()
        except OSError:
            found = None
        if found:
            return found
        time.sleep(0.1)  # polling a real server and its log from outside its process
    raise AssertionError(f"not reached within {timeout} s: " + log.read_text()[-3000:])


def rows(db: Path, sql: str, *args: Any) -> list[sqlite3.Row]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def ticket(tid: str, phone: str) -> dict[str, Any]:
    return {"id": tid, "type": "delivery", "subject": "Parcel out for delivery", "description": "",
            "customer": {"name": "Bruno Keller", "phone": phone}, "order": {"id": "48211", "status": "shipped"}}


def bot_voiced_after(recording: Path, from_s: float) -> float:
    """Seconds of the bot's channel with speech in it from ``from_s`` on (20 ms windows over a quiet floor)."""
    with wave.open(str(recording)) as wav:
        rate, channels = wav.getframerate(), wav.getnchannels()
        samples = array.array("h", wav.readframes(wav.getnframes()))
    bot = samples[1::channels]  # (customer, bot)
    window = rate // 50
    voiced = 0
    for i in range(int(from_s * rate), len(bot) - window, window):
        chunk = bot[i:i + window]
        if sum(abs(v) for v in chunk) / window > 300:
            voiced += 1
    return voiced / 50


def test_sigterm_mid_call_says_goodbye_keeps_the_queue_and_exits_0(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    db = tmp_path / "state" / "callbox.db"
    proc = start(tmp_path, port, log)
    try:
        wait_for(lambda: "panel and webhook on" in log.read_text(), 120, proc, log)
        # the number's last digit picks the simulated customer: 1 talks a while ("not tomorrow, another day")
        first = post_ticket(f"{base}/api/v1/tickets", SECRET, ticket("STOP-1", "+15550100001"))
        assert first["decision"] == "call"
        second = post_ticket(f"{base}/api/v1/tickets", SECRET, ticket("STOP-2", "+15550100011"))
        assert second["decision"] == "call"  # waits: the only line is busy with the first
        wait_for(lambda: ": bot says (" in log.read_text(), 90, proc, log)  # answered, a prompt playing
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        try:
            code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("callbox serve still running 15 s after SIGTERM: " + log.read_text()[-3000:]) from None
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert took <= 12, f"{took:.1f} s from SIGTERM to exit"
    assert "Traceback" not in text, text[-3000:]

    [call] = rows(db, "SELECT * FROM calls WHERE ticket_id='STOP-1'")
    assert call["answered_at"] is not None and call["ended_at"] is not None
    assert call["outcome"] == "interrupted", dict(call)
    assert "The box stopped during the call" in call["remark"], call["remark"]
    turns = rows(db, "SELECT speaker, text, at_ms FROM turns WHERE call_id=? ORDER BY seq", call["id"])
    bot = [t for t in turns if t["speaker"] == "bot"]
    assert len(bot) >= 2 and bot[-1]["text"] == BOX_STOPPING["en"], [tuple(t) for t in turns]
    assert turns[-1]["text"] == BOX_STOPPING["en"]  # nothing after it: the bot hung up
    # the goodbye is on the recording: the bot's channel speaks from the goodbye turn on
    recording = Path(call["recording"])
    assert recording.is_file()
    assert bot_voiced_after(recording, bot[-1]["at_ms"] / 1000) >= 1.0
    [task1] = rows(db, "SELECT * FROM tasks WHERE ticket_id='STOP-1'")
    assert task1["attempts"] == 1 and task1["state"] == "pending" and task1["last_outcome"] == "interrupted"

    # the second ticket was never dialed: no call, its task pending and not counted
    assert rows(db, "SELECT id FROM calls WHERE ticket_id='STOP-2'") == []
    [task2] = rows(db, "SELECT * FROM tasks WHERE ticket_id='STOP-2'")
    assert (task2["state"], task2["attempts"]) == ("pending", 0)

    # the next start dials it
    proc = start(tmp_path, port, log)
    try:
        wait_for(lambda: rows(db, "SELECT id FROM calls WHERE ticket_id='STOP-2'"), 120, proc, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    assert code == 0, log.read_text()[-3000:]
