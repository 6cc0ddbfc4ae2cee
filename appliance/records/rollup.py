"""The Statistics page's figures from running totals, not from every call: what the page draws (the totals, calls
and connected per day and per hour of day, on the shop's clock) read from four small tables instead of six
``GROUP BY``s over the calls (0.6 s at 100,000 calls; ``bench/console_pages.py``).

``stats_hours`` counts the ended calls per UTC hour of their start and per filter (call task, scenario, flow and
version): calls, answered, connected. Three ``stats_day_*`` tables add up, per UTC day and filter, what the totals
need, as the three queries of ``records.stats`` do: calls per outcome, grade and answered with the sums of
duration and turns; per disposition and intent; per duration and turn bucket. At 100,000 calls over 90 days
they hold about 23,000 + 13,000 + 24,000 + 19,000 rows. Triggers on ``calls`` keep all four in the transaction
that writes the call (its end, or any later change of a counted column, an insert or a delete), so that no writer
can forget them; the migration (``records.db``) counts the calls stored before.

A range the totals ask for is the whole UTC days in it from the ``stats_day_*`` tables and its ragged ends (the
hours from the shop's midnight to the UTC day's) from the calls themselves, through the ``calls_stats`` index, as
``records.stats`` does. Hours map to the shop's days and hours exactly when the zone's offsets over the range are
whole hours, and the range starts and ends on an hour; otherwise :func:`figures` answers None and the caller
counts the calls (``records.stats``).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from appliance.records.stats import (
    _BY_LENGTH,
    _BY_OUTCOME,
    _BY_WHAT_WAS_SAID,
    DURATION_EDGES_S,
    SCREENED,
    TURN_EDGES,
    CallFilter,
    _bucket,
    _Figures,
    _offsets,
    add_rows,
)

__all__ = ["TABLES", "TRIGGERS", "add_stats_rollup", "figures", "grouped"]

_FILTERS = ("call_task_id", "scenario", "flow_id", "flow_version")
_SUMS = ("calls", "duration_sum", "duration_n", "turns_sum", "turns_n")
_TEXT = ("hour", "day", "scenario", "flow_id", "outcome", "strength_grade", "disposition", "intent")
_SCREENED_SQL = ", ".join(f"'{s}'" for s in SCREENED)


def _hour_row(row: str) -> dict[str, str]:
    """What a call row (``NEW`` or ``OLD`` in a trigger, ``calls`` in the backfill) adds to ``stats_hours``."""
    answered = f"{row}.answered_at IS NOT NULL"
    return {"hour": f"substr({row}.started_at, 1, 13)", **{f: f"{row}.{f}" for f in _FILTERS},
            "calls": "1", "answered": f"({answered})",
            "connected": f"({answered} AND {row}.outcome NOT IN ({_SCREENED_SQL}))"}


def _day_row(row: str) -> dict[str, str]:
    """What a call row adds to the ``stats_day_*`` tables (the sums as ``records.stats`` adds them: answered calls)."""
    answered = f"({row}.answered_at IS NOT NULL)"
    return {"day": f"substr({row}.started_at, 1, 10)", **{f: f"{row}.{f}" for f in _FILTERS},
            "outcome": f"{row}.outcome", "strength_grade": f"{row}.strength_grade", "answered": answered,
            "disposition": f"{row}.disposition", "intent": f"{row}.intent",
            "duration_bucket": _bucket(f"{row}.duration_ms / 1000.0", DURATION_EDGES_S),
            "turn_bucket": _bucket(f"{row}.customer_turns", TURN_EDGES),
            "calls": "1", "duration_sum": f"(CASE WHEN {answered} THEN COALESCE({row}.duration_ms, 0) ELSE 0 END)",
            "duration_n": f"(CASE WHEN {answered} AND {row}.duration_ms IS NOT NULL THEN 1 ELSE 0 END)",
            "turns_sum": f"(CASE WHEN {answered} THEN COALESCE({row}.customer_turns, 0) ELSE 0 END)",
            "turns_n": f"(CASE WHEN {answered} AND {row}.customer_turns IS NOT NULL THEN 1 ELSE 0 END)"}


_TABLES = {  # table -> (what a row counts, its sums, what a call adds); one narrow table per query of the totals
    "stats_hours": (("hour", *_FILTERS), ("calls", "answered", "connected"), _hour_row),
    "stats_day_outcomes": (("day", *_FILTERS, "outcome", "strength_grade", "answered"), _SUMS, _day_row),
    "stats_day_said": (("day", *_FILTERS, "disposition", "intent"), ("calls",), _day_row),
    "stats_day_lengths": (("day", *_FILTERS, "answered", "duration_bucket", "turn_bucket"), ("calls",), _day_row),
}
TABLES = tuple(_TABLES)
TRIGGERS = ("calls_stats_insert", "calls_stats_delete", "calls_stats_update_old", "calls_stats_update_new")


def _count(table: str, row: str, sign: str) -> str:
    """Add (``+``) or take away (``-``) one call row in ``table``: its group's row updated, made if missing."""
    keys, sums, values = _TABLES[table]
    of = values(row)
    match = " AND ".join(f"{k} IS {of[k]}" for k in keys)
    update = f"UPDATE {table} SET " + ", ".join(f"{s} = {s} {sign} {of[s]}" for s in sums) + f" WHERE {match};"
    if sign == "-":
        return update + f"\n    DELETE FROM {table} WHERE {match} AND calls = 0;"
    columns = (*keys, *sums)
    return (update + f"\n    INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(of[c] for c in columns)}"
            f" WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {match});")


