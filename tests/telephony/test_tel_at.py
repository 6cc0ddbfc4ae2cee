"""AT channel against a real pty peer that sends bytes one at a time."""

from __future__ import annotations

import random
import threading
import time

import pytest

from appliance.errors import AtCommandError, AtTimeout, PortError
from appliance.telephony.at import AtChannel, LineAssembler

URCS = ("^CEND:", "RING", "+CREG:", "^RSSI:")


def open_channel(path: str, **kw: object) -> tuple[AtChannel, list[tuple[str, str]]]:
    seen: list[tuple[str, str]] = []
    channel = AtChannel(
        path,
        on_urc=lambda line: seen.append((line, threading.current_thread().name)),
        default_timeout=2.0,
        urc_prefixes=URCS,
        **kw,  # type: ignore[arg-type]
    )
    channel.open()
    return channel, seen


def test_tel_at_echo_on_and_crcrlf(scripted_peer):
    peer = scripted_peer(
        {"AT+CSQ": b"\r\r\n+CSQ: 20,99\r\r\n\r\r\nOK\r\r\n", "ATE0": b"\r\nOK\r\n"}, echo=True
    )
    channel, urcs = open_channel(peer.path)
    try:
        assert channel.command("AT+CSQ") == ["+CSQ: 20,99"]
        assert channel.command("ATE0") == []
        assert urcs == []
    finally:
        channel.close()


def test_tel_at_urcs_in_the_middle_of_a_response_go_to_the_handler(scripted_peer):
    peer = scripted_peer(
        {
            "AT+COPS?": b'\r\n+COPS: 0,0,"Net"\r\n\r\n^CEND:1,5,104,16\r\n\r\nRING\r\n\r\nOK\r\n',
            "AT+CREG?": b"\r\n+CREG: 1\r\n\r\n+CREG: 0,1\r\n\r\nOK\r\n",
        }
    )
    channel, urcs = open_channel(peer.path)
    try:
        assert channel.command("AT+COPS?") == ['+COPS: 0,0,"Net"']
        assert [u for u, _ in urcs] == ["^CEND:1,5,104,16", "RING"]
        # URCs are delivered on the one reader thread, never a thread per event
        assert {t for _, t in urcs} == {channel._reader.name if channel._reader else ""}
        assert all(t.startswith("at-reader-") for _, t in urcs)
        # with expect, a prefix that is also a URC prefix belongs to the response
        assert channel.command("AT+CREG?", expect="+CREG:") == ["+CREG: 1", "+CREG: 0,1"]
    finally:
        channel.close()


def test_tel_at_urc_while_idle_and_non_utf8_and_half_lines(scripted_peer):
    def slow_half_line(peer):
        peer.send(b"\r\n+CGMM: E15")
        time.sleep(0.15)  # the reader sees half a line, then the rest
        peer.send(b"50\r\n\r\nOK\r\n")

    peer = scripted_peer({"AT+CGMM": slow_half_line, "AT+CGMI": b"\r\nhu\xe4we\xffi\r\n\r\nOK\r\n"})
    channel, urcs = open_channel(peer.path)
    try:
        peer.send(b"\r\n^RSSI:17\r\n\r\nsomething odd\r\n")
        deadline = time.monotonic() + 2
        while len(urcs) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [u for u, _ in urcs] == ["^RSSI:17", "something odd"]
        assert channel.command("AT+CGMM") == ["+CGMM: E1550"]
        [line] = channel.command("AT+CGMI")
        assert line.startswith("hu") and line.endswith("i") and "\ufffd" in line
    finally:
        channel.close()


@pytest.mark.parametrize(
    "final", ["ERROR", "+CME ERROR: 10", "+CMS ERROR: 500", "COMMAND NOT SUPPORT", "NO CARRIER", "BUSY",
              "NO ANSWER", "NO DIALTONE"]
)
def test_tel_at_error_finals_raise_command_error(scripted_peer, final):
    peer = scripted_peer({"ATD123;": b"\r\n" + final.encode() + b"\r\n", "AT": b"\r\nOK\r\n"}, byte_gap=0)
    channel, _ = open_channel(peer.path)
    try:
        with pytest.raises(AtCommandError) as info:
            channel.command("ATD123;")
        assert info.value.result == final and info.value.command == "ATD123;"
        assert channel.command("AT") == []
    finally:
        channel.close()


def test_tel_at_timeout_then_channel_still_usable(scripted_peer):
    peer = scripted_peer({"AT+SLOW": None, "AT": b"\r\nOK\r\n"})
    channel, _ = open_channel(peer.path)
    try:
        started = time.monotonic()
        with pytest.raises(AtTimeout):
            channel.command("AT+SLOW", timeout=0.2)
        assert 0.2 <= time.monotonic() - started < 0.6
        assert channel.command("AT") == []
    finally:
        channel.close()


def test_tel_at_port_closed_under_a_pending_command(scripted_peer):
    closed_with: list[Exception | None] = []
    peer = scripted_peer({"AT+WAIT": lambda p: (time.sleep(0.1), p.pty.close())})
    channel, _ = open_channel(peer.path, on_close=closed_with.append)
    try:
        started = time.monotonic()
        with pytest.raises(PortError):
            channel.command("AT+WAIT", timeout=3)
        assert time.monotonic() - started < 1.5  # failed fast, not by timeout
        assert channel.closed.wait(1)
        assert len(closed_with) == 1 and isinstance(closed_with[0], PortError)
        with pytest.raises(PortError):
            channel.command("AT")
    finally:
        channel.close()


def test_tel_at_port_is_exclusive_and_missing_port_is_port_error(scripted_peer):
    peer = scripted_peer({})
    channel, _ = open_channel(peer.path)
    try:
        with pytest.raises(PortError):
            AtChannel(peer.path).open()
    finally:
        channel.close()
    with pytest.raises(PortError):
        AtChannel("/dev/does-not-exist-callbox").open()


def test_tel_at_line_assembler_is_independent_of_chunking():
    stream = b"ATE0\r\r\n\r\nOK\r\n\r\n+CSQ: 1\xff,9\r\n\r\n^CEND:1,0,104,16\r\nhalf"
    expected = LineAssembler().feed(stream)
    assert expected == ["ATE0", "OK", "+CSQ: 1\ufffd,9", "^CEND:1,0,104,16"]
    rng = random.Random(7)
    for _ in range(200):
        assembler, lines, pos = LineAssembler(), [], 0
        while pos < len(stream):
            step = rng.randint(1, 6)
            lines += assembler.feed(stream[pos : pos + step])
            pos += step
        assert lines == expected
        assert assembler.partial == b"half"
