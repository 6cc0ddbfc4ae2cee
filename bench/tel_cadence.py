"""Telephony figures on the simulated E1550: AT round trip, dial-to-answer, audio cadence.

    .venv/bin/python bench/tel_cadence.py [--seconds 10]

Not part of the test run. Prints what it measured.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import numpy as np

from appliance.events import DialOutcome
from appliance.sim import CustomerScript, SimulatedHuaweiModem
from appliance.telephony import Line, Modem, ModemTimeouts, load_profile
from appliance.telephony.supervisor import supervise


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    opts = parser.parse_args()
    sim = SimulatedHuaweiModem(lambda n: CustomerScript("silent", max_call_s=opts.seconds + 30), ring_ms=200)
    sim.start()
    line = Line("bench", Modem(load_profile("huawei-e1550"), sim.at_port, sim.audio_port,
                               timeouts=ModemTimeouts()))
    supervisor = supervise(line)  # started and watched, as the box does
    try:
        rtts = []
        for _ in range(200):
            started = time.perf_counter()
            line.modem.command("AT+CSQ")
            rtts.append((time.perf_counter() - started) * 1000)
        print(f"AT+CSQ round trip over a pty: median {statistics.median(rtts):.2f} ms, "
              f"p99 {np.percentile(rtts, 99):.2f} ms (n=200)")
        ticks: list[float] = []
        lock = threading.Lock()

        def tap(inbound: bytes, outbound: bytes) -> None:
            with lock:
                ticks.append(time.monotonic())

        started = time.monotonic()
        result, call = line.place_call("5550", ring_timeout=5, tap=tap)
        assert result.outcome is DialOutcome.ANSWERED and call is not None
        print(f"dial to answered (ring_ms=200): {(time.monotonic() - started) * 1000:.0f} ms")
        # stream bot audio in 200 ms chunks, like sentence-by-sentence synthesis
        chunk = bytes(3200)
        end = time.monotonic() + opts.seconds
        while time.monotonic() < end:
            call.audio.play(chunk, more=True)
            time.sleep(0.2)
        call.audio.play(b"")
        pump = call.audio
        call.hangup()
        gaps = np.diff(np.array(ticks[5:])) * 1000
        print(f"audio ticks: {pump.frames_in} in / {pump.frames_out} out in {opts.seconds:.0f} s "
              f"(expected {opts.seconds * 50:.0f}); underruns {pump.underruns}; "
              f"inbound drops {pump.dropped_in} (nobody reads them here)")
        print(f"tick interval: mean {gaps.mean():.2f} ms, p50 {np.percentile(gaps, 50):.2f}, "
              f"p99 {np.percentile(gaps, 99):.2f}, max {gaps.max():.2f} ms; "
              f"sim frames sent {sim.frames_sent}, dropped {sim.frames_dropped}")
    finally:
        supervisor.stop()  # and the line
        sim.stop()


if __name__ == "__main__":
    main()
