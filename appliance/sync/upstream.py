"""Upstream sync: each finished call's record POSTed to ``[upstream] url``, signed, at least once, in order per call.

The records wait in the outbox (target ``upstream``, queued in the call's own conclusion transaction by
``records.upstream``); this worker is the outbox worker on that target, in its own thread, so a slow or absent
upstream never holds a call or a ticket operation back. The writer thread only sees one short UPDATE per row.

- Message: ``{"type": "call.record", "id", "box_id", "created_at", "data": <record>}`` (JSON Schema:
  ``docs/upstream/call-record.schema.json``), signed with ``[upstream] secret`` the Standard Webhooks way
  (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``).
- Idempotency: ``id`` = ``webhook-id`` = ``Idempotency-Key`` = ``msg_<box id>_<outbox row id>``, the same on every
  retry and unique across boxes and reinstalls; a receiver that sees a key twice has been sent the same record
  twice (at-least-once: a 2xx that was lost on the way back is sent again).
- Recording (``send_recordings``): after the record went through, the WAV is POSTed to the same URL as
  ``audio/wav`` with ``webhook-id`` and ``Idempotency-Key`` ``<id>_recording`` and a ``callbox-record-id: <id>``
  header; its signature is the Standard Webhooks HMAC over the raw bytes (``<webhook-id>.<timestamp>.<body>``). A
  retry after the record went through sends only the recording (``steps_done``). A recording already deleted
  (retention) is skipped.
- Retries: the sender backs off as a whole (one upstream: when it is down, trying the next row is pointless):
  5 s doubling to a cap of 10 minutes, less up to 20 % jitter (``sync.outbox.retry_delay``), or a 429/503's
  ``Retry-After``; the failed row keeps its error and is the first one tried again. Given up (visible in
  ``GET /api/v1/sync``, never retried): a 4xx that says the record itself is wrong (400, 413, 422, ...). 401, 403,
  404 (a wrong secret or URL on either side), 408, 409, 425 and 429 are retried like a 5xx, so a misconfigured
  receiver does not throw a week's backlog away.
- Backlog: due rows are read ``batch`` (20) at a time, oldest first, and delivered before the next batch is read,
  so memory stays flat however long the backlog (``tests/sync/test_upstream.py``: 10,000 rows).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from standardwebhooks.webhooks import Webhook

from appliance.config import UpstreamConfig
from appliance.records.store import RecordsStore
from appliance.sync.destinations import HttpRequest, message_key
from appliance.sync.outbox import DeliveryError, OutboxWorker, retry_delay, send

log = logging.getLogger(__name__)

__all__ = ["RETRIED_4XX", "UpstreamWorker", "record_request", "recording_request"]

RETRIED_4XX = frozenset({401, 403, 404, 408, 409, 425, 429})


def _permanent(exc: DeliveryError) -> bool:
    return exc.status is not None and 400 <= exc.status < 500 and exc.status not in RETRIED_4XX


def record_request(url: str, secret: str, *, key: str, box_id: str, item: dict[str, Any],
                   at: datetime) -> HttpRequest:
    """The signed POST of one outbox row's record."""
    body = json.dumps({"type": item["topic"], "id": key, "box_id": box_id, "created_at": item["created_at"],
                       "data": json.loads(item["payload"])}, ensure_ascii=False)
    headers = {
        "content-type": "application/json",
        "webhook-id": key,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(key, at, body),
        "idempotency-key": key,
    }
    return HttpRequest("POST", url, headers, body.encode())


