"""`callbox serve --simulate 1` as an owner tries it: the real server process, configured through the
environment, takes a signed ticket over HTTP, calls a simulated customer, shows the call on the read API, and
stops cleanly on SIGTERM."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from appliance.cli.demo import post_ticket

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_" + base64.b64encode(b"serve-simulate-secret-0123456789").decode()
TOKEN = "read-api-token-for-the-test"
FINAL = {"completed", "busy", "no_answer", "rejected", "failed", "interrupted", "hung_up"}

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, *, token: str | None = None) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def wait_for(check: Any, timeout: float, proc: subprocess.Popen[str]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "callbox serve exited early"
        try:
            found = check()
        except OSError:
            found = None
        if found:
            return found
        time.sleep(0.25)  # polling a real HTTP server from outside its process
    raise AssertionError(f"not reached within {timeout} s")


def stop_output(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGTERM, as systemd stops the box; killed if it is not gone in 30 s. Returns (stdout, stderr): the log
    goes to stdout (journald), a crash's own traceback to stderr."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


def stop(proc: subprocess.Popen[str]) -> str:
    """:func:`stop_output`, both streams in one text."""
    out, err = stop_output(proc)
    return out + err


def test_serve_simulate_takes_a_ticket_calls_and_stops_cleanly(tmp_path: Path) -> None:
    config = tmp_path / "callbox.toml"
    config.write_text('[calling]\nhours = "00:00-00:00"\nring_timeout_s = 4\nmax_attempts = 1\n')
    port = free_port()
    env = {**os.environ, "CALLBOX_CONFIG": str(config), "CALLBOX_STATE_DIR": str(tmp_path / "state"),
           "CALLBOX_LISTEN": f"127.0.0.1:{port}", "CALLBOX_WEBHOOK_SECRET": SECRET, "CALLBOX_API_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "-m", "appliance.cli", "serve", "--simulate", "1"], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: get(f"{base}/healthz").get("ok"), 90, proc)
        ticket = {"id": "SIM-1", "type": "delivery", "subject": "Parcel out for delivery", "description": "",
                  "customer": {"name": "Alice Moreau", "phone": "+15550100000"},
                  "order": {"id": "48210", "status": "shipped"}}
        answer = post_ticket(f"{base}/api/v1/tickets", SECRET, ticket)
        assert answer["decision"] == "call" and answer["task"] is not None

        def ended() -> Any:
            calls = get(f"{base}/api/v1/calls", token=TOKEN)["calls"]
            return calls if calls and calls[0]["outcome"] in FINAL else None

        (call,) = wait_for(ended, 120, proc)
        assert call["ticket_id"] == "SIM-1" and call["line"] == "sim0"
        assert call["outcome"] == "completed" and call["turns"][0]["speaker"] == "bot"
        assert any(t["speaker"] == "customer" and t["text"] for t in call["turns"])
    finally:
        out, err = stop_output(proc)
    assert proc.returncode == 0, (out + err)[-2000:]
    assert "Traceback" not in out + err
    # [log] format is json by default: one object a line on stdout, a call's lines carrying its id, line, ticket
    lines = [json.loads(line) for line in out.splitlines()]
    dialing = [line for line in lines if line["msg"].startswith(f"call {call['id']}: dialing")]
    assert [(d["call"], d["line"], d["ticket"]) for d in dialing] == [(call["id"], "sim0", "SIM-1")]
    assert any(line["msg"].startswith("panel and webhook on") and "call" not in line for line in lines)


def test_sigterm_while_requests_are_in_flight_answers_them_and_exits_0(tmp_path: Path) -> None:
    """Closing the HTTP server from the signal handler pulled its trigger out from under the request threads:
    each one answering logged a traceback ("Bad file descriptor"). Now the requests in hand finish first."""
    config = tmp_path / "callbox.toml"
    config.write_text('[calling]\nhours = "00:00-00:00"\n')
    port = free_port()
    env = {**os.environ, "CALLBOX_CONFIG": str(config), "CALLBOX_STATE_DIR": str(tmp_path / "state"),
           "CALLBOX_LISTEN": f"127.0.0.1:{port}"}
    proc = subprocess.Popen([sys.executable, "-m", "appliance.cli", "serve", "--simulate", "1"], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    answered = [0] * 4
    stop = threading.Event()

    def hammer(i: int) -> None:
        while not stop.is_set():
            try:
                answered[i] += bool(get(f"{base}/healthz"))
            except OSError:
                time.sleep(0.02)  # refused once the server stopped listening

    threads = [threading.Thread(target=hammer, args=(i,), daemon=True) for i in range(4)]
    try:
        wait_for(lambda: get(f"{base}/healthz").get("ok"), 90, proc)
        for t in threads:
            t.start()
        wait_for(lambda: sum(answered) >= 50, 30, proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        err = out + err  # the log goes to stdout
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        for t in threads:
            t.join(5)
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err and "Bad file descriptor" not in err, err[-3000:]
