"""`callbox demo`: the whole box on simulated modems and customers, driven through its own webhook."""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from standardwebhooks.webhooks import Webhook

from appliance.box import Callbox
from appliance.cli.common import setup_logging
from appliance.config import CallingConfig, Config, LineConfig, RetryConfig, VuiConfig, WebConfig
from appliance.errors import CallboxError
from appliance.sim.customer import CustomerScript
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.sim.run import VOICES_DIR

log = logging.getLogger(__name__)

FINAL_STATUSES = ("closed", "scheduled", "skipped", "unreachable")


@dataclass(frozen=True)
class DemoCustomer:
    name: str
    behaviour: str
    replies: tuple[str, ...] = ()

    def script(self) -> CustomerScript:
        return CustomerScript(behaviour=self.behaviour, replies=[VOICES_DIR / r for r in self.replies], max_call_s=60)


CAST = (
    DemoCustomer("Alice Moreau", "answer", ("en_confirm.wav",)),
    # "Not tomorrow, call me another day." -- "When should we call you again?" -- "No, please call me tomorrow."
    DemoCustomer("Bruno Keller", "answer", ("en_reschedule_2.wav", "en_reschedule.wav")),
    DemoCustomer("Chloe Park", "busy"),
    DemoCustomer("Dmitri Novak", "no_answer"),
    DemoCustomer("Eva Lindqvist", "silent"),
    DemoCustomer("Farid Haddad", "answer", ("en_confirm_2.wav",)),
    DemoCustomer("Grace Obi", "answer", ("en_reschedule_2.wav",)),
)


def demo_config(state_dir: Path, lines: list[SimulatedHuaweiModem], port: int) -> Config:
    """Short timings so the demo finishes in about a minute; calling hours open all day."""
    return Config(
        state_dir=state_dir,
        web=WebConfig(host="127.0.0.1", port=port),
        calling=CallingConfig(
            hours="00:00-00:00",
            ring_timeout_s=4,
            max_attempts=2,
            max_call_s=60,
            retry_s=RetryConfig(busy=2, no_answer=2, rejected=2, failed=2, interrupted=2),
        ),
        vui=VuiConfig(end_silence_ms=700, silence_timeout_ms=3500),
        lines=tuple(LineConfig(f"sim{i}", sim.at_port, sim.audio_port) for i, sim in enumerate(lines)),
    )


def post_ticket(url: str, secret: str, ticket: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(ticket)
    msg_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body),
    }
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"webhook answered {exc.code}: {exc.read().decode(errors='replace')}") from exc


def demo_tickets(calls: int) -> tuple[list[dict[str, Any]], dict[str, DemoCustomer]]:
    tickets, directory = [], {}
    for i in range(calls):
        who = CAST[i % len(CAST)]
        phone = f"+1555010{i:04d}"
        directory[phone] = who
        tickets.append(
            {
                "id": f"DEMO-{1001 + i}",
                "type": "delivery",
                "subject": "Parcel out for delivery",
                "description": f"Order shipped; confirm someone is home ({who.behaviour}).",
                "customer": {"name": who.name, "phone": phone},
                "order": {"id": f"{48210 + i}", "status": "shipped"},
            }
        )
    tickets.append(
        {
            "id": f"DEMO-{1001 + calls}",
            "type": "return",
            "subject": "Return label requested",
            "description": "Customer asked for a return label.",
            "customer": {"name": "Hana Sato", "phone": "+15550109999"},
            "order": {"id": "48299", "status": "delivered"},
        }
    )
    return tickets, directory


class Demo:
    def __init__(self, *, calls: int, lines: int, port: int, state_dir: Path | None) -> None:
        self.calls = calls
        self.state_dir = state_dir or Path(tempfile.mkdtemp(prefix="callbox-demo-"))
        self.tickets, self.directory = demo_tickets(calls)
        self.sims = [SimulatedHuaweiModem(self._customer, ring_ms=1200) for _ in range(lines)]
        self.port = port
        self.box: Callbox | None = None
        self.server: Any = None  # web.serving.Serving once started
        self.password = secrets.token_urlsafe(12)

    def _customer(self, number: str) -> CustomerScript:
        who = self.directory.get(number)
        return who.script() if who else CustomerScript(behaviour="no_answer")

    def start(self) -> str:
        from web import create_app
        from web.serving import Serving, create_server

        for sim in self.sims:
            sim.start()
        config = demo_config(self.state_dir, self.sims, self.port)
        self.box = Callbox(config, shop_name="Corner Shop")
        self.box.panel.set_password("admin", self.password)
        app = create_app(self.box.panel, secret_key=self.box.session_key)
        try:
            # the box's own server settings (web.serving), run on a thread and stopped without a traceback
            self.server = Serving(create_server(app, host="127.0.0.1", port=self.port, threads=4)).start()
        except OSError as exc:
            raise CallboxError(f"cannot serve the panel on port {self.port} ({exc.strerror}); try --port 0") from exc
        actual_port = self.server.port
        self.box.start()
        return f"http://localhost:{actual_port}"

    def submit(self, base_url: str) -> list[dict[str, Any]]:
        assert self.box is not None
        return [post_ticket(f"{base_url}/api/v1/tickets", self.box.webhook_secret, t) for t in self.tickets]

    def wait_final(self, timeout: float, on_call: Callable[[dict[str, Any]], object] | None = None) -> bool:
        """Until every ticket is in a final state (True) or ``timeout`` (False); ``on_call`` gets each call once,
        as it ends."""
        assert self.box is not None
        deadline = time.monotonic() + timeout
        ids = [t["id"] for t in self.tickets]
        told: set[int] = set()
        while time.monotonic() < deadline:
            if on_call is not None:
                for call in reversed(self.box.records.calls(limit=50)):
                    if call["outcome"] is not None and call["id"] not in told:
                        told.add(call["id"])
                        on_call(call)
            statuses = [t.status if (t := self.box.records.ticket(i)) else None for i in ids]
            if all(s in FINAL_STATUSES for s in statuses):
                return True
            time.sleep(0.25)
        return False

    def summary(self) -> dict[str, Any]:
        assert self.box is not None
        tickets = []
        for t in self.tickets:
            row = self.box.records.ticket(t["id"])
            assert row is not None
            who = self.directory.get(row.customer_phone)
            tickets.append(
                {
                    "id": row.id,
                    "customer": row.customer_name,
                    "phone": row.customer_phone,
                    "behaviour": who.behaviour if who else None,
                    "decision": row.decision,
                    "reason": row.reason,
                    "status": row.status,
                    "next_call_at": row.next_call_at,
                    "operations": [
                        {"kind": o["kind"], "detail": o["detail"]} for o in self.box.records.operations(row.id)
                    ],
                }
            )
        calls = []
        for c in reversed(self.box.records.calls(limit=1000)):
            calls.append(
                {
                    "id": c["id"],
                    "ticket": c["ticket_id"],
                    "phone": c["phone"],
                    "line": c["line"],
                    "outcome": c["outcome"],
                    "cause": c["cause"],
                    "disposition": c["disposition"],
                    "duration_s": c["duration_s"],
                    "recording": c["recording"],
                    "transcript": [{"speaker": t["speaker"], "text": t["text"]} for t in c["turns"]],
                }
            )
        return {"state_dir": str(self.state_dir), "tickets": tickets, "calls": calls}

    def stop(self) -> None:
        if self.box is not None:
            self.box.stop()
        if self.server is not None:
            self.server.stop(grace_s=2)
        for sim in self.sims:
            sim.stop()


