"""`callbox sms` against the simulated modem: what it prints, and the PDU the modem received."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from gsmmodem.pdu import decodeSmsPdu

from appliance.cli.sms import run_sms_command
from appliance.errors import AtCommandError, CallboxError
from appliance.sim.customer import CustomerScript
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.telephony.sms import from_utf16_units


@pytest.fixture
def sim() -> Iterator[SimulatedHuaweiModem]:
    modem = SimulatedHuaweiModem(lambda n: CustomerScript("answer"), echo=True)
    modem.start()
    yield modem
    modem.stop()


def test_int_sms_cli_json_record_and_what_the_modem_got(sim: SimulatedHuaweiModem) -> None:
    out = io.StringIO()
    text = "Ваш заказ 48210 доставлен? " * 3  # 81 UCS2 units: two parts
    code = run_sms_command(
        "+1 555 0100", text, at_port=sim.at_port, profile="huawei-e1550", as_json=True, command_timeout=2.0, out=out
    )
    assert code == 0
    record = json.loads(out.getvalue())
    assert record == {"to": "+15550100", "text": text, "alphabet": "ucs2", "parts": 2, "references": [1, 2]}
    got = "".join(decodeSmsPdu(m.pdu_hex)["text"] for m in sim.sms.messages)
    assert from_utf16_units(got) == text
    assert [m.number for m in sim.sms.messages] == ["+15550100", "+15550100"]


def test_int_sms_cli_plain_output_without_a_profile(sim: SimulatedHuaweiModem) -> None:
    out = io.StringIO()
    assert run_sms_command("5550100", "hello", at_port=sim.at_port, command_timeout=2.0, out=out) == 0
    assert out.getvalue().strip() == "sent to 5550100 in 1 part(s) (gsm7), message reference(s) 1"
    assert sim.sms.texts() == [("5550100", "hello")]


def test_int_sms_cli_refusal_and_bad_input_are_callbox_errors(sim: SimulatedHuaweiModem) -> None:
    sim.sms.refuse = "+CMS ERROR: 38"
    with pytest.raises(AtCommandError, match="CMS ERROR: 38"):
        run_sms_command("+15550100", "hello", at_port=sim.at_port, command_timeout=2.0, out=io.StringIO())
    with pytest.raises(CallboxError, match="not a phone number"):
        run_sms_command("call me", "hello", at_port=sim.at_port, out=io.StringIO())
    with pytest.raises(CallboxError, match="empty"):
        run_sms_command("+15550100", "", at_port=sim.at_port, out=io.StringIO())
    assert sim.sms.messages == []


def test_int_sms_cli_through_callbox_main(sim: SimulatedHuaweiModem, capsys: pytest.CaptureFixture[str]) -> None:
    from appliance.cli import main

    assert main(["sms", "+15550100", "Parcel 48210: we missed you", "--at-port", sim.at_port, "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["references"] == [1] and record["alphabet"] == "gsm7"
    assert sim.sms.texts() == [("+15550100", "Parcel 48210: we missed you")]
    sim.sms.refuse = "+CMS ERROR: 500"
    assert main(["sms", "+15550100", "again", "--at-port", sim.at_port, "--profile", "huawei-e1550"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("callbox: ") and "+CMS ERROR: 500" in err and err.count("\n") == 1
