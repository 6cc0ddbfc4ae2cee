"""The dashboard's live events, the dashboard and the Modems page through Flask's test client, over the box's own
live board (appliance.panel.live), event hub, signal log and test-call guards, on a real SQLite file."""

from __future__ import annotations

import http.cookiejar
import json
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import PASSWORD, USERNAME, InMemoryPanelService, csrf_from

from appliance.campaign.attempt import Outcome
from appliance.campaign.calls import CallSummary
from appliance.campaign.compliance import CallingRules
from appliance.config import CallingConfig
from appliance.errors import TestCallRefused
from appliance.panel.dashboard import LiveAdmin
from appliance.panel.events import EventHub
from appliance.panel.live import LineWatch
from appliance.panel.modems import ModemsAdmin, TestCaller
from appliance.records.signal import SignalLog, SignalSample
from appliance.telephony.linestate import LineState
from web import create_app
from web.live import event_stream
from web.serving import Serving, create_server


class Port:
    """A line as the campaign sees it (``LinePort``), without a modem: state and fault set by the test."""

    def __init__(self, name: str, state: LineState = LineState.READY, fault: str | None = None) -> None:
        self.name = name
        self.state = state
        self.fault_reason = fault

    @property
    def ready(self) -> bool:
        return self.state is LineState.READY

    def start(self) -> LineState:
        return self.state

    def stop(self) -> None:
        self.state = LineState.ABSENT

    def place_call(self, number: str, *, ring_timeout: float, tap: Any = None) -> Any:
        raise AssertionError("no call is placed in these tests")

    def send_text(self, number: str, text: str, *, submit_timeout_s: float = 60.0) -> list[int]:
        return []


def frames(chunks: Iterator[Any], count: int) -> list[tuple[str, Any]]:
    """The next ``count`` events of an SSE body: (event name, decoded data); comments and retry lines skipped."""
    out: list[tuple[str, Any]] = []
    while len(out) < count:
        chunk = next(chunks)
        text = chunk.decode() if isinstance(chunk, bytes) else chunk
        kind = next((ln[7:] for ln in text.splitlines() if ln.startswith("event: ")), None)
        data = next((ln[6:] for ln in text.splitlines() if ln.startswith("data: ")), None)
        if kind is not None and data is not None:
            out.append((kind, json.loads(data)))
    return out


def test_the_event_stream_carries_a_line_and_a_call_as_they_happen(logged_in, service: InMemoryPanelService):
    board = service.live.board
    port = Port("line1")
    watch = LineWatch(board, [port], signal=SignalLog(service.records.db))
    watch.look()  # the page's snapshot already has the line
    response = logged_in.get("/events", buffered=False)
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    chunks = iter(response.response)
    assert next(chunks).startswith(b"retry: ")
    [(kind, snapshot)] = frames(chunks, 1)
    assert kind == "snapshot"
    assert [line["name"] for line in snapshot["lines"]] == ["line1"] and snapshot["calls"] == []
    assert snapshot["counters"]["today"]["calls"] == 0

    port.state, port.fault_reason = LineState.FAULTED, "SIM not ready (+CPIN: NOT INSERTED)"
    watch.look()
    board.call_started(41, line="line1", phone="+15550100001", ticket_id="T-41", customer_name="Ada Park",
                       attempt=1, max_attempts=3)
    board.call_answered(41)
    board.call_turn(41, {"speaker": "bot", "text": "Hello Ada, your parcel is out for delivery.", "index": 0})
    board.attempt_over("line1", CallSummary(41, "T-41", Outcome.COMPLETED, "confirmed", "closed"))
    got = frames(chunks, 6)
    assert [k for k, _ in got] == ["line", "call", "answered", "turn", "call_ended", "counters"]
    line = got[0][1]
    assert line["state"] == "faulted" and line["problem"] == "no_sim"
    assert got[1][1]["customer_name"] == "Ada Park" and got[1][1]["line"] == "line1"
    assert got[3][1] == {"id": "41", "turn": {"speaker": "bot", "index": 0,
                                              "text": "Hello Ada, your parcel is out for delivery."}}
    assert got[4][1]["id"] == "41" and got[4][1]["outcome"] == "completed"
    response.close()
    assert board.hub.streams == 0  # closing the response ends the subscription


def test_a_new_stream_starts_from_the_calls_in_progress_with_their_turns_so_far(service: InMemoryPanelService):
    board = service.live.board
    board.call_started(7, line="line2", phone="+15550100007", ticket_id="T-7", customer_name="Bo",
                       attempt=2, max_attempts=3)
    board.call_turn(7, {"speaker": "bot", "text": "Hello Bo.", "index": 0})
    board.call_turn(7, {"speaker": "customer", "text": "yes", "index": 1})
    stream = service.live.subscribe()
    assert stream is not None
    [call] = stream.snapshot["calls"]
    assert [t["text"] for t in call["turns"]] == ["Hello Bo.", "yes"]
    assert stream.snapshot["event_id"] == 3  # the events in the snapshot are not sent again
    board.call_turn(7, {"speaker": "bot", "text": "Goodbye.", "index": 2})
    [event] = stream.get(1.0)
    assert event.id == 4 and event.data["turn"]["text"] == "Goodbye."
    stream.close()


