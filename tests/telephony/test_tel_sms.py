"""Text messages in PDU mode: encoding, and sending through the simulated modem's AT+CMGS."""

from __future__ import annotations

import pytest
from gsmmodem.pdu import decodeSmsPdu

from appliance.errors import AtCommandError, AtTimeout
from appliance.sim.customer import CustomerScript
from appliance.telephony.at import AtChannel
from appliance.telephony.modem import Modem, ModemTimeouts
from appliance.telephony.sms import (
    SmsTimeouts,
    encode_sms,
    from_utf16_units,
    normalise_number,
    send_sms,
    utf16_units,
)

FAST = ModemTimeouts(command=2.0, dial_ack=2.0, hangup=1.0, audio_start=2.0)
QUICK = SmsTimeouts(mode=2.0, prompt=1.0, submit=2.0)
GSM7 = "Hello Ada, your order #1234 could not be confirmed: call us @ 555-0100 (Mon-Fri) {ok}"
UNICODE = "Здравствуйте! Заказ 1234 — мы не дозвонились. 配達 🚚"


@pytest.fixture
def modem(make_sim, huawei_profile):
    sim = make_sim(lambda n: CustomerScript("answer"), echo=True)
    m = Modem(huawei_profile, sim.at_port, sim.audio_port, timeouts=FAST)
    m.open()
    yield m, sim
    m.close()


