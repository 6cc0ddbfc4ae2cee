"""A list of tickets reads their operations in one query (the Rules and new-task pages list 100 sample tickets):
the same operations, in the same order, as reading them a ticket at a time, on the real records store."""

from __future__ import annotations

from pathlib import Path

from appliance.records.store import RecordsStore, Ticket


def test_the_operations_of_many_tickets_in_one_query(tmp_path: Path) -> None:
    store = RecordsStore(tmp_path / "callbox.db")
    try:
        for n in range(30):
            store.submit_ticket(Ticket(f"T{n}", "delivery", "s", "d", "Ann", f"+1555000{n:04d}", f"o{n}", "shipped",
                                       payload={}), webhook_id=f"m{n}", decision="call", reason="rule",
                                flow_id="delivery-confirmation", max_attempts=3)
            for k in range(n % 4):
                store.add_operation(f"T{n}", "note", f"note {k} of T{n}")
        ids = [f"T{n}" for n in range(30)] + ["T-none", "T3"]  # one unknown, one twice
        statements: list[str] = []
        store.db.read(lambda c: c.set_trace_callback(statements.append))
        found = store.operations_of(ids)
        store.db.read(lambda c: c.set_trace_callback(None))
        assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
        assert found == {t: store.operations(t) for t in dict.fromkeys(ids)}
        assert found["T-none"] == [] and [o["detail"] for o in found["T3"] if o["kind"] == "note"] == [
            "note 0 of T3", "note 1 of T3", "note 2 of T3"]
        assert store.operations_of([]) == {}
    finally:
        store.close()
