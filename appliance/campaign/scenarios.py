"""Scenarios: what a call is, once the owner's rules (``campaign.rules``) decided to call.

A scenario names the flow (its latest published version, or a pinned version number), which tickets it covers
(ticket type × order status: a rule that calls without naming a scenario takes the first that covers the
ticket), where each flow variable comes from (``variables``: flow variable -> a ticket field such as
``order.id`` or ``vars.due_date``; ``defaults``: flow variable -> text said when the ticket has nothing), and its
call task's settings (``task``, :data:`TASK_KEYS`).

A call's variables, strongest first: the mapping, the ticket's own fields and ``vars``, the scenario's
defaults, the flow's defaults. Storing a scenario whose flow uses a variable that none of these supplies is
refused (``check_flows``), as publishing such a flow is.

Everything here is pure: the documents come in as plain JSON values, every problem comes out as
``(path, message)`` (``scenarios[1].task.retry.busy``) and :class:`~appliance.errors.RulesInvalid` is the only
error raised.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from appliance.campaign.calltask import check_settings
from appliance.config import RetryConfig
from appliance.dialog.flow.model import Flow
from appliance.errors import RulesInvalid
from appliance.records.ticket import STANDARD_VARIABLES, Ticket

__all__ = ["FIELDS", "TASK_KEYS", "Problems", "Scenario", "call_variables", "check_flows", "field_value", "parse_list",
           "parse_scenarios"]

MAX_ITEMS = 200  # rules or scenarios in one set
MAX_TEXT = 1000
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,63}$")
VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
T = TypeVar("T")

# The ticket's fields by the path rules and mappings name them (``vars.<name>`` for a ticket variable).
FIELDS: dict[str, Callable[[Ticket], str]] = {
    "id": lambda t: t.id,
    "type": lambda t: t.type,
    "subject": lambda t: t.subject,
    "description": lambda t: t.description,
    "customer.name": lambda t: t.customer_name,
    "customer.phone": lambda t: t.customer_phone,
    "order.id": lambda t: t.order_id,
    "order.status": lambda t: t.order_status,
    "helpdesk_status": lambda t: t.helpdesk_status,
}
SCENARIO_KEYS = {"name", "description", "covers", "flow", "version", "variables", "defaults", "task"}
COVERS_KEYS = {"type", "order_status"}
# A scenario's call task settings (checked by ``task_settings`` with the call tasks' own check; they read them)
TASK_KEYS = ("max_attempts", "retry", "redials", "priority", "lines", "valid_days", "hours")


class Problems:
    """Every problem found in a document, as ``(path, message)``."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))

    def raise_any(self) -> None:
        if self.items:
            raise RulesInvalid(self.items)

    def text(self, value: Any, path: str, *, limit: int = MAX_TEXT) -> str | None:
        """A non-blank string of at most ``limit`` characters, or None (a problem noted)."""
        if not isinstance(value, str):
            self.add(path, f"must be a text, not {kind(value)}")
            return None
        if not value.strip():
            self.add(path, "must not be empty")
            return None
        if len(value) > limit:
            self.add(path, f"is longer than {limit} characters")
            return None
        if not encodable(value):
            self.add(path, "holds a lone surrogate (\\ud800-\\udfff), which is not a character")
            return None
        return value

    def texts(self, value: Any, path: str, *, lower: bool = True) -> tuple[str, ...] | None:
        """A non-empty list of texts (lower case unless told), or None (a problem noted)."""
        if not isinstance(value, list):
            self.add(path, f"must be a list of texts, not {kind(value)}")
            return None
        if not value:
            self.add(path, "must not be empty (leave the key out to match anything)")
            return None
        if len(value) > MAX_ITEMS:
            self.add(path, f"has more than {MAX_ITEMS} items")
            return None
        out = []
        for i, item in enumerate(value):
            text = self.text(item, f"{path}[{i}]", limit=200)
            if text is not None:
                out.append(text.strip().lower() if lower else text)
        return tuple(out) if len(out) == len(value) else None

    def integer(self, value: Any, path: str, low: int, high: int) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(path, f"must be a whole number, not {kind(value)}")
            return None
        if not low <= value <= high:
            self.add(path, f"must be between {low} and {high}")
            return None
        return value

    def obj(self, value: Any, path: str, known: set[str] | None = None) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.add(path, f"must be an object, not {kind(value)}")
            return None
        for key in value:
            if not isinstance(key, str) or not encodable(key):
                self.add(path, "has a key that is not a text")
                return None
        if known is not None:
            for key in sorted(set(value) - known):
                self.add(f"{path}.{key}", f"is not a known key (known: {', '.join(sorted(known))})")
        return value


def kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a text", bool: "true/false", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def valid_field(path: str, *, mapping: bool = False) -> str | None:
    """Why ``path`` names no ticket field (None when it does); a mapping may name ``shop`` too."""
    if path in FIELDS or (mapping and path == "shop"):
        return None
    name = path.removeprefix("vars.")
    if path.startswith("vars.") and VARIABLE.match(name):
        return None
    known = ", ".join([*FIELDS, *(["shop"] if mapping else []), "vars.<name>"])
    return f"{path!r} is not a ticket field (one of {known})"


def field_value(ticket: Ticket, path: str, *, shop: str = "") -> str:
    """The ticket's value at ``path`` ("" when it has none)."""
    if path == "shop":
        return shop
    if path.startswith("vars."):
        return ticket.vars.get(path[5:], "")
    getter = FIELDS.get(path)
    return getter(ticket) if getter is not None else ""


@dataclass(frozen=True)
class Scenario:
    name: str
    flow: str
    version: int | None = None  # None: the latest published version
    types: tuple[str, ...] = ()  # covers: ticket types (lower case; empty: any) ...
    order_statuses: tuple[str, ...] = ()  # ... × order statuses (empty: any); both empty and no covers: none
    covering: bool = False  # the scenario has a ``covers`` (else only a rule that names it picks it)
    variables: Mapping[str, str] = field(default_factory=dict)  # flow variable -> ticket field path
    defaults: Mapping[str, str] = field(default_factory=dict)  # flow variable -> text
    task: Mapping[str, Any] = field(default_factory=dict)  # the call task's settings (TASK_KEYS), validated
    description: str = ""

    def covers(self, ticket: Ticket) -> bool:
        return self.covering and (not self.types or ticket.type in self.types) and (
            not self.order_statuses or ticket.order_status in self.order_statuses)

    def supplied(self) -> set[str]:
        """The variable names a ticket is known to supply through this scenario (besides the flow's defaults)."""
        return set(STANDARD_VARIABLES) | set(self.variables) | set(self.defaults)

    def retry_override(self, retry: RetryConfig) -> RetryConfig:
        """The box's retry table with this scenario's waits (minutes) over it."""
        minutes: Mapping[str, float] = self.task.get("retry") or {}
        return replace(retry, **{name: float(m * 60) for name, m in minutes.items()})


def call_variables(ticket: Ticket, shop: str, scenario: Scenario | None) -> dict[str, str]:
    """A call's variables before the flow's own defaults: the scenario's defaults, then the ticket's fields and
    ``vars``, then the scenario's mapping (a mapped field the ticket leaves empty does not blank the others)."""
    values = dict(ticket.variables(shop))
    if scenario is None:
        return values
    for name, default in scenario.defaults.items():
        if not values.get(name, "").strip():
            values[name] = default
    for name, path in scenario.variables.items():
        value = field_value(ticket, path, shop=shop)
        if value.strip():
            values[name] = value
    return values


def parse_scenarios(docs: Any) -> list[Scenario]:
    """Scenario documents as scenarios; RulesInvalid naming every problem (the flows are not looked at here)."""
    p = Problems()
    out = _scenarios(docs, p)
    p.raise_any()
    return out


def parse_list(docs: Any, key: str, noun: str, p: Problems, parse: Callable[[Any, str], T | None]) -> list[T]:
    """The items of a list of named documents (``key``: rules or scenarios) that ``parse`` reads at their path
    (``rules[2]``); a list too long, or a name an earlier item has, noted as a problem."""
    if not isinstance(docs, list):
        p.add(key, f"must be a list of {key}, not {kind(docs)}")
        return []
    if len(docs) > MAX_ITEMS:
        p.add(key, f"has more than {MAX_ITEMS} {key}")
        return []
    out: list[T] = []
    seen: set[str] = set()
    for i, doc in enumerate(docs):
        item = parse(doc, f"{key}[{i}]")
        name = doc.get("name") if isinstance(doc, dict) else None
        if isinstance(name, str) and name in seen:
            p.add(f"{key}[{i}].name", f"{name!r} is the name of an earlier {noun}")
        if isinstance(name, str):
            seen.add(name)
        if item is not None:
            out.append(item)
    return out


def _scenarios(docs: Any, p: Problems) -> list[Scenario]:
    return parse_list(docs, "scenarios", "scenario", p, lambda doc, where: _scenario(doc, where, p))


