"""Helpers and fixtures for the owner's console in a real browser against the real box: one ``callbox serve
--simulate 2`` process for the session (its own config and state dir, a real SQLite file, simulated modems and
customers), Debian's chromium driven by Playwright. Every test saves screenshots under ``test-output/console/``."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from appliance.cli.demo import post_ticket

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "console"
SECRET = "whsec_" + base64.b64encode(b"console-browser-tests-secret-012").decode()
TOKEN = "console-test-api-token"
ADMIN = ("owner", "correct horse battery staple")
CONFIG = """\
[shop]
name = "Corner Shop"
time_zone = "Europe/Berlin"

[calling]
hours = "00:00-00:00"
ring_timeout_s = 4
max_attempts = 1
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Box:
    """A running ``callbox serve --simulate``: its address, secrets and files."""

    url: str
    state: Path
    config: Path
    proc: subprocess.Popen[str]
    log: Path

    def api(self, path: str) -> Any:
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def ticket(self, ticket_id: str, *, phone: str = "+15550100000", name: str = "Alice Moreau",
               kind: str = "delivery") -> dict[str, Any]:
        """Post a signed ticket to the box's webhook, as a helpdesk would; its answer."""
        body = {"id": ticket_id, "type": kind, "subject": "Parcel out for delivery", "description": "",
                "customer": {"name": name, "phone": phone}, "order": {"id": "48210", "status": "shipped"}}
        answer: dict[str, Any] = post_ticket(f"{self.url}/api/v1/tickets", SECRET, body)
        return answer

    def wait(self, check: Callable[[], Any], timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "callbox serve exited: " + self.log.read_text()[-3000:]
            try:
                found = check()
            except (OSError, urllib.error.HTTPError):
                found = None
            if found:
                return found
            time.sleep(0.25)  # polling a real server from outside its process
        raise AssertionError(f"not reached within {timeout} s")


def start_box(tmp: Path, *, lines: int = 2, config: str = CONFIG, admin: tuple[str, str] | None = ADMIN) -> Box:
    """Start ``callbox serve --simulate`` in ``tmp``; with ``admin``, that account exists before it starts."""
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "callbox.toml"
    path.write_text(config)
    port = free_port()
    env = {**os.environ, "CALLBOX_CONFIG": str(path), "CALLBOX_STATE_DIR": str(tmp / "state"),
           "CALLBOX_LISTEN": f"127.0.0.1:{port}", "CALLBOX_WEBHOOK_SECRET": SECRET, "CALLBOX_API_TOKEN": TOKEN}
    if admin is not None:
        subprocess.run([sys.executable, "-m", "appliance.cli", "passwd", "--stdin", admin[0]], cwd=ROOT, env=env,
                       input=admin[1] + "\n", text=True, check=True, capture_output=True, timeout=60)
    log = tmp / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "appliance.cli", "serve", "--simulate", str(lines)], cwd=ROOT,
                                env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, text=True)
    box = Box(f"http://127.0.0.1:{port}", tmp / "state", path, proc, log)
    try:
        box.wait(lambda: json.loads(urllib.request.urlopen(box.url + "/healthz", timeout=5).read()), 120)
    except BaseException:
        stop_box(box)
        raise
    return box


def stop_box(box: Box) -> None:
    box.proc.send_signal(signal.SIGTERM)
    try:
        box.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        box.proc.kill()
        box.proc.wait()


@pytest.fixture(scope="session")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    running = start_box(tmp_path_factory.mktemp("console-box"))
    try:
        yield running
    finally:
        stop_box(running)
    assert "Traceback" not in running.log.read_text(), running.log.read_text()[-4000:]


class Screens:
    """Saves a test's screenshots as ``test-output/console/<test>-<n>-<what>.png``."""

    def __init__(self, test: str) -> None:
        self.test = test
        self.count = 0
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, page: Page, what: str) -> Path:
        self.count += 1
        path = SCREENSHOTS / f"{self.test}-{self.count:02d}-{what}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000
        return path


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Screens:
    return Screens(request.node.name)


def new_page(browser: Browser, box: Box, *, width: int = 1366, height: int = 900, mobile: bool = False,
             locale: str = "en-US") -> tuple[BrowserContext, Page, list[str]]:
    """A fresh browser context; the list collects console errors and requests that left the box (none may)."""
    context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=mobile, locale=locale)
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("request", lambda r: problems.append(f"external: {r.url}")
            if not r.url.startswith((box.url, "data:", "blob:")) else None)
    return context, page, problems


def sign_in(page: Page, box: Box, user: tuple[str, str] = ADMIN) -> None:
    page.goto(box.url + "/login")
    page.fill("#username", user[0])
    page.fill("#password", user[1])
    page.click("form.form button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, page.inner_text("main")


@pytest.fixture
def admin(browser: Browser, box: Box) -> Iterator[Page]:
    """A page signed in as the admin, 1366 px wide; fails the test on a console error or an outside request."""
    context, page, problems = new_page(browser, box)
    sign_in(page, box)
    yield page
    context.close()
    assert problems == []
