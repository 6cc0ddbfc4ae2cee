"""Text messages on every modem family: PDU mode is the same AT+CMGF / AT+CMGS dialogue on each."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gsmmodem.pdu import decodeSmsPdu

from appliance.sim.customer import CustomerScript
from appliance.sim.families import simulated_modem
from appliance.telephony.modem import Modem, ModemTimeouts
from appliance.telephony.profile import load_profile
from appliance.telephony.sms import SmsTimeouts, from_utf16_units, send_sms

FAMILIES = ["huawei-e1550", "quectel-ec25", "quectel-ec25-tty", "simcom-sim7600", "sim800"]
FAST = ModemTimeouts(command=2.0, dial_ack=2.0, hangup=1.0, audio_start=2.0)
QUICK = SmsTimeouts(mode=2.0, prompt=1.0, submit=2.0)


@pytest.fixture(params=FAMILIES)
def opened(request: pytest.FixtureRequest) -> Iterator[tuple[Modem, object]]:
    sim = simulated_modem(request.param, lambda n: CustomerScript("answer"), ring_ms=100)
    sim.start()
    modem = Modem(load_profile(request.param), sim.at_port, sim.audio_port, timeouts=FAST)
    try:
        modem.open()
        yield modem, sim
    finally:
        modem.close()
        sim.stop()


def test_tel_sms_families_gsm7_and_unicode_round_trip(opened: tuple[Modem, object]) -> None:
    modem, sim = opened
    gsm7 = "Your parcel 48210 could not be delivered; call us on 555-0100."
    unicode = "Ваша посылка 48210 🚚 — перезвоните нам"
    assert send_sms(modem, "+15550100", gsm7, timeouts=QUICK) == [1]
    assert send_sms(modem, "+15550100", unicode, timeouts=QUICK) == [2]
    first, second = sim.sms.messages  # type: ignore[attr-defined]
    assert decodeSmsPdu(first.pdu_hex)["text"] == gsm7
    assert from_utf16_units(decodeSmsPdu(second.pdu_hex)["text"]) == unicode
    assert decodeSmsPdu(second.pdu_hex)["number"] == "+15550100"
    # the channel is in step afterwards: an ordinary command still gets its own answer
    assert modem.command("AT+CSQ")[0].startswith("+CSQ:")
