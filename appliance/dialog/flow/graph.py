"""A flow as a graph: its edges, and the problems only the whole graph shows (missing targets, unreachable
nodes, nodes with no way to a hang-up, unknown template variables)."""

from __future__ import annotations

import string
from collections import deque
from dataclasses import dataclass

from appliance.dialog.flow.model import Flow, Node
from appliance.errors import FlowError


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    field: str  # where the edge is written in the node (for messages)


def node_edges(flow: Flow, node: Node) -> list[Edge]:
    """The node's own edges (global intents are not included: see global_edges)."""
    out: list[Edge] = []
    if node.type == "dialogue":
        out += [Edge(node.id, b.next, b.intent, f"intents.{b.intent}") for b in node.branches]
        out += [Edge(node.id, d.next, f"key {d.digit}", f"dtmf.{d.digit}") for d in node.dtmf if d.next]
        if node.next:
            out.append(Edge(node.id, node.next, "slots filled", "next"))
        if node.no_input_next:
            out.append(Edge(node.id, node.no_input_next, "no input", "no_input"))
        if node.no_match_next:
            out.append(Edge(node.id, node.no_match_next, "no match", "no_match"))
        if node.vui.fallback_node and not (node.no_input_next and node.no_match_next):
            out.append(Edge(node.id, node.vui.fallback_node, "fallback", "vui.fallback_node"))
    elif node.type == "api" and node.api is not None:
        for i, b in enumerate(node.api.branches):
            label = f"status {b.status}" if b.status else f"{b.var} = {b.equals}"
            out.append(Edge(node.id, b.next, label, f"branches[{i}].next"))
        if node.next:
            out.append(Edge(node.id, node.next, "success", "next"))
        if node.api.failure:
            out.append(Edge(node.id, node.api.failure, "failure", "failure"))
    return out


def global_edges(flow: Flow) -> list[Edge]:
    return [Edge("*", g.next, g.intent, f"global_intents.{g.intent}.next") for g in flow.global_intents if g.next]


BUILTIN_VARIABLES = ("question",)  # the node's question, to say it again in a prompt


def known_variables(flow: Flow) -> set[str]:
    names = set(flow.variables) | set(BUILTIN_VARIABLES)
    for node in flow.nodes.values():
        names.update(s.name for s in node.slots)
        if node.api is not None:
            names.update(var for var, _ in node.api.save)
    return names


def _fields(text: str) -> set[str]:
    return {f.split(".")[0].split("[")[0] for _, f, _, _ in string.Formatter().parse(text) if f is not None}