def ended_line(call: dict[str, Any]) -> str:
    """One call as it ends: "  call 3  T-1002 on sim0: completed, confirmed (38 s)"."""
    what = ", ".join(str(v) for v in (call["outcome"], call["disposition"]) if v)
    took = f" ({call['duration_s']:.0f} s)" if call.get("duration_s") else ""
    return f"  call {call['id']}  {call['ticket_id']} on {call['line']}: {what}{took}"


def format_table(summary: dict[str, Any]) -> str:
    rows = [("call", "ticket", "customer", "outcome", "disposition", "customer said")]
    names = {t["id"]: t["customer"] for t in summary["tickets"]}
    for c in summary["calls"]:
        said = " / ".join(t["text"] for t in c["transcript"] if t["speaker"] == "customer" and t["text"]) or "-"
        rows.append(
            (
                str(c["id"]),
                c["ticket"],
                names.get(c["ticket"], ""),
                c["outcome"] or "",
                c["disposition"] or "-",
                said[:48],
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append("tickets:")
    for t in summary["tickets"]:
        remarks = [o["detail"] for o in t["operations"] if o["kind"] == "remark"]
        why = t["reason"] if t["status"] == "skipped" or not remarks else remarks[-1]
        lines.append(f"  {t['id']}  {t['customer']:<14} {t['status']:<11} {why}")
    return "\n".join(lines)


def run_demo(
    *, calls: int, lines: int, port: int, once: bool, as_json: bool, timeout: float, state_dir: Path | None
) -> int:
    demo = Demo(calls=calls, lines=lines, port=port, state_dir=state_dir)
    try:
        url = demo.start()
        if not as_json:
            print(f"Callbox demo: {lines} simulated line(s), {calls} call ticket(s) + 1 that no rule calls.")
            print(f"State in {demo.state_dir}")
            print(f"Panel: {url}/  (log in as admin / {demo.password})")
        demo.submit(url)
        if not as_json:
            print("\nCalling; each call is listed as it ends:", flush=True)
        finished = demo.wait_final(timeout, on_call=None if as_json else lambda c: print(ended_line(c), flush=True))
        summary = demo.summary()
        summary["finished"] = finished
        summary["panel"] = {"url": url, "username": "admin", "password": demo.password}
        if as_json:
            print(json.dumps(summary, indent=2, ensure_ascii=False))
        else:
            print(format_table(summary))
            if not finished:
                print(f"\nNot every ticket reached a final state within {timeout:.0f} s.")
        if once:
            return 0 if finished else 1
        print(f"\nThe panel keeps running on {url}/ (admin / {demo.password}). Ctrl-C to stop.", flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        return 0
    finally:
        demo.stop()


__all__ = ["Demo", "ended_line", "format_table", "post_ticket", "run_demo"]


def _run(opts: argparse.Namespace) -> int:
    setup_logging(opts.verbose, quiet=not opts.verbose)
    return run_demo(calls=opts.calls, lines=opts.lines, port=opts.port, once=opts.once, as_json=opts.json,
                    timeout=opts.timeout, state_dir=opts.state_dir)


def register(commands: Any) -> None:
    d = commands.add_parser("demo", help="run the whole box on simulated modems and customers")
    d.add_argument("--calls", type=int, default=5, help="number of tickets that lead to calls")
    d.add_argument("--lines", type=int, default=2, help="number of simulated modems")
    d.add_argument("--port", type=int, default=8080, help="panel port on localhost (0: any free port)")
    d.add_argument("--once", action="store_true", help="exit when every ticket reached a final state")
    d.add_argument("--json", action="store_true", help="print a JSON summary instead of a table")
    d.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for final states")
    d.set_defaults(func=_run)