_COUNTED = ("started_at", "outcome", "answered_at", "disposition", "intent", "strength_grade", "duration_ms",
            "customer_turns", *_FILTERS)


def _triggers() -> str:
    add = "\n    ".join(_count(t, "NEW", "+") for t in _TABLES)
    take = "\n    ".join(_count(t, "OLD", "-") for t in _TABLES)
    return f"""
    CREATE TRIGGER calls_stats_insert AFTER INSERT ON calls WHEN NEW.outcome IS NOT NULL BEGIN
    {add}
    END;
    CREATE TRIGGER calls_stats_delete AFTER DELETE ON calls WHEN OLD.outcome IS NOT NULL BEGIN
    {take}
    END;
    CREATE TRIGGER calls_stats_update_old AFTER UPDATE OF {', '.join(_COUNTED)} ON calls
        WHEN OLD.outcome IS NOT NULL BEGIN
    {take}
    END;
    CREATE TRIGGER calls_stats_update_new AFTER UPDATE OF {', '.join(_COUNTED)} ON calls
        WHEN NEW.outcome IS NOT NULL BEGIN
    {add}
    END;
    """


def add_stats_rollup(c: sqlite3.Connection) -> None:
    """The migration: both tables, the calls stored so far counted into them, then the triggers."""
    for table, (keys, sums, values) in _TABLES.items():
        columns = ", ".join(f"{k} {'TEXT' if k in _TEXT else 'INTEGER'}" for k in keys)
        c.execute(f"CREATE TABLE {table} ({columns}, "
                  + ", ".join(f"{s} INTEGER NOT NULL" for s in sums) + ")")
        c.execute(f"CREATE INDEX {table}_group ON {table}({', '.join(keys)})")
        of = values("calls")
        c.execute(f"INSERT INTO {table} ({', '.join((*keys, *sums))}) SELECT "
                  + ", ".join([of[k] for k in keys] + [f"SUM({of[s]})" for s in sums])
                  + " FROM calls WHERE calls.outcome IS NOT NULL GROUP BY "
                  + ", ".join(str(n) for n in range(1, len(keys) + 1)))
    for statement in _triggers().split("END;")[:-1]:
        c.execute(statement + "END;")


def _filter(calls: CallFilter) -> tuple[str, list[Any]]:
    clauses, args = ["1"], []
    for column, value in (("call_task_id", calls.task), ("scenario", calls.scenario), ("flow_id", calls.flow),
                          ("flow_version", calls.flow_version)):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    return " AND ".join(clauses), args


def _on_the_hour(t: datetime | None) -> bool:
    return t is None or t.astimezone(UTC).replace(minute=0, second=0, microsecond=0) == t


# the whole days' rows read in table order (``+day``: a scan of the narrow table beats a lookup per row by index)
_DAY_OUTCOME = ("SELECT {key}, outcome, strength_grade, answered, SUM(calls), SUM(duration_sum), SUM(duration_n),"
                " SUM(turns_sum), SUM(turns_n) FROM stats_day_outcomes WHERE {where} GROUP BY 1, 2, 3, 4")
_DAY_SAID = ("SELECT {key}, disposition, intent, SUM(calls) FROM stats_day_said WHERE {where}"
             " AND (disposition IS NOT NULL OR intent IS NOT NULL) GROUP BY 1, 2, 3")
_DAY_LENGTH = ("SELECT {key}, duration_bucket, turn_bucket, SUM(calls) FROM stats_day_lengths WHERE {where}"
               " AND answered GROUP BY 1, 2, 3")


