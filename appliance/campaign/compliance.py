"""Compliance presets per country, and the guards that hold whatever the configuration says.

A preset is data (like the retry table): the hours on the callee's wall clock, the caps per number, how long a
refusal keeps the box quiet, how long records must be kept. ``[calling] preset`` picks one; ``custom`` takes
``calling.hours`` every day. :func:`preset_table_markdown` prints the table the README shows (a test keeps them
the same).

:func:`hold` is the one decision, pure: given the time, the callee's zones, the rules and the number's history,
the first guard that stops a call now and the first time one may be made (None: never). Calling hours hold a
call until the next opening in the callee's zone, a cap until the next day (or until the oldest counted call
leaves the period), a refusal until its quiet time has passed; the do-not-call list is checked before
(``guards.dial_guard``) and cancels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from appliance.campaign.guards import Guard
from appliance.campaign.hours import WeeklyHours, every_day, hours_text, next_allowed, weekdays
from appliance.campaign.remarks import phrase
from appliance.config import MIN_RECORDS_DAYS, CallingConfig
from appliance.records.history import PhoneHistory

__all__ = ["PRESETS", "CallingRules", "Hold", "Preset", "hold", "preset_table_markdown"]


@dataclass(frozen=True)
class Preset:
    name: str
    country: str
    hours: WeeklyHours  # on the callee's wall clock
    per_day: int | None = None  # calls per number per callee-local day; None: `calling.max_per_day` alone
    per_period: tuple[int, int] | None = None  # (calls, days) per number over a sliding period
    quiet_after_refusal_days: int = 0  # no call for this long after the customer refused (0: the list alone)
    keep_records_days: int = 0  # call records are kept at least this long (0: no minimum)
    source: str = ""  # the rule it follows, for the README


PRESETS: dict[str, Preset] = {
    "us": Preset("us", "United States", every_day("08:00-21:00"),
                 source="TCPA, 47 CFR 64.1200(c)(1): 8 a.m. to 9 p.m. at the called party's location"),
    "fr": Preset("fr", "France", weekdays("10:00-13:00", "14:00-20:00"), per_period=(4, 30),
                 quiet_after_refusal_days=60,
                 source="Code de la consommation L.223-1, décret 2022-1313: weekdays 10–13 h and 14–20 h, "
                        "4 calls per 30 days, 60 days after a refusal"),
    "cn": Preset("cn", "China", every_day("09:00-12:00", "14:00-21:00"),
                 keep_records_days=MIN_RECORDS_DAYS["cn"],
                 source="no calls in rest hours (12:00–14:00, 21:00–09:00); stop on refusal; records kept "
                        "30 days"),
    "custom": Preset("custom", "any", every_day(CallingConfig().hours),
                     source="`calling.hours` every day (default shown); `00:00-00:00` is all day"),
}


@dataclass(frozen=True)
class CallingRules:
    """The preset in force, the daily cap per number, and the zone for numbers whose zone is unknown."""

    preset: Preset
    per_day: int
    fallback_zone: tzinfo

    @classmethod
    def from_config(cls, calling: CallingConfig, zone: tzinfo) -> CallingRules:
        """``zone``: the shop's time zone, else the box's (``hours.box_zone``)."""
        preset = PRESETS[calling.preset]
        if preset.name == "custom":
            preset = Preset("custom", "any", every_day(calling.hours), source=preset.source)
        per_day = calling.max_per_day if preset.per_day is None else min(preset.per_day, calling.max_per_day)
        return cls(preset, per_day, zone)

    @property
    def look_back(self) -> timedelta:
        """How far back a number's calls count for the caps."""
        days = self.preset.per_period[1] if self.preset.per_period else 0
        return timedelta(days=max(days, 2))


@dataclass(frozen=True)
class Hold:
    guard: Guard
    until: datetime | None  # the first time a call may be made; None: no time within the horizon


def outside_hours(zones: tuple[tzinfo, ...], hours: WeeklyHours) -> Guard:
    names = ", ".join(str(z) for z in zones)
    return Guard("outside_hours", f"it is outside calling hours in the customer's time zone ({names})",
                 phrase("Not called: outside calling hours ({hours}) in the customer's time zone ({zones}).",
                        hours=hours_text(hours), zones=names))


