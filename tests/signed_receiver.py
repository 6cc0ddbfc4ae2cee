"""A real HTTP target on 127.0.0.1 that checks the Standard Webhooks signature with its secret, as a shop's callback
or a head office would: 204 for a message signed with it, 401 otherwise. ``answers`` keeps what it answered."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook


class SignedReceiver:
    def __init__(self, secret: str, path: str = "/hook") -> None:
        self.secret = secret
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    Webhook(receiver.secret).verify(body, dict(self.headers))
                    status = 204
                except Exception:
                    status = 401
                receiver.answers.append(status)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = HTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="signed-receiver", daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}{path}"

    def __enter__(self) -> SignedReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(5)
        self._server.server_close()