def figures(c: sqlite3.Connection, calls: CallFilter, zone: tzinfo) -> dict[str, Any] | None:
    """The totals of ``calls`` and their calls and connected per day and per hour of day on ``zone``'s clock; None
    when the hours cannot say (see the module's note)."""
    if not (_on_the_hour(calls.since) and _on_the_hour(calls.until)):
        return None
    where, args = _filter(calls)
    first = calls.since.astimezone(UTC).strftime("%Y-%m-%dT%H") if calls.since else None
    end = calls.until.astimezone(UTC).strftime("%Y-%m-%dT%H") if calls.until else None
    hour_where, hour_args = where, list(args)
    if first is not None:
        hour_where, hour_args = hour_where + " AND hour >= ?", [*hour_args, first]
    if end is not None:
        hour_where, hour_args = hour_where + " AND hour < ?", [*hour_args, end]
    hours = c.execute(f"SELECT hour, SUM(calls), SUM(connected) FROM stats_hours WHERE {hour_where} GROUP BY hour",
                      hour_args).fetchall()
    if hours:
        lo = calls.since or datetime.fromisoformat(hours[0][0] + ":00:00+00:00")
        hi = calls.until or datetime.fromisoformat(hours[-1][0] + ":00:00+00:00") + timedelta(hours=1)
        if any(minutes % 60 for _, minutes in _offsets(zone, lo, hi)):
            return None  # a zone half an hour off UTC: its days do not start on a UTC hour
    days: dict[str, list[int]] = {}
    by_hour: dict[int, list[int]] = {}
    for hour, n, connected in hours:
        local = datetime.fromisoformat(hour + ":00:00+00:00").astimezone(zone)
        for bucket in (days.setdefault(local.date().isoformat(), [0, 0]), by_hour.setdefault(local.hour, [0, 0])):
            bucket[0] += n
            bucket[1] += connected
    total: dict[Any, _Figures] = {}
    _count_range(c, calls, total, day_key="0", call_key="0")
    figure = total.get(0, _Figures())
    return {"total": figure.as_dict(),
            "days": [{"key": d, "calls": n, "connected": k} for d, (n, k) in sorted(days.items())],
            "hours": [{"key": h, "calls": n, "connected": k, "connect_rate": round(k / n, 4) if n else None}
                      for h, (n, k) in sorted(by_hour.items())]}


# the groupings the stats_day_* tables can answer: (their group column, the calls' own, as records.stats keys them)
_GROUPS = {"task": ("call_task_id", "calls.call_task_id"), "scenario": ("scenario", "calls.scenario"),
           "flow_version": ("flow_id || '@' || flow_version", "calls.flow_id || '@' || calls.flow_version")}


def _midnight_on_or_after(t: datetime) -> datetime:
    t = t.astimezone(UTC)
    midnight = t.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight == t else midnight + timedelta(days=1)


def _count_range(c: sqlite3.Connection, calls: CallFilter, groups: dict[Any, _Figures], *, day_key: str,
                 call_key: str) -> None:
    """Add the figures of ``calls`` into ``groups``, keyed by ``day_key`` (a column of the ``stats_day_*`` tables)
    and ``call_key`` (the same of ``calls``): the whole UTC days of the range from the tables, the rest of it (any
    instant) from the calls themselves, through the ``calls_stats`` index as ``records.stats`` counts them."""

    def count_calls(since: datetime | None, until: datetime | None) -> None:
        part = CallFilter(since, until, calls.task, calls.scenario, calls.flow, calls.flow_version)
        where, args = part.where()
        add_rows(groups, *(c.execute(sql.format(key=call_key, where=where), args)
                           for sql in (_BY_OUTCOME, _BY_WHAT_WAS_SAID, _BY_LENGTH)))

    day_lo = _midnight_on_or_after(calls.since) if calls.since else None
    day_hi = calls.until.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) if calls.until else None
    if day_lo is not None and day_hi is not None and day_lo >= day_hi:  # no whole day in the range
        count_calls(calls.since, calls.until)
        return
    where, args = _filter(calls)
    if day_lo is not None:
        where, args = where + " AND +day >= ?", [*args, day_lo.date().isoformat()]
        if calls.since is not None and calls.since < day_lo:
            count_calls(calls.since, day_lo)
    if day_hi is not None:
        where, args = where + " AND +day < ?", [*args, day_hi.date().isoformat()]
        if calls.until is not None and day_hi < calls.until:
            count_calls(day_hi, calls.until)
    add_rows(groups, *(c.execute(sql.format(key=day_key, where=where), args)
                       for sql in (_DAY_OUTCOME, _DAY_SAID, _DAY_LENGTH)))


def grouped(c: sqlite3.Connection, calls: CallFilter, group_by: str) -> dict[Any, _Figures] | None:
    """``GET /api/v1/stats`` grouped by call task, scenario or flow version from the running totals (the whole UTC
    days of the range) and the calls (the rest of it); None for the groupings by the shop's day or hour, which the
    calls answer (``records.stats``)."""
    if group_by not in _GROUPS:
        return None
    day_key, call_key = _GROUPS[group_by]
    groups: dict[Any, _Figures] = {}
    _count_range(c, calls, groups, day_key=day_key, call_key=call_key)
    return groups
