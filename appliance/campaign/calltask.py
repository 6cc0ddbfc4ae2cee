"""The call task: a campaign an owner creates and controls (by hand, from a CSV, by a timer, or the standing task
a trigger fills), its state table and its settings. Pure: no I/O.

States ``pending -> running <-> paused -> completed | expired | cancelled`` (``CALL_TASK_TABLE``). Settings are
the shape a scenario's ``task`` dict has (``max_attempts``, ``retry`` outcome -> minutes, ``priority``,
``lines``, ``valid_days``, ``hours`` weekday -> ["HH:MM-HH:MM"], ``redials`` outcome -> how many times that
outcome is redialled at most) plus ``broadcast`` and ``valid_until``. They are checked whole by one
:func:`check_settings`, for a task made by hand, from a CSV or by a timer and for a scenario's ``task`` alike: every
problem with its path (``settings.redials.busy``), which :func:`parse_settings` raises as ``TaskInvalid``. The
ranges are the wider of the two checks this one replaced (priority -1000 to 1000, so that a bulk task can yield to
the standing tasks at 0), so that settings stored under either still read. A task's hours narrow the compliance
preset's (:func:`task_rules` intersects them), never widen them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from appliance.campaign.compliance import CallingRules
from appliance.campaign.hours import DAY_NAMES, WeeklyHours, Window, parse_hours
from appliance.config import RetryConfig
from appliance.errors import TaskInvalid
from appliance.states import StateTable

__all__ = ["CALL_TASK_TABLE", "SETTINGS_KEYS", "SOURCES", "CallTaskState", "TaskSettings", "check_settings",
           "intersect", "parse_settings", "task_rules"]

SOURCES = ("trigger", "cron", "manual", "csv")
MAX_LINES = 64
MAX_ATTEMPTS = 20
MAX_PRIORITY = 1000
MAX_VALID_DAYS = 366
MAX_RETRY_MINUTES = 60 * 24 * 30
MAX_SPANS = 24  # spans in one day's hours


class CallTaskState(StrEnum):
    PENDING = "pending"  # created, nothing claimed yet
    RUNNING = "running"
    PAUSED = "paused"  # an owner paused it: no new attempt is claimed, calls in progress finish
    COMPLETED = "completed"  # none of its attempts are left
    EXPIRED = "expired"  # its validity ended; attempts still pending ended `expired`
    CANCELLED = "cancelled"  # an owner cancelled it; its pending attempts ended `cancelled`


C = CallTaskState
CALL_TASK_TRANSITIONS: dict[tuple[CallTaskState, str], CallTaskState] = {
    (C.PENDING, "start"): C.RUNNING,  # its first attempt is claimed
    (C.PENDING, "pause"): C.PAUSED,
    (C.RUNNING, "pause"): C.PAUSED,
    (C.PAUSED, "resume"): C.RUNNING,
    (C.RUNNING, "complete"): C.COMPLETED,
    (C.PENDING, "complete"): C.COMPLETED,
    **{(s, "expire"): C.EXPIRED for s in (C.PENDING, C.RUNNING, C.PAUSED)},
    **{(s, "cancel"): C.CANCELLED for s in (C.PENDING, C.RUNNING, C.PAUSED)},
}
CALL_TASK_TABLE = StateTable("call task", CALL_TASK_TRANSITIONS)
LIVE_STATES = (C.PENDING, C.RUNNING, C.PAUSED)

RETRY_KEYS = tuple(f.name for f in fields(RetryConfig))  # busy, no_answer, rejected, failed, interrupted
_DAY_KEYS = {name.lower(): i for i, name in enumerate(DAY_NAMES)}
SETTINGS_KEYS = ("broadcast", "lines", "max_attempts", "retry", "redials", "valid_days", "valid_until", "hours",
                 "priority")


@dataclass(frozen=True)
class TaskSettings:
    broadcast: bool = False  # call every customer once; else "until resolved" by the retry table
    lines: int | None = None  # lines it may use at once; None: all
    max_attempts: int | None = None  # None: `calling.max_attempts`
    retry: dict[str, float] = field(default_factory=dict)  # RetryConfig field -> minutes, over the global delays
    valid_days: int | None = None
    valid_until: str | None = None  # UTC ISO text; attempts still pending then end `expired`
    hours: dict[str, tuple[str, ...]] | None = None  # "mon".."sun" -> spans; a day not named has no calls
    priority: int = 0  # higher first
    redials: dict[str, int] = field(default_factory=dict)  # outcome -> redials at most after it (max_attempts caps)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"broadcast": self.broadcast, "priority": self.priority}
        for key in ("lines", "max_attempts", "valid_days", "valid_until"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.retry:
            out["retry"] = dict(self.retry)
        if self.redials:
            out["redials"] = dict(self.redials)
        if self.hours is not None:
            out["hours"] = {day: list(spans) for day, spans in self.hours.items()}
        return out

    def attempts(self, default: int) -> int:
        """Attempts per customer: one in broadcast mode, else the task's own or the box's."""
        return 1 if self.broadcast else (self.max_attempts or default)

    def retry_config(self, base: RetryConfig) -> RetryConfig:
        """The retry delays for this task's attempts: its own (minutes) over the global table's (seconds)."""
        return replace(base, **{k: v * 60 for k, v in self.retry.items()})

    def weekly_hours(self) -> WeeklyHours | None:
        if self.hours is None:
            return None
        days: list[tuple[Window, ...]] = [() for _ in range(7)]
        for day, spans in self.hours.items():
            days[_DAY_KEYS[day]] = tuple(sorted(w for span in spans for w in parse_hours(span)))
        return tuple(days)

    def ends_at(self, created: datetime) -> str | None:
        """When the task's attempts expire: ``valid_until``, else ``valid_days`` after ``created``."""
        if self.valid_until is not None:
            return self.valid_until
        if self.valid_days is not None:
            return (created + timedelta(days=self.valid_days)).astimezone(UTC).isoformat(timespec="milliseconds")
        return None


