"""`callbox recordings reanalyse --since DATE [--until DATE] [--flow FLOW] [--recogniser R] [--restart] [--json]`:
the stored recordings of a time range heard again (e.g. after installing a better model) and each call's intent,
slots and intent strength recomputed beside the original values (``appliance.campaign.reanalysis``).

A progress bar on a terminal, one line per call elsewhere (on stderr; the summary, or ``--json``, on stdout).
Resumable: Ctrl-C (or a reboot) stops it, and the same command continues with the calls not done yet;
``--restart`` begins anew. It runs at nice 19 and waits while the box has a call on a line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import threading
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from appliance.campaign.hours import box_zone
from appliance.campaign.reanalysis import REANALYSIS_NICE, LinesIdle, Reanalyser, ReanalysisRange, RunReport
from appliance.cli.common import ProgressBar, config_of
from appliance.config import RECOGNISERS, Config
from appliance.errors import ConfigError
from appliance.records.config_store import ConfigStore
from appliance.records.reanalysis import ReanalysisRecords
from appliance.records.store import RecordsStore
from appliance.speech.asr.base import AsrEngine
from appliance.speech.build import build_recogniser, endpointer_factory
from appliance.speech.niceness import lower_this_thread

__all__ = ["parse_moment", "register"]

_IDLE_MARGIN_S = 60.0  # beyond ringing and the longest call, an in-flight call row is a crash's leftover


def parse_moment(option: str, raw: str, zone: tzinfo, *, end_of_day: bool = False) -> datetime:
    """``YYYY-MM-DD`` (the day's start in ``zone``; with ``end_of_day`` the next day's start, so that an
    ``--until`` day is included) or an ISO 8601 date and time (without an offset: in ``zone``)."""
    text = raw.strip()
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
        if day is not None:
            at = datetime.combine(day + timedelta(days=1 if end_of_day else 0), time(), tzinfo=zone)
        else:
            at = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option} {raw!r}: not a date (2024-05-01) or a date and time (2024-05-01T14:00)") \
            from None
    return at if at.tzinfo is not None else at.replace(tzinfo=zone)


def _span(opts: argparse.Namespace, config: Config, zone: tzinfo, flows: ConfigStore) -> ReanalysisRange:
    since = parse_moment("--since", opts.since, zone)
    until = parse_moment("--until", opts.until, zone, end_of_day=True) if opts.until else None
    if until is not None and until <= since:
        raise ConfigError(f"--until {opts.until!r} is not after --since {opts.since!r}")
    if opts.flow is not None and not flows.flow_versions(opts.flow):
        known = ", ".join(flows.flow_ids()) or "none"
        raise ConfigError(f"--flow {opts.flow!r}: no such flow on this box (flows: {known})")
    return ReanalysisRange(since, until, opts.flow, opts.recogniser or config.speech.recogniser)


def _summary(report: RunReport) -> list[str]:
    run = report.run
    how = "continued" if report.resumed else "new"
    state = "stopped: the same command continues it" if report.stopped else run.state
    lines = [f"re-analysis run {run.id} ({how}, {run.recogniser}): {run.done} of {run.total} calls done, "
             f"{report.analysed} heard again now, {report.changed} changed, {len(report.skipped)} skipped; {state}"]
    lines += [f"  call {s['call']} skipped: {s['reason']}" for s in report.skipped]
    return lines


def run_reanalyse_command(opts: argparse.Namespace) -> int:
    config = config_of(opts)
    zone = ZoneInfo(config.shop.time_zone) if config.shop.time_zone else box_zone()
    lower_this_thread(REANALYSIS_NICE)  # before any thread or model: everything this command starts inherits it
    records = RecordsStore(config.paths.records, phone_region=config.shop.region)
    configs = ConfigStore(config.paths.configs)
    bar = ProgressBar()
    loaded: list[AsrEngine] = []

    def recogniser() -> AsrEngine:  # loaded at the first call that needs it, in this (lowered) process
        bar.say(f"loading the {span.recogniser} recogniser")
        speech = dataclasses.replace(config.speech, recogniser=span.recogniser, asr_workers=0)
        engine = build_recogniser(speech, config.paths)
        loaded.append(engine)
        if engine.fallback_reason:
            bar.say(f"note: {engine.fallback_reason}")
        return engine

    try:
        span = _span(opts, config, zone, configs)
        rows = ReanalysisRecords(records.db)
        calling = config.calling
        idle = LinesIdle(rows, longest_call_s=calling.ring_timeout_s + calling.max_call_s + _IDLE_MARGIN_S,
                         on_wait=lambda n: bar.say(f"waiting: {n} call(s) on the line"))
        reanalyser = Reanalyser(records=rows, flows=configs.flow, asr=recogniser,
                                endpointer=endpointer_factory(config.vui, config.speech.vad), zone=zone, idle=idle)
        try:
            report = reanalyser.run(span, restart=opts.restart, progress=bar.counter("re-analysing"),
                                    stop=threading.Event())
        except KeyboardInterrupt:
            bar.close()
            print("\ninterrupted: what was done is kept; the same command continues", file=sys.stderr)
            return 130
        out: dict[str, Any] = report.as_dict(results=rows.results(report.run.id))
        if opts.json:
            print(json.dumps(out, indent=2, ensure_ascii=False))
        else:
            print("\n".join(_summary(report)))
        return 0
    finally:
        for engine in loaded:
            engine.close()
        records.close()
        configs.close()


def register(recordings: Any) -> None:
    """``reanalyse`` under ``callbox recordings`` (``recordings``: its sub-command parsers)."""
    r = recordings.add_parser(
        "reanalyse", help="hear stored recordings again and recompute intent, slots and intent strength",
        description="Hear the recordings of a time range again (e.g. after installing a better model) and recompute "
                    "each call's intent, slots and intent strength, kept beside the original values. Resumable; "
                    "runs at the lowest priority and waits while a call is on a line.")
    r.add_argument("--since", required=True, help="first day (YYYY-MM-DD, the shop's time zone) or date-time")
    r.add_argument("--until", default=None, help="last day, included (YYYY-MM-DD), or a date-time (excluded); "
                                                 "default: when the run began")
    r.add_argument("--flow", default=None, help="only the calls of this flow")
    r.add_argument("--recogniser", choices=RECOGNISERS, default=None,
                   help="default: [speech] recogniser")
    r.add_argument("--restart", action="store_true", help="begin anew instead of continuing the last run")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=run_reanalyse_command)