def _day_start(at: datetime, zone: tzinfo) -> datetime:
    local = at.astimezone(zone)
    return datetime.combine(local.date(), time(0), tzinfo=zone)


def _first_free(at: datetime, rules: CallingRules, zones: tuple[tzinfo, ...],
                history: PhoneHistory) -> tuple[str | None, datetime | None]:
    """The first rule that stops a call at ``at`` (None: none) and the earliest time that rule allows."""
    preset = rules.preset
    if history.refused_at is not None and preset.quiet_after_refusal_days:
        quiet_until = history.refused_at + timedelta(days=preset.quiet_after_refusal_days)
        if at < quiet_until:
            return "after_refusal", quiet_until
    if preset.per_period is not None:
        limit, days = preset.per_period
        counted = [c for c in history.calls if at - timedelta(days=days) < c <= at]
        if len(counted) >= limit:
            return "period_cap", counted[len(counted) - limit] + timedelta(days=days)
    day = zones[0]  # the callee's day, in the first of its zones
    start = _day_start(at, day)
    today = [c for c in history.calls if start <= c <= at]
    if len(today) >= rules.per_day:
        return "daily_cap", _day_start(start + timedelta(hours=36), day)
    opens = next_allowed(at, preset.hours, zones)
    if opens is None:
        return "outside_hours", None
    if opens > at:
        return "outside_hours", opens
    return None, None


def hold(now: datetime, *, rules: CallingRules, zones: tuple[tzinfo, ...], history: PhoneHistory) -> Hold | None:
    """Why a call to this number may not be made ``now`` and when it may, or None: it may be made now.
    Zones whose hours never meet (a number spread over half the globe) fall back to the rules' zone."""
    first, _ = _first_free(now, rules, zones, history)
    if first is None:
        return None
    at: datetime | None = now
    for _ in range(16):  # each step moves past one rule's limit; a few are enough
        assert at is not None
        name, until = _first_free(at, rules, zones, history)
        if name is None:
            break
        if until is None and zones != (rules.fallback_zone,):
            zones = (rules.fallback_zone,)
            continue
        at = until
        if at is None:
            break
    return Hold(_guard(first, rules, zones), at)


def _guard(name: str, rules: CallingRules, zones: tuple[tzinfo, ...]) -> Guard:
    preset = rules.preset
    if name == "outside_hours":
        return outside_hours(zones, preset.hours)
    if name == "daily_cap":
        return Guard("daily_cap", f"it was called {rules.per_day} time(s) today already",
                     phrase("Not called: the number was called {calls} time(s) today already (the daily cap).",
                            calls=rules.per_day))
    if name == "period_cap":
        calls, days = preset.per_period or (0, 0)
        return Guard("period_cap", f"it was called {calls} times in {days} days already",
                     phrase("Not called: {calls} calls in {days} days is the most the {preset} preset allows.",
                            calls=calls, days=days, preset=preset.country))
    return Guard("after_refusal", f"its owner refused calls less than {preset.quiet_after_refusal_days} days ago",
                 phrase("Not called: the customer refused calls less than {days} days ago.",
                        days=preset.quiet_after_refusal_days))


def preset_table_markdown() -> str:
    """The presets as the README shows them."""
    rows = ["| preset | country | calling hours (callee's local time) | caps per number | after a refusal |"
            " records kept |", "| --- | --- | --- | --- | --- | --- |"]
    for p in PRESETS.values():
        caps = [f"{p.per_day} a day" if p.per_day else "`calling.max_per_day` a day"]
        if p.per_period:
            caps.append(f"{p.per_period[0]} per {p.per_period[1]} days")
        refusal = f"none for {p.quiet_after_refusal_days} days, then only if off the do-not-call list" \
            if p.quiet_after_refusal_days else "stop (do-not-call list)"
        kept = f"at least {p.keep_records_days} days" if p.keep_records_days else "—"
        rows.append(f"| `{p.name}` | {p.country} | {hours_text(p.hours)} | {', '.join(caps)} | {refusal} | {kept} |")
    return "\n".join(rows) + "\n"
