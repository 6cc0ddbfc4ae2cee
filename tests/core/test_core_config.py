from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

import pytest

from appliance.campaign.attempt import Outcome, retry_decision
from appliance.campaign.scheduler import in_window, next_window_start
from appliance.config import RetryConfig, load_config, parse_config
from appliance.errors import ConfigError


def test_config_file_with_lines(tmp_path: Path) -> None:
    f = tmp_path / "callbox.toml"
    f.write_text(
        '[web]\nport = 9000\n[calling]\nhours = "08:30-19:00"\n[calling.retry_s]\nbusy = 60\n'
        '[[lines]]\nname = "gsm0"\nat_port = "/dev/ttyUSB2"\naudio_port = "/dev/ttyUSB1"\n'
    )
    cfg = load_config(f, state_dir=tmp_path / "state")
    assert cfg.web.port == 9000 and cfg.calling.retry_s.busy == 60.0
    assert cfg.lines[0].profile == "huawei-e1550" and cfg.state_dir == tmp_path / "state"
    assert cfg.calling.window() == (time(8, 30), time(19, 0))


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[web]\nprot = 1\n", "web.prot"),
        ("[speach]\n", "speach"),
        ('[web]\nport = "80"\n', "web.port"),
        ("[calling.retry_s]\nbusyy = 1\n", "calling.retry_s.busyy"),
        ('[calling]\nhours = "all day"\n', "calling.hours"),
        ('[[lines]]\nname = "a"\n', "lines[0]"),
        ("not toml at all [", None),
        ('[shop]\nnmae = "Corner Shop"\n', "shop.nmae"),
        ('[shop]\nname = " "\n', "shop.name"),
        ('[shop]\ntime_zone = "Europe/Springfield"\n', "shop.time_zone"),
        ('[shop]\ntime_zone = "../../etc/passwd"\n', "shop.time_zone"),
        ('[shop]\ncountry = "XX"\n', "shop.country"),
        ('[shop]\ncountry = "DEU"\n', "shop.country"),
        ('[shop]\nlanguage = "English"\n', "shop.language"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, key: str | None) -> None:
    f = tmp_path / "callbox.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert str(f) in str(err.value)
    if key:
        assert err.value.key == key


def test_duplicate_line_names() -> None:
    line = {"name": "a", "at_port": "x", "audio_port": "y"}
    with pytest.raises(ConfigError, match="unique"):
        parse_config({"lines": [line, line]})


@pytest.mark.parametrize(
    ("hhmm", "window", "inside"),
    [
        ("08:59", ("09:00", "20:00"), False),
        ("09:00", ("09:00", "20:00"), True),
        ("19:59", ("09:00", "20:00"), True),
        ("20:00", ("09:00", "20:00"), False),
        ("23:00", ("22:00", "06:00"), True),
        ("07:00", ("22:00", "06:00"), False),
        ("03:00", ("00:00", "00:00"), True),
    ],
)
def test_calling_window(hhmm: str, window: tuple[str, str], inside: bool) -> None:
    local = datetime.fromisoformat(f"2026-11-24T{hhmm}")
    start, end = (time.fromisoformat(w) for w in window)
    assert in_window(local, start, end) is inside
    opens = next_window_start(local, start, end)
    assert in_window(opens, start, end) and opens >= local


def test_retry_table() -> None:
    now = datetime.fromisoformat("2026-11-24T10:00:00+00:00")
    retry = RetryConfig(busy=300)
    d = retry_decision(Outcome.BUSY, attempt=1, max_attempts=3, now=now, retry=retry, cause=17)
    assert d.ticket_status == "open" and d.retry_at is not None
    assert (d.retry_at - now).total_seconds() == 300 and "cause 17" in d.remark
    last = retry_decision(Outcome.NO_ANSWER, attempt=3, max_attempts=3, now=now, retry=retry)
    assert last.ticket_status == "unreachable" and last.retry_at is None
    with pytest.raises(ValueError):
        retry_decision(Outcome.COMPLETED, attempt=1, max_attempts=3, now=now, retry=retry)


def test_shipped_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "firmware-config" / "callbox.toml.example"
    cfg = load_config(example)
    assert cfg.lines[0].at_port == "/dev/ttyUSB2" and cfg.calling.hours == "09:00-20:00"
    assert cfg.shop.name == "Corner Shop" and cfg.shop.time_zone == "Europe/Berlin" and cfg.shop.country == "DE"


def test_shop_section() -> None:
    cfg = parse_config({"shop": {"name": "Ann's Bikes", "time_zone": "America/New_York", "country": "us",
                                 "language": "en-US"}})
    assert (cfg.shop.name, cfg.shop.time_zone, cfg.shop.country, cfg.shop.language) == \
        ("Ann's Bikes", "America/New_York", "us", "en-US")
    assert parse_config({}).shop.name == "the shop"  # never a blank {shop}
