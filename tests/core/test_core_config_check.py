"""`callbox config check` (every error with file, line and key) and `callbox config show` (value and source)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.config import Config, LineConfig
from appliance.config_report import check_config_file, key_lines

ROOT = Path(__file__).resolve().parents[2]

BAD = """\
state_dir = "/tmp/x"
bogus = 1

[web]
port = "eighty"

[calling]
hours = "25:00-20:00"

[calling.retry_s]
busy = "soon"

[[lines]]
name = "a"
at_port = "/dev/ttyUSB2"
audio_port = "/dev/ttyUSB1"
daily_cap = -1

[[lines]]
name = "b"
at_port = "/dev/ttyUSB3"
colour = "red"
"""


def test_config_check_reports_every_error_with_file_line_and_key(tmp_path, capsys):
    cfg = tmp_path / "callbox.toml"
    cfg.write_text(BAD)
    assert main(["config", "check", str(cfg)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{cfg}:2: bogus: unknown key",
        f"{cfg}:5: web.port: must be int, not str",
        f"{cfg}:8: calling.hours: must look like 09:00-20:00, not '25:00-20:00'",
        f"{cfg}:11: calling.retry_s.busy: must be float, not str",
        f"{cfg}:17: lines[0].daily_cap: must be 0 ([calling] line_daily_cap) or more",
        f"{cfg}:19: lines[1].audio_port: is required and missing",
        f"{cfg}:22: lines[1].colour: unknown key",
    ]
    assert main(["config", "check", str(cfg), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and data["errors"][1] == {
        "file": str(cfg), "line": 5, "key": "web.port", "message": "must be int, not str"}


def test_config_check_syntax_error_has_its_line(tmp_path, capsys):
    cfg = tmp_path / "callbox.toml"
    cfg.write_text('[shop]\nname = "x"\n[web\nport = 1\n')
    assert main(["--config", str(cfg), "config", "check"]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{cfg}:3: TOML syntax error")


def test_config_check_fine_missing_and_environment(tmp_path, capsys, monkeypatch):
    example = ROOT / "firmware-config" / "callbox.toml.example"
    assert main(["config", "check", str(example)]) == 0
    assert capsys.readouterr().out == f"{example}: ok\n"
    assert main(["config", "check", str(tmp_path / "none.toml")]) == 1
    assert "no such file" in capsys.readouterr().out
    monkeypatch.setenv("CALLBOX_LISTEN", "nowhere")
    assert main(["config", "check", str(example)]) == 1
    assert capsys.readouterr().out.startswith("<environment>: CALLBOX_LISTEN: 'nowhere': expected HOST:PORT")


def test_key_lines_follow_tables_arrays_and_multiline_strings():
    text = ('a = 1\n[sms]\nunreachable_text = """\nport = 3\n"""\n[[lines]]\nname = "x"\n[[lines]]\n'
            'name = "y"  # c\n[calling.retry_s]\n"busy" = 1\n')
    lines = key_lines(text)
    assert lines["a"] == 1 and lines["sms.unreachable_text"] == 3 and "sms.port" not in lines
    assert (lines["lines[0].name"], lines["lines[1].name"], lines["lines"]) == (7, 9, 6)
    assert lines["calling.retry_s.busy"] == 11


def test_config_check_errors_in_the_loaders_own_checks(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[qa]\nopposite_intents = [["a", "a"]]\n[upstream]\nurl = "https://x.example"\n'
                   '[[lines]]\nname = "a"\nat_port = "p"\naudio_port = "q"\n'
                   '[[lines]]\nname = "a"\nat_port = "p"\naudio_port = "q"\n')
    found = [(p.line, p.key) for p in check_config_file(cfg)]
    assert found == [(2, "qa.opposite_intents[0]"), (3, "upstream.secret"), (5, "lines")]


def test_config_show_says_where_each_value_comes_from(tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "callbox.toml"
    cfg.write_text('[web]\nport = 8081\nwebhook_secret = "whsec_' + "A" * 32 + '"\n[calling]\nmax_attempts = 5\n'
                   '[[lines]]\nname = "gsm0"\nat_port = "/dev/ttyUSB2"\naudio_port = "/dev/ttyUSB1"\n')
    monkeypatch.setenv("CALLBOX_API_TOKEN", "t" * 20)
    monkeypatch.delenv("CALLBOX_STATE_DIR", raising=False)
    monkeypatch.delenv("CALLBOX_LISTEN", raising=False)
    assert main(["--config", str(cfg), "--state-dir", str(tmp_path / "s"), "config", "show", "--json"]) == 0
    shown = {s["key"]: (s["value"], s["source"]) for s in json.loads(capsys.readouterr().out)}
    assert shown["web.port"] == (8081, str(cfg))
    assert shown["calling.max_attempts"] == (5, str(cfg))
    assert shown["calling.max_per_day"] == (3, "default")
    assert shown["web.api_token"] == ("(set, not shown)", "CALLBOX_API_TOKEN")
    assert shown["web.webhook_secret"] == ("(set, not shown)", str(cfg))
    assert shown["state_dir"] == (str(tmp_path / "s"), "--state-dir")
    assert shown["lines[0].profile"] == ("huawei-e1550", "default")
    assert shown["lines[0].at_port"] == ("/dev/ttyUSB2", str(cfg))
    assert shown["qa.opposite_intents"][0][0] == ["confirm", "not_home"]
    assert main(["--config", str(cfg), "config", "show"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"^calling\.max_attempts +=  *5   # " + re.escape(str(cfg)) + "$", text, re.MULTILINE)
    assert "tttt" not in text and "AAAA" not in text


def _keys(cls: type, prefix: str = "") -> list[str]:
    out = []
    for f in dataclasses.fields(cls):
        factory = f.default_factory
        if factory is not dataclasses.MISSING and dataclasses.is_dataclass(factory):
            out += _keys(factory, f"{prefix}{f.name}.")  # type: ignore[arg-type]
        elif f.name == "lines":
            out += _keys(LineConfig, "lines.")
        else:
            out.append(prefix + f.name)
    return out


@pytest.mark.parametrize("key", _keys(Config))
def test_every_setting_is_in_the_example_config(key):
    """Each key of every config dataclass is in firmware-config/callbox.toml.example, set or commented out, with
    its default (the helpdesk keys once, for all three helpdesks)."""
    example = (ROOT / "firmware-config" / "callbox.toml.example").read_text(encoding="utf-8")
    name = key.rsplit(".", 1)[-1]
    assert re.search(rf"^#?\s*{re.escape(name)}\s*=", example, re.MULTILINE), key
