"""Seeded fuzz over the four ticket routes (native and the three helpdesks) in front of the real intake and
SQLite store: random JSON, correctly signed — lone surrogates, huge and non-finite numbers, deep nesting, wrong
types, parts of a real payload replaced — must always be answered 2xx or 4xx JSON without a traceback, and a
refused body must leave the store as it was."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROUTES = ("native", "zendesk", "zammad", "freshdesk")
NATIVE = {"id": "T-1", "type": "delivery", "subject": "Parcel", "description": "",
          "customer": {"name": "Ann", "phone": "+15550100"}, "order": {"id": "A-1", "status": "shipped"}}

# Text that includes lone surrogates (JSON escapes them as \ud800, Python's parser lets them through).
texts = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()),
                max_size=30) | st.sampled_from(["\ud800", "a\udfffb", "+1555\udc00", "", " ", "0" * 5000])
scalars = (st.none() | st.booleans() | st.integers(min_value=-(10**300), max_value=10**300)
           | st.floats(allow_nan=True, allow_infinity=True) | texts)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(texts, inner, max_size=4), max_leaves=12)
RAW_BODIES = [
    '{"id": ' + "9" * 5000 + "}",  # past Python's int digit limit
    '{"id": 1e999999, "customer": {"phone": -1e999999}}',
    '{"id": NaN, "type": Infinity}',
    "[" * 40 + "]" * 40,
    '{"a":' * 40 + "1" + "}" * 40,
    "[" * 5000 + "]" * 5000,
    '{"ticket": {"id": "\\ud83d"}}',
    '{"\\udc00": 1}',
    "",
    "\ufeff{}",
]


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            found += _paths(value, (*prefix, i))
    return found


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    doc = copy.deepcopy(doc)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


@st.composite
def bodies(draw: st.DrawFn, base: Any) -> bytes:
    kind = draw(st.sampled_from(["mutated", "mutated", "surrogate", "random", "raw"]))
    if kind == "raw":
        return draw(st.sampled_from(RAW_BODIES)).encode()
    if kind == "surrogate":  # a lone surrogate inside one text of an otherwise good payload
        strings = [p for p in _paths(base) if p and isinstance(_get(base, p), str)]
        path = draw(st.sampled_from(strings))
        lone = draw(st.sampled_from(["\ud800", "\udfff", "\udbff", "\udc00"]))
        return json.dumps(_replace(base, path, _get(base, path) + lone)).encode()
    if kind == "random":
        doc = draw(values)
    else:
        doc = base
        for _ in range(draw(st.integers(min_value=1, max_value=3))):
            doc = _replace(doc, draw(st.sampled_from(_paths(doc))), draw(values))
    return json.dumps(doc).encode()  # ensure_ascii: a lone surrogate goes out as its \\u escape


def _check(response: Any, before: tuple[int, int], after: tuple[int, int]) -> None:
    assert 200 <= response.status_code < 300 or 400 <= response.status_code < 500, response.status_code
    assert response.is_json
    text = response.get_data(as_text=True)
    assert "Traceback" not in text
    answer = response.get_json()
    if response.status_code >= 400:
        assert set(answer) >= {"error", "message"} and answer["message"]
        assert after == before, "a refused body changed the store"
    else:
        assert after[1] == before[1] + (0 if answer["duplicate"] else 1)


def test_every_signed_body_on_every_route_is_answered_2xx_or_4xx_json(deliver, admitting, helpdesk_fixture):
    bases = {"native": NATIVE, **{name: helpdesk_fixture(name) for name in ROUTES[1:]}}
    counter = iter(range(10**9))

    @settings(max_examples=200, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(route=st.sampled_from(ROUTES), data=st.data())
    def run(route: str, data: st.DataObject) -> None:
        body = data.draw(bodies(bases[route]))
        before = admitting.stored()
        response = deliver(route, body, delivery=f"fuzz-{next(counter)}")
        _check(response, before, admitting.stored())

    run()


def test_a_lone_surrogate_in_a_signed_native_ticket_is_400_not_500(deliver, admitting):
    for field in ("subject", "description", "notes"):
        body = json.dumps(NATIVE | {field: "broken \ud800 text"})
        assert "\\ud800" in body
        response = deliver("native", body, delivery=f"m-{field}")
        assert response.status_code == 400, response.get_data(as_text=True)
        assert response.get_json()["error"] == "malformed_json" and "surrogate" in response.get_json()["message"]
    assert admitting.stored() == (0, 0)
    assert deliver("native", NATIVE, delivery="m-good").status_code == 202  # a valid pair is fine after it
    assert deliver("native", NATIVE | {"subject": "\ud83d\udce6 parcel"}, delivery="m-emoji").status_code == 202
    assert admitting.records.ticket("T-1").subject == "\U0001f4e6 parcel"