def data_coding_scheme(raw: bytes) -> int:
    """SMSC octet(s), first octet, TP-MR, address (digit count, type, BCD digits), TP-PID, then TP-DCS."""
    at = 1 + raw[0] + 2
    digits = raw[at]
    return raw[at + 2 + (digits + 1) // 2 + 1]


def decoded_text(pdu_hexes: list[str]) -> str:
    return from_utf16_units("".join(decodeSmsPdu(h)["text"] for h in pdu_hexes))


# -- encoding (pure) ----------------------------------------------------------


def test_tel_sms_gsm7_text_is_one_septet_pdu():
    [part] = encode_sms("+49 170 123-4567", GSM7, reference=9)
    raw = bytes.fromhex(part.pdu_hex)
    assert part.tpdu_length == len(raw) - 1  # no SMSC address: one 00 octet
    decoded = decodeSmsPdu(part.pdu_hex)
    assert decoded["type"] == "SMS-SUBMIT"
    assert decoded["number"] == "+491701234567"
    assert decoded["text"] == GSM7
    assert data_coding_scheme(raw) == 0x00  # GSM-7 alphabet


def test_tel_sms_unicode_goes_as_ucs2_and_emoji_survive():
    [part] = encode_sms("+15550100", UNICODE)
    assert data_coding_scheme(bytes.fromhex(part.pdu_hex)) == 0x08  # UCS2
    assert from_utf16_units(decodeSmsPdu(part.pdu_hex)["text"]) == UNICODE
    # UCS2: two octets per UTF-16 unit; the emoji is a surrogate pair
    assert len(utf16_units(UNICODE)) == len(UNICODE) + 1
    assert utf16_units("plain") == "plain"


def test_tel_sms_long_texts_are_concatenated_parts_with_one_reference():
    long_gsm = "Delivery update. " * 20  # 340 septets -> 3 parts of <=153
    parts = encode_sms("+15550100", long_gsm, reference=77)
    assert len(parts) == 3
    udhs = [decodeSmsPdu(p.pdu_hex)["udh"][0] for p in parts]
    assert [(u.reference, u.number, u.parts) for u in udhs] == [(77, 1, 3), (77, 2, 3), (77, 3, 3)]
    assert decoded_text([p.pdu_hex for p in parts]) == long_gsm
    long_ucs2 = "Доставка " * 20  # 180 units -> 3 parts of <=67
    parts = encode_sms("+15550100", long_ucs2, reference=5)
    assert len(parts) == 3
    assert decoded_text([p.pdu_hex for p in parts]) == long_ucs2


def test_tel_sms_bad_numbers_and_empty_text_are_refused():
    assert normalise_number(" +44 (20) 7946-0958 ") == "+442079460958"
    for bad in ("", "+", "call me", "12345678901234567890123", "555;ATH"):
        with pytest.raises(ValueError):
            normalise_number(bad)
    with pytest.raises(ValueError):
        encode_sms("+15550100", "")


# -- sending through the simulated modem ---------------------------------------


def test_tel_sms_send_gsm7_through_the_modem_round_trips(modem):
    m, sim = modem
    sim.sms.pdu_mode = False  # left in text mode: send_sms must switch to PDU mode itself
    refs = send_sms(m, "+15550100", GSM7, timeouts=QUICK)
    assert refs == [1]
    assert sim.sms.pdu_mode
    [got] = sim.sms.messages
    decoded = decodeSmsPdu(got.pdu_hex)
    assert decoded["number"] == "+15550100"
    assert decoded["text"] == GSM7
    assert sim.sms.texts() == [("+15550100", GSM7)]


def test_tel_sms_send_unicode_through_the_modem_round_trips(modem):
    m, sim = modem
    refs = send_sms(m, "+15550100", UNICODE, timeouts=QUICK)
    assert len(refs) == 1
    [got] = sim.sms.messages
    assert from_utf16_units(decodeSmsPdu(got.pdu_hex)["text"]) == UNICODE
    # the modem still answers ordinary commands afterwards
    assert m.command("AT+CSQ") == ["+CSQ: 20,99"]


def test_tel_sms_send_multipart_returns_a_reference_per_part(modem):
    m, sim = modem
    text = "Ünïcödé " * 25  # GSM-7 has Ü, ö, é but not ï: UCS2, 200 units -> 3 parts
    refs = send_sms(m, "+15550100", text, reference=200, timeouts=QUICK)
    assert refs == [1, 2, 3]
    assert [(s.concat_reference, s.part, s.parts) for s in sim.sms.messages] == [(200, 1, 3), (200, 2, 3), (200, 3, 3)]
    assert decoded_text([s.pdu_hex for s in sim.sms.messages]) == text
    assert sim.sms.texts() == [("+15550100", text)]


def test_tel_sms_network_refusal_is_an_at_command_error(modem):
    m, sim = modem
    sim.sms.refuse = "+CMS ERROR: 500"
    with pytest.raises(AtCommandError) as info:
        send_sms(m, "+15550100", "hello", timeouts=QUICK)
    assert info.value.result == "+CMS ERROR: 500"
    assert sim.sms.messages == []
    sim.sms.refuse = None
    assert send_sms(m, "+15550100", "hello", timeouts=QUICK) == [1]


def test_tel_sms_send_through_a_bare_at_channel_with_echo(make_sim):
    sim = make_sim(lambda n: CustomerScript("answer"), echo=True)
    channel = AtChannel(sim.at_port, default_timeout=2.0)
    channel.open()
    try:
        assert send_sms(channel, "5550100", "plain national number", timeouts=QUICK) == [1]
        assert sim.sms.texts() == [("5550100", "plain national number")]
    finally:
        channel.close()


def test_tel_sms_length_mismatch_is_refused_by_the_sim(make_sim):
    sim = make_sim(lambda n: CustomerScript("answer"))
    channel = AtChannel(sim.at_port, default_timeout=2.0)
    channel.open()
    try:
        channel.command("AT+CMGF=0")
        [part] = encode_sms("+15550100", "hi")
        with pytest.raises(AtCommandError, match="304"):
            channel.command_with_prompt(f"AT+CMGS={part.tpdu_length + 1}", part.pdu_hex, timeout=2.0)
        assert sim.sms.messages == []
    finally:
        channel.close()


def test_tel_sms_a_modem_that_never_prompts_times_out(scripted_peer):
    [part] = encode_sms("+15550100", "hi")
    peer = scripted_peer({"AT+CMGF=0": b"\r\nOK\r\n", f"AT+CMGS={part.tpdu_length}": None})
    channel = AtChannel(peer.path, default_timeout=1.0)
    channel.open()
    try:
        with pytest.raises(AtTimeout):
            send_sms(channel, "+15550100", "hi", timeouts=SmsTimeouts(mode=1.0, prompt=0.2, submit=0.5))
    finally:
        channel.close()


def test_tel_sms_sim_reads_pdus_by_the_spec_where_gsmmodem_does_not(modem):
    m, sim = modem
    text = "x" * 152 + "@" + "y" * 20  # a full first part ending in '@', which gsmmodem's decoder drops
    assert send_sms(m, "+44 20 7946 0958", text, timeouts=QUICK) == [1, 2]
    assert sim.sms.texts() == [("+442079460958", text)]
    assert [s.tpdu_length for s in sim.sms.messages] == [len(bytes.fromhex(s.pdu_hex)) - 1 for s in sim.sms.messages]


def test_tel_sms_alphabet_is_what_the_encoder_chose():
    from appliance.telephony.sms import sms_alphabet

    for text, alphabet, dcs in (("ok {€}", "gsm7", 0x00), ("Haÿ", "ucs2", 0x08), ("Доставка", "ucs2", 0x08)):
        assert sms_alphabet(text) == alphabet
        [part] = encode_sms("+15550100", text)
        assert data_coding_scheme(bytes.fromhex(part.pdu_hex)) == dcs
