"""`callbox serve [--simulate N]`: the box with its lines, scheduler, panel and webhook, until SIGTERM.

With ``--simulate N`` the lines are N simulated modems whose callees are the demo's scripted customers (picked
by the number's last digit), so an owner can try rules, flows and tasks end to end before a real customer
hears them. Everything else is the real box: the config, the state dir, the webhook, the panel.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import threading
from typing import Any

from appliance.cli.common import config_of, setup_logging
from appliance.config import Config, LineConfig, config_path
from appliance.watchdog import Notifier, Watchdog, watchdog_interval

log = logging.getLogger(__name__)


def run_serve(opts: argparse.Namespace) -> int:
    from appliance.box import Callbox
    from web import create_app
    from web.serving import create_server, serve_until, stop_server

    config = config_of(opts)
    setup_logging(opts.verbose, log=config.log)
    os.umask(0o077)  # every file the box makes from now on is its user's alone (the state dir: appliance.files)
    sims = _start_simulated_lines(opts.simulate) if opts.simulate else []
    try:
        if sims:
            config = _with_lines(config, [(s.at_port, s.audio_port) for s in sims])
        box = Callbox(config, config_file=config_path(opts.config))  # the file the Settings page writes
        extra: dict[str, Any] = {"SESSION_IDLE_S": config.web.session_idle_hours * 3600,
                                 "SESSION_MAX_S": config.web.session_max_days * 86400}
        if config.web.api_token:
            extra["API_TOKEN"] = config.web.api_token
        app = create_app(box.panel, secret_key=box.session_key, test_config=extra, helpdesks=config.helpdesks)
        # the connection limit, idle timeout and body limits set for a box on the shop's LAN (web.serving)
        server = create_server(app, host=config.web.host, port=config.web.port)
        stopping = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
        rendered = box.flows.prerender_published()  # only what is not cached yet: quick after the first boot
        if rendered:
            log.info("rendered %d prompt(s) of published flows into the prompt cache", rendered)
        box.start()
        log.info("panel and webhook on http://%s:%s/%s", config.web.host, server.effective_port,
                 f" ({len(sims)} simulated line(s))" if sims else "")
        # systemd (Type=notify): ready now; the watchdog pinged from this loop while the box's threads live
        notifier = Notifier()
        notifier.ready(f"serving on port {server.effective_port}")
        watchdog = Watchdog(notifier, box.dead_parts, watchdog_interval())
        try:
            serve_until(server, stopping, watchdog.tick)
        except KeyboardInterrupt:
            pass
        finally:
            notifier.stopping()
            box.begin_stop()  # calls say goodbye and hang up while the web server winds down (10 s in all)
            box.board.hub.close()  # the panel's event streams end now, not after the server's 5 s grace
            stop_server(server)
            box.stop()
    finally:
        for sim in sims:
            sim.stop()
    return 0


def _start_simulated_lines(count: int) -> list[Any]:
    from appliance.cli.demo import CAST
    from appliance.sim.customer import CustomerScript
    from appliance.sim.huawei import SimulatedHuaweiModem

    def callee(number: str) -> CustomerScript:
        digits = [c for c in number if c.isdigit()]
        return CAST[int(digits[-1]) % len(CAST)].script() if digits else CustomerScript(behaviour="no_answer")

    sims = [SimulatedHuaweiModem(callee, ring_ms=1200) for _ in range(count)]
    for sim in sims:
        sim.start()
    return sims


def _with_lines(config: Config, ports: list[tuple[str, str]]) -> Config:
    return dataclasses.replace(config, lines=tuple(LineConfig(f"sim{i}", at, audio)
                                                   for i, (at, audio) in enumerate(ports)))


def _positive(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 16:
        raise argparse.ArgumentTypeError("from 1 to 16 simulated lines")
    return value


def register(commands: Any) -> None:
    s = commands.add_parser("serve", help="run the box: lines, scheduler, panel and webhook")
    s.add_argument("--simulate", type=_positive, default=0, metavar="N",
                   help="N simulated modems with the demo's scripted customers instead of the configured lines")
    s.set_defaults(func=run_serve)
