"""Simulated modems (one class reading a table per family, AT + PCM over ptys) and simulated customers."""

from appliance.sim.call import SimCall
from appliance.sim.customer import CustomerScript
from appliance.sim.families import FAMILIES, simulated_modem
from appliance.sim.huawei import SimulatedHuaweiModem
from appliance.sim.modem import SimulatedModem
from appliance.sim.run import default_directory, run_sim_modem

__all__ = [
    "FAMILIES", "CustomerScript", "SimCall", "SimulatedHuaweiModem", "SimulatedModem", "default_directory",
    "run_sim_modem", "simulated_modem",
]
