"""Seeded fuzzing: a mangled flow document only ever yields FlowErrors (never a crash), and random customer
turns (speech, silence, keys, barge-ins, odd text) through every example flow never crash the engine."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from appliance.dialog.flow.load import parse_flow
from appliance.dialog.flow.parse import check_flow
from appliance.dialog.runtime.api_client import HttpRequest, HttpResponse
from appliance.dialog.runtime.rehearsal import converse
from appliance.errors import FlowError

EXAMPLES = Path(__file__).resolve().parents[2] / "flows" / "examples"
DOCS = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(EXAMPLES.glob("*.json"))]
ODD: list[Any] = [None, 5, -1, "x", "", [], {}, True, 3.5, ["a", 1], {"a": 1}, "{bad", "{nobody}"]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        yield from _paths(inner, (*prefix, key))


def test_mangled_documents_only_give_flow_errors() -> None:
    rng = random.Random(1)
    problems_seen = 0
    for _ in range(1500):
        doc = copy.deepcopy(rng.choice(DOCS))
        paths = [p for p in _paths(doc) if p]
        for _ in range(rng.randint(1, 3)):
            path = rng.choice(paths)
            parent: Any = doc
            try:
                for key in path[:-1]:
                    parent = parent[key]
                if rng.random() < 0.3 and isinstance(parent, dict):
                    parent.pop(path[-1], None)
                else:
                    parent[path[-1]] = copy.deepcopy(rng.choice(ODD))
            except (KeyError, IndexError, TypeError):
                pass  # an earlier change in this round replaced the way there
        _, problems = check_flow(doc)
        assert all(isinstance(p, FlowError) for p in problems)
        problems_seen += bool(problems)
    assert problems_seen > 1000  # the mangling did break documents


def test_random_turns_never_crash_the_engine() -> None:
    flows = [parse_flow(d) for d in DOCS]
    rng = random.Random(2)
    answers = [HttpResponse(200, b'{"data": {"status": "received"}}'), HttpResponse(404), HttpResponse(500, b"x"),
               HttpResponse(200, b"not json"), HttpResponse(200, b'{"data": {"status": "in_transit"}}')]

    def http(_: HttpRequest) -> HttpResponse:
        return rng.choice(answers)

    pool = ["", "#1", "#2", "#9", "#5", "!", "yes", "no", "banana", "call me later", "tomorrow at 3", "Friday", "4",
            "where is my parcel", "repeat that", "a human", "stop calling me", "wrong number", "是的", "明天下午三点",
            "不在家", "I already paid", "ten", "{name}", "}{", "%s", "   "]
    ended = 0
    for _ in range(1500):
        says = [rng.choice(pool) for _ in range(rng.randint(0, 8))]
        run = converse(rng.choice(flows), {"name": "A", "order_id": "1"}, says, http=http,
                       clock=lambda: datetime(2026, 11, 24, 10, tzinfo=UTC), tz=UTC)
        json.dumps(run.result.to_json())
        assert run.finished == (run.result.disposition is not None)
        ended += run.finished
    assert ended > 700
