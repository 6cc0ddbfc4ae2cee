"""A real HTTP receiver on 127.0.0.1 for the upstream sync tests. Until ``up()`` its port is bound but not
listening, so a connection is refused (the box's upstream is off); then it reads, verifies and logs each message
and answers ``status`` (204; 500 is what a sender sees as a lost acknowledgement: the message arrived).

Each message's Standard Webhooks signature is checked (the HMAC only: the tests' clock is not the wall clock, so
the library's five-minute timestamp window does not apply; ``test_sync_upstream`` checks a record with the
library itself) and it is logged as one compact JSON line in a file
(``log``), so the receiver's own memory does not grow with the messages it took (the sender's memory is measured).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
from pathlib import Path
from typing import Any


class UpstreamServer:
    def __init__(self, secret: str, log: Path) -> None:
        self.secret = secret
        self.log_path = log
        self._log = log.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self.status = 204
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                entry: dict[str, Any] = {"status": server.status, "key": self.headers.get("idempotency-key"),
                                         "webhook_id": self.headers.get("webhook-id"),
                                         "type": self.headers.get("content-type")}
                if not server.verify_bytes(body, self.headers):
                    entry |= {"status": 400, "bad_signature": "HMAC over the raw body does not match"}
                if entry["type"] == "audio/wav":
                    entry |= {"record": self.headers.get("callbox-record-id"), "bytes": len(body)}
                else:
                    message = json.loads(body)
                    entry |= {"id": message["id"], "call": message["data"]["call_id"]}
                server._write(entry)
                self.send_response(entry["status"])
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.httpd.daemon_threads = True
        self.httpd.server_bind()  # bound, not listening: connections are refused until up()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/callbox/records"
        self._thread: threading.Thread | None = None

    def verify_bytes(self, body: bytes, headers: Any) -> bool:
        """Standard Webhooks over a binary body: HMAC-SHA256 of ``<id>.<timestamp>.`` and the raw bytes."""
        key = base64.b64decode(self.secret.removeprefix("whsec_"))
        signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        return any(sig.split(",", 1)[-1] == expected for sig in headers["webhook-signature"].split())

    def _write(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._log.write(json.dumps(entry) + "\n")
            self._log.flush()

    def up(self, status: int = 204) -> None:
        self.status = status
        if self._thread is None:
            self.httpd.server_activate()
            self._thread = threading.Thread(target=self.httpd.serve_forever, name="upstream-receiver",
                                            kwargs={"poll_interval": 0.05}, daemon=True)
            self._thread.start()

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(line) for line in self.log_path.read_text(encoding="utf-8").splitlines()]

    def close(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(5)
        self.httpd.server_close()
        self._log.close()
