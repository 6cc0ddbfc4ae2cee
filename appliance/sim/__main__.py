"""``python -m appliance.sim`` (wired as ``callbox sim modem``): one simulated modem until Ctrl-C."""

from __future__ import annotations

import sys

from appliance.sim.run import run_sim_modem

if __name__ == "__main__":
    sys.exit(run_sim_modem(sys.argv[1:]))
