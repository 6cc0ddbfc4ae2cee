"""The `callbox` command. Errors become one readable line and a non-zero exit code."""

from __future__ import annotations

import argparse
import getpass
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from appliance.errors import CallboxError

log = logging.getLogger("callbox")


def _setup_logging(verbose: int, *, quiet: bool = False) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    if verbose < 2:
        logging.getLogger("waitress").setLevel(logging.WARNING)


def cmd_demo(opts: argparse.Namespace) -> int:
    from appliance.cli.demo import run_demo

    _setup_logging(opts.verbose, quiet=not opts.verbose)
    return run_demo(
        calls=opts.calls,
        lines=opts.lines,
        port=opts.port,
        once=opts.once,
        as_json=opts.json,
        timeout=opts.timeout,
        state_dir=opts.state_dir,
    )


def cmd_serve(opts: argparse.Namespace) -> int:
    import waitress

    from appliance.config import load_config
    from appliance.service import Callbox
    from web import create_app

    _setup_logging(opts.verbose)
    config = load_config(opts.config, state_dir=opts.state_dir)
    box = Callbox(config)
    extra = {"API_TOKEN": config.web.api_token} if config.web.api_token else None
    app = create_app(box, secret_key=box.session_key, test_config=extra)
    server = waitress.create_server(app, host=config.web.host, port=config.web.port, threads=8)
    stop = threading.Event()

    def _terminate(*_: object) -> None:
        stop.set()
        server.close()

    signal.signal(signal.SIGTERM, _terminate)
    rendered = box.prerender_published()  # only what is not cached yet: quick after the first boot
    if rendered:
        log.info("rendered %d prompt(s) of published flows into the prompt cache", rendered)
    box.start()
    log.info("panel and webhook on http://%s:%s/", config.web.host, server.effective_port)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        box.stop()
    return 0


def cmd_doctor(opts: argparse.Namespace) -> int:
    from appliance.cli.models import doctor_model_lines
    from appliance.config import load_config
    from appliance.speech.asr.factory import load_engine
    from appliance.speech.models.installed import resolve_model

    _setup_logging(0, quiet=True)
    config = load_config(opts.config, state_dir=opts.state_dir)
    problems = 0
    print(f"config: {opts.config or '/etc/callbox/callbox.toml'} (ok)")
    state = config.state_dir
    try:
        state.mkdir(parents=True, exist_ok=True)
        probe = state / ".doctor"
        probe.write_text("ok")
        probe.unlink()
        print(f"state dir: {state} (writable)")
    except OSError as exc:
        print(f"state dir: {state} NOT WRITABLE: {exc}")
        problems += 1
    sc = config.speech
    vosk_dir = resolve_model(config.state_dir, sc.vosk_model, "vosk", language=sc.language)
    engine = load_engine(vosk_model_dir=vosk_dir, language=sc.language)
    reason = getattr(engine, "fallback_reason", None)
    print(f"speech recognition: {engine.name} ({engine.language})")
    if reason:
        print(f"  fallback to PocketSphinx's bundled English model: {reason}")
    print("\n".join(doctor_model_lines(config)))
    if not config.lines:
        print("lines: none configured ([[lines]] in the config)")
    for lc in config.lines:
        ok = Path(lc.at_port).exists() and Path(lc.audio_port).exists()
        print(f"line {lc.name}: {lc.profile} at {lc.at_port} / {lc.audio_port} ({'present' if ok else 'ABSENT'})")
        problems += 0 if ok else 1
        if ok:
            problems += _doctor_probe(lc.at_port, lc.profile)
    return 1 if problems else 0


