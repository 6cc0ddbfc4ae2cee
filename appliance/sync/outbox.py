"""The outbox worker: delivers ticket operations to the ticketing system, in order per ticket, retried.

Each item goes to its ticket's helpdesk REST API or to the native signed callback (``sync.destinations``) under
a key unique across boxes and reinstalls (``message_key``: the state dir's random box id and the row id). A
failure is retried with exponential backoff from 5 s, capped at 10 minutes, with jitter (a down ticketing system
hears from the box again within 10 minutes of coming back); a 429 waits as long as its ``Retry-After`` says. A
4xx other than 408 and 429 means the request itself is wrong and will not get better: the item is given up,
marked as such, and shown by ``GET /api/v1/outbox`` with its error. A ticket's later item is not sent while an
earlier one of the same ticket is undelivered (``records.outbox``); other tickets go on.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from appliance.records.store import RecordsStore
from appliance.sync.destinations import Destination, HttpRequest, NativeCallback, Outgoing, message_key

log = logging.getLogger(__name__)

__all__ = ["BACKOFF_CAP_S", "BACKOFF_FIRST_S", "DeliveryError", "OutboxWorker", "retry_delay", "send"]

BACKOFF_FIRST_S = 5.0
BACKOFF_CAP_S = 600.0
RETRY_AFTER_MAX_S = 24 * 3600.0  # a Retry-After further away than a day is read as a day


def retry_delay(failures: int, jitter: float) -> float:
    """Seconds before the next try after ``failures`` earlier failed tries (0 for the first failure):
    5 s doubling up to 600 s, less up to 20 % at random (``jitter`` in [0, 1)) so boxes do not retry in step."""
    base = min(BACKOFF_CAP_S, BACKOFF_FIRST_S * 2 ** min(failures, 20))
    return base * (1.0 - 0.2 * jitter)


class DeliveryError(Exception):
    """A request that did not go through: ``status`` is the HTTP status (None: no answer), ``retry_after`` the
    seconds a 429 or 503 asked for."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def permanent(self) -> bool:
        return self.status is not None and 400 <= self.status < 500 and self.status not in (408, 429)


def _retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        seconds = float(text)
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    return min(max(seconds, 1.0), RETRY_AFTER_MAX_S)


def send(request: HttpRequest, *, timeout_s: float, now: datetime) -> None:
    """Send one request; a 2xx returns, anything else raises ``DeliveryError``."""
    req = urllib.request.Request(request.url, data=request.body, method=request.method, headers=request.headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace").strip()
        exc.close()
        raise DeliveryError(f"{request.method} {request.url}: HTTP {exc.code}" + (f" {detail}" if detail else ""),
                            status=exc.code, retry_after=_retry_after(exc.headers.get("Retry-After"), now)) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DeliveryError(f"{request.method} {request.url}: {exc}") from exc
    if not 200 <= status < 300:
        raise DeliveryError(f"{request.method} {request.url}: HTTP {status}", status=status)


class OutboxWorker:
    """``url``/``secret``: the native callback (none when ``url`` is empty); ``helpdesks``: the REST APIs by
    helpdesk name (``sync.destinations.rest_apis``); ``box_id``: this installation's id (``files.
    load_or_create_box_id``). It delivers the outbox rows of its ``target`` (``records.outbox``), ``batch`` at a
    time."""

    target = "ticket"
    thread_name = "outbox"

    def __init__(
        self,
        records: RecordsStore,
        *,
        url: str,
        secret: str,
        box_id: str,
        helpdesks: Mapping[str, Destination] | None = None,
        poll_s: float = 2.0,
        timeout_s: float = 10.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        jitter: Callable[[], float] = random.random,
        batch: int = 20,
    ) -> None:
        if not box_id:
            raise ValueError("the outbox needs this box's id")
        self.records = records
        self.native: Destination | None = NativeCallback(url, secret) if url else None
        self.helpdesks = dict(helpdesks or {})
        self.box_id = box_id
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self.clock = clock
        self.jitter = jitter
        self.batch = batch
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        """Its thread runs (the box's watchdog pings systemd only while it does)."""
        return self._thread.is_alive()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due()
            except Exception:
                log.exception("%s pass failed", self.thread_name)
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def destination(self, payload: dict[str, Any]) -> Destination | None:
        """The ticket's helpdesk when its REST API is configured, else the native callback (None: neither)."""
        ticket_id = payload.get("ticket")
        if ticket_id is not None and self.helpdesks:
            ticket = self.records.ticket(str(ticket_id))
            helpdesk = ticket.vars.get("helpdesk") if ticket is not None else None
            if helpdesk in self.helpdesks:
                return self.helpdesks[str(helpdesk)]
        return self.native

    def deliver_due(self) -> int:
        """One pass over the due items; returns how many were delivered."""
        delivered = 0
        for item in self.records.outbox.due(self.clock(), limit=self.batch, target=self.target):
            if self._stop.is_set():
                break
            if self._deliver(item):
                delivered += 1
        return delivered

    def _deliver(self, item: dict[str, Any]) -> bool:
        item_id = int(item["id"])
        try:
            payload = json.loads(item["payload"])
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            log.error("outbox item %s is not a JSON object; given up", item_id)
            self.records.outbox.gave_up(item_id, "the stored payload is not a JSON object")
            return False
        destination = self.destination(payload)
        if destination is None:
            self._later(item, DeliveryError(
                "nowhere to send it: the ticket's helpdesk has no api_url/api_token and [web] callback_url is "
                "not set"))
            return False
        now = self.clock()
        requests = destination.requests(Outgoing(message_key(self.box_id, item_id), item["topic"], payload, now))
        try:
            for step in range(int(item["steps_done"]), len(requests)):
                send(requests[step], timeout_s=self.timeout_s, now=now)
                if step + 1 < len(requests):
                    self.records.outbox.step_done(item_id, step + 1)  # a retry does not repeat this request
        except DeliveryError as exc:
            if exc.permanent:
                log.error("outbox item %s refused by %s, given up: %s", item_id, destination.name, exc)
                self.records.outbox.gave_up(item_id, str(exc))
            else:
                self._later(item, exc)
            return False
        self.records.outbox.delivered(item_id)
        log.info("outbox item %s delivered to %s", item_id, destination.name)
        return True

    def _later(self, item: dict[str, Any], exc: DeliveryError) -> None:
        wait = exc.retry_after if exc.retry_after is not None else retry_delay(int(item["attempts"]), self.jitter())
        log.warning("outbox item %s not delivered (%s); retry in %.0f s", item["id"], exc, wait)
        self.records.outbox.failed(int(item["id"]), str(exc), self.clock() + timedelta(seconds=wait))
