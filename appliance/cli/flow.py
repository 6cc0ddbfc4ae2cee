"""`callbox flow validate|try|graph`: check a flow, talk to it in text, draw it.

``validate`` prints every problem (schema, missing targets, unreachable nodes, unknown variables, nodes with no
way out) and exits 2 if there is any. ``try`` runs a conversation in text: one ``--say`` per customer turn
(``""`` is silence, ``#1`` presses 1, ``!`` talks over the prompt), or at a prompt when there is no ``--say``;
``--json`` prints the result with the transcript. ``graph`` writes the flow as SVG.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from appliance.dialog.flow.load import load_document, parse_flow
from appliance.dialog.flow.model import Flow
from appliance.dialog.flow.parse import check_flow
from appliance.dialog.runtime.engine import Step
from appliance.dialog.runtime.rehearsal import converse, result_json
from appliance.errors import ConfigError, FlowError


def flow_problems(path: Path) -> tuple[Flow | None, list[FlowError]]:
    try:
        doc = load_document(path)
    except FlowError as exc:
        return None, [exc]
    return check_flow(doc)


def validate_command(path: Path, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    flow, problems = flow_problems(path)
    if problems:
        for problem in problems:
            print(f"{path}: {problem}", file=err)
        print(f"{path}: {len(problems)} problem{'s' if len(problems) != 1 else ''}", file=err)
        return 2
    assert flow is not None
    api = sum(1 for n in flow.nodes.values() if n.type == "api")
    print(f"{path}: ok ({len(flow.nodes)} nodes, {api} API, {len(flow.intents)} intents, "
          f"{len(flow.global_intents)} global, {len(flow.knowledge_base)} knowledge-base answers)", file=out)
    return 0


def parse_vars(items: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--var {item!r}: expected KEY=VALUE")
        out[key.strip()] = value
    return out


def _prompt_lines(inp: TextIO, out: TextIO) -> Iterator[str]:
    while True:
        print("you> ", end="", file=out, flush=True)
        line = inp.readline()
        if not line:
            return
        yield line.rstrip("\n")


def try_command(path: Path, *, variables: dict[str, str], says: list[str] | None, as_json: bool,
                now: datetime | None = None, tz: Any = None, inp: TextIO = sys.stdin,
                out: TextIO = sys.stdout) -> int:
    flow = parse_flow(load_document(path))
    missing = [v for v in flow.variables if v not in variables]
    for name in missing:
        variables[name] = f"<{name}>"

    # The conversation goes to out, or to stderr when out carries the JSON and the customer types at a prompt.
    talk: TextIO | None = out if not as_json else (sys.stderr if says is None else None)

    def show(step: Step) -> None:
        if talk is not None and step.say:
            print(f"bot ({step.node}): {step.say}", file=talk)
        if talk is not None and not step.listen:
            print("(the bot hangs up)", file=talk)

    turns: Iterable[str] = says if says is not None else _prompt_lines(inp, talk or sys.stderr)
    clock = (lambda: now) if now is not None else None
    run = converse(flow, variables, turns, clock=clock, tz=tz, on_step=show)
    if as_json:
        print(json.dumps(result_json(run), indent=2, ensure_ascii=False), file=out)
    else:
        result = run.result
        print(f"disposition: {result.disposition or '(the flow did not end)'}", file=out)
        if result.slots:
            print("slots: " + ", ".join(f"{k}={v}" for k, v in result.to_json()["slots"].items()), file=out)
        for op in result.operations:
            print(f"operation: {json.dumps(op.to_json(), ensure_ascii=False)}", file=out)
        strength = result.intent_strength
        if strength is not None:
            print(f"intent strength: {strength.score} ({strength.grade}): {'; '.join(strength.reasons)}", file=out)
    return 0 if run.finished else 1


def graph_command(path: Path, output: Path | None, *, out: TextIO = sys.stdout) -> int:
    from appliance.dialog.flow.svg import flow_svg

    svg = flow_svg(parse_flow(load_document(path)))
    if output is None:
        out.write(svg)
    else:
        output.write_text(svg, encoding="utf-8")
        print(f"{output}: {len(svg)} bytes", file=out)
    return 0


def _tz(name: str | None) -> Any:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"--tz {name!r}: unknown time zone") from exc


def _now(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"--now {text!r}: expected an ISO date and time") from exc
    return value if value.tzinfo else value.astimezone()


def run_flow_command(opts: argparse.Namespace) -> int:
    if opts.flow_command == "validate":
        return validate_command(opts.file)
    if opts.flow_command == "try":
        return try_command(opts.file, variables=parse_vars(opts.var), says=opts.say, as_json=opts.json,
                           now=_now(opts.now), tz=_tz(opts.tz))
    return graph_command(opts.file, opts.output)


def add_flow_commands(fsub: Any, func: Callable[[argparse.Namespace], int]) -> None:
    """`flow try` and `flow graph` (validate is declared with the other flow commands)."""
    ft = fsub.add_parser("try", help="talk to a flow in text (scripted with --say, else at a prompt)")
    ft.add_argument("file", type=Path)
    ft.add_argument("--var", action="append", default=[], metavar="K=V", help="flow variable (repeatable)")
    ft.add_argument("--say", action="append", default=None, metavar="TEXT",
                    help='one customer turn (repeatable): "" is silence, "#1" presses 1, "!" talks over the bot')
    ft.add_argument("--json", action="store_true", help="print the result and the turns as JSON")
    ft.add_argument("--now", default=None, metavar="ISO", help="the time the call happens (for dates in answers)")
    ft.add_argument("--tz", default=None, help="the box's time zone (default: the system's)")
    ft.set_defaults(func=func)
    fg = fsub.add_parser("graph", help="draw a flow as SVG")
    fg.add_argument("file", type=Path)
    fg.add_argument("-o", "--output", type=Path, default=None, help="SVG file (default: standard output)")
    fg.set_defaults(func=func)
