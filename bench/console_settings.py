"""The Settings, QA and Statistics pages at 100,000 calls: how long each takes to render.

    .venv/bin/python bench/console_settings.py [--calls 100000] [--days 90] [--repeat 5]

Seeds a temporary records file as ``bench/stats.py`` does (``--calls`` ended calls over ``--days`` days up to
2026-12-01), puts the panel's real service (``BoxPanel`` with its ``SettingsAdmin`` over a TOML file) behind the
real Flask app, signs in, and times each page through the test client (whole request: the queries, the template,
the security headers): best and median of ``--repeat``. ``/statistics`` answers at once and its figures follow
(``/statistics/figures``, fetched by htmx), timed for the default range (the last 30 days) and the whole seeded
range. Prints JSON. The issue's budget is 200 ms a page.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from stats import seed  # bench/stats.py (this script's folder is first on the path): the same 100,000 calls

from appliance.config import parse_config
from appliance.config_edit import ConfigFile
from appliance.panel.flows import FlowAdmin
from appliance.panel.service import BoxPanel
from appliance.panel.settings import SettingsAdmin, WebhookSecret
from appliance.records.config_store import ConfigStore
from appliance.records.store import RecordsStore
from web import create_app

PAGES = ("/settings", "/qa", "/statistics", "/statistics/figures",
         "/statistics/figures?since=2026-08-01&until=2026-12-01")
SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MjQy"


class Recogniser:
    """What the status strip reads of the recogniser (the pages never run it)."""

    name = "bench"
    fallback_reason = None

    def close(self) -> None:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--repeat", type=int, default=5)
    opts = ap.parse_args()
    out: dict[str, Any] = {"machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
                           "cpus": os.cpu_count(), "python": platform.python_version(),
                           "sqlite": sqlite3.sqlite_version}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        out["seeded"] = seed(root / "callbox.db", opts.calls, opts.days, random.Random(12))
        records = RecordsStore(root / "callbox.db")
        configs = ConfigStore(root / "config.json")
        toml = root / "callbox.toml"
        toml.write_text('# the shop\n[shop]\nname = "Corner Shop"\ntime_zone = "Europe/Berlin"\n')
        file = ConfigFile(toml)
        settings = SettingsAdmin(file=file, current=parse_config(file.data()), env={}, apply=lambda c: None,
                                 webhook=WebhookSecret(env={}, file=file, state_file=root / "secret",
                                                       on_rotate=lambda s: None))
        panel = BoxPanel(records=records, flows=FlowAdmin(configs, configs.publish_flow), webhook_secret=SECRET,
                         admit=lambda p, w: {}, lines=[], recogniser=Recogniser(),  # type: ignore[arg-type]
                         zone=ZoneInfo("Europe/Berlin"), settings=settings)
        client = create_app(panel, secret_key="bench", test_config={"TESTING": True}).test_client()
        with client.session_transaction() as session:
            session["user"] = "owner"
        try:
            pages = {}
            for page in PAGES:
                times = []
                for _ in range(opts.repeat):
                    started = time.perf_counter()
                    response = client.get(page)
                    times.append(time.perf_counter() - started)
                    assert response.status_code == 200, (page, response.status_code)
                pages[page] = {"best_ms": round(1000 * min(times), 1),
                               "median_ms": round(1000 * statistics.median(times), 1),
                               "kb": round(len(response.data) / 1024, 1)}
            out["pages"] = pages
        finally:
            records.close()
            configs.close()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
