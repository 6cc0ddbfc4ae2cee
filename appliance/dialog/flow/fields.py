"""Reading a flow document's fields while collecting problems (node and field named) instead of stopping."""

from __future__ import annotations

from typing import Any

from appliance.errors import FlowError


class Problems:
    def __init__(self) -> None:
        self.items: list[FlowError] = []
        self.templates: list[tuple[str | None, str, str]] = []  # (node, field, template) checked at the end

    def add(self, message: str, *, node: str | None = None, field: str | None = None) -> None:
        self.items.append(FlowError(message, node=node, field=field))

    def template(self, text: str, node: str | None, field: str) -> str:
        self.templates.append((node, field, text))
        return text


def keys(spec: dict[str, Any], allowed: set[str], p: Problems, node: str | None, field: str | None) -> None:
    extra = set(spec) - allowed
    if extra:
        p.add(f"unknown key(s) {', '.join(sorted(extra))}", node=node, field=field)


def get(spec: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any, p: Problems,
         node: str | None, field: str | None = None, *, required: bool = False) -> Any:
    where = f"{field}.{key}" if field else key
    if key not in spec:
        if required:
            p.add("is required", node=node, field=where)
        return default
    value = spec[key]
    if isinstance(value, bool) and kind is not bool and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        p.add("must not be true/false", node=node, field=where)
        return default
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        p.add(f"must be a {names}", node=node, field=where)
        return default
    return value


def get_int(spec: dict[str, Any], key: str, default: int, p: Problems, node: str | None, field: str | None = None,
         *, low: int = 0, high: int = 10**7) -> int:
    value = get(spec, key, int, default, p, node, field)
    if not low <= value <= high:
        p.add(f"must be from {low} to {high}", node=node, field=f"{field}.{key}" if field else key)
        return default
    return int(value)


def get_strings(spec: dict[str, Any], key: str, p: Problems, node: str | None, field: str | None = None,
             *, templates: bool = False) -> tuple[str, ...]:
    where = f"{field}.{key}" if field else key
    value = get(spec, key, list, [], p, node, field)
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            p.add("must be a string", node=node, field=f"{where}[{i}]")
            continue
        out.append(p.template(item, node, f"{where}[{i}]") if templates else item)
    return tuple(out)


def get_object(value: Any, p: Problems, node: str | None, field: str | None,
               allowed: set[str] | None = None) -> dict[str, Any] | None:
    """``value`` if it is an object (with only the ``allowed`` keys, when given, or a problem is noted)."""
    if not isinstance(value, dict):
        p.add("must be an object", node=node, field=field)
        return None
    if allowed is not None:
        keys(value, allowed, p, node, field)
    return value


def template_value(value: Any, p: Problems, nid: str, where: str) -> Any:
    if isinstance(value, str):
        return p.template(value, nid, where)
    if isinstance(value, dict):
        return {k: template_value(v, p, nid, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [template_value(v, p, nid, f"{where}[{i}]") for i, v in enumerate(value)]
    return value