class _Refused(Exception):
    """One value refused: the message; the caller knows its path."""


def check_settings(doc: Any, where: str = "settings", *,
                   keys: Collection[str] = SETTINGS_KEYS) -> tuple[TaskSettings | None, list[tuple[str, str]]]:
    """Check a settings dict whole, the one check of a call task's settings wherever they come from (the task
    API and CLI with ``where="settings"``, a scenario's ``task`` with ``where="scenarios[0].task"`` and its
    smaller set of ``keys``): the settings and no problems, or None and every problem as ``(path, message)``
    (``settings.redials.busy``)."""
    if doc is None:
        return TaskSettings(), []
    if not isinstance(doc, dict):
        return None, [(where, "must be an object")]
    problems: list[tuple[str, str]] = []
    unknown = sorted(_shown(k) for k in doc if k not in keys)
    if unknown:
        problems.append((where, f"unknown key(s) {', '.join(unknown)[:200]}; known: {', '.join(sorted(keys))}"))

    def checked(key: str, check: Callable[[Any, str], Any], default: Any = None, *, nullable: bool = True) -> Any:
        if key not in doc or (nullable and doc[key] is None):
            return default
        try:
            return check(doc[key], f"{where}.{key}")
        except _Refused as exc:
            problems.append((f"{where}.{key}", str(exc)))
            return default

    broadcast = checked("broadcast", _bool, False, nullable=False)
    settings = TaskSettings(  # checked in this order, so the problems come in it
        broadcast=broadcast,
        max_attempts=checked("max_attempts", _whole(1, MAX_ATTEMPTS)),
        priority=checked("priority", _whole(-MAX_PRIORITY, MAX_PRIORITY), 0),
        lines=checked("lines", _whole(1, MAX_LINES)),
        valid_days=checked("valid_days", _whole(1, MAX_VALID_DAYS)),
        valid_until=checked("valid_until", _valid_until),
        retry=checked("retry", _per_outcome("minutes", _minutes, problems), {}),
        redials=checked("redials", _per_outcome("redials at most", _whole(0, MAX_ATTEMPTS), problems), {}),
        hours=checked("hours", lambda value, path: _hours(value, path, problems)),
    )
    return (None, problems) if problems else (settings, [])


def parse_settings(doc: Any) -> TaskSettings:
    """Check a settings dict whole (:func:`check_settings`); ``TaskInvalid`` names every problem and its field."""
    settings, problems = check_settings(doc)
    if settings is None:
        raise TaskInvalid.of(problems)
    return settings


