"""Live events for the panel: a small in-process publish/subscribe.

The box publishes what happens (a line's state, a call starting, each turn, a call ending, today's counters) from
its own threads; each browser's ``GET /events`` stream is one subscriber. Publishing never waits for a subscriber:
each has a bounded queue (``QUEUE_LIMIT``), and one that falls that far behind (a stalled browser, a connection
that went away without a word) is marked *lost* and dropped from the fan-out; its stream then sends a fresh
snapshot instead of the events it missed. A call's thread therefore spends one short lock per event, whatever the
browsers do.

Each stream holds one of the web server's threads (waitress runs 8), so the hub admits at most ``max_streams`` at
once; the web layer ends a stream after a few minutes and the browser reconnects (``retry:``).
"""

from __future__ import annotations

import collections
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["QUEUE_LIMIT", "Event", "EventHub", "Subscription"]

QUEUE_LIMIT = 500  # events a subscriber may fall behind before it is dropped and resynchronised


@dataclass(frozen=True)
class Event:
    id: int  # increasing over the hub's life
    kind: str  # line, call, turn, call_ended, counters
    data: dict[str, Any]


@dataclass(eq=False)
class Subscription:
    """One subscriber's queue. ``snapshot``: the state when it subscribed, to which its events apply."""

    hub: EventHub
    snapshot: dict[str, Any]
    limit: int = QUEUE_LIMIT
    lost: bool = False  # fell behind by ``limit`` events: read a new snapshot (``renew``)
    _events: collections.deque[Event] = field(default_factory=collections.deque)
    _ready: threading.Condition = field(default_factory=threading.Condition)

    def _offer(self, event: Event) -> bool:
        """Called by the hub under its lock: False when this subscriber is too far behind (and now lost)."""
        with self._ready:
            if len(self._events) >= self.limit:
                self.lost = True
                self._events.clear()
                self._ready.notify_all()
                return False
            self._events.append(event)
            self._ready.notify_all()
            return True

    @property
    def closed(self) -> bool:
        return self.hub.closed

    def get(self, timeout: float) -> list[Event]:
        """The events waiting, after at most ``timeout`` seconds (maybe none); [] at once when lost or closed."""
        with self._ready:
            if not self._events and not self.lost and not self.hub.closed:
                self._ready.wait(timeout)
            events = list(self._events)
            self._events.clear()
            return events

    def wake(self) -> None:
        with self._ready:
            self._ready.notify_all()

    def renew(self) -> Subscription | None:
        """A lost subscriber's way back: a new snapshot and an empty queue (None when closed or full)."""
        return self.hub.resubscribe(self)

    def close(self) -> None:
        self.hub.unsubscribe(self)


class EventHub:
    """Fans events out to subscribers. ``apply(kind, data)`` runs under the hub's lock before the fan-out, so a
    state kept beside the hub (``appliance.panel.live.LiveBoard``) and each new subscriber's snapshot agree: an
    event is either in the snapshot or in the queue, never both, never neither."""

    def __init__(self, *, max_streams: int = 4, apply: Callable[[str, dict[str, Any]], None] | None = None,
                 snapshot: Callable[[], dict[str, Any]] | None = None, limit: int = QUEUE_LIMIT) -> None:
        self.max_streams = max_streams
        self.limit = limit
        self._apply = apply
        self._snapshot = snapshot or dict
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._last = 0
        self._subscribers: list[Subscription] = []
        self.closed = False
        self.dropped = 0  # subscribers lost for falling behind, over the hub's life

    @property
    def streams(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def publish(self, kind: str, data: dict[str, Any]) -> Event:
        """Apply the event to the state and queue it for every subscriber; never blocks on one."""
        with self._lock:
            if self._apply is not None:
                self._apply(kind, data)
            event = Event(next(self._ids), kind, data)
            self._last = event.id
            keep = []
            for sub in self._subscribers:
                if sub._offer(event):
                    keep.append(sub)
                else:
                    self.dropped += 1
            self._subscribers = keep
        return event

    def subscribe(self) -> Subscription | None:
        """A new subscriber with the current snapshot (``snapshot["event_id"]``: the last event in it); None when
        ``max_streams`` are open already, or the hub is closed."""
        with self._lock:
            if self.closed or len(self._subscribers) >= self.max_streams:
                return None
            sub = Subscription(self, self._snapshot() | {"event_id": self._last}, self.limit)
            self._subscribers.append(sub)
            return sub

    def resubscribe(self, sub: Subscription) -> Subscription | None:
        """A lost subscriber's way back: a new snapshot and an empty queue (None when closed)."""
        self.unsubscribe(sub)
        return self.subscribe()

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subscribers:
                self._subscribers.remove(sub)
        sub.wake()

    def close(self) -> None:
        """The box stops: every stream ends at its next look."""
        with self._lock:
            self.closed = True
            subs, self._subscribers = self._subscribers, []
        for sub in subs:
            sub.wake()
