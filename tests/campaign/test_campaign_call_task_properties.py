"""Property tests: whatever the settings dict, the customers list or the CSV text, checking them raises nothing
but ``TaskInvalid`` (naming a field), and what passes is usable."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.campaign.calltask import parse_settings
from appliance.campaign.customers import customers_from_csv, customers_from_list
from appliance.errors import TaskInvalid

SCALARS = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats() | st.text(max_size=20)
JSONISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
KEYS = st.sampled_from(["broadcast", "lines", "max_attempts", "retry", "valid_days", "valid_until", "hours",
                        "priority", "other"])
DAYS = st.sampled_from(["mon", "Tue", "wednesday", "fri", "sun", "funday", ""])
SPANS = st.text(alphabet="0123456789:- ", max_size=13)
SETTINGS = st.dictionaries(KEYS, JSONISH | st.dictionaries(DAYS, st.lists(SPANS, max_size=3) | SPANS, max_size=3)
                           | st.dictionaries(st.sampled_from(["busy", "no_answer", "completed", "x"]),
                                             SCALARS, max_size=3), max_size=6)


def checked(fn: Any, value: Any) -> Any:
    try:
        return fn(value)
    except TaskInvalid as exc:
        assert exc.field and exc.message
        return None


@settings(max_examples=400, deadline=None)
@given(st.one_of(JSONISH, SETTINGS))
def test_settings_raise_only_the_validation_error(doc: Any) -> None:
    parsed = checked(parse_settings, doc)
    if parsed is not None:
        assert parse_settings(parsed.as_dict()) == parsed  # what passes is stored and read back the same
        parsed.weekly_hours()  # and its hours are usable


CELL = st.text(alphabet=string.printable + "é\u00a0\ufeff;\"", max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(CELL, max_size=6), max_size=6), st.sampled_from([",", ";"]),
       st.booleans())
def test_csv_raises_only_the_validation_error(rows: list[list[str]], sep: str, header: bool) -> None:
    lines = ([sep.join(["phone", "name", "order_id", "due"])] if header else []) + [sep.join(r) for r in rows]
    parsed = checked(customers_from_csv, "\n".join(lines))
    if parsed is not None:
        assert all(c.row >= 1 and isinstance(c.vars, dict) for c in parsed)


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSONISH, st.lists(st.dictionaries(st.sampled_from(["phone", "name", "order_id", "vars", "x"]),
                                                   JSONISH, max_size=4), max_size=4)))
def test_customer_lists_raise_only_the_validation_error(items: Any) -> None:
    parsed = checked(customers_from_list, items)
    if parsed is not None:
        assert len(parsed) == len(items)


PHONEISH = st.text(alphabet="+0123456789 ()-.x#*abc\u0660\uff11", max_size=40)


def test_a_preview_through_the_real_store_raises_only_the_validation_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The whole preview (phones read into E.164, the do-not-call list, live tasks, the flow's variables) on a real
    SQLite file: any customers list is a preview or a TaskInvalid, and writes nothing."""
    from appliance.campaign.call_tasks import CallTasks
    from appliance.campaign.publish import install_defaults
    from appliance.records.config_store import ConfigStore
    from appliance.records.store import RecordsStore

    store = RecordsStore(tmp_path / "r.db", phone_region="FR")
    configs = ConfigStore(tmp_path / "c.json")
    install_defaults(configs)
    tasks = CallTasks(records=store, configs=configs, max_attempts=3, phone_region="FR")

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.fixed_dictionaries({"phone": PHONEISH, "name": st.text(max_size=8),
                                           "order_id": st.text(max_size=8)}), min_size=1, max_size=5),
           st.one_of(st.none(), SETTINGS))
    def check(customers: list[dict[str, str]], task_settings: Any) -> None:
        try:
            preview = tasks.preview({"flow": "delivery-confirmation", "customers": customers,
                                     "settings": task_settings})
        except TaskInvalid as exc:
            assert exc.field
            return
        assert len(preview.accepted) + len(preview.refused) == len(customers)
        assert all(c.phone.startswith("+") for c in preview.accepted)

    try:
        check()
        assert store.call_tasks.find() == []
    finally:
        store.close()
        configs.close()