def _doctor_probe(at_port: str, profile: str) -> int:
    """Ask a present modem what it is (`callbox modem probe`); 1 if it cannot carry calls for this profile."""
    from appliance.errors import PortError
    from appliance.telephony.probe import probe_modem

    try:
        found = probe_modem(at_port, timeout=1.0)
    except PortError as exc:
        print(f"  probe: {exc} (is callbox serve running? it holds the port)")
        return 0
    voice = {True: "voice", False: "NO VOICE", None: "voice unknown"}[found.voice]
    reg = "registered" if found.registered else "NOT REGISTERED"
    print(f"  probe: {found.manufacturer} {found.model}, SIM {found.sim}, {reg}, "
          f"signal {found.signal_dbm} dBm, {voice}, profile {found.profile or 'none matched'}")
    bad = not found.responding or found.voice is False or not found.registered
    if found.profile is not None and found.profile != profile and not profile.startswith(found.profile):
        print(f"  the config says profile {profile}, the modem looks like {found.profile}")
        bad = True
    return 1 if bad else 0


def cmd_flow_validate(opts: argparse.Namespace) -> int:
    from appliance.cli.flow import run_flow_command

    return run_flow_command(opts)


def _prompt_progress(stream: TextIO, label: str) -> Callable[[int, int, str], None]:
    """A prompt-count bar redrawn on one terminal line; one plain line per prompt elsewhere."""
    tty = bool(getattr(stream, "isatty", lambda: False)())

    def show(done: int, total: int, text: str) -> None:
        if tty:
            filled = int(30 * done / total) if total else 30
            stream.write(f"\r{label} [{'#' * filled}{'-' * (30 - filled)}] {done}/{total}")
            if done >= total:
                stream.write("\n")
        else:
            stream.write(f"{label} {done}/{total}: {text}\n")
        stream.flush()

    return show


def cmd_flow_prerender(opts: argparse.Namespace) -> int:
    """Render a flow's static prompts into the box's prompt cache with its voice settings."""
    from appliance.config import load_config
    from appliance.dialog.flow.load import load_flow
    from appliance.service import StatePaths, build_tts, build_voices, flow_prompts

    _setup_logging(opts.verbose, quiet=not opts.verbose)
    config = load_config(opts.config, state_dir=opts.state_dir)
    flow = load_flow(opts.file)
    paths = StatePaths(config.state_dir)
    tts = build_tts(config, paths, line_rate=opts.rate)
    source = flow_prompts(flow, build_voices(tts, paths), paths)
    report = source.prerender(progress=_prompt_progress(sys.stderr, f"prerender {flow.id}"))
    print(f"{flow.id}: {report.total} prompt(s) in the cache for {source.tts.voice_id} at {opts.rate} Hz "
          f"({report.rendered} rendered now in {report.synthesised} piper run(s), {report.cached} already there, "
          f"{report.seconds:.1f} s)")
    missing = source.missing_recordings() if flow.broadcast != "tts" else []
    fate = "it will be synthesised" if flow.broadcast == "mixed" else "MISSING"
    for node, kind in missing:
        print(f"  no recording for {node} ({kind}): {fate}")
    return 1 if flow.broadcast == "recorded" and missing else 0


def cmd_flow_record(opts: argparse.Namespace) -> int:
    """Store a WAV file as the recorded prompt of one node of a flow (broadcast modes recorded / mixed)."""
    from appliance.config import load_config
    from appliance.dialog.flow.load import load_flow
    from appliance.service import StatePaths
    from appliance.speech.tts.prompts import RecordedPrompts

    config = load_config(opts.config, state_dir=opts.state_dir)
    flow = load_flow(opts.file)
    if (opts.node, opts.kind) not in flow.prompt_templates():
        raise CallboxError(f"flow {flow.id} has no {opts.kind} prompt on a node {opts.node!r}")
    stored = RecordedPrompts(StatePaths(config.state_dir).prompt_recordings).save(
        flow.id, opts.node, opts.wav.read_bytes(), opts.kind
    )
    print(f"{flow.id}/{opts.node} ({opts.kind}): {stored}")
    return 0


