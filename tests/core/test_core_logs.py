"""Structured logs (appliance/logs.py): JSON lines that parse and carry the call id, line and ticket inside a
call's context and not outside it, also on threads started inside the call; the text format; the [log] setting."""

from __future__ import annotations

import contextvars
import io
import json
import logging
import threading
from pathlib import Path

import pytest

from appliance import logs
from appliance.cli.common import setup_logging
from appliance.config import LogConfig, load_config, parse_config
from appliance.errors import ConfigError


@pytest.fixture
def root_logger() -> logging.Logger:
    """The root logger (tests/conftest.py puts its handlers and level back after each test)."""
    return logging.getLogger()


def json_lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_json_lines_carry_the_call_inside_its_context_only(root_logger: logging.Logger) -> None:
    buffer = io.StringIO()
    logs.install(LogConfig(format="json", level="info"), stream=buffer)
    log = logging.getLogger("appliance.campaign.calls")
    log.info("before the call")
    with logs.call_context(line="gsm0", ticket="T-7"):
        log.info("checking the guards for %s", "T-7")
        logs.bind_call(42)
        log.warning("call %s: dialing", 42)
        try:
            raise ValueError("modem said ERROR")
        except ValueError:
            log.exception("call %s: line failed", 42)
    log.info("after the call")
    before, guards, dialing, failed, after = json_lines(buffer)
    assert before["msg"] == "before the call" and not {"call", "line", "ticket"} & set(before)
    assert guards["msg"] == "checking the guards for T-7"
    assert (guards.get("call"), guards["line"], guards["ticket"]) == (None, "gsm0", "T-7")
    assert (dialing["call"], dialing["line"], dialing["ticket"], dialing["level"]) == (42, "gsm0", "T-7", "warning")
    assert dialing["logger"] == "appliance.campaign.calls" and dialing["thread"] == threading.current_thread().name
    assert "ValueError: modem said ERROR" in str(failed["exc"]) and failed["call"] == 42
    assert not {"call", "line", "ticket"} & set(after)  # bind_call inside the block ended with it
    assert str(dialing["ts"]).endswith("+00:00")


def test_a_thread_started_inside_a_call_carries_it(root_logger: logging.Logger) -> None:
    """The audio pump and the call watcher start in the call's context (a copy of it), as the line starts them."""
    buffer = io.StringIO()
    logs.install(LogConfig(format="json"), stream=buffer)
    log = logging.getLogger("appliance.telephony.audio")

    def pump() -> None:
        log.info("pump running")

    with logs.call_context(call=7, line="gsm1", ticket="Z-1"):
        inside = threading.Thread(target=contextvars.copy_context().run, args=(pump,), name="audio-pump-gsm1")
        inside.start()
        inside.join(5)
    bare = threading.Thread(target=pump, name="no-context")  # a thread with a context of its own: nothing
    with logs.call_context(call=8):
        bare.start()
        bare.join(5)
    carried, plain = json_lines(buffer)
    assert (carried["call"], carried["line"], carried["ticket"], carried["thread"]) == (7, "gsm1", "Z-1",
                                                                                        "audio-pump-gsm1")
    assert plain["thread"] == "no-context" and "call" not in plain


def test_a_line_thread_binds_its_line(root_logger: logging.Logger) -> None:
    buffer = io.StringIO()
    logs.install(LogConfig(format="json"), stream=buffer)

    def supervisor() -> None:
        logs.bind_line("gsm2")
        logging.getLogger("appliance.telephony.supervisor").warning("reopening")

    t = threading.Thread(target=supervisor)
    t.start()
    t.join(5)
    logging.getLogger("x").warning("main thread")
    reopening, main = json_lines(buffer)
    assert reopening["line"] == "gsm2" and "call" not in reopening
    assert "line" not in main  # bound on that thread only


def test_text_format_appends_the_context(root_logger: logging.Logger) -> None:
    buffer = io.StringIO()
    logs.install(LogConfig(format="text", level="warning"), stream=buffer)
    log = logging.getLogger("appliance.campaign.calls")
    log.info("below the level")
    with logs.call_context(call=3, line="gsm0", ticket="T-1"):
        log.warning("call 3: hung up")
    log.warning("no call")
    first, second = buffer.getvalue().splitlines()
    assert first.endswith("appliance.campaign.calls: call 3: hung up [call=3 line=gsm0 ticket=T-1]")
    assert second.endswith(": no call")
    assert "[" not in second


def test_serve_logs_to_stdout_in_the_configured_format(root_logger: logging.Logger,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(0, log=LogConfig(format="json", level="warning"))
    logging.getLogger("appliance.box").info("not shown at warning")
    logging.getLogger("appliance.box").warning("shown")
    out, err = capsys.readouterr()
    assert [json.loads(line)["msg"] for line in out.splitlines()] == ["shown"] and err == ""
    setup_logging(2, log=LogConfig(format="json", level="error"))  # -vv beats [log] level
    logging.getLogger("appliance.box").debug("debugging")
    out, _ = capsys.readouterr()
    assert json.loads(out)["level"] == "debug"


def test_other_commands_keep_text_on_stderr(root_logger: logging.Logger,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(1)  # `callbox call --json` prints its answer on stdout
    logging.getLogger("appliance.cli.call").info("dialing")
    out, err = capsys.readouterr()
    assert out == "" and err.rstrip().endswith("appliance.cli.call: dialing")


def test_log_defaults() -> None:
    cfg = parse_config({})
    assert (cfg.log.format, cfg.log.level) == ("json", "info")
    assert parse_config({"log": {"format": "text", "level": "debug"}}).log == LogConfig("text", "debug")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[log]\nformat = "xml"\n', "log.format"),
        ('[log]\nformat = "JSON "\n', "log.format"),
        ('[log]\nlevel = "loud"\n', "log.level"),
        ('[log]\nlevel = 10\n', "log.level"),
        ('[log]\nformt = "json"\n', "log.formt"),
        ('log = "json"\n', "log"),
    ],
)
def test_bad_log_settings_are_config_errors(tmp_path: Path, text: str, key: str) -> None:
    f = tmp_path / "callbox.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert err.value.key == key and str(f) in str(err.value)


def test_the_standard_streams_are_looked_up_at_each_record(root_logger: logging.Logger,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A handler holding the stderr of its day would write to a closed stream once it was swapped (a test's
    capture, a redirect): it writes to whatever sys.stderr is now."""
    logs.install(LogConfig(format="json"), stream="stderr")
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    logging.getLogger("x").warning("one")
    first.close()
    monkeypatch.setattr("sys.stderr", second)
    logging.getLogger("x").warning("two")
    assert json.loads(second.getvalue())["msg"] == "two"
    with pytest.raises(ValueError, match="stdout or stderr"):
        logs.install(LogConfig(), stream="journal")
