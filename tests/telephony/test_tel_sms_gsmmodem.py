"""What python-gsmmodem-new 0.13.0's PDU code gets wrong, and that encode_sms works around it.

Each defect test asserts the defect is still there: if a release fixes one, its test fails and the
workaround in appliance/telephony/sms.py can go. The round-trip test decodes with an independent
reading of 3GPP TS 23.040 / 23.038 (below), not only with gsmmodem's decoder.
"""

from __future__ import annotations

import random

import pytest
from gsmmodem.pdu import GSM7_BASIC, GSM7_EXTENDED, decodeSmsPdu, encodeSmsSubmitPdu

from appliance.telephony.sms import encode_sms, from_utf16_units

EXTENDED_BY_CODE = {v: k for k, v in GSM7_EXTENDED.items() if isinstance(v, str)}


def spec_decode(pdu_hex: str) -> tuple[str, tuple[int, int, int] | None]:
    """An SMS-SUBMIT PDU's text and (reference, part, parts), read straight from the octets."""
    raw = bytes.fromhex(pdu_hex)
    i = 1 + raw[0]  # SMSC
    first = raw[i]
    assert first & 0x03 == 0x01, "not SMS-SUBMIT"
    i += 2  # first octet, TP-MR
    digits = raw[i]
    i += 2 + (digits + 1) // 2  # TP-DA
    i += 1  # TP-PID
    dcs = raw[i]
    i += 1
    vpf = (first >> 3) & 0x03
    i += {0: 0, 2: 1, 1: 7, 3: 7}[vpf]
    udl = raw[i]
    ud = raw[i + 1 :]
    assert len(ud) <= 140, "user data longer than one message"
    header_octets = 0
    concat = None
    if first & 0x40:
        udhl = ud[0]
        header_octets = udhl + 1
        if ud[1] == 0x00:
            concat = (ud[3], ud[5], ud[4])
    if dcs == 0x08:
        body = ud[header_octets:]
        assert len(ud) == udl
        return body.decode("utf-16-be", "surrogatepass"), concat
    assert dcs == 0x00
    bits = int.from_bytes(ud, "little")
    skip = (header_octets * 8 + 6) // 7
    septets = [(bits >> (7 * k)) & 0x7F for k in range(skip, udl)]
    out, escape = [], False
    for s in septets:
        if escape:
            out.append(EXTENDED_BY_CODE[chr(s)])
            escape = False
        elif s == 0x1B:
            escape = True
        else:
            out.append(GSM7_BASIC[s])
    return "".join(out), concat


def test_tel_sms_gsmmodem_defect_y_diaeresis_crashes_the_encoder():
    with pytest.raises(TypeError):
        encodeSmsSubmitPdu("+15550100", "L'Haÿ-les-Roses")
    [part] = encode_sms("+15550100", "L'Haÿ-les-Roses")
    assert spec_decode(part.pdu_hex) == ("L'Haÿ-les-Roses", None)
    assert decodeSmsPdu(part.pdu_hex)["text"] == "L'Haÿ-les-Roses"


def test_tel_sms_gsmmodem_defect_characters_outside_the_bmp_crash_the_ucs2_encoder():
    with pytest.raises(ValueError, match="byte must be in range"):
        encodeSmsSubmitPdu("+15550100", "on its way 🚚")
    [part] = encode_sms("+15550100", "on its way 🚚")
    assert spec_decode(part.pdu_hex) == ("on its way 🚚", None)


def test_tel_sms_gsmmodem_defect_decoder_drops_a_trailing_at_sign_of_a_full_part():
    text = "x" * 152 + "@" + "y" * 20  # part 1: 153 septets + header = exactly 140 octets, ending in '@' (0x00)
    parts = encode_sms("+15550100", text, reference=3)
    assert [spec_decode(p.pdu_hex)[0] for p in parts] == [text[:153], text[153:]]  # the encoder is right
    assert decodeSmsPdu(parts[0].pdu_hex)["text"] == "x" * 152  # gsmmodem's decoder loses the '@'


def test_tel_sms_random_texts_round_trip_by_the_spec():
    rnd = random.Random(20261124)
    gsm = GSM7_BASIC.replace("\x1b", "") + "".join(EXTENDED_BY_CODE.values())
    alphabets = {
        "gsm7": gsm,
        "bmp": gsm + "ДЖЯ日本語ïœĀÿ",
        "astral": "ab Д🚚📦😀",
    }
    for round_ in range(600):
        kind = ("gsm7", "bmp", "astral")[round_ % 3]
        text = "".join(rnd.choice(alphabets[kind]) for _ in range(rnd.randint(1, 420)))
        parts = encode_sms("+15550100", text, reference=round_)
        decoded = [spec_decode(p.pdu_hex) for p in parts]
        assert from_utf16_units("".join(t for t, _ in decoded)) == text, (kind, text)
        for p in parts:
            raw = bytes.fromhex(p.pdu_hex)
            assert p.tpdu_length == len(raw) - 1
        if len(parts) == 1:
            assert decoded[0][1] is None
        else:
            assert [c for _, c in decoded] == [(round_ & 0xFF, i, len(parts)) for i in range(1, len(parts) + 1)]
