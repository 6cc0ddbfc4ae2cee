"""The flow editor's view of a document's problems: each one placed at the node (and the line of the text) it
concerns, its message in the reader's language where the message is one of the flow checker's common ones.

The checker (``appliance.dialog.flow``) names a problem's node and field; the editor shows the JSON text as the
owner typed it, so the lines are found in that text (a small scanner: the top-level keys and the keys of
``"nodes"``), not in a reformatted copy.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

__all__ = ["EditorView", "NodeCard", "editor_view", "key_lines", "translate"]


def key_lines(text: str) -> tuple[dict[str, int], dict[str, int]]:
    """(top-level key -> line, node id -> line) of a JSON object's text; lines from 1. Keys it cannot read are
    left out (the text may be broken: the view still places what it can)."""
    newlines = [m.start() for m in re.finditer("\n", text)]
    top: dict[str, int] = {}
    nodes: dict[str, int] = {}
    stack: list[str | None] = []  # each open container: the key whose value it is
    pending: str | None = None
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            k = j + 1
            while k < n and text[k] in " \t\r\n":
                k += 1
            if k < n and text[k] == ":":
                try:
                    key = json.loads(text[i:j + 1])
                except ValueError:
                    key = None
                if isinstance(key, str):
                    line = bisect_right(newlines, i) + 1
                    if len(stack) == 1:
                        top.setdefault(key, line)
                    elif len(stack) == 2 and stack[1] == "nodes":
                        nodes.setdefault(key, line)
                pending = key if isinstance(key, str) else None
                i = k + 1
                continue
            pending = None
            i = j + 1
            continue
        if c in "{[":
            stack.append(pending)
            pending = None
        elif c in "}]":
            if stack:
                stack.pop()
            pending = None
        elif c == ",":
            pending = None
        i += 1
    return top, nodes


# The checker's common messages, read back into words of the reader's language (the others stay as written).
_MESSAGES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"points to missing node '(.+)'$"), lambda m: _("points to missing node %(node)s", node=m[1])),
    (re.compile(r"start node '(.+)' does not exist$"),
     lambda m: _("the start node %(node)s does not exist", node=m[1])),
    (re.compile(r"unreachable from the start node '(.+)'$"),
     lambda m: _("cannot be reached from the start node %(node)s", node=m[1])),
    (re.compile(r"no way out: no hangup node can be reached from here$"),
     lambda m: _("no way out: no hangup node can be reached from here")),
    (re.compile(r"unknown variable\(s\) (.+)$"), lambda m: _("unknown variable(s) %(names)s", names=m[1])),
    (re.compile(r"'(.+)' is not a hangup node$"), lambda m: _("%(node)s is not a hangup node", node=m[1])),
    (re.compile(r"a dialogue node needs intents, slots or DTMF options$"),
     lambda m: _("a dialogue node needs intents, slots or DTMF options")),
    (re.compile(r"a dialogue node needs no_input and no_match targets \(or a vui.fallback_node\)$"),
     lambda m: _("a dialogue node needs no_input and no_match targets (or a vui.fallback_node)")),
    (re.compile(r"unknown intent '(.+)'$"), lambda m: _("unknown intent %(intent)s", intent=m[1])),
    (re.compile(r"^must be a number above (\S+) and at most (\S+)$"),
     lambda m: _("must be a number above %(low)s and at most %(high)s", low=m[1], high=m[2])),
    (re.compile(r"^is required$"), lambda m: _("is required")),
    (re.compile(r"^must be a string$"), lambda m: _("must be a text")),
    (re.compile(r"^must be an object$"), lambda m: _("must be an object")),
    (re.compile(r"unknown key\(s\) (.+)$"), lambda m: _("unknown key(s) %(keys)s", keys=m[1])),
    (re.compile(r"unknown node type '(.+)' \(one of (.+)\)$"),
     lambda m: _("unknown node type %(kind)s (one of %(kinds)s)", kind=m[1], kinds=m[2])),
)


def translate(message: str) -> str:
    for pattern, words in _MESSAGES:
        found = pattern.search(message)
        if found is not None:
            return words(found)
    return message


@dataclass
class NodeCard:
    """One node of the document as the editor lists it, with the problems that concern it."""

    id: str
    type: str = ""
    say: str = ""
    line: int | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class EditorView:
    """``general``: problems of the flow as a whole (each with the line of its top-level key); ``nodes``: every
    node of the document in order; ``bad_lines``: the lines to mark in the text."""

    general: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[NodeCard] = field(default_factory=list)
    bad_lines: list[int] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.general) + sum(len(card.problems) for card in self.nodes)


def editor_view(text: str, document: Any, problems: list[dict[str, Any]]) -> EditorView:
    """Place each problem (``{"node", "field", "message"}``, as ``FlowService.check_document`` gives them) at its
    node's card, or with the flow's own problems at the line of its top-level key."""
    top, node_lines = key_lines(text)
    raw_nodes = document.get("nodes") if isinstance(document, dict) else None
    cards: dict[str, NodeCard] = {}
    if isinstance(raw_nodes, dict):
        for nid, spec in raw_nodes.items():
            spec = spec if isinstance(spec, dict) else {}
            say = spec.get("say") if isinstance(spec.get("say"), str) else ""
            cards[nid] = NodeCard(nid, str(spec.get("type", "")), str(say), node_lines.get(nid))
    view = EditorView()
    for p in problems:
        shown = {"field": p.get("field"), "message": translate(str(p.get("message", "")))}
        nid = p.get("node")
        if nid is not None and nid not in cards:
            cards[nid] = NodeCard(str(nid), line=node_lines.get(str(nid)))
        if nid is not None:
            cards[nid].problems.append(shown)
            line = cards[nid].line
        else:
            key = re.split(r"[.\[]", str(p.get("field") or ""))[0]
            line = top.get(key)
            view.general.append(shown | {"line": line})
        if line is not None and line not in view.bad_lines:
            view.bad_lines.append(line)
    view.nodes = sorted(cards.values(), key=lambda card: not card.problems)  # the nodes at fault first
    view.bad_lines.sort()
    return view
