"""Text-message figures on the simulated E1550: PDU encoding cost and AT+CMGS round trips over a real pty.

Run: .venv/bin/python bench/tel_sms.py
"""

from __future__ import annotations

import statistics
import time

from appliance.sim.customer import CustomerScript
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.telephony.modem import Modem
from appliance.telephony.profile import load_profile
from appliance.telephony.sms import SmsTimeouts, encode_sms, send_sms

TEXTS = {
    "gsm7, 1 part": "Hello Ada, we could not reach you about order A-7731. Please call Corner Shop back.",
    "ucs2, 1 part": "Здравствуйте! Мы не дозвонились по заказу A-7731 📦",
    "gsm7, 3 parts": "Delivery update. " * 20,
    "ucs2, 3 parts": "Доставка завтра. " * 11,
}


def main() -> None:
    for label, text in TEXTS.items():
        runs = []
        for _ in range(200):
            started = time.perf_counter()
            parts = encode_sms("+15550100", text)
            runs.append((time.perf_counter() - started) * 1000)
        print(f"encode {label:<14} {len(parts)} PDU(s)  median {statistics.median(runs):.3f} ms")
    sim = SimulatedHuaweiModem(lambda n: CustomerScript("answer"))
    sim.start()
    modem = Modem(load_profile("huawei-e1550"), sim.at_port, sim.audio_port)
    modem.open()
    try:
        for label, text in TEXTS.items():
            runs = []
            for _ in range(20):
                started = time.perf_counter()
                send_sms(modem, "+15550100", text, timeouts=SmsTimeouts(submit=5.0))
                runs.append((time.perf_counter() - started) * 1000)
            print(f"send   {label:<14} over the pty: median {statistics.median(runs):.1f} ms, max {max(runs):.1f} ms")
        print(f"the sim accepted {len(sim.sms.messages)} PDUs")
    finally:
        modem.close()
        sim.stop()


if __name__ == "__main__":
    main()