def _shown(key: Any) -> str:
    """A key of the document as a path part: at most 40 characters, a lone surrogate escaped."""
    return str(key)[:40].encode("utf-8", "backslashreplace").decode("utf-8")


def _bool(value: Any, _path: str) -> bool:
    if not isinstance(value, bool):
        raise _Refused("must be true or false")
    return value


def _whole(low: int, high: int) -> Callable[[Any, str], int]:
    def check(value: Any, _path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Refused(f"must be a whole number from {low} to {high}")
        if not low <= value <= high:
            raise _Refused(f"must be from {low} to {high}, not {value}")
        return value

    return check


def _per_outcome(what: str, number: Callable[[Any, str], Any],
                 problems: list[tuple[str, str]]) -> Callable[[Any, str], dict[str, Any]]:
    """The check of a dict retried outcome -> ``number(value)``; a bad outcome or value is noted in ``problems``
    at its own path and the others still checked. ``what`` says what the values are."""
    def check(value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _Refused(f"must be an object: outcome -> {what}")
        out: dict[str, Any] = {}
        for outcome, item in value.items():
            name = f"{path}.{_shown(outcome)}"
            if outcome not in RETRY_KEYS:
                problems.append((name, f"not a retried outcome; one of {', '.join(RETRY_KEYS)}"))
                continue
            try:
                out[outcome] = number(item, name)
            except _Refused as exc:
                problems.append((name, str(exc)))
        return out

    return check


def _minutes(minutes: Any, _path: str) -> float:
    if isinstance(minutes, bool) or not isinstance(minutes, int | float) or minutes != minutes:
        raise _Refused("must be a number of minutes")
    if not 1 <= minutes <= MAX_RETRY_MINUTES:
        raise _Refused(f"must be from 1 to {MAX_RETRY_MINUTES} minutes")
    return float(minutes)


def _valid_until(value: Any, _path: str) -> str:
    if not isinstance(value, str) or len(value) > 64:
        raise _Refused("must be an ISO 8601 time with a zone")
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _Refused("is not an ISO 8601 time such as 2026-12-24T18:00:00+01:00") from None
    if when.tzinfo is None:
        raise _Refused("has no time zone (add Z or an offset such as +02:00)")
    return when.astimezone(UTC).isoformat(timespec="milliseconds")


def _hours(value: Any, path: str, problems: list[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """Weekday -> spans; a bad day or span is noted in ``problems`` at the day's path, the other days still
    checked."""
    if not isinstance(value, dict):
        raise _Refused('must be an object: weekday -> ["HH:MM-HH:MM", ...]')
    out: dict[str, tuple[str, ...]] = {}
    for key, spans in value.items():
        name = f"{path}.{_shown(key)}"
        word = str(key).strip().lower()
        if word not in _DAY_KEYS and word not in _FULL_DAYS:
            problems.append((name, "not a weekday (mon, tue, wed, thu, fri, sat, sun)"))
            continue
        if isinstance(spans, str):
            spans = [spans]
        if not isinstance(spans, list) or not all(isinstance(s, str) for s in spans) or len(spans) > MAX_SPANS:
            problems.append((name, f'must be a list of at most {MAX_SPANS} spans such as "09:00-12:00"'))
            continue
        bad = len(problems)
        for span in spans:
            try:
                parse_hours(span)
            except ValueError as exc:
                problems.append((name, str(exc)[:200]))
        if len(problems) == bad:
            out[word[:3]] = tuple(spans)
    return out


_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def intersect(a: WeeklyHours, b: WeeklyHours) -> WeeklyHours:
    """The hours open in both ``a`` and ``b``, day by day."""
    days: list[tuple[Window, ...]] = []
    for wa, wb in zip(a, b, strict=True):
        both = [Window(max(x.start, y.start), min(x.end, y.end)) for x in wa for y in wb
                if max(x.start, y.start) < min(x.end, y.end)]
        days.append(tuple(sorted(both)))
    return tuple(days)


def task_rules(rules: CallingRules, settings: TaskSettings) -> CallingRules:
    """The calling rules for one task's attempts: the preset's hours narrowed to the task's (never wider)."""
    hours = settings.weekly_hours()
    if hours is None:
        return rules
    return replace(rules, preset=replace(rules.preset, hours=intersect(rules.preset.hours, hours)))
