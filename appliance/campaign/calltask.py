"""The call task: a campaign an owner creates and controls (by hand, from a CSV, by a timer, or the standing task
a trigger fills), its state table and its settings. Pure: no I/O.

States ``pending -> running <-> paused -> completed | expired | cancelled`` (``CALL_TASK_TABLE``). Settings are
the shape a scenario's ``task`` dict has (``max_attempts``, ``retry`` outcome -> minutes, ``priority``,
``lines``, ``valid_days``, ``hours`` weekday -> ["HH:MM-HH:MM"], ``redials`` outcome -> how many times that
outcome is redialled at most) plus ``broadcast`` and ``valid_until``; they
are checked whole by :func:`parse_settings`, which raises only ``TaskInvalid`` naming the field. A task's hours
narrow the compliance preset's (:func:`task_rules` intersects them), never widen them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from appliance.campaign.compliance import CallingRules
from appliance.campaign.hours import DAY_NAMES, WeeklyHours, Window, parse_hours
from appliance.config import RetryConfig
from appliance.errors import TaskInvalid
from appliance.states import StateTable

__all__ = ["CALL_TASK_TABLE", "SOURCES", "CallTaskState", "TaskSettings", "intersect", "parse_settings",
           "task_rules"]

SOURCES = ("trigger", "cron", "manual", "csv")
MAX_LINES = 64
MAX_ATTEMPTS = 20
MAX_PRIORITY = 1000
MAX_VALID_DAYS = 366
MAX_RETRY_MINUTES = 60 * 24 * 30


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
_KNOWN = {"broadcast", "lines", "max_attempts", "retry", "redials", "valid_days", "valid_until", "hours",
          "priority"}


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


def _int(doc: dict[str, Any], key: str, low: int, high: int) -> int | None:
    value = doc.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TaskInvalid(f"must be a whole number from {low} to {high}", field=f"settings.{key}")
    if not low <= value <= high:
        raise TaskInvalid(f"must be from {low} to {high}, not {value}", field=f"settings.{key}")
    return value


def parse_settings(doc: Any) -> TaskSettings:
    """Check a settings dict whole; the first problem found raises ``TaskInvalid`` naming its field."""
    if doc is None:
        return TaskSettings()
    if not isinstance(doc, dict):
        raise TaskInvalid("must be an object", field="settings")
    unknown = sorted(str(k) for k in doc if k not in _KNOWN)
    if unknown:
        raise TaskInvalid(f"unknown key(s) {', '.join(unknown)[:200]}; known: {', '.join(sorted(_KNOWN))}",
                          field="settings")
    broadcast = doc.get("broadcast", False)
    if not isinstance(broadcast, bool):
        raise TaskInvalid("must be true or false", field="settings.broadcast")
    priority = _int(doc, "priority", -MAX_PRIORITY, MAX_PRIORITY)
    return TaskSettings(
        broadcast=broadcast,
        lines=_int(doc, "lines", 1, MAX_LINES),
        max_attempts=_int(doc, "max_attempts", 1, MAX_ATTEMPTS),
        retry=_per_outcome(doc.get("retry"), "retry", "minutes", _minutes),
        redials=_per_outcome(doc.get("redials"), "redials", "redials at most", _count),
        valid_days=_int(doc, "valid_days", 1, MAX_VALID_DAYS),
        valid_until=_valid_until(doc.get("valid_until")),
        hours=_hours(doc.get("hours")),
        priority=priority or 0,
    )


def _per_outcome(value: Any, key: str, what: str, number: Callable[[Any, str], Any]) -> dict[str, Any]:
    """A dict retried outcome -> ``number(value, field)`` (the value checked, or ``TaskInvalid``); ``what`` says
    what the values are, for the message when ``value`` is not a dict."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TaskInvalid(f"must be an object: outcome -> {what}", field=f"settings.{key}")
    out: dict[str, Any] = {}
    for outcome, item in value.items():
        name = f"settings.{key}.{str(outcome)[:40]}"
        if outcome not in RETRY_KEYS:
            raise TaskInvalid(f"not a retried outcome; one of {', '.join(RETRY_KEYS)}", field=name)
        out[outcome] = number(item, name)
    return out


def _minutes(minutes: Any, name: str) -> float:
    if isinstance(minutes, bool) or not isinstance(minutes, int | float) or minutes != minutes:
        raise TaskInvalid("must be a number of minutes", field=name)
    if not 1 <= minutes <= MAX_RETRY_MINUTES:
        raise TaskInvalid(f"must be from 1 to {MAX_RETRY_MINUTES} minutes", field=name)
    return float(minutes)


def _count(count: Any, name: str) -> int:
    if isinstance(count, bool) or not isinstance(count, int):
        raise TaskInvalid(f"must be a whole number from 0 to {MAX_ATTEMPTS}", field=name)
    if not 0 <= count <= MAX_ATTEMPTS:
        raise TaskInvalid(f"must be from 0 to {MAX_ATTEMPTS}, not {count}", field=name)
    return count


def _valid_until(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise TaskInvalid("must be an ISO 8601 time with a zone", field="settings.valid_until")
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise TaskInvalid("is not an ISO 8601 time such as 2026-12-24T18:00:00+01:00",
                          field="settings.valid_until") from None
    if when.tzinfo is None:
        raise TaskInvalid("has no time zone (add Z or an offset such as +02:00)", field="settings.valid_until")
    return when.astimezone(UTC).isoformat(timespec="milliseconds")


def _hours(value: Any) -> dict[str, tuple[str, ...]] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TaskInvalid('must be an object: weekday -> ["HH:MM-HH:MM", ...]', field="settings.hours")
    out: dict[str, tuple[str, ...]] = {}
    for key, spans in value.items():
        name = f"settings.hours.{str(key)[:40]}"
        word = str(key).strip().lower()
        day = word[:3]
        if word not in _DAY_KEYS and word not in _FULL_DAYS:
            raise TaskInvalid("not a weekday (mon, tue, wed, thu, fri, sat, sun)", field=name)
        if isinstance(spans, str):
            spans = [spans]
        if not isinstance(spans, list) or not all(isinstance(s, str) for s in spans) or len(spans) > 8:
            raise TaskInvalid('must be a list of spans such as "09:00-12:00"', field=name)
        for span in spans:
            try:
                parse_hours(span)
            except ValueError as exc:
                raise TaskInvalid(str(exc)[:200], field=name) from None
        out[day] = tuple(spans)
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
