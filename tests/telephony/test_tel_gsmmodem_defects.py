"""Why call control is not built on python-gsmmodem-new 0.13.0.

Each test drives real ``gsmmodem.modem.GsmModem`` objects over a real pty
(a scripted peer speaking a Huawei or SIMCom dialect) and asserts that the
defect is there. If a new release fixes one, its test fails, and the design
card should be revisited.
"""

from __future__ import annotations

import inspect
import re
import threading
import time
from pathlib import Path

import gsmmodem
import gsmmodem.modem as gsm
import gsmmodem.serial_comms as gsm_serial
import pytest
from gsmmodem.exceptions import TimeoutException
from tel_helpers import wait_until

from appliance.errors import AtCommandError
from appliance.telephony.at import AtChannel

OK = b"\r\nOK\r\n"


def line(*lines: str) -> bytes:
    return b"".join(b"\r\n" + s.encode() + b"\r\n" for s in lines)


HUAWEI = {
    "AT+CFUN?": line("+CFUN: 1", "OK"),
    "AT+CPIN?": line("+CPIN: READY", "OK"),
    # first item absorbs gsmmodem's off-by-one strip of "+CLAC: "
    "AT+CLAC": line("+CLAC: &C,^CVOICE,^DTMF,^USSDMODE,+CLIP", "OK"),
    "AT+CGMI": line("huawei", "OK"),
    "AT+CPMS=?": line("ERROR"),
    "AT+CSCA?": line("+CSCA: \"+4917000000\",145", "OK"),
}
SIMCOM = {
    **HUAWEI,
    "AT+CLAC": line("+CLAC: &C,+VTS,+CLIP,+CLCC", "OK"),
    "AT+CGMI": line("SIMCOM_Ltd", "OK"),
    "AT+ZPAS?": line("ERROR"),
    "AT+WIND?": line("ERROR"),
}


@pytest.fixture
def connected(scripted_peer):
    modems: list[gsm.GsmModem] = []

    def connect(replies: dict[str, bytes]) -> tuple[gsm.GsmModem, object]:
        peer = scripted_peer(replies, default=OK, byte_gap=0)
        modem = gsm.GsmModem(peer.path)
        modem.timeout = 0.1  # its reader's serial read timeout, so close() is quick
        modem.connect()
        modems.append(modem)
        return modem, peer

    yield connect
    for modem in modems:
        modem.close()


def test_tel_gsmmodem_a_busy_or_no_carrier_on_dial_ends_in_timeout(connected):
    modem, _ = connected({**HUAWEI, "ATD5551;": line("BUSY"), "ATD5552;": line("NO CARRIER")})
    assert modem._mustPollCallStatus is False  # the Huawei ^ORIG/^CONN/^CEND table was loaded
    # Its notion of a final result code: OK, ERROR, +CME/+CMS ERROR, COMMAND NOT SUPPORT.
    term = gsm_serial.SerialComms.RESPONSE_TERM
    assert all(term.match(s) for s in ("OK", "ERROR", "+CME ERROR: 10", "COMMAND NOT SUPPORT"))
    assert not any(term.match(s) for s in ("BUSY", "NO CARRIER", "NO ANSWER", "NO DIALTONE"))
    for number, code in (("5551", "BUSY"), ("5552", "NO CARRIER")):
        started = time.monotonic()
        with pytest.raises(TimeoutException) as info:
            modem.dial(number, timeout=0.5)
        # the answer arrived within milliseconds, but the caller only learns "timeout"
        assert time.monotonic() - started >= 0.5
        assert info.value.data == [code]


def test_tel_gsmmodem_a_contrast_our_channel_turns_busy_into_an_outcome(scripted_peer):
    peer = scripted_peer({"ATD5551;": line("BUSY")}, byte_gap=0)
    channel = AtChannel(peer.path, default_timeout=0.5)
    channel.open()
    try:
        started = time.monotonic()
        with pytest.raises(AtCommandError) as info:
            channel.command("ATD5551;")
        assert info.value.result == "BUSY" and time.monotonic() - started < 0.3
    finally:
        channel.close()


def test_tel_gsmmodem_b_clcc_regex_rejects_simcom_trailing_field(connected, monkeypatch):
    simcom_line = '+CLCC: 1,0,3,0,0,"+15551234",145,""'
    modem, _ = connected({**SIMCOM, "AT+CLCC": line(simcom_line, "OK")})
    assert modem._mustPollCallStatus is True  # generic modem: call state by AT+CLCC polling
    regex: re.Pattern[str] = modem._pollCallStatusRegex
    assert regex.match('+CLCC: 1,0,3,0,0,"+15551234",145')  # the 3GPP minimum matches
    assert regex.match(simcom_line) is None  # SIMCom's extra <alpha> field does not
    # End to end: the call is alerting, yet the dial times out, and the polling
    # thread it started (unnamed, unowned) dies with an exception of its own.
    died: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: died.append(args.exc_value))
    with pytest.raises(TimeoutException):
        modem.dial("15551234", timeout=1)
    wait_until(lambda: died, 2.0, "python-gsmmodem's thread died")
    assert died and isinstance(died[0], TimeoutException)


def test_tel_gsmmodem_c_unsolicited_lines_leak_into_responses(connected):
    urcs_then_ok = line("+CSQ: 20,99", "^CEND:1,0,104,16", "RING", "+CREG: 1", "OK")
    modem, _ = connected({**HUAWEI, "AT+CSQ": urcs_then_ok})
    response = modem.write("AT+CSQ")
    assert response == ["+CSQ: 20,99", "^CEND:1,0,104,16", "RING", "+CREG: 1", "OK"]
    # ...and so the call-ended URC never reached its call-state handler


def test_tel_gsmmodem_c_contrast_our_channel_routes_urcs(scripted_peer):
    peer = scripted_peer({"AT+CSQ": line("+CSQ: 20,99", "^CEND:1,0,104,16", "RING", "+CREG: 1", "OK")})
    urcs: list[str] = []
    channel = AtChannel(peer.path, on_urc=urcs.append, urc_prefixes=("^CEND:", "RING", "+CREG:"))
    channel.open()
    try:
        assert channel.command("AT+CSQ") == ["+CSQ: 20,99"]
        assert urcs == ["^CEND:1,0,104,16", "RING", "+CREG: 1"]
    finally:
        channel.close()


def test_tel_gsmmodem_d_has_no_audio_path():
    words = re.compile(r"audio|pcm|voice|sound|stream|speaker|microphone", re.I)
    for cls in (gsm.GsmModem, gsm.Call, gsm.IncomingCall):
        assert [n for n in dir(cls) if words.search(n)] == []
    # one port per modem: the constructor takes a single port, the package opens exactly one
    params = list(inspect.signature(gsm.GsmModem.__init__).parameters)
    assert params[:2] == ["self", "port"] and not any(words.search(p) for p in params)
    source = "".join(p.read_text() for p in Path(gsmmodem.__file__).parent.glob("*.py"))
    assert source.count("serial.Serial(") == 1
    # nor does it know the commands that switch audio to a USB port
    for cmd in ("DDSETEX", "CPCMREG", "QPCMV"):
        assert cmd not in source
