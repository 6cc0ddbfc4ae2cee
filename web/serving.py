"""The HTTP server the box runs the panel and webhook in: waitress, set for a small box on a shop's LAN.

waitress's defaults suit a server behind a proxy, not a box anyone on the shop's Wi-Fi can reach: 100 connections
in all (101 idle sockets block the webhook and the panel), an idle connection kept for 120 s, and a request body
of up to 1 GB read whole before the app can answer 413. Here the box keeps more connections than a LAN neighbour
can cheaply hold, drops an idle one after 30 s (looked at every 10 s), and refuses a body larger than its route
takes (the app's 64 KiB, or a ``body_limit`` upload form's) as soon as the headers say so, or, for a chunked body,
as soon as that much has come. ``callbox serve``, the demo and the tests all build the server here, and run and
stop it with :func:`serve_until` and :func:`stop_server` (or :class:`Serving` on a thread of its own).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import create_server as waitress_server
from werkzeug.exceptions import HTTPException

CONNECTION_LIMIT = 400  # sockets held open at once, idle or not (waitress: 100); a Pi's 1024 descriptors hold them
CHANNEL_TIMEOUT_S = 30  # an idle connection is closed after this (waitress: 120)
CLEANUP_INTERVAL_S = 10  # how often idle connections are looked for (waitress: 30)
THREADS = 8
# channel_request_lookahead: waitress reads on while a request runs, so the panel's event stream learns at once
# that its browser went away (environ["waitress.client_disconnected"]) and frees its thread
REQUEST_LOOKAHEAD = 4


def body_limit_for(app: Flask) -> Callable[[str, str], int]:
    """(method, path) -> the most bytes of body the app takes there: a ``body_limit`` view's own limit, else the
    app's ``MAX_CONTENT_LENGTH``. The path is matched as the app will match it (an unknown one gets the default)."""
    default = int(app.config["MAX_CONTENT_LENGTH"])
    urls = app.url_map.bind("callbox.local")

    def limit(method: str, path: str) -> int:
        try:
            endpoint, _args = urls.match(path, method=method)
        except HTTPException:
            return default
        except Exception:  # a path werkzeug cannot even parse: the app answers it, with the default limit
            return default
        view = app.view_functions.get(str(endpoint))
        return int(getattr(view, "body_limit", None) or default)

    return limit


def _channel_class(limit: Callable[[str, str], int]) -> type[HTTPChannel]:
    """waitress's channel with a parser that learns the route's body limit from the request line: a body declared
    larger is refused with 413 before a byte of it is read, a chunked one once it grows past the limit."""
    limited: dict[tuple[int, int], Adjustments] = {}

    class LimitedParser(HTTPRequestParser):  # type: ignore[misc]
        adj: Adjustments  # waitress's settings for this request (its own: the route's body limit)

        def __init__(self, adj: Adjustments, channel: LimitedChannel) -> None:
            super().__init__(adj)
            self.channel = channel

        def received(self, data: bytes) -> int:
            consumed = int(super().received(data))
            if self.error is not None:  # 413 (or a bad request): nothing more is read from this connection
                self.channel.refused = True
                return len(data)
            return consumed

        def parse_header(self, header_plus: bytes) -> None:
            super().parse_header(header_plus)
            most = limit(str(self.command or "GET"), str(self.path or "/")) + 1  # waitress refuses at >= max
            given: Adjustments = self.adj
            key = (id(given), most)
            adj = limited.get(key)
            if adj is None:
                adj = copy.copy(given)
                adj.max_request_body_size = min(most, given.max_request_body_size)
                limited[key] = adj
            self.adj = adj

    class LimitedChannel(HTTPChannel):  # type: ignore[misc]
        """Once a request is refused, the channel reads no more (waitress would read on, and parse the rest of a
        refused body as new requests, until its task thread answers): the answer is sent and the socket closed."""

        refused = False

        def parser_class(self, adj: Adjustments) -> LimitedParser:  # waitress calls self.parser_class(self.adj)
            return LimitedParser(adj, self)

        def received(self, data: bytes) -> bool:
            return False if self.refused else bool(super().received(data))

        def readable(self) -> bool:
            return not self.refused and bool(super().readable())

    return LimitedChannel


def create_server(app: Flask, *, host: str, port: int, threads: int = THREADS, **overrides: Any) -> Any:
    """A waitress server for ``app`` on ``host:port`` (port 0: a free one, see ``server.effective_port``), not yet
    running: call ``server.run()`` or loop it as ``callbox serve`` does. ``overrides``: other waitress settings."""
    settings: dict[str, Any] = {
        "connection_limit": CONNECTION_LIMIT,
        "channel_timeout": CHANNEL_TIMEOUT_S,
        "cleanup_interval": CLEANUP_INTERVAL_S,
        "channel_request_lookahead": REQUEST_LOOKAHEAD,
        "threads": threads,
    }
    settings.update(overrides)
    server = waitress_server(app, host=host, port=port, **settings)
    server.channel_class = _channel_class(body_limit_for(app))
    return server


def serve_until(server: Any, stopping: threading.Event, tick: Callable[[], object] = lambda: None) -> None:
    """waitress's loop, a quarter second at a time, until ``stopping`` is set; ``tick`` after each turn (``callbox
    serve``'s watchdog). (Closing the server from another thread or a signal handler, as ``server.close()`` does,
    pulls its sockets and trigger out from under the loop and the request threads still answering: each logged a
    traceback, "[Errno 9] Bad file descriptor", and ``callbox serve`` exited with it.)"""
    while not stopping.is_set():
        server.asyncore.loop(timeout=0.25, map=server._map, use_poll=server.adj.asyncore_use_poll, count=1)
        tick()


def stop_server(server: Any, grace_s: float = 5) -> None:
    """After :func:`serve_until` has returned, on the thread that ran it or once it has ended: stop taking
    connections, let the requests in hand finish (the loop keeps flushing their answers while the request threads
    end, at most ``grace_s``), then close what is left."""
    server.accepting = False
    server.asyncore.dispatcher.close(server)  # the listening socket only; the trigger stays for the answers
    ending = threading.Thread(target=server.task_dispatcher.shutdown, kwargs={"timeout": grace_s},
                              name="http-stop")
    ending.start()
    while ending.is_alive():
        server.asyncore.loop(timeout=0.05, map=server._map, use_poll=server.adj.asyncore_use_poll, count=1)
    for channel in list(server._map.values()):
        channel.close()
    server.trigger.close()


class Serving:
    """A server from :func:`create_server` served on a thread of its own (the demo, the tests) and stopped cleanly:
    ``stop()`` ends the loop, waits for it, then winds the server down as ``callbox serve`` does."""

    def __init__(self, server: Any, *, name: str = "web") -> None:
        self.server = server
        self.port: int = server.effective_port
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=serve_until, args=(server, self._stopping), name=name, daemon=True)

    def start(self) -> Serving:
        self._thread.start()
        return self

    def stop(self, grace_s: float = 5) -> None:
        self._stopping.set()
        if self._thread.ident is not None:  # started
            self._thread.join()
        stop_server(self.server, grace_s)