def _scenario(doc: Any, where: str, p: Problems) -> Scenario | None:
    before = len(p.items)
    d = p.obj(doc, where, SCENARIO_KEYS)
    if d is None:
        return None
    name = _name(d, where, p)
    flow = p.text(d.get("flow"), f"{where}.flow", limit=200) if "flow" in d else None
    if "flow" not in d:
        p.add(f"{where}.flow", "is required (the id of a published flow)")
    version = None
    if d.get("version") is not None and d.get("version") != "latest":
        version = p.integer(d["version"], f"{where}.version", 1, 1_000_000)
    types: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    if "covers" in d:
        covers = p.obj(d["covers"], f"{where}.covers", COVERS_KEYS)
        if covers is not None and "type" in covers:
            types = p.texts(covers["type"], f"{where}.covers.type") or ()
        if covers is not None and "order_status" in covers:
            statuses = p.texts(covers["order_status"], f"{where}.covers.order_status") or ()
    variables = _mapping(d.get("variables", {}), f"{where}.variables", p, paths=True)
    defaults = _mapping(d.get("defaults", {}), f"{where}.defaults", p, paths=False)
    task = task_settings(d.get("task", {}), f"{where}.task", p)
    description = ""
    if "description" in d:
        description = p.text(d["description"], f"{where}.description") or ""
    if len(p.items) > before or name is None or flow is None:
        return None
    return Scenario(name, flow.strip(), version, types, statuses, "covers" in d, variables, defaults, task,
                    description)


def _name(d: dict[str, Any], where: str, p: Problems) -> str | None:
    if "name" not in d:
        p.add(f"{where}.name", "is required")
        return None
    name = p.text(d["name"], f"{where}.name", limit=64)
    if name is not None and not NAME.match(name):
        p.add(f"{where}.name", "must be letters, digits, spaces, '_', '.' or '-' (64 at most)")
        return None
    return name


def _mapping(value: Any, where: str, p: Problems, *, paths: bool) -> dict[str, str]:
    d = p.obj(value, where)
    if d is None:
        return {}
    out: dict[str, str] = {}
    for name, item in d.items():
        if not VARIABLE.match(name):
            p.add(f"{where}.{name}", "is not a variable name (letters, digits and _, not starting with a digit)")
            continue
        text = p.text(item, f"{where}.{name}")
        if text is None:
            continue
        if paths:
            why = valid_field(text.strip(), mapping=True)
            if why is not None:
                p.add(f"{where}.{name}", why)
                continue
            text = text.strip()
        out[name] = text
    return out


def task_settings(value: Any, where: str, p: Problems) -> dict[str, Any]:
    """The call task's settings of a scenario, checked by the call tasks' own check
    (:func:`appliance.campaign.calltask.check_settings`, every problem noted at its path under ``where``) and kept
    as the keys given, normalised (``hours`` by three-letter weekday): ``max_attempts``, ``retry``, ``redials``,
    ``priority``, ``lines``, ``valid_days``, ``hours`` (:data:`TASK_KEYS`; a standing task has no
    ``broadcast`` or ``valid_until``)."""
    settings, problems = check_settings(value, where, keys=TASK_KEYS)
    for path, message in problems:
        p.add(path, message)
    if settings is None or not isinstance(value, dict):
        return {}
    return {k: v for k, v in settings.as_dict().items() if k in value and value[k] is not None}


FlowLookup = Callable[[str, "int | None"], "Flow | None"]  # (flow id, version or None: latest) -> parsed flow


def check_flows(scenarios: Sequence[Scenario], flow: FlowLookup, versions: Callable[[str], list[int]]) -> None:
    """Each scenario's flow (and pinned version) is published, and every variable the flow uses is supplied by
    a ticket field, the mapping, a default of the scenario or the flow, or the flow's ``"from": "vars"``;
    RulesInvalid naming every scenario that fails."""
    p = Problems()
    for i, s in enumerate(scenarios):
        where = f"scenarios[{i}]"
        known = versions(s.flow)
        if not known:
            p.add(f"{where}.flow", f"no flow {s.flow!r} is published")
            continue
        if s.version is not None and s.version not in known:
            p.add(f"{where}.version", f"flow {s.flow!r} has no version {s.version} (published: "
                                      f"{', '.join(map(str, known))})")
            continue
        parsed = flow(s.flow, s.version)
        if parsed is None:
            p.add(f"{where}.flow", f"flow {s.flow!r} cannot be read")
            continue
        for name in parsed.declared.unsupplied(s.supplied()):
            p.add(f"{where}.variables.{name}",
                  f"flow {s.flow!r} says {{{name}}} and nothing supplies it: not a ticket field "
                  f"({', '.join(STANDARD_VARIABLES)}); map it (\"{name}\": \"vars.{name}\") or give a default")
    p.raise_any()