def graph_problems(flow: Flow, templates: list[tuple[str | None, str, str]]) -> list[FlowError]:
    out: list[FlowError] = []
    nodes = flow.nodes
    if flow.start and flow.start not in nodes:
        out.append(FlowError(f"start node {flow.start!r} does not exist", field="start"))
    fallback = flow.vui.fallback_node
    if fallback is not None and (fallback not in nodes or nodes[fallback].type != "hangup"):
        out.append(FlowError(f"{fallback!r} is not a hangup node", field="vui.fallback_node"))
    for edge in global_edges(flow):
        if edge.target not in nodes:
            out.append(FlowError(f"points to missing node {edge.target!r}", field=edge.field))
    global_names = {g.intent for g in flow.global_intents}
    out += _voicemail_problems(flow)
    for node in nodes.values():
        for edge in node_edges(flow, node):
            if edge.target not in nodes:
                out.append(FlowError(f"points to missing node {edge.target!r}", node=node.id, field=edge.field))
        if node.type == "dialogue":
            own = node.vui.fallback_node
            if own is not None and own != fallback and (own not in nodes or nodes[own].type != "hangup"):
                out.append(FlowError(f"{own!r} is not a hangup node", node=node.id, field="vui.fallback_node"))
            if not ((node.no_input_next or own) and (node.no_match_next or own)):
                out.append(FlowError("a dialogue node needs no_input and no_match targets (or a vui.fallback_node)",
                                     node=node.id))
            if not (node.branches or node.slots or node.dtmf):
                out.append(FlowError("a dialogue node needs intents, slots or DTMF options", node=node.id))
            if node.slots and not node.next:
                out.append(FlowError("a node with slots needs next (where to go once they are filled)",
                                     node=node.id, field="next"))
            branch_names = {b.intent for b in node.branches}
            for d in node.dtmf:
                if d.intent and d.intent not in branch_names | global_names:
                    out.append(FlowError(f"intent {d.intent!r} is not a branch of this node or a global intent",
                                         node=node.id, field=f"dtmf.{d.digit}"))
        if node.type == "api" and node.api is not None and not (node.next or node.api.branches):
            out.append(FlowError("an API node needs next or branches", node=node.id, field="next"))
        for i, op in enumerate(node.operations):
            if op.at_slot is not None:
                slot = flow.slot(op.at_slot)
                if slot is None or slot.type not in ("datetime", "date", "time"):
                    out.append(FlowError(f"{op.at_slot!r} is not a date or time slot", node=node.id,
                                         field=f"operations[{i}].at_slot"))
    known = known_variables(flow)
    for node in nodes.values():
        if node.api is not None:
            for i, b in enumerate(node.api.branches):
                if b.var is not None and b.var not in known:
                    out.append(FlowError(f"unknown variable {b.var!r}", node=node.id, field=f"branches[{i}].var"))
    for nid, where, text in templates:
        try:
            unknown = _fields(text) - known
        except ValueError as exc:
            out.append(FlowError(f"bad template: {exc}", node=nid, field=where))
            continue
        if unknown:
            out.append(FlowError(f"unknown variable(s) {', '.join(sorted(unknown))}", node=nid, field=where))
    if flow.start in nodes:
        out.extend(_reachability(flow))
    return out


def _voicemail_problems(flow: Flow) -> list[FlowError]:
    """At most one voicemail node; it is spoken to answering machines only, so nothing leads to it."""
    out: list[FlowError] = []
    machine = [nid for nid, n in flow.nodes.items() if n.type == "voicemail"]
    out += [FlowError(f"a flow leaves one voicemail message; {machine[0]!r} is already the voicemail node",
                      node=nid, field="type") for nid in machine[1:]]
    if flow.start in machine:
        out.append(FlowError("the start node cannot be the voicemail node (it is spoken to machines only)",
                             field="start"))
    edges = [*global_edges(flow), *(e for n in flow.nodes.values() for e in node_edges(flow, n))]
    out += [FlowError(f"leads to voicemail node {e.target!r}, which only an answering machine reaches",
                      node=None if e.source == "*" else e.source, field=e.field) for e in edges if e.target in machine]
    return out


def successors(flow: Flow) -> dict[str, set[str]]:
    globals_ = {e.target for e in global_edges(flow)}
    succ: dict[str, set[str]] = {}
    for node in flow.nodes.values():
        targets = {e.target for e in node_edges(flow, node)}
        if node.type == "dialogue":
            targets |= globals_
        succ[node.id] = {t for t in targets if t in flow.nodes}
    return succ


def _reachability(flow: Flow) -> list[FlowError]:
    succ = successors(flow)
    seen = {flow.start}
    queue = deque([flow.start])
    while queue:
        for nxt in succ[queue.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    # the voicemail node is reached by a machine's answer, not by an edge, and ends the call itself
    machine = {nid for nid, n in flow.nodes.items() if n.type == "voicemail"}
    out = [FlowError(f"unreachable from the start node {flow.start!r}", node=nid)
           for nid in flow.nodes if nid not in seen and nid not in machine]
    # Nodes from which no hang-up can be reached: the call would never end there.
    ends = {nid for nid, n in flow.nodes.items() if n.type == "hangup"} | machine
    changed = True
    while changed:
        changed = False
        for nid, targets in succ.items():
            if nid not in ends and targets & ends:
                ends.add(nid)
                changed = True
    out += [FlowError("no way out: no hangup node can be reached from here", node=nid)
            for nid in flow.nodes if nid not in ends]
    return out
