"""Simulated modems (AT dialect + PCM over ptys) and simulated customers."""

from appliance.sim.customer import CustomerScript
from appliance.sim.huawei import SimCall, SimulatedHuaweiModem
from appliance.sim.run import default_directory, run_sim_modem

__all__ = ["CustomerScript", "SimCall", "SimulatedHuaweiModem", "default_directory", "run_sim_modem"]
