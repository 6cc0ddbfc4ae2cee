"""`callbox sms NUMBER TEXT --at-port PORT [--profile P] [--json]`: send one text through one modem.

Admins use it to check that a SIM can send texts (the campaign's text to an
unreachable customer goes the same way); tests use it against the simulator.
Only the AT port is opened: no voice, no init sequence, so a modem that is
not (yet) set up for calls can still be tried.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any, TextIO

from appliance.cli.common import setup_logging
from appliance.errors import CallboxError
from appliance.telephony.at import AtChannel
from appliance.telephony.profile import load_profile
from appliance.telephony.sms import SmsTimeouts, encode_sms, normalise_number, send_sms, sms_alphabet

log = logging.getLogger(__name__)


def run_sms_command(
    number: str,
    text: str,
    *,
    at_port: str,
    profile: str | None = None,
    baudrate: int | None = None,
    submit_timeout: float = 60.0,
    command_timeout: float = 5.0,
    as_json: bool = False,
    out: TextIO | None = None,
) -> int:
    """Send the text; print what was sent and the network's references. Errors raise CallboxError."""
    try:
        to = normalise_number(number)
        parts = len(encode_sms(to, text))
    except ValueError as exc:
        raise CallboxError(str(exc)) from exc
    prof = load_profile(profile) if profile else None
    channel = AtChannel(
        at_port,
        baudrate=baudrate or (prof.baudrate if prof else 115200),
        default_timeout=command_timeout,
        urc_prefixes=prof.urc_prefixes if prof else (),
        name="sms",
    )
    channel.open()
    try:
        channel.command("AT")
        references = send_sms(
            channel, to, text, timeouts=SmsTimeouts(mode=command_timeout, prompt=command_timeout, submit=submit_timeout)
        )
    finally:
        channel.close()
    out = out or sys.stdout
    record = {"to": to, "text": text, "alphabet": sms_alphabet(text), "parts": parts, "references": references}
    if as_json:
        print(json.dumps(record, indent=2, ensure_ascii=False), file=out)
    else:
        refs = ", ".join(str(r) for r in references)
        print(f"sent to {to} in {parts} part(s) ({record['alphabet']}), message reference(s) {refs}", file=out)
    return 0


def _run(opts: argparse.Namespace) -> int:
    setup_logging(opts.verbose, quiet=not opts.verbose)
    return run_sms_command(opts.number, opts.text, at_port=opts.at_port, profile=opts.profile,
                           baudrate=opts.baudrate, submit_timeout=opts.timeout, as_json=opts.json)


def register(commands: Any) -> None:
    sms = commands.add_parser("sms", help="send one text message through one modem (PDU mode, Unicode fine)")
    sms.add_argument("number", metavar="NUMBER")
    sms.add_argument("text", metavar="TEXT")
    sms.add_argument("--at-port", required=True)
    sms.add_argument("--profile", default=None, help="modem profile name or .toml file (baud rate, URC prefixes)")
    sms.add_argument("--baudrate", type=int, default=None)
    sms.add_argument("--timeout", type=float, default=60.0, help="seconds for the network to take each part")
    sms.add_argument("--json", action="store_true", help="print what was sent as JSON")
    sms.set_defaults(func=_run)
