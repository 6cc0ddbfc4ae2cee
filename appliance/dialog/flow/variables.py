"""A flow's variables: the names its templates take from the ticket, and where each one comes from.

``"variables"`` in a flow document is either a list of names (each one the ticket must supply) or an object of
name -> ``{"default": "text", "from": "vars", "description": "..."}``: ``default`` is said when the ticket does
not supply the name, ``"from": "vars"`` marks a name the ticket's ``vars`` object is expected to carry. At call
time the values are the defaults, then the ticket's (its ``vars`` and its own fields) over them; a name with no
value blocks the call instead of being spoken as a blank (``campaign.guards.missing_variable``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SPEC_KEYS = {"default", "from", "description"}
SOURCES = ("vars",)  # where a ticket supplies a variable that is not one of its own fields


@dataclass(frozen=True)
class Variables:
    """The declared names in order, their defaults, and those expected from a ticket's ``vars``."""

    names: tuple[str, ...] = ()
    defaults: Mapping[str, str] | None = None
    from_vars: frozenset[str] = frozenset()

    def values(self, supplied: Mapping[str, str]) -> dict[str, str]:
        """A call's variables: what the ticket supplied, and a default wherever that is missing or blank."""
        out = dict(supplied)
        for name, default in (self.defaults or {}).items():
            if not str(out.get(name, "")).strip():
                out[name] = default
        return out

    def missing(self, supplied: Mapping[str, str]) -> list[str]:
        """The declared names with neither a non-empty value in ``supplied`` nor a default."""
        values = self.values(supplied)
        return [name for name in self.names if not str(values.get(name, "")).strip()]

    def unsupplied(self, ticket_fields: Iterable[str]) -> list[str]:
        """The declared names that are not a ticket's own field, have no default and are not marked
        ``"from": "vars"``: nothing is known to supply them (publishing refuses them, validate warns)."""
        known = set(ticket_fields) | set(self.defaults or {}) | self.from_vars
        return [name for name in self.names if name not in known]


class _Problems(list[tuple[str, str]]):
    def add(self, message: str, *, field: str) -> None:
        self.append((field, message))


def parse_variables(doc: dict[str, Any]) -> tuple[Variables, list[tuple[str, str]]]:
    """The document's ``variables``, and (field, message) for each problem found."""
    p = _Problems()
    return _parse(doc, p), p


def _parse(doc: dict[str, Any], p: _Problems) -> Variables:
    if "variables" not in doc:
        p.add("is required", field="variables")
        return Variables()
    value = doc["variables"]
    if isinstance(value, list):
        names = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not NAME.match(item):
                p.add("must be a variable name (letters, digits and _)", field=f"variables[{i}]")
                continue
            names.append(item)
        return Variables(tuple(dict.fromkeys(names)))
    if not isinstance(value, dict):
        p.add("must be a list of names or an object of name: {default, from}", field="variables")
        return Variables()
    names, defaults, from_vars = [], {}, set()
    for name, spec in value.items():
        where = f"variables.{name}"
        if not NAME.match(name):
            p.add("is not a variable name (letters, digits and _)", field=where)
            continue
        names.append(name)
        if not isinstance(spec, dict):
            p.add("must be an object ({} when the ticket supplies it)", field=where)
            continue
        extra = set(spec) - SPEC_KEYS
        if extra:
            p.add(f"unknown key(s) {', '.join(sorted(extra))}", field=where)
        if "default" in spec:
            default = spec["default"]
            if not isinstance(default, str) or not default.strip():
                p.add("must be a text that is not empty (a default is spoken)", field=f"{where}.default")
            else:
                defaults[name] = default
        if "from" in spec:
            if spec["from"] not in SOURCES:
                p.add(f"must be one of {', '.join(SOURCES)}", field=f"{where}.from")
            else:
                from_vars.add(name)
        if "description" in spec and not isinstance(spec["description"], str):
            p.add("must be a string", field=f"{where}.description")
    return Variables(tuple(names), defaults, frozenset(from_vars))
