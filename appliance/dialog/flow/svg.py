"""A flow drawn as SVG with a small layered layout (no graphviz): nodes in rows by their distance from the
start, ordered to keep edges short, edges labelled with the intent, key, status or event that takes them.
Global intents come from a dashed "any question" box; edges that go back up are drawn as curves."""

from __future__ import annotations

import unicodedata
from collections import deque
from html import escape

from appliance.dialog.flow.graph import Edge, global_edges, node_edges
from appliance.dialog.flow.model import Flow, Node

ROW_GAP = 110
COL_GAP = 40
BOX_H = 46
CHAR_W = 7.0
MARGIN = 30
FILL = {"dialogue": "#dbeafe", "api": "#fde68a", "hangup": "#e5e7eb", "voicemail": "#fce7f3", "global": "#ffffff"}
STROKE = {"dialogue": "#1d4ed8", "api": "#b45309", "hangup": "#374151", "voicemail": "#be185d", "global": "#6b7280"}
GLOBAL = "*"


def _layers(flow: Flow) -> list[list[str]]:
    depth = {flow.start: 0} if flow.start in flow.nodes else {}
    queue = deque(depth)
    succ = {nid: [e.target for e in node_edges(flow, n) if e.target in flow.nodes] for nid, n in flow.nodes.items()}

    def spread() -> None:  # breadth first from what is queued: each node one row below its first parent
        while queue:
            nid = queue.popleft()
            for t in succ[nid]:
                if t not in depth:
                    depth[t] = depth[nid] + 1
                    queue.append(t)

    spread()
    for e in global_edges(flow):  # reached only through a global intent: one row below the deepest dialogue
        if e.target in flow.nodes and e.target not in depth:
            depth[e.target] = 1 + max((d for n, d in depth.items() if flow.nodes[n].type == "dialogue"), default=0)
            queue.append(e.target)
            spread()
    last = max(depth.values(), default=-1) + 1
    rows: list[list[str]] = [[] for _ in range(last + 1)]
    for nid in flow.nodes:
        rows[depth.get(nid, last)].append(nid)  # unreachable nodes: the last row
    rows = [r for r in rows if r]
    # Order each row by the mean position of its parents (one barycentre sweep keeps edges short).
    preds: dict[str, list[str]] = {n: [] for n in flow.nodes}
    for s, ts in succ.items():
        for t in ts:
            preds[t].append(s)
    pos: dict[str, float] = {n: i for i, n in enumerate(rows[0])}
    for row in rows[1:]:
        row.sort(key=lambda n: sum(pos.get(p, 0) for p in preds[n]) / len(preds[n]) if preds[n] else 1e9)
        pos.update({n: i for i, n in enumerate(row)})
    return rows


