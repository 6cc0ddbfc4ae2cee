"""A real HTTP server on 127.0.0.1 for a test's receiver (a helpdesk, an upstream, a callback target): the
handler class on a free port, served on a thread of its own, shut down when the block ends."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler], name: str) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` while the block runs."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(5)
