"""The dashboard (``/dashboard``, where ``/`` leads) and its live events (``GET /events``, Server-Sent Events).

A stream holds one of the web server's threads (waitress runs 8) for as long as it is open, so it ends after
``STREAM_S`` with a ``retry:`` that brings the browser back within seconds, the box admits at most a few at once
(``appliance.panel.events.EventHub.max_streams``; one more gets a ``busy`` event and comes back 10 s later), a
browser that went away frees its thread within a second (waitress's ``client_disconnected``), and a comment every
``HEARTBEAT_S`` keeps proxies from closing a quiet stream. Each
(re)connection starts with a ``snapshot`` event: the page draws it, then applies the events that follow, so a
reconnect never leaves the page behind."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.wrappers import Response as BaseResponse

from web.auth import login_required
from web.live_words import words
from web.panel import render_page, service
from web.service import LiveService, LiveStream

bp = Blueprint("dashboard", __name__)

STREAM_S = 300.0  # a stream ends after this long; the browser reconnects (and reads a new snapshot)
HEARTBEAT_S = 15.0  # a comment this often when nothing happens
RETRY_MS = 2000  # how soon the browser reconnects after a stream ends
BUSY_RETRY_MS = 10_000  # ... when the box had no room for another stream
GONE_CHECK_S = 1.0  # how often a stream asks waitress whether its browser went away


def _frame(kind: str, data: Any, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _snapshot(live: LiveService, stream: LiveStream) -> str:
    counters: dict[str, Any] | None
    try:
        counters = live.counters()
    except Exception:  # the lines and calls still go out; the counters come with the next call
        counters = None
    return _frame("snapshot", stream.snapshot | {"counters": counters}, stream.snapshot.get("event_id"))


def event_stream(live: LiveService, stream: LiveStream, *, stream_s: float = STREAM_S,
                 heartbeat_s: float = HEARTBEAT_S, gone: Callable[[], bool] | None = None) -> Iterator[str]:
    """The text of one stream: ``retry:`` and the snapshot, then events as they come and a heartbeat comment
    when none came for ``heartbeat_s``, until ``stream_s`` has passed, the box stops or ``gone()`` says the browser
    left (waitress's ``waitress.client_disconnected``, asked every ``GONE_CHECK_S``: a closed tab frees its thread
    within a second, not at the next heartbeat)."""
    current: LiveStream | None = stream
    try:
        yield f"retry: {RETRY_MS}\n\n"
        yield _snapshot(live, stream)
        start = beat = time.monotonic()
        while current is not None and not current.closed:
            now = time.monotonic()
            if now - start >= stream_s:
                break
            if gone is not None and gone():
                break
            wait = min(heartbeat_s - (now - beat), stream_s - (now - start), heartbeat_s)
            events = current.get(min(wait, GONE_CHECK_S) if gone is not None else wait)
            if current.lost:  # too far behind: a new snapshot instead of what it missed
                current = current.renew()
                if current is not None:
                    yield _snapshot(live, current)
                continue
            for event in events:
                yield _frame(event.kind, event.data, event.id)
            if events:
                beat = time.monotonic()
            elif time.monotonic() - beat >= heartbeat_s - 0.01:
                yield ": heartbeat\n\n"
                beat = time.monotonic()
    finally:
        if current is not None:
            current.close()


@bp.get("/events")
@login_required
def events() -> Response:
    live = service().live
    stream = live.subscribe()
    if stream is None:  # no room: a stream that only says when to come back (the browser reconnects by itself)
        busy = Response(f"retry: {BUSY_RETRY_MS}\n\n" + _frame("busy", {}), mimetype="text/event-stream")
        busy.headers["Cache-Control"] = "no-store"
        return busy
    gone = request.environ.get("waitress.client_disconnected")  # with channel_request_lookahead (callbox serve)
    response = Response(event_stream(live, stream, gone=gone), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # a proxy in front passes each event at once
    return response


@bp.get("/dashboard")
@login_required
def index() -> str:
    return render_page("dashboard.html", page="dashboard", board=service().live.dashboard(), words=words())


@bp.get("/dashboard/state")
@login_required
def state() -> BaseResponse:
    """The dashboard's state as JSON (what the page draws first)."""
    return jsonify(service().live.dashboard())


@bp.get("/live/lines")
@login_required
def lines() -> BaseResponse:
    """The lines as the status strip shows them, for pages without the event stream (polled every few s)."""
    return jsonify(lines=service().live.lines())
