from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from appliance.campaign.attempt import Outcome, retry_decision
from appliance.campaign.hours import allowed, every_day, next_allowed
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
        ('[calling]\npreset = "de"\n', "calling.preset"),
        ("[calling]\nmax_per_day = 0\n", "calling.max_per_day"),
        ('[[lines]]\nname = "a"\n', "lines[0].at_port"),  # the first required key missing
        ("not toml at all [", None),
        ('[shop]\nnmae = "Corner Shop"\n', "shop.nmae"),
        ('[shop]\nname = " "\n', "shop.name"),
        ('[shop]\ntime_zone = "Europe/Springfield"\n', "shop.time_zone"),
        ('[shop]\ntime_zone = "../../etc/passwd"\n', "shop.time_zone"),
        ('[shop]\ncountry = "XX"\n', "shop.country"),
        ('[shop]\ncountry = "DEU"\n', "shop.country"),
        ('[shop]\nlanguage = "English"\n', "shop.language"),
        ("[vui]\ngreeting_wait_ms = 100\n", "vui.greeting_wait_ms"),
        ("[vui]\ngreeting_end_ms = 5000\n", "vui.greeting_end_ms"),
        ("[vui]\nanswer_wait_ms = 500\ngreeting_end_ms = 600\n", "vui.answer_wait_ms"),  # old and new name
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
    """`calling.hours` as the custom preset reads it (on the callee's clock; here UTC)."""
    at = datetime.fromisoformat(f"2026-11-24T{hhmm}+00:00")
    hours = every_day("-".join(window))
    assert allowed(at, hours, (UTC,)) is inside
    opens = next_allowed(at, hours, (UTC,))
    assert opens is not None and allowed(opens, hours, (UTC,)) and opens >= at


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
    assert cfg.lines[0].at_port == "/dev/callbox/1-1.2-at" and cfg.calling.hours == "09:00-20:00"
    assert cfg.shop.name == "Corner Shop" and cfg.shop.time_zone == "Europe/Berlin" and cfg.shop.country == "DE"


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    """Containers and tests set the box up through the environment; each variable beats the file."""
    import base64

    f = tmp_path / "callbox.toml"
    f.write_text('[web]\nhost = "127.0.0.1"\nport = 8080\ncallback_url = "http://file.example/"\n')
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    monkeypatch.setenv("CALLBOX_STATE_DIR", str(tmp_path / "env-state"))
    monkeypatch.setenv("CALLBOX_LISTEN", "[::1]:9090")
    monkeypatch.setenv("CALLBOX_WEBHOOK_SECRET", secret)
    monkeypatch.setenv("CALLBOX_API_TOKEN", "t" * 24)
    monkeypatch.setenv("CALLBOX_UPSTREAM_URL", "https://helpdesk.invalid/hooks/callbox")
    cfg = load_config(f)
    assert cfg.state_dir == tmp_path / "env-state"
    assert (cfg.web.host, cfg.web.port) == ("::1", 9090)
    assert cfg.web.webhook_secret == secret and cfg.web.api_token == "t" * 24
    assert cfg.web.callback_url == "https://helpdesk.invalid/hooks/callbox"
    assert load_config(f, state_dir=tmp_path / "flag").state_dir == tmp_path / "flag"  # --state-dir wins


@pytest.mark.parametrize(("name", "value", "says"), [
    ("CALLBOX_LISTEN", "localhost", "HOST:PORT"),
    ("CALLBOX_LISTEN", "0.0.0.0:70000", "HOST:PORT"),
    ("CALLBOX_WEBHOOK_SECRET", "hunter2", "whsec_"),
    ("CALLBOX_WEBHOOK_SECRET", "whsec_c2hvcnQ=", "24 random bytes"),
    ("CALLBOX_API_TOKEN", "short", "16 characters"),
    ("CALLBOX_UPSTREAM_URL", "ftp://x/", "http(s) URL"),
    ("CALLBOX_UPSTREAM_URL", "/relative", "http(s) URL"),
])
def test_a_bad_environment_variable_is_named(tmp_path, monkeypatch, name, value, says):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name) as caught:
        load_config(tmp_path / "missing.toml")
    assert says in str(caught.value)


