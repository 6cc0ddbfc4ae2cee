"""The AT channel over the in-memory loopback: the test plays the modem, deliveries are made hard on
purpose (a byte at a time, lost bytes, late bytes), and nothing sleeps: the test waits until the
channel's reader has dispatched everything (``wait_idle``) or until a command returns."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.errors import AtCommandError, AtTimeout, PortError
from appliance.telephony.at import AtChannel, LineAssembler, is_final
from appliance.telephony.loopback import LoopbackModem, LoopbackTransport
from appliance.telephony.sms import encode_sms, send_sms
from appliance.telephony.transport import SerialAtTransport, open_transport

URCS = ("^CEND:", "RING", "+CREG:", "^RSSI:")


def channel_over(transport: LoopbackTransport, *, timeout: float = 1.0) -> tuple[AtChannel, list[str], LoopbackModem]:
    urcs: list[str] = []
    channel = AtChannel(transport, on_urc=urcs.append, default_timeout=timeout, urc_prefixes=URCS, name="loop")
    channel.open()
    return channel, urcs, transport.modem


@pytest.fixture
def loop():
    made: list[AtChannel] = []

    def make(timeout: float = 1.0, **options: object) -> tuple[AtChannel, list[str], LoopbackModem]:
        channel, urcs, modem = channel_over(LoopbackTransport(**options), timeout=timeout)  # type: ignore[arg-type]
        made.append(channel)
        return channel, urcs, modem

    yield make
    for channel in made:
        channel.close()


def test_tel_at_loop_byte_at_a_time_with_echo_and_crcrlf(loop):
    channel, urcs, modem = loop(chunk=1)
    modem.echo = True
    modem.answer("AT+CSQ", b"\r\r\n+CSQ: 20,99\r\r\n\r\r\nOK\r\r\n")
    modem.answer("ATE0", b"\r\nOK\r\n")
    assert channel.command("AT+CSQ") == ["+CSQ: 20,99"]  # the echo "AT+CSQ" is not part of the answer
    assert channel.command("ATE0") == []
    assert modem.wait_idle()
    assert modem.received == ["AT+CSQ", "ATE0"] and urcs == []


def test_tel_at_loop_urc_in_the_middle_of_a_response(loop):
    channel, urcs, modem = loop(chunk=1)
    modem.answer("AT+COPS?", b'\r\n+COPS: 0,0,"Net"\r\n\r\n^CEND:1,5,104,16\r\n\r\nRING\r\n\r\nOK\r\n')
    modem.answer("AT+CREG?", b"\r\n+CREG: 1\r\n\r\n+CREG: 0,1\r\n\r\nOK\r\n")
    assert channel.command("AT+COPS?") == ['+COPS: 0,0,"Net"']
    assert urcs == ["^CEND:1,5,104,16", "RING"]  # delivered before the command returned, in order
    # with expect, a prefix that is also a URC prefix belongs to the response
    assert channel.command("AT+CREG?", expect="+CREG:") == ["+CREG: 1", "+CREG: 0,1"]
    assert urcs == ["^CEND:1,5,104,16", "RING"]


def test_tel_at_loop_urcs_while_idle_and_a_half_line(loop):
    channel, urcs, modem = loop(chunk=3)
    modem.send(b"\r\n^RSSI:17\r\n\r\nsomething odd\r\n\r\n+CGMM: E15")
    assert modem.wait_idle()
    assert urcs == ["^RSSI:17", "something odd"]  # the half line waits for the rest
    modem.answer("AT+CGMM", b"\r\nOK\r\n")
    modem.send(b"50\r\n")
    assert modem.wait_idle()
    assert urcs[-1] == "+CGMM: E1550"  # completed while no command was pending: unsolicited
    assert channel.command("AT+CGMM") == []


def test_tel_at_loop_lost_byte_in_the_final_code_times_out_and_the_channel_goes_on(loop):
    # the answer is bytes 0..5 of the modem's stream: \r \n O K \r \n; byte 3 ("K") never arrives
    channel, _, modem = loop(timeout=0.2, chunk=1, lose=frozenset({3}))
    modem.answer("AT", b"\r\nOK\r\n")
    with pytest.raises(AtTimeout, match=r"\['O'\]"):
        channel.command("AT")
    assert channel.command("AT") == []  # bytes 6..11 arrive whole


def test_tel_at_loop_lost_byte_in_an_information_line_is_only_that_line(loop):
    reply = b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
    channel, _, modem = loop(lose=frozenset({reply.index(b"0,")}))
    modem.answer("AT+CSQ", reply)
    assert channel.command("AT+CSQ") == ["+CSQ: 2,99"]


def test_tel_at_loop_delayed_answer_times_out_then_arrives_unsolicited(loop):
    channel, urcs, modem = loop(delay_s=0.3)
    modem.answer("AT+COPS?", b'\r\n+COPS: 0,0,"Net"\r\n\r\nOK\r\n')
    started = time.monotonic()
    with pytest.raises(AtTimeout):
        channel.command("AT+COPS?", timeout=0.1)
    assert time.monotonic() - started < 0.3  # the timeout, not the delivery, ended it
    assert modem.wait_idle()
    assert urcs == ['+COPS: 0,0,"Net"', "OK"]  # the late answer had no command to belong to
    started = time.monotonic()
    assert channel.command("AT+COPS?", timeout=2.0) == ['+COPS: 0,0,"Net"']
    assert time.monotonic() - started >= 0.3


def test_tel_at_loop_timeout_comes_from_the_settings(loop):
    channel, _, modem = loop(timeout=0.05)
    started = time.monotonic()
    with pytest.raises(AtTimeout, match=r"0\.05s"):
        channel.command("AT+SILENT")
    assert time.monotonic() - started < 0.5
    assert modem.received == ["AT+SILENT"]


def test_tel_at_loop_error_finals(loop):
    channel, _, modem = loop(chunk=2)
    for final in ("ERROR", "+CME ERROR: 10", "+CMS ERROR: 500", "NO CARRIER", "BUSY"):
        modem.answer("ATD123;", b"\r\n" + final.encode() + b"\r\n")
        with pytest.raises(AtCommandError) as info:
            channel.command("ATD123;")
        assert info.value.result == final


def test_tel_at_loop_unplugged_under_a_pending_command_fails_fast(loop):
    closed_with: list[Exception | None] = []
    channel, _, modem = loop(timeout=3.0)
    channel.on_close = closed_with.append
    modem.answer("AT+WAIT", lambda m: m.unplug("device disconnected"))
    started = time.monotonic()
    with pytest.raises(PortError, match="device disconnected"):
        channel.command("AT+WAIT")
    assert time.monotonic() - started < 1.0
    assert channel.closed.wait(1.0)
    assert len(closed_with) == 1 and isinstance(closed_with[0], PortError)
    with pytest.raises(PortError, match="not open"):
        channel.command("AT")


def test_tel_at_loop_text_message_byte_at_a_time_with_echo(loop):
    channel, urcs, modem = loop(chunk=1)
    modem.echo = True
    [part] = encode_sms("+15550001", "Your parcel is here", reference=5)
    modem.answer("AT+CMGF=0", b"\r\nOK\r\n")
    modem.answer(f"AT+CMGS={part.tpdu_length}", b"\r\n> ")  # no newline after the prompt
    modem.answer(part.pdu_hex, b"\r\n+CMGS: 42\r\n\r\nRING\r\n\r\nOK\r\n")
    assert send_sms(channel, "+15550001", "Your parcel is here", reference=5) == [42]
    assert modem.received == ["AT+CMGF=0", f"AT+CMGS={part.tpdu_length}", part.pdu_hex]
    assert urcs == ["RING"]


def test_tel_at_transport_urls():
    loop = open_transport("loop:bench?chunk=1&lose=3,9&delay=0.05")
    assert isinstance(loop, LoopbackTransport)
    assert (loop.name, loop.chunk, loop.lose, loop.delay_s) == ("bench", 1, frozenset({3, 9}), 0.05)
    plain = open_transport("loop:")
    assert isinstance(plain, LoopbackTransport) and plain.chunk is None and not plain.lose
    for url, path in (("serial:/dev/ttyUSB2", "/dev/ttyUSB2"), ("pty:/dev/pts/7", "/dev/pts/7"),
                      ("/dev/ttyUSB2", "/dev/ttyUSB2")):
        serial_port = open_transport(url)
        assert isinstance(serial_port, SerialAtTransport) and serial_port.path == path
    with pytest.raises(ValueError, match="unknown loopback option"):
        open_transport("loop:?jitter=1")


def test_tel_at_loopback_opens_once():
    transport = LoopbackTransport()
    first = AtChannel(transport)
    first.open()
    try:
        with pytest.raises(PortError, match="already open"):
            AtChannel(transport).open()
    finally:
        first.close()
    again = AtChannel(transport)
    again.open()  # closed, it opens again
    again.close()


# -- property: chunking never changes what the channel sees ------------------------------------------

LINES = ["+CSQ: 20,99", '+COPS: 0,0,"Net"', "^CEND:1,5,104,16", "RING", "+CREG: 2", "hu\xe4wei", "x" * 30]
ENDINGS = [b"\r\n", b"\r\r\n", b"\n", b"\r"]


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    parts = draw(st.lists(st.tuples(st.sampled_from(LINES), st.sampled_from(ENDINGS)), max_size=8))
    noise = draw(st.sampled_from([b"", b"\r\n", b"\xff\xfe\r\n"]))
    return noise + b"".join(b"\r\n" + text.encode() + end for text, end in parts)


@given(stream=streams(), cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12))
@settings(max_examples=300, deadline=None)
def test_tel_at_assembler_random_chunking_gives_the_same_lines(stream, cuts):
    whole = LineAssembler()
    expected = whole.feed(stream)
    pieces, last = [], 0
    for cut in [*sorted({c % (len(stream) + 1) for c in cuts}), len(stream)]:
        pieces.append(stream[last:cut])
        last = cut
    chunked = LineAssembler()
    got = [line for piece in pieces for line in chunked.feed(piece)]
    assert got == expected
    assert chunked.partial == whole.partial


def _run(stream: bytes, chunk: int | None) -> tuple[list[str], list[str]]:
    transport = LoopbackTransport(chunk=chunk)
    channel, urcs, modem = channel_over(transport)
    try:
        modem.answer("AT+X", stream + b"\r\nOK\r\n")
        lines = channel.command("AT+X")
        assert modem.wait_idle()
        return lines, list(urcs)
    finally:
        channel.close()


@given(stream=streams(), chunk=st.integers(min_value=1, max_value=9))
@settings(max_examples=40, deadline=None)
def test_tel_at_channel_split_is_the_same_however_the_bytes_arrive(stream, chunk):
    lines, urcs = _run(stream, chunk)
    assert (lines, urcs) == _run(stream, None)
    assert not any(is_final(line) for line in lines)
    assert all(line.startswith(URCS) for line in urcs)