def test_a_slow_subscriber_never_blocks_the_publisher_and_is_resynchronised():
    hub = EventHub(limit=10, snapshot=lambda: {"lines": []})
    slow = hub.subscribe()
    assert slow is not None
    for n in range(25):  # nobody reads: the publisher goes on
        hub.publish("turn", {"n": n})
    assert slow.lost and hub.dropped == 1 and hub.streams == 0
    again = slow.renew()
    assert again is not None and again.snapshot["event_id"] == 25
    stream = event_stream(_Live(hub), again, stream_s=5.0, heartbeat_s=0.05)
    assert next(stream).startswith("retry: ")
    assert next(stream).startswith("id: 25\nevent: snapshot\n")
    assert next(stream) == ": heartbeat\n\n"  # nothing happened for heartbeat_s
    stream.close()
    assert hub.streams == 0


def test_a_stream_ends_after_its_time_so_the_server_thread_is_freed():
    hub = EventHub(snapshot=dict)
    sub = hub.subscribe()
    assert sub is not None
    started = datetime.now(UTC)
    body = list(event_stream(_Live(hub), sub, stream_s=0.3, heartbeat_s=0.1))
    assert body[0].startswith("retry: ") and body.count(": heartbeat\n\n") >= 2
    assert datetime.now(UTC) - started < timedelta(seconds=2)
    assert hub.streams == 0


def test_streams_are_limited_and_one_too_many_is_told_to_come_back(logged_in, service: InMemoryPanelService):
    hub = service.live.board.hub
    held = [hub.subscribe() for _ in range(hub.max_streams)]
    assert all(held)
    response = logged_in.get("/events")  # answered at once, and the browser comes back later by itself
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.get_data(as_text=True) == 'retry: 10000\n\nevent: busy\ndata: {}\n\n'
    assert hub.streams == hub.max_streams
    for sub in held:
        assert sub is not None
        sub.close()
    assert logged_in.get("/events", buffered=False).status_code == 200


def test_a_stream_whose_browser_went_away_ends_within_a_second():
    hub = EventHub(snapshot=dict)
    sub = hub.subscribe()
    assert sub is not None
    left = threading.Event()
    stream = event_stream(_Live(hub), sub, stream_s=60.0, heartbeat_s=15.0, gone=left.is_set)
    assert next(stream).startswith("retry: ") and "snapshot" in next(stream)
    threading.Timer(0.2, left.set).start()
    started = datetime.now(UTC)
    assert list(stream) == []
    assert datetime.now(UTC) - started < timedelta(seconds=2.5)
    assert hub.streams == 0


def test_closing_the_hub_ends_the_streams_at_once():
    hub = EventHub(snapshot=dict)
    sub = hub.subscribe()
    assert sub is not None
    done = threading.Event()

    def read() -> None:
        list(event_stream(_Live(hub), sub, stream_s=60.0, heartbeat_s=15.0))
        done.set()

    reader = threading.Thread(target=read)
    reader.start()
    hub.close()
    assert done.wait(2.0)
    reader.join(2.0)
    assert hub.subscribe() is None


def test_the_events_need_a_session(client):
    response = client.get("/events")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize(("fault", "words", "fix"), [
    ("SIM not ready (+CPIN: NOT INSERTED)", "No SIM card", "Insert a SIM card and restart the box."),
    ("SIM not ready (+CPIN: SIM PIN)", "PIN needed", "Remove the SIM&#39;s PIN"),
    ("not registered on the network (registration denied)", "The network refuses this SIM", "Ask the operator"),
    ("not registered on the network (searching)", "Not registered on the network", "the box keeps trying"),
    ("cannot open AT port /dev/ttyUSB2: [Errno 2] No such file or directory: '/dev/ttyUSB2'", "Modem not found",
     "check the USB cable"),
    ("modem stopped answering: AT timed out after 2.0 s", "The modem stopped answering", "unplug it"),
])
def test_the_dashboard_says_a_fault_in_words_with_the_fix(logged_in, service: InMemoryPanelService, fault: str,
                                                          words: str, fix: str):
    LineWatch(service.live.board, [Port("line1", LineState.FAULTED, fault)]).look()
    html = logged_in.get("/dashboard").get_data(as_text=True)
    card = html[html.index('data-line="line1"'):]
    assert words in card and fix.lower() in card.lower()
    assert fault not in html and "Errno" not in html and "+CPIN" not in html


