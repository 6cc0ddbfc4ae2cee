"""The outbox worker: delivers ticket operations to the ticketing system, signed, retried."""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from standardwebhooks.webhooks import Webhook

from appliance.records.store import RecordsStore

log = logging.getLogger(__name__)

BACKOFF_S = (5, 30, 120, 600, 1800, 3600)


class OutboxWorker:
    def __init__(
        self,
        records: RecordsStore,
        *,
        url: str,
        secret: str,
        poll_s: float = 2.0,
        timeout_s: float = 10.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.records = records
        self.url = url
        self.webhook = Webhook(secret)
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self.clock = clock
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

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
                log.exception("outbox pass failed")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def deliver_due(self) -> int:
        delivered = 0
        for item in self.records.outbox_due(self.clock()):
            if self._stop.is_set():
                break
            try:
                self._post(item["id"], item["topic"], json.loads(item["payload"]))
            except (urllib.error.URLError, OSError, ValueError) as exc:
                wait = BACKOFF_S[min(item["attempts"], len(BACKOFF_S) - 1)]
                log.warning("outbox item %s not delivered (%s); retry in %d s", item["id"], exc, wait)
                self.records.outbox_failed(item["id"], str(exc), self.clock() + timedelta(seconds=wait))
            else:
                self.records.outbox_delivered(item["id"])
                delivered += 1
        return delivered

    def _post(self, item_id: int, topic: str, payload: dict[str, object]) -> None:
        body = json.dumps({"type": topic, "data": payload}, ensure_ascii=False)
        msg_id = f"msg_callbox_{item_id}_{uuid.uuid5(uuid.NAMESPACE_URL, self.url).hex[:8]}"
        ts = self.clock()
        signature = self.webhook.sign(msg_id, ts, body)
        request = urllib.request.Request(
            self.url,
            data=body.encode(),
            method="POST",
            headers={
                "content-type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(ts.timestamp())),
                "webhook-signature": signature,
            },
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            if not 200 <= response.status < 300:
                raise ValueError(f"HTTP {response.status}")
