"""Which of a call's prompts can be rendered while it rings: the flow's templated prompts near its start, filled
in with the call's variables.

A call's variables are known when it is dialed, and ringing lasts seconds (the simulator's 0.8 s at the least,
5-20 s on real networks): long enough for piper to render the greeting (about 1 s of one core for its four
sentences on this machine) and a few more. A flow's fixed prompts are rendered when it is published; what is
left for call time is the templated ones ("Hello {name}, ..."), which are otherwise synthesised sentence by
sentence while the customer waits. :func:`texts_ahead` lists them in the order the call is likely to need them:
the start node's prompt first, then the nodes one and two branches away, then the global intents' replies and
the knowledge base's answers (they can come at any node). A template with a field the call does not know yet (a
slot's value such as ``{next_call}``, or ``{question}``) is left out: it cannot be filled before it is said.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from appliance.dialog.flow.model import Flow, Node

__all__ = ["texts_ahead"]


def _fields(template: str) -> list[str] | None:
    try:
        return [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError:
        return None  # not a template the engine could fill either


def _near(flow: Flow, hops: int) -> list[str]:
    """Node ids within ``hops`` branches of the start, nearest first (breadth first, the flow's order)."""
    order = [flow.start]
    frontier = [flow.start]
    globals_next = [g.next for g in flow.global_intents if g.next]
    for _ in range(hops):
        following: list[str] = []
        for node_id in frontier:
            node: Node = flow.nodes[node_id]
            targets: list[str | None] = [b.next for b in node.branches]
            targets += [d.next for d in node.dtmf]
            targets += [node.next, node.no_input_next, node.no_match_next]
            if node.type == "dialogue":
                targets += globals_next
            for target in targets:
                if target and target in flow.nodes and target not in order:
                    order.append(target)
                    following.append(target)
        frontier = following
    return order


def texts_ahead(flow: Flow, variables: Mapping[str, Any], *, hops: int = 2, limit: int = 24) -> list[str]:
    """The templated prompts of ``flow`` a call with ``variables`` may say early on, filled in as the engine
    fills them (declared defaults under the given values); at most ``limit`` texts, no repeats.

    Only templated prompts: the fixed ones are the publish-time prerender's. The start node's ``say`` comes
    first: it is the greeting, the prompt the customer hears first.
    """
    values = {k: v for k, v in flow.declared.values(dict(variables)).items() if v is not None and str(v) != ""}
    templates = flow.prompt_templates()
    near = _near(flow, hops)
    rank = {node_id: i for i, node_id in enumerate(near)}
    keys = sorted(
        (key for key in templates if key[0] in rank or key[0] in ("_global", "_kb")),
        key=lambda key: (rank.get(key[0], len(rank)), key[1] != "say"),
    )
    out: dict[str, None] = {}
    for key in keys:
        template = templates[key]
        fields = _fields(template)
        if not fields or any(f not in values for f in fields):
            continue  # fixed (prerendered when published), or waiting for a value the call does not have yet
        text = template.format_map(values).strip()
        if text:
            out.setdefault(text, None)
        if len(out) >= limit:
            break
    return list(out)
