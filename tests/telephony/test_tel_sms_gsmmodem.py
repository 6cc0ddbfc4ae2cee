"""What python-gsmmodem-new 0.13.0's PDU code gets wrong, and that encode_sms works around it.

Each defect test asserts the defect is still there: if a release fixes one, its test fails and the
workaround in appliance/telephony/sms.py can go. The round-trip test decodes with an independent
reading of 3GPP TS 23.040 / 23.038 (the simulator's ``read_submit_pdu``), not with gsmmodem's decoder.
"""

from __future__ import annotations

import random

import pytest
from gsmmodem.pdu import GSM7_BASIC, GSM7_EXTENDED, decodeSmsPdu, encodeSmsSubmitPdu

from appliance.sim.sms import read_submit_pdu
from appliance.telephony.sms import encode_sms, from_utf16_units

EXTENDED_BY_CODE = {v: k for k, v in GSM7_EXTENDED.items() if isinstance(v, str)}


def spec_decode(pdu_hex: str) -> tuple[str, tuple[int, int, int] | None]:
    """Text and (reference, part, parts), by the simulator's own TS 23.040 reader (not gsmmodem's)."""
    pdu = read_submit_pdu(pdu_hex)
    assert pdu.number == "+15550100"
    return pdu.text, pdu.concat


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
    assert spec_decode(part.pdu_hex) == ("on its way \ud83d\ude9a", None)  # a surrogate pair, as phones read it
    assert from_utf16_units(spec_decode(part.pdu_hex)[0]) == "on its way 🚚"


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
