"""Ticket operations back out: keys unique across boxes, backoff capped at 10 minutes, order per ticket, the three
helpdesks' REST APIs (each a real HTTP server on 127.0.0.1 that records what it gets), permanent refusals."""

from __future__ import annotations

import base64
import http.server
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from http_serving import serving
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from appliance.config import HelpdeskConfig, HelpdesksConfig
from appliance.files import load_or_create_box_id
from appliance.records.store import RecordsStore, Ticket
from appliance.sync.destinations import rest_apis
from appliance.sync.outbox import BACKOFF_CAP_S, OutboxWorker, retry_delay

SECRET = "whsec_" + base64.b64encode(b"outbox-helpdesk-tests-secret-32b").decode()


@dataclass
class Helpdesk:
    """A helpdesk's API on 127.0.0.1: records each request; answers from ``answers`` (status, headers), then 200."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)


@pytest.fixture
def helpdesk() -> Iterator[Helpdesk]:
    state = Helpdesk()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _handle(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.requests.append({"method": self.command, "path": self.path, "headers": headers,
                                   "body": json.loads(raw) if raw else None, "raw": raw})
            status, answer_headers = state.answers.pop(0) if state.answers else (200, {})
            body = b'{"error": "nope"}' if status >= 400 else b"{}"
            self.send_response(status)
            for name, value in answer_headers.items():
                self.send_header(name, value)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_PUT = _handle

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Handler, "helpdesk") as state.url:
        yield state


def store_with(tmp_path: Path, *tickets: tuple[str, str | None]) -> RecordsStore:
    """A records store holding tickets (id, helpdesk they came from or None for the native webhook)."""
    store = RecordsStore(tmp_path / "callbox.db")
    for ticket_id, source in tickets:
        ticket = Ticket(ticket_id, "delivery", "s", "", "Ada", "+15550100", "1", "shipped",
                        vars={"helpdesk": source, "helpdesk_status": "open"} if source else {})
        store.submit_ticket(ticket, webhook_id=f"m-{ticket_id}", decision="skip", reason="r", flow_id=None,
                            max_attempts=1)
    return store


def operation(store: RecordsStore, ticket_id: str, kind: str, detail: str) -> None:
    store.add_operation(ticket_id, kind, detail, outbox={"ticket": ticket_id, "call": 7, "operation": kind,
                                                         "detail": detail})


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def apis(url: str) -> HelpdesksConfig:
    return HelpdesksConfig(
        zendesk=HelpdeskConfig(api_url=url + "/", api_user="agent@shop.example", api_token="zd-token"),
        freshdesk=HelpdeskConfig(api_url=url, api_token="fd-key"),
        zammad=HelpdeskConfig(api_url=url, api_token="zm-token"),
    )


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# -- keys -------------------------------------------------------------------------------------------------------

def test_two_boxes_send_different_ids_for_their_first_row(tmp_path: Path, helpdesk: Helpdesk) -> None:
    """Two state dirs (two boxes, or one box reinstalled): row 1 of each goes out under a different webhook-id,
    each signed and verifiable; one state dir keeps its id across restarts."""
    ids = []
    for name in ("box-a", "box-b"):
        box_id = load_or_create_box_id(tmp_path / name / "box-id")
        assert load_or_create_box_id(tmp_path / name / "box-id") == box_id  # kept, not remade
        store = store_with(tmp_path / name, ("T1", None))
        operation(store, "T1", "remark", "called")
        worker = OutboxWorker(store, url=helpdesk.url + "/callbox", secret=SECRET, box_id=box_id)
        assert worker.deliver_due() == 1
        store.close()
    for request in helpdesk.requests:
        Webhook(SECRET).verify(request["raw"], request["headers"])
        ids.append(request["headers"]["webhook-id"])
    assert len(ids) == 2 and ids[0] != ids[1]
    assert all(i.endswith("_1") and i != "1" and len(i) > 32 for i in ids)


# -- backoff ----------------------------------------------------------------------------------------------------

def test_backoff_doubles_from_5_s_and_stops_at_10_minutes() -> None:
    assert [retry_delay(n, 0.0) for n in range(10)] == [5, 10, 20, 40, 80, 160, 320, 600, 600, 600]
    assert retry_delay(10_000, 0.0) == BACKOFF_CAP_S


@given(st.integers(min_value=0, max_value=10_000), st.floats(min_value=0.0, max_value=0.999))
def test_jittered_backoff_stays_within_the_cap(failures: int, jitter: float) -> None:
    base = min(600.0, 5.0 * 2 ** min(failures, 20))
    assert 0.8 * base <= retry_delay(failures, jitter) <= base <= 600.0


def test_a_failing_item_waits_longer_each_time_and_never_over_10_minutes(tmp_path: Path,
                                                                          helpdesk: Helpdesk) -> None:
    store = store_with(tmp_path, ("T1", None))
    operation(store, "T1", "remark", "called")
    clock = Clock()
    worker = OutboxWorker(store, url=helpdesk.url, secret=SECRET, box_id="b", clock=clock, jitter=lambda: 0.0)
    waits = []
    for _ in range(9):
        helpdesk.answers.append((500, {}))
        assert worker.deliver_due() == 0
        (row,) = store.outbox.report(clock.now)["items"]
        waits.append((datetime.fromisoformat(row["next_try_at"]) - clock.now).total_seconds())
        clock.now = datetime.fromisoformat(row["next_try_at"])
    assert [round(w) for w in waits] == [5, 10, 20, 40, 80, 160, 320, 600, 600]
    assert worker.deliver_due() == 1  # the ticketing system is back
    store.close()


def test_429_waits_for_retry_after(tmp_path: Path, helpdesk: Helpdesk) -> None:
    store = store_with(tmp_path, ("T1", None))
    operation(store, "T1", "remark", "called")
    clock = Clock()
    worker = OutboxWorker(store, url=helpdesk.url, secret=SECRET, box_id="b", clock=clock, jitter=lambda: 0.0)
    helpdesk.answers.append((429, {"Retry-After": "90"}))
    assert worker.deliver_due() == 0
    (row,) = store.outbox.report(clock.now)["items"]
    assert round((datetime.fromisoformat(row["next_try_at"]) - clock.now).total_seconds()) == 90
    assert "HTTP 429" in row["last_error"] and row["state"] == "pending"
    clock.now += timedelta(seconds=89)
    assert worker.deliver_due() == 0 and len(helpdesk.requests) == 1  # not before
    clock.now += timedelta(seconds=2)
    assert worker.deliver_due() == 1
    store.close()


# -- permanent refusals ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_a_4xx_gives_the_item_up_and_is_not_retried(tmp_path: Path, helpdesk: Helpdesk, status: int) -> None:
    store = store_with(tmp_path, ("T1", None))
    operation(store, "T1", "remark", "first")
    operation(store, "T1", "close", "closed after call 7")
    clock = Clock()
    worker = OutboxWorker(store, url=helpdesk.url, secret=SECRET, box_id="b", clock=clock)
    helpdesk.answers.append((status, {}))
    assert worker.deliver_due() == 0
    report = store.outbox.report(clock.now)
    assert report["failed"] == 1 and report["items"][0]["state"] == "failed"
    assert f"HTTP {status}" in report["last_error"]["error"]
    clock.now += timedelta(days=1)
    assert worker.deliver_due() == 1  # the ticket's next operation goes on; the refused one is not sent again
    assert [r["body"]["data"]["detail"] for r in helpdesk.requests] == ["first", "closed after call 7"]
    assert worker.deliver_due() == 0
    store.close()


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_408_429_and_5xx_are_retried(tmp_path: Path, helpdesk: Helpdesk, status: int) -> None:
    store = store_with(tmp_path, ("T1", None))
    operation(store, "T1", "remark", "first")
    clock = Clock()
    worker = OutboxWorker(store, url=helpdesk.url, secret=SECRET, box_id="b", clock=clock)
    helpdesk.answers.append((status, {}))
    assert worker.deliver_due() == 0
    assert store.outbox.report(clock.now)["failed"] == 0
    clock.now += timedelta(minutes=11)
    assert worker.deliver_due() == 1
    store.close()


# -- order per ticket --------------------------------------------------------------------------------------------

def test_a_tickets_later_operation_waits_for_its_earlier_one(tmp_path: Path, helpdesk: Helpdesk) -> None:
    """T1's remark fails: T1's close is held back while T2 goes on; when the remark gets through, the close
    follows it, never before it."""
    store = store_with(tmp_path, ("T1", None), ("T2", None))
    operation(store, "T1", "remark", "T1 first")
    operation(store, "T1", "close", "T1 second")
    operation(store, "T2", "remark", "T2 only")
    clock = Clock()
    worker = OutboxWorker(store, url=helpdesk.url, secret=SECRET, box_id="b", clock=clock)
    helpdesk.answers.append((503, {}))
    assert worker.deliver_due() == 1
    sent = [r["body"]["data"]["detail"] for r in helpdesk.requests]
    assert sent == ["T1 first", "T2 only"]  # the failed try, then the other ticket; not "T1 second"
    assert worker.deliver_due() == 0  # nothing more until the remark is due again
    clock.now += timedelta(minutes=10)
    assert worker.deliver_due() == 1  # the remark; the close was not due in this pass
    assert worker.deliver_due() == 1  # then the close
    sent = [r["body"]["data"]["detail"] for r in helpdesk.requests]
    assert sent == ["T1 first", "T2 only", "T1 first", "T1 second"]
    assert store.outbox.report(clock.now)["backlog"] == 0
    store.close()


# -- the three helpdesks' REST APIs ------------------------------------------------------------------------------

def test_zendesk_gets_a_private_comment_then_solved_in_one_update(tmp_path: Path, helpdesk: Helpdesk) -> None:
    store = store_with(tmp_path, ("4711", "zendesk"))
    operation(store, "4711", "remark", "Customer will pick it up")
    operation(store, "4711", "close", "closed after call 7 (confirmed)")
    worker = OutboxWorker(store, url="", secret=SECRET, box_id="b", helpdesks=rest_apis(apis(helpdesk.url)))
    assert worker.deliver_due() == 1 and worker.deliver_due() == 1
    first, second = helpdesk.requests
    assert (first["method"], first["path"]) == ("PUT", "/api/v2/tickets/4711.json")
    assert first["body"] == {"ticket": {"comment": {"body": "Callbox - Call note: Customer will pick it up",
                                                    "public": False}}}
    assert second["body"]["ticket"]["status"] == "solved"
    assert second["body"]["ticket"]["comment"]["public"] is False
    assert first["headers"]["authorization"] == basic("agent@shop.example/token", "zd-token")
    assert first["headers"]["idempotency-key"] == "msg_b_1" and second["headers"]["idempotency-key"] == "msg_b_2"
    store.close()


def test_freshdesk_gets_a_private_note_then_resolved(tmp_path: Path, helpdesk: Helpdesk) -> None:
    store = store_with(tmp_path, ("88", "freshdesk"))
    operation(store, "88", "close", "closed after call 7 (confirmed) <b>")
    worker = OutboxWorker(store, url="", secret=SECRET, box_id="b", helpdesks=rest_apis(apis(helpdesk.url)))
    assert worker.deliver_due() == 1
    note, close = helpdesk.requests
    assert (note["method"], note["path"]) == ("POST", "/api/v2/tickets/88/notes")
    assert note["body"] == {"body": "Callbox - Closed: closed after call 7 (confirmed) &lt;b&gt;", "private": True}
    assert (close["method"], close["path"], close["body"]) == ("PUT", "/api/v2/tickets/88", {"status": 4})
    assert note["headers"]["authorization"] == close["headers"]["authorization"] == basic("fd-key", "X")
    store.close()


def test_zammad_gets_an_internal_article_then_closed(tmp_path: Path, helpdesk: Helpdesk) -> None:
    store = store_with(tmp_path, ("31", "zammad"))
    operation(store, "31", "close", "closed after call 7 (confirmed)")
    worker = OutboxWorker(store, url="", secret=SECRET, box_id="b", helpdesks=rest_apis(apis(helpdesk.url)))
    assert worker.deliver_due() == 1
    article, close = helpdesk.requests
    assert (article["method"], article["path"]) == ("POST", "/api/v1/ticket_articles")
    assert article["body"]["ticket_id"] == 31 and article["body"]["internal"] is True
    assert article["body"]["type"] == "note" and "closed after call 7" in article["body"]["body"]
    assert (close["method"], close["path"], close["body"]) == ("PUT", "/api/v1/tickets/31", {"state": "closed"})
    assert article["headers"]["authorization"] == "Token token=zm-token"
    store.close()


def test_a_close_whose_status_update_fails_does_not_repeat_the_note(tmp_path: Path, helpdesk: Helpdesk) -> None:
    store = store_with(tmp_path, ("31", "zammad"))
    operation(store, "31", "close", "closed after call 7")
    clock = Clock()
    worker = OutboxWorker(store, url="", secret=SECRET, box_id="b", clock=clock,
                          helpdesks=rest_apis(apis(helpdesk.url)))
    helpdesk.answers.extend([(201, {}), (502, {})])  # the note goes in, the close does not
    assert worker.deliver_due() == 0
    clock.now += timedelta(minutes=10)
    assert worker.deliver_due() == 1
    assert [(r["method"], r["path"]) for r in helpdesk.requests] == [
        ("POST", "/api/v1/ticket_articles"), ("PUT", "/api/v1/tickets/31"), ("PUT", "/api/v1/tickets/31")]
    store.close()


def test_a_ticket_from_an_unconfigured_helpdesk_falls_back_to_the_callback(tmp_path: Path,
                                                                           helpdesk: Helpdesk) -> None:
    store = store_with(tmp_path, ("9", "freshdesk"), ("10", "zendesk"))
    operation(store, "9", "remark", "via the callback")
    operation(store, "10", "remark", "via the API")
    only_zendesk = HelpdesksConfig(zendesk=apis(helpdesk.url).zendesk)
    worker = OutboxWorker(store, url=helpdesk.url + "/callbox", secret=SECRET, box_id="b",
                          helpdesks=rest_apis(only_zendesk))
    assert worker.deliver_due() == 2
    assert [r["path"] for r in helpdesk.requests] == ["/callbox", "/api/v2/tickets/10.json"]
    store.close()


def test_with_nowhere_to_send_the_item_waits_and_says_why(tmp_path: Path) -> None:
    store = store_with(tmp_path, ("9", "freshdesk"))
    operation(store, "9", "remark", "x")
    worker = OutboxWorker(store, url="", secret=SECRET, box_id="b")
    assert worker.deliver_due() == 0
    report = store.outbox.report(datetime.now(UTC))
    assert report["backlog"] == 1 and "callback_url" in report["last_error"]["error"]
    store.close()
