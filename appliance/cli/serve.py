"""`callbox serve`: the box with its lines, scheduler, panel and webhook, until SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
from typing import Any

from appliance.cli.common import config_of, setup_logging

log = logging.getLogger(__name__)


def run_serve(opts: argparse.Namespace) -> int:
    import waitress

    from appliance.box import Callbox
    from web import create_app

    setup_logging(opts.verbose)
    config = config_of(opts)
    box = Callbox(config)
    extra = {"API_TOKEN": config.web.api_token} if config.web.api_token else None
    app = create_app(box.panel, secret_key=box.session_key, test_config=extra,
                     helpdesks=config.helpdesks)
    server = waitress.create_server(app, host=config.web.host, port=config.web.port, threads=8)

    def _terminate(*_: object) -> None:
        server.close()

    signal.signal(signal.SIGTERM, _terminate)
    rendered = box.flows.prerender_published()  # only what is not cached yet: quick after the first boot
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


def register(commands: Any) -> None:
    s = commands.add_parser("serve", help="run the box: lines, scheduler, panel and webhook")
    s.set_defaults(func=run_serve)
