"""The console's Tasks and Rules pages at 100,000 calls.

    .venv/bin/python bench/console_tasks.py --json [--calls 100000] [--repeat 5]

Seeds a temporary records file as ``bench/stats.py`` does (five call tasks of 10,000 customers each, the calls
spread over them), then renders, through the real Flask app and the box's own ``BoxPanel`` over that file and a
config store with the default rules, each page a signed-in owner opens: the task list, one task's page (its first
100 customers), the next page of them, the new-task form, the Rules page and the knowledge base. Each page's time
is the best of ``--repeat`` and must stay under 200 ms; prints JSON.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from appliance.campaign.call_tasks import CallTasks
from appliance.campaign.publish import install_defaults
from appliance.panel.flows import FlowAdmin
from appliance.panel.service import BoxPanel
from appliance.records.config_store import ConfigStore
from appliance.records.store import RecordsStore
from web import create_app

BUDGET_MS = 200.0
USER = "owner"


def _seed_module() -> Any:
    spec = importlib.util.spec_from_file_location("bench_stats", Path(__file__).with_name("stats.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _NoSpeech:
    name = "bench"
    fallback_reason = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "records.db"
        seeded = _seed_module().seed(path, args.calls, 90, random.Random(7))
        records = RecordsStore(path)
        configs = ConfigStore(Path(tmp) / "config.json")
        install_defaults(configs)
        panel = BoxPanel(records=records, flows=FlowAdmin(configs, configs.publish_flow), webhook_secret="whsec_"
                         + "YmVuY2gtY29uc29sZS10YXNrcy1zZWNyZXQtMzJi", admit=lambda *a, **k: {}, lines=[],
                         recogniser=_NoSpeech(),  # type: ignore[arg-type]
                         call_tasks=CallTasks(records=records, configs=configs, max_attempts=3))
        app = create_app(panel, secret_key="bench", test_config={"TESTING": True})
        client = app.test_client()
        with client.session_transaction() as session:
            session["user"] = USER  # signed in (the page's own time is measured, not the login's)
        first = panel.call_task_page(1, limit=101)
        assert first is not None
        pages = {"tasks": "/tasks", "task": "/tasks/1",
                 "task_next_page": f"/tasks/1?after={first['attempts'][99]['task_id']}", "new_task": "/tasks/new",
                 "rules": "/rules", "knowledge": "/rules/knowledge", "vui": "/rules/vui"}
        figures: dict[str, Any] = {}
        for name, url in pages.items():
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (url, response.status_code)
            figures[name] = {"url": url, "best_ms": round(min(times), 1), "worst_ms": round(max(times), 1),
                             "bytes": len(response.get_data())}
        records.close()
    report = {"machine": platform.machine(), "python": platform.python_version(), "seed": seeded,
              "budget_ms": BUDGET_MS, "pages": figures,
              "within_budget": all(f["best_ms"] < BUDGET_MS for f in figures.values())}
    print(json.dumps(report, indent=2) if args.json else report)


if __name__ == "__main__":
    main()