def _columns(text: str) -> int:
    """Text width in half-width columns: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def _label(node: Node) -> tuple[str, str]:
    detail = {"dialogue": "dialogue", "api": f"API {node.api.method if node.api else ''}".strip(),
              "hangup": f"hang up: {node.disposition}", "voicemail": "to answering machines, then hang up"}[node.type]
    if node.slots:
        detail += " · slots " + ", ".join(s.name for s in node.slots)
    return node.name or node.id, f"{node.id} · {detail}" if node.name else detail


def flow_svg(flow: Flow) -> str:
    rows = _layers(flow)
    globals_ = global_edges(flow)
    if globals_:
        rows.insert(0, [GLOBAL])
    width_of: dict[str, float] = {}
    for nid in (n for row in rows for n in row):
        if nid == GLOBAL:
            texts = ("any question (global intents)", "")
        else:
            texts = _label(flow.nodes[nid])
        width_of[nid] = max(90.0, CHAR_W * max(_columns(t) for t in texts) + 20)
    row_w = [sum(width_of[n] for n in row) + COL_GAP * (len(row) - 1) for row in rows]
    total_w = max(row_w) + 2 * MARGIN + 90  # room on the right for edges that go back up
    box: dict[str, tuple[float, float, float]] = {}  # id -> x, y, width
    for r, row in enumerate(rows):
        x = MARGIN + (max(row_w) - row_w[r]) / 2
        for nid in row:
            box[nid] = (x, MARGIN + r * ROW_GAP, width_of[nid])
            x += width_of[nid] + COL_GAP
    height = MARGIN * 2 + (len(rows) - 1) * ROW_GAP + BOX_H
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {total_w:.0f} {height:.0f}" font-family="sans-serif" font-size="12">',
           f"<title>{escape(flow.name)} ({escape(flow.id)})</title>",
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#4b5563"/></marker></defs>']
    edges: list[tuple[Edge, bool]] = [(e, False) for n in flow.nodes.values() for e in node_edges(flow, n)]
    edges += [(Edge(GLOBAL, e.target, e.label, e.field), True) for e in globals_]
    labels: list[str] = []  # drawn last, over the boxes
    for edge, dashed in edges:
        if edge.target not in box or edge.source not in box:
            continue
        line, label = _edge(box[edge.source], box[edge.target], edge.label, dashed)
        out.append(line)
        labels.append(label)
    for nid, (x, y, w) in box.items():
        kind = "global" if nid == GLOBAL else flow.nodes[nid].type
        title, detail = ("any question", "global intents") if nid == GLOBAL else _label(flow.nodes[nid])
        dash = ' stroke-dasharray="5,3"' if nid == GLOBAL else ""
        rx = 22 if kind == "hangup" else 6
        start = ' stroke-width="3"' if nid == flow.start else ' stroke-width="1.5"'
        out.append(f'<g class="node {kind}" id="node-{escape(nid)}"><rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" '
                   f'height="{BOX_H}" rx="{rx}" fill="{FILL[kind]}" stroke="{STROKE[kind]}"{start}{dash}/>'
                   f'<text x="{x + w / 2:.1f}" y="{y + 19:.1f}" text-anchor="middle" font-weight="bold">'
                   f"{escape(title)}</text>"
                   f'<text x="{x + w / 2:.1f}" y="{y + 36:.1f}" text-anchor="middle" fill="#374151" font-size="11">'
                   f"{escape(detail)}</text></g>")
    out.extend(labels)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _edge(src: tuple[float, float, float], dst: tuple[float, float, float], label: str,
          dashed: bool) -> tuple[str, str]:
    sx, sy, sw = src
    tx, ty, tw = dst
    dash = ' stroke-dasharray="5,3"' if dashed else ""
    if ty > sy:  # downwards: bottom centre to top centre
        x1, y1, x2, y2 = sx + sw / 2, sy + BOX_H, tx + tw / 2, ty
        path = f"M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + 40:.1f} {x2:.1f},{y2 - 40:.1f} {x2:.1f},{y2:.1f}"
        lx, ly = x1 + (x2 - x1) * 0.7, y1 + (y2 - y1) * 0.7  # nearer the target: fanned-out labels part
    elif ty == sy and src != dst:  # same row: under the row, bottom to bottom
        x1, y1, x2 = sx + sw / 2, sy + BOX_H, tx + tw / 2
        path = f"M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + 45:.1f} {x2:.1f},{y1 + 45:.1f} {x2:.1f},{y1:.1f}"
        lx, ly = (x1 + x2) / 2, y1 + 38
    elif src == dst:  # a loop on itself
        x1, y1 = sx + sw, sy + BOX_H / 2
        path = (f"M{x1:.1f},{y1 - 10:.1f} C{x1 + 45:.1f},{y1 - 35:.1f} "
                f"{x1 + 45:.1f},{y1 + 35:.1f} {x1:.1f},{y1 + 10:.1f}")
        lx, ly = x1 + 40, y1
    else:  # back up or sideways: out of the right side, curving
        x1, y1, x2, y2 = sx + sw, sy + BOX_H / 2, tx + tw, ty + BOX_H / 2
        bend = max(x1, x2) + 60
        path = f"M{x1:.1f},{y1:.1f} C{bend:.1f},{y1:.1f} {bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
        lx, ly = bend - 15, (y1 + y2) / 2
    return (f'<path class="edge" d="{path}" fill="none" stroke="#4b5563" stroke-width="1.2"{dash} '
            f'marker-end="url(#arrow)"/>',
            f'<text class="edge-label" x="{lx:.1f}" y="{ly:.1f}" text-anchor="middle" font-size="10" '
            f'fill="#111827" stroke="#ffffff" stroke-width="3" paint-order="stroke">{escape(label)}</text>')
