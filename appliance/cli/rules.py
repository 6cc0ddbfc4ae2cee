"""`callbox rules list|show|set|test` and `callbox rules scenarios list|show|set`: the owner's rules and
scenarios from a terminal, on the box's config store (the API has the same: /api/v1/rules, /api/v1/scenarios).

``set FILE`` takes JSON (a list, or ``{"rules": [...]}``) or TOML (``[[rules]]`` tables); the list replaces the
stored one whole, or is refused whole with every problem on a line of its own. Exit codes: 0 done, 1 refused
(rules, scenarios or a ticket with problems), 2 a file that cannot be read or parsed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from appliance.cli.common import config_of
from appliance.errors import CallboxError, RulesInvalid, TicketInvalid


def read_document(path: Path) -> Any:
    """A JSON or TOML file (by its suffix; JSON otherwise) as plain values; CallboxError saying why not."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CallboxError(f"{path}: cannot be read: {exc}") from None
    if path.suffix.lower() == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CallboxError(f"{path}: not TOML: {exc}") from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise CallboxError(f"{path}: not JSON: {exc}") from None


def _problems(exc: RulesInvalid, what: str) -> int:
    print(f"callbox: {what} refused, nothing changed ({len(exc.problems)} problem(s)):", file=sys.stderr)
    for path, message in exc.problems:
        print(f"  {path}: {message}", file=sys.stderr)
    return 1


def _summary_rule(rule: dict[str, Any]) -> str:
    conditions = [k for k in rule if k not in ("name", "action", "scenario", "reason")]
    then = (f"call → scenario {rule['scenario']!r}" if rule.get("scenario") else "call (scenario that covers it)"
            ) if rule.get("action") == "call" else f"skip: {rule.get('reason', '')}"
    return f"{rule.get('name')}: {', '.join(conditions) or 'every ticket'} → {then}"


def _summary_scenario(s: dict[str, Any]) -> str:
    version = s.get("version") or "latest"
    covers = s.get("covers")
    what = ("covers " + " × ".join("/".join(covers.get(k, ["any"])) for k in ("type", "order_status"))
            if isinstance(covers, dict) else "named by rules only")
    return f"{s.get('name')}: flow {s.get('flow')} ({version}), {what}"


def run_rules_command(opts: argparse.Namespace) -> int:
    from appliance.campaign.publish import install_defaults
    from appliance.panel.rules import RulesAdmin
    from appliance.records.config_store import ConfigStore

    config = config_of(opts)
    document = read_document(opts.file) if getattr(opts, "file", None) is not None else None
    configs = ConfigStore(config.paths.configs)
    try:
        install_defaults(configs)  # what the box's first boot stores: the built-in flows, the default rules
        admin = RulesAdmin(configs, shop_name=config.shop.name, phone_region=config.shop.region)
        kind = "scenarios" if opts.rules_command == "scenarios" else "rules"
        action = opts.scenarios_command if kind == "scenarios" else opts.rules_command
        stored = admin.scenarios() if kind == "scenarios" else admin.rules()
        if action == "list":
            if not stored:
                print(f"no {kind} are stored" + (" (every ticket is skipped)" if kind == "rules" else ""))
            for i, item in enumerate(stored, start=1):
                print(f"{i}. " + (_summary_scenario(item) if kind == "scenarios" else _summary_rule(item)))
            return 0
        if action == "show":
            if opts.name is None:
                print(json.dumps({kind: stored}, indent=2, ensure_ascii=False))
                return 0
            found = [item for item in stored if item.get("name") == opts.name]
            if not found:
                raise CallboxError(f"no {kind[:-1]} is named {opts.name!r}")
            print(json.dumps(found[0], indent=2, ensure_ascii=False))
            return 0
        if action == "set":
            try:
                new = admin.set_scenarios(document) if kind == "scenarios" else admin.set_rules(document)
            except RulesInvalid as exc:
                return _problems(exc, kind)
            print(f"{len(new)} {kind} stored")
            return 0
        return _test(admin, document, as_json=opts.json)
    finally:
        configs.close()


def _test(admin: Any, payload: Any, *, as_json: bool) -> int:
    try:
        result = admin.test_ticket(payload)
    except TicketInvalid as exc:
        print(f"callbox: the ticket is invalid: {exc}", file=sys.stderr)
        return 1
    except RulesInvalid as exc:
        return _problems(exc, "the stored rules are broken and were")
    if as_json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    for check in result["rules"]:
        print(f"  rule {check['rule']!r}: " + ("matched" if check["matched"] else f"no: {check['why_not']}"))
    print(f"{result['decision']}: {result['reason']}")
    if result["scenario"] is not None:
        print(f"scenario {result['scenario']!r}: flow {result['flow']} version {result['version']}")
        for name, value in result["variables"].items():
            print(f"  {{{name}}} = {value!r}")
        if result["missing"]:
            print(f"missing: {', '.join(result['missing'])} (the call would be blocked)")
    if result.get("problem"):
        print(f"problem: {result['problem']}")
    return 0


def _list_show_set(sub: Any, kind: str) -> None:
    """The ``list``, ``show [NAME]`` and ``set FILE`` commands, the same for the rules and the scenarios."""
    sub.add_parser("list", help=f"the {kind}, one line each")
    show = sub.add_parser("show", help=f"the {kind} as JSON (or one, by name)")
    show.add_argument("name", nargs="?")
    put = sub.add_parser("set", help=f"replace the {kind} whole from a JSON or TOML file")
    put.add_argument("file", type=Path)


def register(commands: Any) -> None:
    r = commands.add_parser("rules", help="the owner's rules (who is called, with which scenario) and scenarios")
    rsub = r.add_subparsers(dest="rules_command", required=True)
    _list_show_set(rsub, "rules")
    test = rsub.add_parser("test", help="dry-run a ticket (JSON, as the webhook takes it): nothing changes")
    test.add_argument("file", type=Path)
    test.add_argument("--json", action="store_true")
    s = rsub.add_parser("scenarios", help="the scenarios: list, show, set")
    _list_show_set(s.add_subparsers(dest="scenarios_command", required=True), "scenarios")
    r.set_defaults(func=run_rules_command)
