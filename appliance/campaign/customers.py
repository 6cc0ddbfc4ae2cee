"""The customers of a call task as rows: read from a CSV (columns ``phone``, ``name``, ``order_id``, any other
column a flow variable) or from the API's ``customers`` list. Pure: the checks that need the records (the
do-not-call list, live tasks, the flow's variables) are ``campaign.call_tasks``'s.

A file that cannot be read at all (not CSV, a required column missing, a column that cannot be a variable)
raises ``TaskInvalid`` naming ``csv``; a row that cannot be called is kept with the reason, so the preview can
list it.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from appliance.errors import TaskInvalid

__all__ = ["MAX_ROWS", "REQUIRED_COLUMNS", "RawCustomer", "customers_from_csv", "customers_from_list"]

REQUIRED_COLUMNS = ("phone", "name", "order_id")
RESERVED = ("order_status", "shop", "subject")  # a ticket's own fields that a CSV does not set
MAX_ROWS = 10000
MAX_TEXT = 4000  # campaign.tickets.MAX_TEXT
MAX_CSV_CHARS = 5_000_000
VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


@dataclass(frozen=True)
class RawCustomer:
    row: int  # 1 for the first data row
    phone: str
    name: str
    order_id: str
    vars: dict[str, str] = field(default_factory=dict)
    problem: str | None = None  # why this row cannot be read (a value too long)


def _columns(header: list[str]) -> list[str]:
    names = [h.strip().lstrip("\ufeff").strip() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise TaskInvalid(f"the header has no column {', '.join(missing)} (needs {', '.join(REQUIRED_COLUMNS)}, "
                          "and any other column is a flow variable)", field="csv")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise TaskInvalid(f"column {name[:64]!r} appears twice", field="csv")
        seen.add(name)
        if name in RESERVED:
            raise TaskInvalid(f"column {name!r} is one of the ticket's own fields and cannot be set here",
                              field="csv")
        if not VAR_NAME.match(name):
            raise TaskInvalid(f"column {name[:64]!r} cannot be a flow variable (letters, digits, _)", field="csv")
    return names


def customers_from_csv(text: Any) -> list[RawCustomer]:
    """The data rows of a CSV (comma or semicolon separated, a header first)."""
    if not isinstance(text, str):
        raise TaskInvalid("must be the CSV file's text", field="csv")
    if len(text) > MAX_CSV_CHARS:
        raise TaskInvalid(f"is longer than {MAX_CSV_CHARS} characters", field="csv")
    if "\x00" in text:
        raise TaskInvalid("is not a text file (it has NUL characters)", field="csv")
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise TaskInvalid(f"is not CSV: {exc}", field="csv") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise TaskInvalid("is empty: a header (phone,name,order_id,...) and a row per customer", field="csv")
    names = _columns(rows[0])
    if len(rows) - 1 > MAX_ROWS:
        raise TaskInvalid(f"has {len(rows) - 1} rows; at most {MAX_ROWS} per task", field="csv")
    out: list[RawCustomer] = []
    for number, cells in enumerate(rows[1:], start=1):
        if len(cells) > len(names):
            out.append(RawCustomer(number, "", "", "", problem=f"has {len(cells)} cells, the header {len(names)}"))
            continue
        values = dict(zip(names, [c.strip() for c in cells], strict=False))
        out.append(_customer(number, values))
    return out


def customers_from_list(items: Any) -> list[RawCustomer]:
    """The API's ``customers``: ``[{"phone", "name", "order_id", "vars": {...}}]``."""
    if not isinstance(items, list) or not items:
        raise TaskInvalid("must be a non-empty list of {phone, name, order_id, vars}", field="customers")
    if len(items) > MAX_ROWS:
        raise TaskInvalid(f"at most {MAX_ROWS} per task", field="customers")
    out: list[RawCustomer] = []
    for number, item in enumerate(items, start=1):
        where = f"customers[{number - 1}]"
        if not isinstance(item, dict):
            raise TaskInvalid("must be an object {phone, name, order_id, vars}", field=where)
        unknown = sorted(str(k)[:40] for k in item if k not in (*REQUIRED_COLUMNS, "vars"))
        if unknown:
            raise TaskInvalid(f"unknown key(s) {', '.join(unknown)}", field=where)
        values: dict[str, str] = {}
        for key in REQUIRED_COLUMNS:
            value = item.get(key, "")
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str):
                raise TaskInvalid("must be text", field=f"{where}.{key}")
            values[key] = value.strip()
        extra = item.get("vars") or {}
        if not isinstance(extra, dict):
            raise TaskInvalid("must be an object: name -> text", field=f"{where}.vars")
        for key, value in extra.items():
            if not isinstance(key, str) or not VAR_NAME.match(key) or key in (*REQUIRED_COLUMNS, *RESERVED):
                raise TaskInvalid("cannot be a flow variable name", field=f"{where}.vars.{str(key)[:64]}")
            if not isinstance(value, str):
                raise TaskInvalid("must be text", field=f"{where}.vars.{key}")
            values[key] = value.strip()
        out.append(_customer(number, values))
    return out


def _customer(number: int, values: dict[str, str]) -> RawCustomer:
    long = [k for k, v in values.items() if len(v) > MAX_TEXT]
    variables = {k: v for k, v in values.items() if k not in REQUIRED_COLUMNS and v}
    customer = RawCustomer(number, values.get("phone", ""), values.get("name", ""), values.get("order_id", ""),
                           variables)
    if long:
        return RawCustomer(number, customer.phone[:64], "", "", problem=f"{long[0]} is longer than {MAX_TEXT}")
    return customer
