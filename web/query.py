"""Reading the read API's query parameters: each one is either absent, good, or a ``ParameterInvalid`` that names
it (a 400, nothing looked up). What is checked here is what the OpenAPI document says of each parameter."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from flask import request

MAX_LIST_LIMIT = 500
DEFAULT_LIMIT = 100
_WHOLE = re.compile(r"-?[0-9]{1,18}")


class ParameterInvalid(Exception):
    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


def _raw(name: str) -> str | None:
    value = request.args.get(name)
    return None if value is None or value == "" else value


def row_int(raw: str) -> int:
    """A whole number SQLite can hold, for ``request.args.get(name, type=row_int)`` (a larger one is a ValueError,
    so Flask gives the default: an offset or a page of 10**30 is not an OverflowError, a 500, in the query)."""
    value = int(raw)
    if not -(2**63) <= value < 2**63:
        raise ValueError(f"{raw[:40]} is out of range")
    return value


def text(name: str) -> str | None:
    return _raw(name)


def integer(name: str, *, minimum: int = 1, maximum: int | None = None) -> int | None:
    raw = _raw(name)
    if raw is None:
        return None
    if not _WHOLE.fullmatch(raw):
        raise ParameterInvalid(name, f"must be a whole number, not {raw[:40]!r}")
    value = int(raw)
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" to {maximum}" if maximum is not None else " or more"
        raise ParameterInvalid(name, f"must be {minimum}{upper}, not {value}")
    return value


def limit() -> int:
    value = integer("limit", minimum=1, maximum=MAX_LIST_LIMIT)
    return DEFAULT_LIMIT if value is None else value


def moment(name: str) -> datetime | None:
    """An ISO 8601 date-time (``2024-05-01T14:03:00+02:00``, ``...Z``); without an offset it is UTC."""
    raw = _raw(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ParameterInvalid(name, f"must be an ISO 8601 date-time such as 2024-05-01T14:03:00Z, "
                                     f"not {raw[:40]!r}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def choice(name: str, allowed: Iterable[str]) -> str | None:
    raw = _raw(name)
    options = list(allowed)
    if raw is not None and raw not in options:
        raise ParameterInvalid(name, f"must be one of {', '.join(options)}, not {raw[:40]!r}")
    return raw
