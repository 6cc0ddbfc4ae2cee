"""A real HTTP server on 127.0.0.1 for API-node tests: JSON answers, an error, and a route that never answers
in time (it waits on an event the fixture sets at the end, so no sleep outlives the test)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RETURNS = {
    "R-1": {"data": {"status": "received", "refund": {"amount": 25, "date": "Friday"}}},
    "R-2": {"data": {"status": "in_transit", "refund": None}},
}


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.release = threading.Event()
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: ApiServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.server.requests.append((self.command, self.path, dict(self.headers), body))
        parts = self.path.strip("/").split("/")
        if parts[0] == "slow":
            self.server.release.wait(10)
            self._answer(200, {"data": {"status": "late"}})
        elif parts[0] == "returns" and len(parts) == 2:
            found = RETURNS.get(parts[1])
            self._answer(200 if found else 404, found or {"error": "no such return"})
        elif parts[0] == "broken":
            self._answer(500, {"error": "boom"})
        elif parts[0] == "echo":
            self._answer(200, {"data": {"got": body}})
        else:
            self._answer(404, {"error": "not found"})

    do_GET = _handle
    do_POST = _handle


@contextmanager
def api_server() -> Iterator[ApiServer]:
    server = ApiServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="test-api",
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
