"""The simulated modem's voice side: its hardware clock.

Every 20 ms on a monotonic clock (the sim is the clock, like a modem's codec)
the clock writes one 320-byte frame of the customer's audio to the voice path
and hands whatever bot audio the driver wrote to the customer, who hears it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from appliance.events import FRAME_BYTES, FRAME_MS
from appliance.sim.call import CallInProgress
from appliance.sim.card import VoicePath
from appliance.sim.faults import SimFaults
from appliance.telephony.rtprio import raise_thread_priority


class VoiceClock:
    def __init__(self, name: str, faults: SimFaults, current_call: Callable[[], CallInProgress | None]) -> None:
        self.name = name
        self.faults = faults
        self.current_call = current_call
        self.frames_sent = 0
        self.frames_dropped = 0  # the driver was not reading: the line dropped them

    def run(self, device: Callable[[], VoicePath], stop: threading.Event) -> None:
        """Tick until ``stop`` or the voice path closes; ``device()`` is the path now (its rate may change)."""
        # This thread is the modem's hardware clock: real time, like the pumps that follow it.
        raise_thread_priority(f"simulated modem {self.name} clock")
        period = FRAME_MS / 1000
        next_tick = time.monotonic()
        inbound = bytearray()  # bot audio written by the driver
        outbound = bytearray()  # customer audio not yet accepted by the device
        while not stop.is_set() and not device().closed:
            next_tick += period
            while (left := next_tick - time.monotonic()) > 0 and not stop.is_set():
                inbound += device().read(left)
            if -left > 0.2:  # fell far behind (paused process): resynchronise, don't burst
                next_tick = time.monotonic()
            run = self.current_call()
            if run is None or not run.audio or run.voice is None:
                inbound.clear()
                outbound.clear()
                continue
            whole = len(inbound) - len(inbound) % FRAME_BYTES
            for i in range(0, whole, FRAME_BYTES):
                frame = bytes(inbound[i : i + FRAME_BYTES])
                if self.faults.downlink_muted:  # fault hook: the customer hears nothing
                    frame = bytes(FRAME_BYTES)
                run.record.heard += frame
                run.voice.hear(frame)
            del inbound[:whole]
            if self.faults.uplink_muted:  # fault hook: nothing reaches the box
                run.voice.speak()
                continue
            if time.monotonic() < run.silent_until:  # fault hook: early answer, still ringing
                outbound += bytes(FRAME_BYTES)
                self.frames_sent += 1
            elif len(outbound) < 8 * FRAME_BYTES:
                outbound += run.voice.speak()
                self.frames_sent += 1
            else:  # the driver is not reading: the line drops audio, whole frames only
                self.frames_dropped += 1
            written = device().write(bytes(outbound))
            del outbound[:written]