def test_helpdesks_section_is_parsed_and_unknown_keys_or_helpdesks_are_errors() -> None:
    cfg = parse_config({"helpdesks": {"zendesk": {"secret": "s", "order_id_field": "360001"},
                                      "freshdesk": {"secret": "t"}}})
    assert cfg.helpdesks.zendesk.secret == "s" and cfg.helpdesks.zendesk.order_id_field == "360001"
    assert cfg.helpdesks.by_name()["freshdesk"].secret == "t" and cfg.helpdesks.zammad.secret == ""
    for bad, key in (({"zendesk": {"sekret": "s"}}, "helpdesks.zendesk.sekret"), ({"jira": {}}, "helpdesks.jira"),
                     ({"zammad": {"secret": 5}}, "helpdesks.zammad.secret")):
        with pytest.raises(ConfigError) as err:
            parse_config({"helpdesks": bad})
        assert key in str(err.value)



def test_shop_section() -> None:
    cfg = parse_config({"shop": {"name": "Ann's Bikes", "time_zone": "America/New_York", "country": "us",
                                 "language": "en-US"}})
    assert (cfg.shop.name, cfg.shop.time_zone, cfg.shop.country, cfg.shop.language) == \
        ("Ann's Bikes", "America/New_York", "us", "en-US")
    assert parse_config({}).shop.name == "the shop"  # never a blank {shop}


def test_helpdesk_rest_settings_are_checked() -> None:
    cfg = parse_config({"helpdesks": {"zendesk": {"api_url": "https://shop.zendesk.com", "api_user": "a@shop.example",
                                                  "api_token": "t"}}})
    assert cfg.helpdesks.zendesk.api_url == "https://shop.zendesk.com" and cfg.helpdesks.zendesk.api_token == "t"
    for section, key in (({"api_url": "shop.zendesk.com", "api_user": "a", "api_token": "t"}, "api_url"),
                         ({"api_url": "https://shop.zendesk.com", "api_user": "a"}, "api_token"),
                         ({"api_url": "https://shop.zendesk.com", "api_token": "t"}, "api_user")):
        with pytest.raises(ConfigError, match=f"helpdesks.zendesk.{key}"):
            parse_config({"helpdesks": {"zendesk": section}})
    # Freshdesk and Zammad need no user: the key or token is enough
    assert parse_config({"helpdesks": {"zammad": {"api_url": "http://zammad.lan", "api_token": "t"}}})


def test_the_greeting_timings_reach_the_calls_the_box_places(tmp_path: Path) -> None:
    """[vui] greeting_wait_ms / greeting_end_ms are the limits of every call the runner places (and of a test
    call from the Modems page); answer_wait_ms, their old name, is still read as greeting_end_ms."""
    from appliance.campaign.calls import CallRunner
    from appliance.dialog.runtime.conversation import ConversationLimits
    from appliance.records.config_store import ConfigStore
    from appliance.records.store import RecordsStore

    cfg = parse_config({"calling": {"max_call_s": 90}, "vui": {"greeting_wait_ms": 1200, "answer_wait_ms": 250}})
    assert (cfg.vui.greeting_wait_ms, cfg.vui.greeting_end_ms) == (1200, 250)
    store = RecordsStore(tmp_path / "callbox.db")
    runner = CallRunner(records=store, configs=ConfigStore(tmp_path / "c.json"), speech=None,  # type: ignore[arg-type]
                        calling=cfg.calling, recordings_dir=tmp_path, vui=cfg.vui)
    assert runner.limits == ConversationLimits(max_call_s=90, greeting_wait_ms=1200, greeting_end_ms=250)
    defaults = CallRunner(records=store, configs=ConfigStore(tmp_path / "c.json"), speech=None,  # type: ignore[arg-type]
                          calling=cfg.calling, recordings_dir=tmp_path).limits
    assert (defaults.greeting_wait_ms, defaults.greeting_end_ms) == (2000, 400)