def _sign_bytes(secret: str, msg_id: str, at: datetime, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{int(at.timestamp())}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def recording_request(url: str, secret: str, *, key: str, call_id: int, wav: bytes, at: datetime) -> HttpRequest:
    """The signed POST of a record's recording (sent after the record)."""
    msg_id = f"{key}_recording"
    headers = {
        "content-type": "audio/wav",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": _sign_bytes(secret, msg_id, at, wav),
        "idempotency-key": msg_id,
        "callbox-record-id": key,
        "callbox-call-id": str(call_id),
    }
    return HttpRequest("POST", url, headers, wav)


class UpstreamWorker(OutboxWorker):
    """Delivers the ``upstream`` outbox rows to ``config.url`` (see the module docstring)."""

    target = "upstream"
    thread_name = "upstream-sync"

    def __init__(
        self,
        records: RecordsStore,
        config: UpstreamConfig,
        *,
        box_id: str,
        poll_s: float = 2.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        jitter: Callable[[], float] = random.random,
        batch: int = 20,
    ) -> None:
        if not config.enabled:
            raise ValueError("upstream sync needs [upstream] url")
        super().__init__(records, url="", secret="", box_id=box_id, poll_s=poll_s, timeout_s=config.timeout_s,
                         clock=clock, jitter=jitter, batch=batch)
        self.config = config
        self.failures = 0  # failed tries in a row; the next wait grows with it
        self.resume_at: datetime | None = None  # no request before this time (the sender's backoff)

    def deliver_due(self) -> int:
        """Batches of due rows until none is left, one fails, or the worker stops; returns how many went out.
        A batch's deliveries are marked in one write (a crash before it re-sends them: at-least-once)."""
        delivered = 0
        while not self._stop.is_set():
            now = self.clock()
            if self.resume_at is not None and now < self.resume_at:
                break
            items = self.records.outbox.due(now, limit=self.batch, target=self.target)
            if not items:
                break
            done: list[int] = []
            failed = False
            for item in items:
                if self._stop.is_set():
                    break
                outcome = self._deliver_record(item)
                if outcome is None:  # the upstream failed: the whole sender waits
                    failed = True
                    break
                if outcome:
                    done.append(int(item["id"]))
            self.records.outbox.delivered_many(done, at=self.clock())
            delivered += len(done)
            if failed or self._stop.is_set():
                break
        return delivered

    def _deliver_record(self, item: dict[str, Any]) -> bool | None:
        """True: delivered (the caller marks it), False: given up, None: failed for now (the sender backs off)."""
        item_id = int(item["id"])
        now = self.clock()
        key = message_key(self.box_id, item_id)
        try:
            if int(item["steps_done"]) == 0:
                request = record_request(self.config.url, self.config.secret, key=key, box_id=self.box_id,
                                         item=item, at=now)
                send(request, timeout_s=self.timeout_s, now=now)
            if self.config.send_recordings:
                if int(item["steps_done"]) == 0:
                    self.records.outbox.step_done(item_id, 1)  # a retry sends only the recording
                self._send_recording(item, key, now)
        except ValueError as exc:  # a stored payload that is not JSON: it will never be
            log.error("upstream item %s unreadable, given up: %s", item_id, exc)
            self.records.outbox.gave_up(item_id, f"the stored record is not JSON: {exc}", at=now)
            return False
        except DeliveryError as exc:
            if _permanent(exc):
                log.error("upstream item %s refused, given up: %s", item_id, exc)
                self.records.outbox.gave_up(item_id, str(exc), at=now)
                return False
            wait = exc.retry_after if exc.retry_after is not None else retry_delay(self.failures, self.jitter())
            self.failures += 1
            self.resume_at = now + timedelta(seconds=wait)
            log.warning("upstream item %s not delivered (%s); retry in %.0f s", item_id, exc, wait)
            self.records.outbox.failed(item_id, str(exc), self.resume_at)
            return None
        self.failures = 0
        self.resume_at = None
        return True

    def _send_recording(self, item: dict[str, Any], key: str, now: datetime) -> None:
        call_id = int(json.loads(item["payload"])["call_id"])
        call = self.records.call(call_id)
        stored = call.get("recording") if call else None
        path = Path(str(stored)) if stored else None
        if path is None or not path.is_file():
            return  # no recording, or retention deleted it already: the record says what there was
        request = recording_request(self.config.url, self.config.secret, key=key, call_id=call_id,
                                    wav=path.read_bytes(), at=now)
        send(request, timeout_s=self.timeout_s, now=now)
