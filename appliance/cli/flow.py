"""`callbox flow validate|try|graph|prerender|record`: check a flow, talk to it in text, draw it, render its
prompts ahead, store a recorded prompt.

``validate`` prints every problem (schema, missing targets, unreachable nodes, unknown variables, nodes with no
way out) and exits 2 if there is any; a variable that no ticket field, default or ``"from": "vars"`` supplies is a
warning (exit 0: the file may be a draft), which publishing refuses.
``try`` runs a conversation in text: one ``--say`` per customer turn
(``""`` is silence, ``#1`` presses 1, ``!`` talks over the prompt), or at a prompt when there is no ``--say``;
``--json`` prints the result with the transcript. ``graph`` writes the flow as SVG.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from appliance.cli.common import ProgressBar, config_of, parse_vars, setup_logging
from appliance.dialog.flow.load import load_document, load_flow, parse_flow
from appliance.dialog.flow.model import Flow
from appliance.dialog.flow.parse import check_flow
from appliance.dialog.flow.svg import flow_svg
from appliance.dialog.runtime.engine import Step
from appliance.dialog.runtime.rehearsal import converse, result_json
from appliance.errors import CallboxError, ConfigError, FlowError
from appliance.panel.flows import unsupplied_problems
from appliance.speech.tts.recorded import RecordedPrompts


def flow_problems(path: Path) -> tuple[Flow | None, list[FlowError]]:
    try:
        doc = load_document(path)
    except FlowError as exc:
        return None, [exc]
    return check_flow(doc)


def validate_command(path: Path, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr  # looked up per call, so a redirected stdout is used
    flow, problems = flow_problems(path)
    if problems:
        for problem in problems:
            print(f"{path}: {problem}", file=err)
        print(f"{path}: {len(problems)} problem{'s' if len(problems) != 1 else ''}", file=err)
        return 2
    assert flow is not None
    for problem in unsupplied_problems(flow):  # a warning: the file may be a draft; publishing refuses it
        print(f"{path}: warning: {problem}", file=err)
    api = sum(1 for n in flow.nodes.values() if n.type == "api")
    print(f"{path}: ok ({len(flow.nodes)} nodes, {api} API, {len(flow.intents)} intents, "
          f"{len(flow.global_intents)} global, {len(flow.knowledge_base)} knowledge-base answers)", file=out)
    return 0


def _prompt_lines(inp: TextIO, out: TextIO) -> Iterator[str]:
    while True:
        print("you> ", end="", file=out, flush=True)
        line = inp.readline()
        if not line:
            return
        yield line.rstrip("\n")


def try_command(path: Path, *, variables: dict[str, str], says: list[str] | None, as_json: bool,
                now: datetime | None = None, tz: Any = None, inp: TextIO | None = None,
                out: TextIO | None = None) -> int:
    inp, out = inp or sys.stdin, out or sys.stdout
    flow = parse_flow(load_document(path))
    for name in flow.declared.missing(variables):  # neither given nor a default: a visible placeholder
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


def run_prerender(opts: argparse.Namespace) -> int:
    """Render a flow's static prompts into the box's prompt cache with its voice settings."""
    from appliance.campaign.voices import FlowPrompts  # loads piper: only when the command runs
    from appliance.speech.build import build_tts, build_voices

    setup_logging(opts.verbose, quiet=not opts.verbose)
    config = config_of(opts)
    flow = load_flow(opts.file)
    tts = build_tts(config.speech, config.paths, line_rate=opts.rate)
    prompts = FlowPrompts(build_voices(tts, config.paths), RecordedPrompts(config.paths.prompt_recordings))
    source = prompts.for_flow(flow)
    report = source.prerender(progress=ProgressBar(sys.stderr).counter(f"prerender {flow.id}"))
    print(f"{flow.id}: {report.total} prompt(s) in the cache for {source.tts.voice_id} at {opts.rate} Hz "
          f"({report.rendered} rendered now in {report.synthesised} piper run(s), {report.cached} already there, "
          f"{report.seconds:.1f} s)")
    missing = source.missing_recordings() if flow.broadcast != "tts" else []
    fate = "it will be synthesised" if flow.broadcast == "mixed" else "MISSING"
    for node, kind in missing:
        print(f"  no recording for {node} ({kind}): {fate}")
    return 1 if flow.broadcast == "recorded" and missing else 0


def run_record(opts: argparse.Namespace) -> int:
    """Store a WAV file as the recorded prompt of one node of a flow (broadcast modes recorded / mixed)."""
    config = config_of(opts)
    flow = load_flow(opts.file)
    if (opts.node, opts.kind) not in flow.prompt_templates():
        raise CallboxError(f"flow {flow.id} has no {opts.kind} prompt on a node {opts.node!r}")
    stored = RecordedPrompts(config.paths.prompt_recordings).save(flow.id, opts.node, opts.wav.read_bytes(), opts.kind)
    print(f"{flow.id}/{opts.node} ({opts.kind}): {stored}")
    return 0


def register(commands: Any) -> None:
    """`callbox flow validate|try|graph|prerender|record`."""
    f = commands.add_parser("flow", help="work with flow documents")
    fsub = f.add_subparsers(dest="flow_command", required=True)
    fv = fsub.add_parser("validate", help="check a flow file")
    fv.add_argument("file", type=Path)
    fv.set_defaults(func=run_flow_command)
    ft = fsub.add_parser("try", help="talk to a flow in text (scripted with --say, else at a prompt)")
    ft.add_argument("file", type=Path)
    ft.add_argument("--var", action="append", default=[], metavar="K=V", help="flow variable (repeatable)")
    ft.add_argument("--say", action="append", default=None, metavar="TEXT",
                    help='one customer turn (repeatable): "" is silence, "#1" presses 1, "!" talks over the bot')
    ft.add_argument("--json", action="store_true", help="print the result and the turns as JSON")
    ft.add_argument("--now", default=None, metavar="ISO", help="the time the call happens (for dates in answers)")
    ft.add_argument("--tz", default=None, help="the box's time zone (default: the system's)")
    ft.set_defaults(func=run_flow_command)
    fg = fsub.add_parser("graph", help="draw a flow as SVG")
    fg.add_argument("file", type=Path)
    fg.add_argument("-o", "--output", type=Path, default=None, help="SVG file (default: standard output)")
    fg.set_defaults(func=run_flow_command)
    fp = fsub.add_parser("prerender", help="render a flow's static prompts into the prompt cache (progress bar)")
    fp.add_argument("file", type=Path)
    fp.add_argument("--rate", type=int, default=8000, help="line sample rate in Hz (8000 or 16000)")
    fp.set_defaults(func=run_prerender)
    fr = fsub.add_parser("record", help="store a WAV as a node's recorded prompt (broadcast recorded / mixed)")
    fr.add_argument("file", type=Path, help="the flow JSON")
    fr.add_argument("node")
    fr.add_argument("wav", type=Path)
    fr.add_argument("--kind", default="say", help="say (default), reprompt, ask.<slot>, no_input.1, ... "
                    "(the flow's prompts: Flow.prompt_templates)")
    fr.set_defaults(func=run_record)