def test_the_dashboard_in_chinese(logged_in, service: InMemoryPanelService):
    LineWatch(service.live.board, [Port("line1", LineState.FAULTED, "SIM not ready (+CPIN: NOT INSERTED)")]).look()
    token = csrf_from(logged_in.get("/dashboard").get_data(as_text=True))
    logged_in.post("/language", data={"csrf_token": token, "lang": "zh", "next": "/dashboard"})
    html = logged_in.get("/dashboard").get_data(as_text=True)
    assert "未插入 SIM 卡" in html
    assert "No SIM card" not in html


def test_the_dashboard_shows_calls_in_progress_today_and_running_tasks(logged_in, service: InMemoryPanelService):
    board = service.live.board
    LineWatch(board, [Port("line1")]).look()
    board.call_started(9, line="line1", phone="+15550100009", ticket_id="T-9", customer_name="Chen Jing",
                       attempt=1, max_attempts=3)
    board.call_turn(9, {"speaker": "bot", "text": "Hello Chen, this is the Corner Shop.", "index": 0})
    LineWatch(board, [Port("line1", LineState.IN_CALL)]).look()  # the watch's next look names the line's call
    html = logged_in.get("/dashboard").get_data(as_text=True)
    call = html[html.index('class="live-call"'):]
    assert "Chen Jing" in call and "Hello Chen, this is the Corner Shop." in call
    assert "dashboard.js" in html and 'data-events="/events"' in html
    state = logged_in.get("/dashboard/state").get_json()
    assert state["calls"][0]["turns"][0]["text"] == "Hello Chen, this is the Corner Shop."
    assert state["lines"][0]["call"]["customer_name"] == "Chen Jing"
    assert state["counters"]["today"] == {"calls": 0, "answered": 0, "connected": 0, "connect_rate": None,
                                          "outcomes": {}}
    lines = logged_in.get("/live/lines").get_json()["lines"]
    assert lines[0]["call"]["id"] == "9"


# -- the Modems page ---------------------------------------------------------------------------------------------

class Caller:
    """Scheduler.run_on as the test call sees it: records the job instead of running it on a line worker."""

    def __init__(self, free: bool = True) -> None:
        self.free = free
        self.jobs: list[tuple[str, Any]] = []

    def __call__(self, line: str, job: Any) -> bool:
        if self.free:
            self.jobs.append((line, job))
        return self.free


@pytest.fixture
def modems(service: InMemoryPanelService) -> Iterator[tuple[ModemsAdmin, Caller]]:
    run_on = Caller()
    closed = CallingConfig(hours="09:00-17:00")
    admin = ModemsAdmin(board=service.live.board, lines=[Port("line1")], records=service.records, phone_region="DE",
                        caller=TestCaller(speech=None, rules=CallingRules.from_config(closed, ZoneInfo("UTC")),
                                          run_on=run_on),
                        clock=lambda: datetime(2026, 12, 4, 12, 0, tzinfo=UTC))
    service.live = LiveAdmin(board=service.live.board, records=service.records, zone=ZoneInfo("UTC"), modems=admin)
    yield admin, run_on


def test_a_test_call_is_refused_for_a_number_on_the_do_not_call_list(logged_in, service, modems):
    service.records.do_not_call.add("+4930123456", "asked on a call")
    html = logged_in.get("/modems").get_data(as_text=True)
    response = logged_in.post("/modems/line1/test-call", data={"csrf_token": csrf_from(html),
                                                                "number": "030 123456"})
    assert response.status_code == 400
    assert "This number is on the do-not-call list." in response.get_data(as_text=True)
    assert modems[1].jobs == []


def test_a_test_call_is_refused_outside_calling_hours_saying_when(logged_in, service, modems):
    admin, run_on = modems
    admin.clock = lambda: datetime(2026, 12, 4, 20, 0, tzinfo=UTC)
    with pytest.raises(TestCallRefused) as refused:
        admin.test_call("line1", "+4930123456")
    assert refused.value.reason == "hours" and refused.value.until is not None
    html = logged_in.get("/modems").get_data(as_text=True)
    page = logged_in.post("/modems/line1/test-call", data={"csrf_token": csrf_from(html), "number": "+4930123456"})
    assert page.status_code == 400
    text = page.get_data(as_text=True)
    assert "The calling rules do not allow a call to this number now." in text
    assert "The first allowed time is 2026-12-05 " in text
    assert run_on.jobs == []


def test_a_test_call_to_a_number_that_is_none_is_refused_in_words(logged_in, modems):
    html = logged_in.get("/modems").get_data(as_text=True)
    page = logged_in.post("/modems/line1/test-call", data={"csrf_token": csrf_from(html), "number": "call me"})
    assert page.status_code == 400
    assert "That is not a phone number the box can dial." in page.get_data(as_text=True)
    assert "call me&#39; is not" not in page.get_data(as_text=True)