def cmd_passwd(opts: argparse.Namespace) -> int:
    from werkzeug.security import generate_password_hash

    from appliance.config import load_config
    from appliance.records.store import RecordsStore

    config = load_config(opts.config, state_dir=opts.state_dir)
    password = sys.stdin.readline().strip() if opts.stdin else getpass.getpass(f"New password for {opts.user}: ")
    if len(password) < 8:
        raise CallboxError("the password must have at least 8 characters")
    store = RecordsStore(config.state_dir / "callbox.db")
    try:
        store.set_user(opts.user, generate_password_hash(password))
    finally:
        store.close()
    print(f"password set for {opts.user}")
    return 0


def cmd_models(opts: argparse.Namespace) -> int:
    from appliance.cli.models import run_models_command

    _setup_logging(opts.verbose, quiet=not opts.verbose)
    return run_models_command(opts)


def cmd_sim_modem(opts: argparse.Namespace) -> int:
    from appliance.sim.run import run_sim_modem_opts

    return run_sim_modem_opts(opts, opts.sim_parser)


def cmd_modem_probe(opts: argparse.Namespace) -> int:
    import json

    from appliance.telephony.probe import probe_modem

    _setup_logging(opts.verbose, quiet=not opts.verbose)
    result = probe_modem(opts.at_port, baudrate=opts.baudrate, timeout=opts.timeout)
    if opts.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print("\n".join(result.lines()))
    return 0 if result.responding else 1


def cmd_call(opts: argparse.Namespace) -> int:
    from appliance.cli.call import run_call_command

    _setup_logging(opts.verbose, quiet=not opts.verbose)
    return run_call_command(opts)


