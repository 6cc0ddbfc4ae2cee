"""The simulated Huawei E1550 stick under the name the demo, the benches and the tests know.

:class:`SimulatedHuaweiModem` is the one :class:`~appliance.sim.modem.SimulatedModem`
reading the :data:`~appliance.sim.families.HUAWEI_E1550` table; it adds no behaviour.
"""

from __future__ import annotations

from collections.abc import Callable

from appliance.sim.call import SimCall
from appliance.sim.customer import CustomerScript
from appliance.sim.families import HUAWEI_E1550
from appliance.sim.faults import SimFaults
from appliance.sim.modem import SimulatedModem

__all__ = ["SimCall", "SimulatedHuaweiModem"]


class SimulatedHuaweiModem(SimulatedModem):
    def __init__(
        self,
        directory: Callable[[str], CustomerScript],
        *,
        ring_ms: int = 800,
        orig_delay_ms: int = 30,
        voice_enabled: bool = True,
        echo: bool = True,
        name: str = "sim",
        faults: SimFaults | None = None,
    ) -> None:
        super().__init__(directory, dialect=HUAWEI_E1550, ring_ms=ring_ms, orig_delay_ms=orig_delay_ms,
                         voice_enabled=voice_enabled, echo=echo, name=name, faults=faults)
