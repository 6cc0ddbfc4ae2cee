"""A flow rehearsed in text: scripted customer turns through the pure engine, as `callbox flow try`, the panel's
try console and the golden conversations run it. ``""`` is silence, ``"#digits"`` keys, ``"!"`` a barge-in."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from appliance.dialog.flow.model import Flow
from appliance.dialog.runtime.api_client import HttpClient
from appliance.dialog.runtime.engine import FlowRun, Step


def feed(run: FlowRun, said: str) -> Step:
    """One customer turn in text: "" silence, "#digits" DTMF, "!" a barge-in, else speech."""
    if said.startswith("#") and len(said) > 1:
        return run.dtmf(said[1:])
    if said == "!":
        return run.interrupted()
    return run.hear(said)


def converse(flow: Flow, variables: dict[str, Any], says: Iterable[str], *, http: HttpClient | None = None,
             clock: Callable[[], datetime] | None = None, tz: Any = None,
             on_step: Callable[[Step], None] | None = None) -> FlowRun:
    """Run the flow over scripted customer turns until it ends or the turns run out."""
    run = FlowRun(flow, variables, http=http, clock=clock, tz=tz)
    step = run.start()
    if on_step:
        on_step(step)
    turns = iter(says)
    while not run.finished:
        said = next(turns, None)
        if said is None:
            break
        step = feed(run, said)
        if on_step:
            on_step(step)
    return run


def result_json(run: FlowRun) -> dict[str, Any]:
    out = run.result.to_json()
    out["finished"] = run.finished
    out["turns"] = [t.to_json() for t in run.turns]
    return out
