"""The owner's rules: in order, the first whose conditions all hold decides whether a ticket is called, and with
which scenario (``campaign.scenarios``), or skipped with the owner's reason.

A rule is a JSON object: ``name``; any of the conditions below (a rule without any matches every ticket); and
``action``: ``"call"`` (with ``scenario``, or without it the first scenario that covers the ticket's type ×
order status) or ``"skip"`` (with ``reason``, the owner's words, stored with the ticket).

Conditions (texts compared in lower case):

- ``type``, ``order_status``, ``helpdesk_status``: a list; the ticket's value is one of them.
- ``fields``: ``{"<field>": {"equals": "x"} | {"one_of": [...]} | {"present": true} | {"absent": true}}``, a
  field being one of ``campaign.scenarios.FIELDS`` or ``vars.<name>``.
- ``subject_any`` / ``subject_all`` / ``description_any`` / ``description_all``: words or phrases, any or all
  of which appear (as whole words) in the subject or the description.
- ``subject_regex`` / ``description_regex``: a regular expression found in it (case-insensitive).
- ``tags_any`` / ``tags_all``: the ticket carries any / all of these tags.

Everything here is pure; a document's problems come out together as
:class:`~appliance.errors.RulesInvalid` naming each (``rules[2].subject_regex: ...``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from appliance.campaign.scenarios import Problems, Scenario, field_value, parse_list, valid_field
from appliance.records.ticket import Ticket

__all__ = ["Decision", "Rule", "RuleCheck", "Verdict", "decide", "evaluate", "parse_rules"]

LISTS = {"type": "type", "order_status": "order status", "helpdesk_status": "helpdesk status"}
WORDS = ("subject_any", "subject_all", "description_any", "description_all")
REGEXES = ("subject_regex", "description_regex")
TAGS = ("tags_any", "tags_all")
FIELD_TESTS = ("equals", "one_of", "present", "absent")
RULE_KEYS = {"name", "action", "scenario", "reason", "fields", *LISTS, *WORDS, *REGEXES, *TAGS}
MAX_REGEX = 500

Test = Callable[[Ticket], "str | None"]  # why the ticket fails the condition, or None when it holds


@dataclass(frozen=True)
class Rule:
    name: str
    action: str  # call | skip
    tests: tuple[Test, ...] = ()
    scenario: str | None = None  # for call: the scenario named (None: the one that covers the ticket)
    reason: str = ""  # for skip: the owner's reason

    def explain(self, ticket: Ticket) -> str | None:
        """Why this rule does not match the ticket, or None when it does."""
        for test in self.tests:
            why = test(ticket)
            if why is not None:
                return why
        return None


@dataclass(frozen=True)
class Decision:
    """What the rules say about a ticket: call (with a scenario and its flow) or skip, and why."""

    call: bool
    reason: str
    flow: str | None = None
    scenario: str | None = None
    rule: str | None = None  # the rule that decided (None: no rule matched)


@dataclass(frozen=True)
class RuleCheck:
    rule: str
    matched: bool
    why_not: str | None  # None when it matched


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    checks: tuple[RuleCheck, ...]  # the rules looked at, in order, up to the one that decided
    scenario: Scenario | None = None


def evaluate(ticket: Ticket, rules: Sequence[Rule], scenarios: Sequence[Scenario]) -> Verdict:
    """The first matching rule decides; each earlier one says why it did not match."""
    checks: list[RuleCheck] = []
    for rule in rules:
        why_not = rule.explain(ticket)
        checks.append(RuleCheck(rule.name, why_not is None, why_not))
        if why_not is not None:
            continue
        if rule.action == "skip":
            return Verdict(Decision(False, f"{rule.reason} (rule {rule.name!r})", rule=rule.name), tuple(checks))
        scenario = _scenario_for(ticket, rule, scenarios)
        if scenario is None:
            wanted = (f"scenario {rule.scenario!r} does not exist" if rule.scenario is not None else
                      f"no scenario covers type {ticket.type!r} × order status {ticket.order_status!r}")
            return Verdict(Decision(False, f"rule {rule.name!r} matched, but {wanted}", rule=rule.name),
                           tuple(checks))
        return Verdict(Decision(True, f"rule {rule.name!r} matched → scenario {scenario.name!r}", scenario.flow,
                                scenario.name, rule.name), tuple(checks), scenario)
    if not checks:
        return Verdict(Decision(False, "no rules are configured"), ())
    misses = "; ".join(f"rule {c.rule!r}: {c.why_not}" for c in checks)
    return Verdict(Decision(False, f"no rule matched ({misses})"), tuple(checks))


def decide(ticket: Ticket, rules: Sequence[Rule], scenarios: Sequence[Scenario]) -> Decision:
    return evaluate(ticket, rules, scenarios).decision


def _scenario_for(ticket: Ticket, rule: Rule, scenarios: Sequence[Scenario]) -> Scenario | None:
    if rule.scenario is not None:
        return next((s for s in scenarios if s.name == rule.scenario), None)
    return next((s for s in scenarios if s.covers(ticket)), None)


# -- parsing ---------------------------------------------------------------------------------------------------

def parse_rules(docs: Any, scenario_names: set[str] | None = None) -> list[Rule]:
    """Rule documents as rules; RulesInvalid naming every problem. With ``scenario_names``, a rule naming a
    scenario that is not among them is refused too."""
    p = Problems()
    out = _rules(docs, p, scenario_names)
    p.raise_any()
    return out


def _rules(docs: Any, p: Problems, scenario_names: set[str] | None) -> list[Rule]:
    return parse_list(docs, "rules", "rule", p, lambda doc, where: _rule(doc, where, p, scenario_names))


def _rule(doc: Any, where: str, p: Problems, scenario_names: set[str] | None) -> Rule | None:
    before = len(p.items)
    d = p.obj(doc, where, RULE_KEYS)
    if d is None:
        return None
    name = p.text(d.get("name"), f"{where}.name", limit=64) if "name" in d else None
    if "name" not in d:
        p.add(f"{where}.name", "is required")
    tests: list[Test] = []
    for key, label in LISTS.items():
        if key in d:
            values = p.texts(d[key], f"{where}.{key}")
            if values is not None:
                tests.append(_one_of(key, label, values))
    if "fields" in d:
        tests.extend(_field_tests(d["fields"], f"{where}.fields", p))
    for key in WORDS:
        if key in d:
            words = p.texts(d[key], f"{where}.{key}")
            if words is not None:
                tests.append(_words(key, words))
    for key in REGEXES:
        if key in d:
            pattern = _regex(d[key], f"{where}.{key}", p)
            if pattern is not None:
                tests.append(_found(key, pattern))
    for key in TAGS:
        if key in d:
            tags = p.texts(d[key], f"{where}.{key}")
            if tags is not None:
                tests.append(_tags(key, tags))
    action, scenario, reason = _action(d, where, p, scenario_names)
    if len(p.items) > before or name is None or action is None:
        return None
    return Rule(name, action, tuple(tests), scenario, reason)


def _action(d: dict[str, Any], where: str, p: Problems,
            scenario_names: set[str] | None) -> tuple[str | None, str | None, str]:
    action = d.get("action")
    if action not in ("call", "skip"):
        p.add(f"{where}.action", "is required: \"call\" or \"skip\"" if action is None else
              f"must be \"call\" or \"skip\", not {str(action)[:50]!r}")
        return None, None, ""
    scenario = None
    if action == "skip":
        if "scenario" in d:
            p.add(f"{where}.scenario", "is for a rule that calls (a skip has no scenario)")
        if "reason" not in d:
            p.add(f"{where}.reason", "is required for a skip: the owner's reason, stored with the ticket")
            return None, None, ""
        reason = p.text(d["reason"], f"{where}.reason", limit=300)
        return (action, None, reason.strip()) if reason is not None else (None, None, "")
    if "reason" in d:
        p.add(f"{where}.reason", "is for a skip (a call's reason names its rule and scenario)")
    if "scenario" in d:
        scenario = p.text(d["scenario"], f"{where}.scenario", limit=64)
        if scenario is not None and scenario_names is not None and scenario not in scenario_names:
            known = ", ".join(repr(n) for n in sorted(scenario_names)) or "none"
            p.add(f"{where}.scenario", f"no scenario is named {scenario!r} (scenarios: {known})")
    return action, scenario, ""


def _regex(value: Any, where: str, p: Problems) -> re.Pattern[str] | None:
    text = p.text(value, where, limit=MAX_REGEX)
    if text is None:
        return None
    try:
        return re.compile(text, re.IGNORECASE)
    except (re.error, RecursionError, OverflowError, ValueError) as exc:
        p.add(where, str(exc) or "is not a regular expression")
        return None


def _field_tests(value: Any, where: str, p: Problems) -> list[Test]:
    d = p.obj(value, where)
    out: list[Test] = []
    for path, spec in (d or {}).items():
        here = f"{where}.{path}"
        why = valid_field(path)
        if why is not None:
            p.add(here, why)
            continue
        test = p.obj(spec, here, set(FIELD_TESTS))
        if test is None:
            continue
        if len(test) != 1 or next(iter(test)) not in FIELD_TESTS:
            if len(test) != 1:
                p.add(here, f"must hold exactly one of {', '.join(FIELD_TESTS)}")
            continue
        (how, arg), = test.items()
        if how in ("present", "absent"):
            if arg is not True:
                p.add(f"{here}.{how}", "must be true")
                continue
            out.append(_presence(path, how == "present"))
        elif how == "equals":
            text = p.text(arg, f"{here}.equals", limit=300)
            if text is not None:
                out.append(_field_in(path, (text.strip().lower(),)))
        else:
            values = p.texts(arg, f"{here}.one_of")
            if values is not None:
                out.append(_field_in(path, values))
    return out


# -- the conditions ------------------------------------------------------------------------------------------

def _one_of(key: str, label: str, values: tuple[str, ...]) -> Test:
    def test(t: Ticket) -> str | None:
        value = {"type": t.type, "order_status": t.order_status, "helpdesk_status": t.helpdesk_status}[key]
        return None if value.lower() in values else f"{label} {value!r} is not {'/'.join(values)}"

    return test


def _presence(path: str, present: bool) -> Test:
    def test(t: Ticket) -> str | None:
        has = bool(field_value(t, path).strip())
        if has == present:
            return None
        return f"{path} is absent" if present else f"{path} is present"

    return test


def _field_in(path: str, values: tuple[str, ...]) -> Test:
    def test(t: Ticket) -> str | None:
        value = field_value(t, path).strip().lower()
        return None if value in values else f"{path} {value!r} is not {'/'.join(values)}"

    return test


def _words(key: str, words: tuple[str, ...]) -> Test:
    where, how = key.split("_")
    patterns = [(w, re.compile(r"(?<!\w)" + re.escape(w) + r"(?!\w)", re.IGNORECASE)) for w in words]

    def test(t: Ticket) -> str | None:
        text = t.subject if where == "subject" else t.description
        found = [w for w, pattern in patterns if pattern.search(text)]
        if how == "any":
            return None if found else f"{where} has none of {', '.join(words)}"
        lacking = [w for w in words if w not in found]
        return None if not lacking else f"{where} lacks {', '.join(lacking)}"

    return test


def _found(key: str, pattern: re.Pattern[str]) -> Test:
    where = key.removesuffix("_regex")

    def test(t: Ticket) -> str | None:
        text = t.subject if where == "subject" else t.description
        return None if pattern.search(text) else f"{where} does not match /{pattern.pattern}/"

    return test


def _tags(key: str, tags: tuple[str, ...]) -> Test:
    def test(t: Ticket) -> str | None:
        has = set(t.tags)
        if key == "tags_any":
            return None if has & set(tags) else f"tags carry none of {', '.join(tags)}"
        lacking = [tag for tag in tags if tag not in has]
        return None if not lacking else f"tags lack {', '.join(lacking)}"

    return test
