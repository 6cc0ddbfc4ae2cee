"""AT channel: commands that take text after a ``> `` prompt (AT+CMGS in PDU mode), on a real pty."""

from __future__ import annotations

import threading
import time

import pytest

from appliance.errors import AtCommandError, AtTimeout
from appliance.telephony.at import AtChannel, LineAssembler

PDU = "0001000B917198765432F1000004C8F71D14"


def read_until(peer, end: bytes, timeout: float = 2.0) -> bytes:  # type: ignore[no-untyped-def]
    got = bytearray()
    deadline = time.monotonic() + timeout
    while not got.endswith(end) and time.monotonic() < deadline:
        got += peer.pty.read(0.05)
    return bytes(got)


def cmgs_peer(prompt: bytes, after: bytes, payloads: list[bytes], *, echo_payload: bool = False):  # type: ignore[no-untyped-def]
    def reply(peer) -> None:  # type: ignore[no-untyped-def]
        peer.send(prompt)
        data = read_until(peer, b"\x1a")
        payloads.append(data)
        if echo_payload:
            peer.send(data)
        peer.send(after)

    return reply


def open_channel(path: str, urcs: list[str] | None = None) -> AtChannel:
    channel = AtChannel(
        path,
        default_timeout=2.0,
        urc_prefixes=("^CEND:", "+CMTI:"),
        on_urc=(urcs.append if urcs is not None else None),
    )
    channel.open()
    return channel


def test_tel_sms_at_prompt_without_newline_byte_at_a_time_with_echo(scripted_peer):
    payloads: list[bytes] = []
    peer = scripted_peer(
        {"AT+CMGS=17": cmgs_peer(b"\r\n> ", b"\r\n+CMGS: 7\r\n\r\nOK\r\n", payloads, echo_payload=True)},
        echo=True,
    )
    channel = open_channel(peer.path)
    try:
        lines = channel.command_with_prompt("AT+CMGS=17", PDU, expect="+CMGS:")
        assert lines == ["+CMGS: 7"]
        assert payloads == [PDU.encode() + b"\x1a"]
    finally:
        channel.close()


def test_tel_sms_at_urc_after_the_prompt_goes_to_the_handler(scripted_peer):
    payloads: list[bytes] = []
    after = b"\r\n^CEND:1,0,104,16\r\n\r\n+CMGS: 200\r\n\r\n+CMTI: \"SM\",3\r\n\r\nOK\r\n"
    peer = scripted_peer({"AT+CMGS=17": cmgs_peer(b"\r\r\n> ", after, payloads)}, byte_gap=0)
    urcs: list[str] = []
    channel = open_channel(peer.path, urcs)
    try:
        assert channel.command_with_prompt("AT+CMGS=17", PDU) == ["+CMGS: 200"]
        assert urcs == ["^CEND:1,0,104,16", '+CMTI: "SM",3']
    finally:
        channel.close()


def test_tel_sms_at_prompt_that_does_get_a_newline(scripted_peer):
    payloads: list[bytes] = []
    peer = scripted_peer({"AT+CMGS=17": cmgs_peer(b"\r\n>\r\n", b"\r\n+CMGS: 1\r\n\r\nOK\r\n", payloads)})
    channel = open_channel(peer.path)
    try:
        assert channel.command_with_prompt("AT+CMGS=17", PDU) == ["+CMGS: 1"]
        assert payloads == [PDU.encode() + b"\x1a"]
    finally:
        channel.close()


def test_tel_sms_at_refusal_instead_of_a_prompt_raises_at_once(scripted_peer):
    peer = scripted_peer({"AT+CMGS=17": b"\r\n+CMS ERROR: 302\r\n"})
    channel = open_channel(peer.path)
    try:
        started = time.monotonic()
        with pytest.raises(AtCommandError) as info:
            channel.command_with_prompt("AT+CMGS=17", PDU, prompt_timeout=1.5)
        assert info.value.result == "+CMS ERROR: 302"
        assert time.monotonic() - started < 1.0
        assert "0001000B91" not in "".join(peer.received)  # the PDU was never sent
    finally:
        channel.close()


def test_tel_sms_at_missing_prompt_times_out_sends_escape_and_the_channel_still_works(scripted_peer):
    escapes = threading.Event()

    def silent_then_watch(peer) -> None:  # type: ignore[no-untyped-def]
        if read_until(peer, b"\x1b", timeout=1.0).endswith(b"\x1b"):
            escapes.set()

    peer = scripted_peer({"AT+CMGS=17": silent_then_watch, "AT": b"\r\nOK\r\n"})
    channel = open_channel(peer.path)
    try:
        with pytest.raises(AtTimeout, match="prompt"):
            channel.command_with_prompt("AT+CMGS=17", PDU, prompt_timeout=0.2)
        assert escapes.wait(1.5)
        assert channel.command("AT") == []
    finally:
        channel.close()


def test_tel_sms_at_result_timeout_after_the_payload(scripted_peer):
    payloads: list[bytes] = []
    peer = scripted_peer({"AT+CMGS=17": cmgs_peer(b"\r\n> ", b"", payloads)})
    channel = open_channel(peer.path)
    try:
        with pytest.raises(AtTimeout, match="after the payload"):
            channel.command_with_prompt("AT+CMGS=17", PDU, timeout=0.3)
        assert payloads == [PDU.encode() + b"\x1a"]
    finally:
        channel.close()


def test_tel_sms_at_assembler_takes_only_a_bare_prompt():
    asm = LineAssembler()
    assert asm.feed(b"\r\n> ") == []
    assert asm.take_prompt()
    assert asm.partial == b""
    assert asm.feed(b"+CMGS") == []
    assert not asm.take_prompt()
    assert asm.feed(b": 3\r\n") == ["+CMGS: 3"]
