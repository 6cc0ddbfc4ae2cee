"""Golden conversations for the return follow-up flow, whose first node is an API node: a real HTTP server on
127.0.0.1 answers it (found, in transit, not found, failing, and one that never answers in time)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flow_http_server import ApiServer, api_server
from rehearsed import EXAMPLES, bot, customer, ops, talk

FILE = "return-follow-up.en.json"


@pytest.fixture(scope="module")
def server() -> Iterator[ApiServer]:
    with api_server() as s:
        yield s


def ret(server: ApiServer, *says: str, return_id: str = "R-1", base: str = "", doc: Any = None) -> dict[str, Any]:
    return talk(FILE, *says, doc=doc, api_base=server.url + base, return_id=return_id)


def test_straight_path_received_return(server: ApiServer) -> None:
    out = ret(server, "yes that's fine")
    assert out["disposition"] == "confirmed" and ops(out) == ["remark", "close"]
    assert "refund of 25 euros will be paid on Friday" in bot(out)[0][1]
    assert out["operations"][0]["text"] == "Customer agreed to the refund of 25 for return R-1."
    system = [t for t in out["turns"] if t["speaker"] == "system"]
    assert [t["event"] for t in system] == ["api"] and system[0]["text"].endswith("/returns/R-1: 200")


def test_in_transit_and_not_found_branches(server: ApiServer) -> None:
    out = ret(server, "yes", return_id="R-2")
    assert out["disposition"] == "confirmed" and bot(out)[0][1].endswith("prepaid label?")
    assert ops(out) == ["remark", "schedule"]
    out = ret(server, return_id="R-404")
    assert out["finished"] and out["disposition"] == "handoff" and customer(out) == []


def test_api_node_that_times_out_takes_the_failure_branch(server: ApiServer) -> None:
    doc = json.loads((EXAMPLES / FILE).read_text(encoding="utf-8"))
    doc["nodes"]["lookup"]["timeout_ms"] = 200  # the flow's 3 s, shrunk for the test
    before = len(server.requests)
    started = time.monotonic()
    out = ret(server, base="/slow", doc=doc)
    took = time.monotonic() - started
    assert out["finished"] and out["disposition"] == "callback"
    assert out["operations"][1] == {"op": "schedule", "delay_minutes": 60, "at": None}
    assert len(server.requests) - before == 2  # one retry
    assert 0.35 < took < 2.0
    failure = [t for t in out["turns"] if t["speaker"] == "system"]
    assert failure[0]["event"] == "api_failure" and "timed out" in failure[0]["text"].lower()


def test_server_error_is_retried_then_fails(server: ApiServer) -> None:
    before = len(server.requests)
    out = ret(server, base="/broken")
    assert out["disposition"] == "callback" and len(server.requests) - before == 2


def test_silence_no_match_barge_in_and_kb_after_the_api_node(server: ApiServer) -> None:
    assert ret(server, "", "", "")["disposition"] == "no_response"
    assert ret(server, "banana", "potato", "cucumber")["disposition"] == "no_response"
    out = ret(server, "!", "how long does a refund take", "yes")
    assert out["disposition"] == "confirmed"
    assert [e for e, _ in bot(out)][:4] == ["prompt", "barge_in", "after_barge_in", "kb"]
    assert customer(out)[0] == ("how long does a refund take", "kb:refund_time")


@pytest.mark.parametrize(("said", "disposition"), [
    ("can I talk to a person", "handoff"), ("wrong number", "wrong_number"), ("stop calling me", "do_not_call"),
])
def test_global_intents_after_the_api_node(server: ApiServer, said: str, disposition: str) -> None:
    assert ret(server, said)["disposition"] == disposition


def test_slot_in_the_first_answer_and_repeat(server: ApiServer) -> None:
    out = ret(server, "I'm in a meeting, call me back tomorrow at 2 pm")
    assert out["disposition"] == "callback" and out["slots"] == {"callback_time": "2026-11-25T14:00+00:00"}
    out = ret(server, "pardon?", "no")
    assert [e for e, _ in bot(out)][:2] == ["prompt", "repeat"] and out["disposition"] == "handoff"


@pytest.mark.parametrize("base", ["", "<api_base>", "ftp://127.0.0.1", "http://"])
def test_a_url_that_is_not_absolute_takes_the_failure_branch(base: str) -> None:
    out = talk(FILE, api_base=base, return_id="R-1")  # an empty {api_base} would have raised out of the engine
    assert out["finished"] and out["disposition"] == "callback"
    system = [t for t in out["turns"] if t["speaker"] == "system"]
    assert [t["event"] for t in system] == ["api_failure"]
    assert "not an absolute http(s) URL" in system[0]["text"]