def test_a_test_call_needs_the_forms_token(logged_in, modems):
    page = logged_in.post("/modems/line1/test-call", data={"number": "+4930123456"})
    assert page.status_code == 400 and modems[1].jobs == []


def test_a_test_call_goes_to_the_lines_own_worker(logged_in, modems):
    html = logged_in.get("/modems").get_data(as_text=True)
    response = logged_in.post("/modems/line1/test-call", data={"csrf_token": csrf_from(html),
                                                                "number": "+49 30 123456"})
    assert response.status_code == 302 and "placed=test-1" in response.headers["Location"]
    [(line, _job)] = modems[1].jobs
    assert line == "line1"
    page = logged_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "Test call placed on line1." in page and "+4930123456" in page


def test_the_modems_page_charts_the_signal_samples(logged_in, service, modems, tmp_path: Path):
    log = SignalLog(service.records.db)
    now = datetime.now(UTC)
    log.add([SignalSample("line1", -113 + 2 * 20, 20, "ready")], now - timedelta(days=3))
    log.add([SignalSample("line1", -71, 21, "ready")], now - timedelta(hours=2))
    log.add([SignalSample("line1", None, None, "faulted")], now - timedelta(minutes=5))
    points = logged_in.get("/modems/line1/signal").get_json()["points"]
    assert [p[1] for p in points] == [-71, None]  # older than two days: pruned; the day's in order
    assert points[0][0] == int((now - timedelta(hours=2)).replace(microsecond=0).timestamp())
    html = logged_in.get("/modems").get_data(as_text=True)
    assert 'data-src="/modems/line1/signal"' in html and "uPlot.iife.min.js" in html


def test_the_line_watch_samples_each_lines_signal(service: InMemoryPanelService):
    log = SignalLog(service.records.db)
    watch = LineWatch(service.live.board, [Port("line1"), Port("line2", LineState.FAULTED, "AT port failed")],
                      signal=log, sample_every_s=0.0)
    watch.look()
    watch.look()
    states = [row[2] for row in log.history("line2", datetime.now(UTC) - timedelta(minutes=1))]
    assert states == ["faulted", "faulted"]
    assert len(log.history("line1", datetime.now(UTC) - timedelta(minutes=1))) == 2


class _Live:
    """What event_stream asks of the service: the counters that go with a snapshot."""

    def __init__(self, hub: EventHub) -> None:
        self.hub = hub

    def counters(self) -> dict[str, Any]:
        return {}



def test_through_waitress_a_stream_frees_its_thread_when_the_browser_leaves(service: InMemoryPanelService):
    """A real waitress on 127.0.0.1, as ``callbox serve`` runs it (``channel_request_lookahead``): the stream sends
    its snapshot at once, and a client that goes away frees its thread within a second or two, with no heartbeat
    written."""
    app = create_app(service, secret_key="live-test-key")
    serving = Serving(create_server(app, host="127.0.0.1", port=0, threads=4, channel_request_lookahead=4)).start()
    hub = service.live.board.hub
    try:
        url = f"http://127.0.0.1:{serving.port}"
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        token = csrf_from(opener.open(url + "/login").read().decode())
        opener.open(url + "/login", data=urllib.parse.urlencode(
            {"csrf_token": token, "username": USERNAME, "password": PASSWORD}).encode())
        cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
        with socket.create_connection(("127.0.0.1", serving.port), timeout=5) as conn:
            conn.sendall(f"GET /events HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n\r\n".encode())
            seen = b""
            while b"event: snapshot" not in seen:
                seen += conn.recv(65536)
            assert b"200 OK" in seen and b"text/event-stream" in seen
            assert hub.streams == 1
        left = time.monotonic()
        while hub.streams and time.monotonic() - left < 5:
            time.sleep(0.05)  # waiting on another thread's state
        assert hub.streams == 0 and time.monotonic() - left < 2.5
    finally:
        serving.stop()


def test_a_busy_line_refuses_the_test_call_and_keeps_its_last_result(logged_in, modems):
    admin, run_on = modems
    admin.test_call("line1", "+4930123456")
    first = admin.modems()[0]["test_call"]
    run_on.free = False
    with pytest.raises(TestCallRefused) as refused:
        admin.test_call("line1", "+4930123457")
    assert refused.value.reason == "busy"
    assert admin.modems()[0]["test_call"] == first
    html = logged_in.get("/modems").get_data(as_text=True)
    page = logged_in.post("/modems/line9/test-call", data={"csrf_token": csrf_from(html), "number": "+4930123456"})
    assert page.status_code == 400 and "There is no such line." in page.get_data(as_text=True)
