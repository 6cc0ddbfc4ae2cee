"""`callbox doctor`'s checks around the lines, against real parts: a SQLite file, HTTP servers and sockets on
127.0.0.1, a stand-in timedatectl."""

from __future__ import annotations

import http.server
import socket
from pathlib import Path

from http_serving import serving

from appliance.cli.doctor_box import (
    admin_check,
    clock_check,
    disk_check,
    service_user_check,
    targets_checks,
    time_zone_check,
    web_port_check,
)
from appliance.cli.doctor_lines import ServiceUser
from appliance.config import parse_config
from appliance.records.store import RecordsStore


class Healthz(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"status": "ok", "lines": {}}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class Other(Healthz):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_admin_check_reads_the_database_without_changing_it(tmp_path: Path) -> None:
    config = parse_config({"state_dir": str(tmp_path)})
    assert admin_check(config).status == "warn"  # no database yet
    assert not (tmp_path / "callbox.db").exists()
    store = RecordsStore(tmp_path / "callbox.db")
    store.close()
    before = (tmp_path / "callbox.db").stat().st_mtime_ns
    check = admin_check(config)
    assert check.status == "error" and "nobody can sign in" in check.detail and "callbox passwd" in check.fix
    store = RecordsStore(tmp_path / "callbox.db")
    store.set_user("owner", "pbkdf2:sha256:x$y$z", "admin")
    store.close()
    assert admin_check(config).detail == "1 admin account"
    after = (tmp_path / "callbox.db").stat().st_mtime_ns
    assert after != before  # the store wrote; doctor's read leaves it as it is:
    admin_check(config)
    assert (tmp_path / "callbox.db").stat().st_mtime_ns == after


def test_web_port_free_ours_or_taken() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    assert web_port_check(parse_config({"web": {"host": "127.0.0.1", "port": free}})).status == "ok"
    with serving(Healthz, "healthz") as url:
        port = int(url.rsplit(":", 1)[1])
        ours = web_port_check(parse_config({"web": {"host": "127.0.0.1", "port": port}}))
        assert ours.status == "ok" and "callbox serve's" in ours.detail
    with serving(Other, "other") as url:
        port = int(url.rsplit(":", 1)[1])
        taken = web_port_check(parse_config({"web": {"host": "127.0.0.1", "port": port}}))
        assert taken.status == "error" and "another program" in taken.detail and "ss -ltnp" in taken.fix


def test_targets_reachable_or_not() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nobody listens once the socket is closed
    with serving(Healthz, "upstream") as url:
        config = parse_config({"web": {"callback_url": f"http://127.0.0.1:{closed}/hook"},
                               "upstream": {"url": url, "secret": "whsec_" + "A" * 32}})
        checks = {c.name: c for c in targets_checks(config, timeout=1.0)}
    assert checks["target [upstream] url"].status == "ok"
    bad = checks["target [web] callback_url"]
    assert bad.status == "error" and "not reachable" in bad.detail and "outbox" in bad.fix


def test_clock_from_timedatectl_or_the_flag(tmp_path: Path) -> None:
    fake = tmp_path / "timedatectl"
    flag = tmp_path / "synchronized"
    for answer, status in (("yes", "ok"), ("no", "error")):
        fake.write_text(f"#!/bin/sh\necho {answer}\n")
        fake.chmod(0o755)
        assert clock_check(str(fake), flag).status == status
    unknown = clock_check(str(tmp_path / "absent"), flag)
    assert unknown.status == "warn" and "set-ntp" in unknown.fix
    flag.write_text("")
    assert clock_check(str(tmp_path / "absent"), flag).status == "ok"


def test_time_zone_disk_and_service_user(tmp_path: Path) -> None:
    zone = tmp_path / "localtime"
    zone.symlink_to("/usr/share/zoneinfo/Etc/UTC")
    assert time_zone_check(parse_config({}), zone).status == "warn"
    assert time_zone_check(parse_config({"shop": {"time_zone": "Europe/Berlin"}}), zone).status == "ok"
    config = parse_config({"state_dir": str(tmp_path / "state"), "recordings": {"min_free_mb": 10**9}})
    low = disk_check(config)
    assert low.status == "error" and "min_free_mb" in low.detail and not (tmp_path / "state").exists()
    assert disk_check(parse_config({"state_dir": str(tmp_path), "recordings": {"min_free_mb": 1}})).status == "ok"
    assert service_user_check(None).status == "warn"
    lonely = service_user_check(ServiceUser("callbox", 54321, frozenset({54321})))
    assert lonely.status == "error" and "dialout" in lonely.detail and "usermod -aG" in lonely.fix