def cmd_sms(opts: argparse.Namespace) -> int:
    from appliance.cli.sms import run_sms_command

    _setup_logging(opts.verbose, quiet=not opts.verbose)
    return run_sms_command(
        opts.number,
        opts.text,
        at_port=opts.at_port,
        profile=opts.profile,
        baudrate=opts.baudrate,
        submit_timeout=opts.timeout,
        as_json=opts.json,
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="callbox", description="A SIM box that phones a shop's customers.")
    p.add_argument("--config", type=Path, default=None, help="config file (default /etc/callbox/callbox.toml)")
    p.add_argument("--state-dir", type=Path, default=None, help="state directory (default /var/lib/callbox)")
    p.add_argument("-v", "--verbose", action="count", default=0)
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="run the whole box on simulated modems and customers")
    d.add_argument("--calls", type=int, default=5, help="number of tickets that lead to calls")
    d.add_argument("--lines", type=int, default=2, help="number of simulated modems")
    d.add_argument("--port", type=int, default=8080, help="panel port on localhost (0: any free port)")
    d.add_argument("--once", action="store_true", help="exit when every ticket reached a final state")
    d.add_argument("--json", action="store_true", help="print a JSON summary instead of a table")
    d.add_argument("--timeout", type=float, default=110.0, help="seconds to wait for final states")
    d.set_defaults(func=cmd_demo)

    s = sub.add_parser("serve", help="run the box: lines, scheduler, panel and webhook")
    s.set_defaults(func=cmd_serve)

    doc = sub.add_parser("doctor", help="check the config, state dir, speech models and modems")
    doc.set_defaults(func=cmd_doctor)

    f = sub.add_parser("flow", help="work with flow documents")
    fsub = f.add_subparsers(dest="flow_command", required=True)
    fv = fsub.add_parser("validate", help="check a flow file")
    fv.add_argument("file", type=Path)
    fv.set_defaults(func=cmd_flow_validate)
    from appliance.cli.flow import add_flow_commands

    add_flow_commands(fsub, cmd_flow_validate)  # flow try, flow graph
    fp = fsub.add_parser("prerender", help="render a flow's static prompts into the prompt cache (progress bar)")
    fp.add_argument("file", type=Path)
    fp.add_argument("--rate", type=int, default=8000, help="line sample rate in Hz (8000 or 16000)")
    fp.set_defaults(func=cmd_flow_prerender)
    fr = fsub.add_parser("record", help="store a WAV as a node's recorded prompt (broadcast recorded / mixed)")
    fr.add_argument("file", type=Path, help="the flow JSON")
    fr.add_argument("node")
    fr.add_argument("wav", type=Path)
    fr.add_argument("--kind", default="say", help="say (default), reprompt, ask.<slot>, no_input.1, ... "
                    "(the flow's prompts: Flow.prompt_templates)")
    fr.set_defaults(func=cmd_flow_record)

    from appliance.cli.dnc import add_dnc_parser

    add_dnc_parser(sub)

    pw = sub.add_parser("passwd", help="set a panel user's password")
    pw.add_argument("user", nargs="?", default="admin")
    pw.add_argument("--stdin", action="store_true", help="read the password from standard input")
    pw.set_defaults(func=cmd_passwd)

    modem = sub.add_parser("modem", help="work with modems")
    msub = modem.add_subparsers(dest="modem_command", required=True)
    mp = msub.add_parser("probe", help="identify the modem on an AT port and the profile to use")
    mp.add_argument("at_port", metavar="AT_PORT")
    mp.add_argument("--json", action="store_true", help="print JSON")
    mp.add_argument("--baudrate", type=int, default=115200)
    mp.add_argument("--timeout", type=float, default=2.0, help="seconds per AT command")
    mp.set_defaults(func=cmd_modem_probe)

    call = sub.add_parser("call", help="place one call on one line and print the call record")
    call.add_argument("number", metavar="NUMBER")
    call.add_argument("--profile", required=True, help="modem profile name or .toml file")
    call.add_argument("--at-port", required=True)
    call.add_argument("--audio", required=True, help="serial:PATH or alsa:DEVICE")
    call.add_argument("--flow", type=Path, default=None, help="flow JSON (default: the English delivery example)")
    call.add_argument("--var", action="append", default=[], metavar="K=V", help="flow variable (repeatable)")
    call.add_argument("--ring-timeout", type=float, default=45.0)
    call.add_argument("--max-call", type=float, default=300.0, help="seconds before the bot hangs up")
    call.add_argument("--recording", type=Path, default=None, help="write a stereo WAV of the call here")
    call.add_argument("--json", action="store_true", help="print the call record as JSON")
    call.set_defaults(func=cmd_call)

    sms = sub.add_parser("sms", help="send one text message through one modem (PDU mode, Unicode fine)")
    sms.add_argument("number", metavar="NUMBER")
    sms.add_argument("text", metavar="TEXT")
    sms.add_argument("--at-port", required=True)
    sms.add_argument("--profile", default=None, help="modem profile name or .toml file (baud rate, URC prefixes)")
    sms.add_argument("--baudrate", type=int, default=None)
    sms.add_argument("--timeout", type=float, default=60.0, help="seconds for the network to take each part")
    sms.add_argument("--json", action="store_true", help="print what was sent as JSON")
    sms.set_defaults(func=cmd_sms)

    models = sub.add_parser("models", help="list, install and remove speech models (vosk, piper voices)")
    from appliance.cli.models import add_arguments as add_models_arguments

    add_models_arguments(models)
    models.set_defaults(func=cmd_models)

    sim = sub.add_parser("sim", help="simulators")
    simsub = sim.add_subparsers(dest="sim_command", required=True)
    sm = simsub.add_parser("modem", help="run one simulated modem (--profile P --customer SCRIPT --fault F; -h)")
    from appliance.sim.run import add_arguments as add_sim_modem_arguments

    add_sim_modem_arguments(sm)
    sm.set_defaults(func=cmd_sim_modem, sim_parser=sm)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    opts = build_parser().parse_args(argv)
    try:
        return int(opts.func(opts))
    except CallboxError as exc:
        print(f"callbox: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"callbox: {exc}", file=sys.stderr)
        return 2


__all__ = ["build_parser", "main"]
