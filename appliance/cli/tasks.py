"""`callbox tasks list|show|create|import|pause|resume|cancel|timers|timer-disable|timer-enable|timer-delete`: call
tasks and their timers from a terminal, on the box's records (the API under /api/v1/tasks and /api/v1/timers does
the same over HTTP). A running box sees a new task at its next look (a second)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from appliance.campaign.call_tasks import CallTasks, TaskNotFound, TimerNotFound
from appliance.campaign.hours import box_zone
from appliance.cli.common import config_of
from appliance.errors import CallboxError, TaskInvalid
from appliance.records.config_store import ConfigStore
from appliance.records.store import RecordsStore


def _settings(opts: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if opts.settings:
        try:
            out = json.loads(opts.settings)
        except ValueError as exc:
            raise CallboxError(f"--settings is not JSON: {exc}") from None
        if not isinstance(out, dict):
            raise CallboxError("--settings must be a JSON object")
    for key in ("priority", "lines", "max_attempts", "valid_days"):
        if getattr(opts, key) is not None:
            out[key] = getattr(opts, key)
    if opts.broadcast:
        out["broadcast"] = True
    return out


def _body(opts: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"flow": opts.flow, "settings": _settings(opts)}
    if opts.name:
        body["name"] = opts.name
    if getattr(opts, "file", None) is not None:
        try:
            body["csv"] = Path(opts.file).read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise CallboxError(f"{opts.file}: not UTF-8 text") from None
    elif getattr(opts, "ticket", None):
        body["tickets"] = opts.ticket
    if getattr(opts, "cron", None):
        body["cron"] = opts.cron
    return body


def _line(t: dict[str, Any]) -> str:
    p = t["progress"]
    return (f"{t['id']:>5}  {t['state']:<9} {t['source']:<7} prio {t['priority']:>3}  {p['finished']}/{p['total']}"
            f" done, {p['calls']} call(s)  {t['flow_id']}  {t['name']}")


def _show(task: dict[str, Any]) -> None:
    print(_line(task))
    print(f"settings: {json.dumps(task['settings'])}  valid until: {task['valid_until'] or '-'}")
    print(f"by state: {task['progress']['by_state']}  by outcome: {task['progress']['by_outcome']}")
    for a in task.get("attempts", []):
        calls = ", ".join(f"call {c['id']} {c['outcome'] or c['state']} {c['started_at'][:16]}" for c in a["calls"])
        print(f"  {a['ticket_id']:<20} {a['phone']:<14} {a['state']:<9} {a['attempts']}/{a['max_attempts']}"
              f"  {calls or '-'}")


def _timer_line(t: dict[str, Any]) -> str:
    state = "active" if t["active"] else "disabled"
    return (f"timer {t['id']:>4}  {state:<8}  {t['cron']:<16}  next {t['next_due'] or '-'}  last fired for "
            f"{t['last_due'] or '-'}  {t['name']}")


def _preview(preview: dict[str, Any]) -> None:
    print(f"{preview['counts']['accepted']} to call, {preview['counts']['refused']} refused"
          f" (flow {preview['flow']}, task {preview['name']!r})")
    for c in preview["accepted"]:
        print(f"  call    row {c['row']:>4}  {c['phone']:<14} {c['name']}")
    for r in preview["refused"]:
        who = r.get("phone") or r.get("ticket") or ""
        print(f"  refuse  row {r['row']:>4}  {who:<14} {r['reason']}: {r['detail']}")


def run_tasks_command(opts: argparse.Namespace) -> int:
    config = config_of(opts)
    records = RecordsStore(config.paths.records, phone_region=config.shop.region)
    configs = ConfigStore(config.paths.configs)
    zone = ZoneInfo(config.shop.time_zone) if config.shop.time_zone else box_zone()  # as the box's timer thread
    tasks = CallTasks(records=records, configs=configs, max_attempts=config.calling.max_attempts,
                      shop_name=config.shop.name, phone_region=config.shop.region, zone=zone)
    out: Any = None
    try:
        cmd = opts.tasks_command
        if cmd == "list":
            out = tasks.find(state=opts.state, source=opts.source, limit=opts.limit)
            if not opts.json:
                for t in out:
                    print(_line(t))
                for timer in records.call_tasks.timers():
                    print(f"timer {timer['id']}: {timer['cron']}  {timer['name']}  last fired for "
                          f"{timer['last_due'] or '-'}")
        elif cmd == "show":
            out = tasks.get(opts.id)
            if out is None:
                raise CallboxError(f"no call task {opts.id}")
            if not opts.json:
                _show(out)
        elif cmd == "timers":
            out = tasks.timers()
            if not opts.json:
                for timer in out:
                    print(_timer_line(timer))
                if not out:
                    print("no timers")
        elif cmd in ("timer-disable", "timer-enable"):
            out = tasks.timer_action(opts.id, cmd.removeprefix("timer-"))
            if not opts.json:
                print(_timer_line(out))
        elif cmd == "timer-delete":
            tasks.delete_timer(opts.id)
            out = {"deleted": opts.id}
            if not opts.json:
                print(f"timer {opts.id} deleted (the call tasks it made stay)")
        elif cmd in ("pause", "resume", "cancel"):
            out = tasks.act(opts.id, cmd)
            if not opts.json:
                print(f"call task {opts.id} is {out['state']}")
        else:  # create, import
            body = _body(opts)
            if cmd == "import" and opts.dry_run:
                out = tasks.preview(body).as_dict()
                if not opts.json:
                    _preview(out)
            else:
                out = tasks.create(body)
                if not opts.json:
                    if "timer" in out:
                        print(f"timer {out['timer']}: {out['cron']} ({out['name']})")
                    else:
                        print(f"call task {out['id']}: {out['progress']['total']} to call, "
                              f"{len(out['refused'])} refused")
                        for r in out["refused"]:
                            print(f"  refused row {r['row']}: {r['reason']}: {r['detail']}")
        if opts.json:
            print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    except TaskInvalid as exc:
        for field, message in exc.problems:
            print(f"callbox: {field}: {message}", file=sys.stderr)
        return 2
    except (TaskNotFound, TimerNotFound) as exc:
        raise CallboxError(str(exc)) from None
    finally:
        records.close()
        configs.close()


def _task_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--flow", required=True, help="a published flow's id")
    p.add_argument("--name", default=None)
    p.add_argument("--priority", type=int, default=None, help="higher is called first")
    p.add_argument("--lines", type=int, default=None, help="lines it may use at once")
    p.add_argument("--max-attempts", dest="max_attempts", type=int, default=None)
    p.add_argument("--valid-days", dest="valid_days", type=int, default=None)
    p.add_argument("--broadcast", action="store_true", help="call every customer once")
    p.add_argument("--settings", default=None, help="more settings as JSON (retry, hours, valid_until, ...)")
    p.add_argument("--json", action="store_true")


def register(commands: Any) -> None:
    t = commands.add_parser("tasks", help="call tasks: list, show, create, import a CSV, pause, resume, cancel; "
                                          "their timers")
    sub = t.add_subparsers(dest="tasks_command", required=True)
    ls = sub.add_parser("list", help="call tasks newest first, with progress, and the timers")
    ls.add_argument("--state", default=None)
    ls.add_argument("--source", default=None)
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true")
    show = sub.add_parser("show", help="one call task: settings, progress, every attempt with its calls")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    create = sub.add_parser("create", help="a call task for tickets the box has, or a timer (--cron)")
    create.add_argument("--ticket", action="append", default=[], help="a ticket id (repeat)")
    create.add_argument("--cron", default=None, help="make a timer: '0 10 * * 1-5' (without --ticket: the "
                                                     "flow's tickets still open)")
    _task_options(create)
    imp = sub.add_parser("import", help="a call task from a CSV of customers (phone,name,order_id,...)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--dry-run", action="store_true", help="show who would be called and who refused, and why")
    imp.add_argument("--cron", default=None, help="re-run this CSV at each time of a cron expression")
    _task_options(imp)
    for action, about in (("pause", "no new attempts (calls in progress finish)"), ("resume", "carry on"),
                          ("cancel", "end its pending attempts")):
        a = sub.add_parser(action, help=about)
        a.add_argument("id", type=int)
        a.add_argument("--json", action="store_true")
    timers = sub.add_parser("timers", help="the timers (call tasks made by cron), with their next due time")
    timers.add_argument("--json", action="store_true")
    for action, about in (("timer-disable", "a disabled timer never fires"), ("timer-enable", "it fires again"),
                          ("timer-delete", "remove a timer (the call tasks it made stay)")):
        a = sub.add_parser(action, help=about)
        a.add_argument("id", type=int)
        a.add_argument("--json", action="store_true")
    t.set_defaults(func=run_tasks_command)
