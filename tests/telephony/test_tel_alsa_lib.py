"""The ALSA transport through the real alsa-lib and pyalsaaudio, without a sound card.

alsa-lib's ``file`` plugin stands in for the card (an ``asym`` PCM: capture
reads a raw file, playback writes another), with the ``null`` PCM underneath. The PCM
is defined in ``~/.asoundrc``, so each check runs in a child process whose HOME
is a temporary folder (alsa-lib reads its configuration once per process). The
``null`` PCM does not keep time, so this shows the data path and the open /
parameters / close handling, not the 20 ms pacing a real card gives.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ASOUNDRC = """
pcm.callboxtest {{
    type asym
    playback.pcm "callboxplay"
    capture.pcm "callboxcapture"
}}
pcm.callboxplay {{
    type file
    slave.pcm "null"
    file "{out}"
    format "raw"
}}
pcm.callboxcapture {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "{inp}"
    format "raw"
}}
"""

CHILD = r"""
import json, sys
from appliance.errors import PortError
from appliance.telephony.audio import open_audio_transport
result = {}
transport = open_audio_transport(sys.argv[1])
transport.open()
got = b"".join(transport.read(320) for _ in range(10))
for k in range(5):
    transport.write(bytes([k + 1, 0]) * 160)
transport.close()
result["captured"] = got.hex()
try:
    open_audio_transport("alsa:plug:nosuchcard").open()
except PortError as exc:
    result["error"] = str(exc)
print(json.dumps(result))
"""


def run_child(tmp_path: Path, spec: str) -> dict[str, str]:
    env = {**os.environ, "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", CHILD, spec], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_tel_alsa_transport_reads_and_writes_through_alsa_lib(tmp_path: Path) -> None:
    tone = (np.sin(np.arange(1600) * 2 * np.pi * 440 / 8000) * 8000).astype("<i2").tobytes()
    (tmp_path / "in.raw").write_bytes(tone)
    (tmp_path / ".asoundrc").write_text(ASOUNDRC.format(out=tmp_path / "out.raw", inp=tmp_path / "in.raw"))
    result = run_child(tmp_path, "alsa:plug:callboxtest")
    assert bytes.fromhex(result["captured"]) == tone[:3200]  # ten 20 ms periods, in order, nothing lost
    written = (tmp_path / "out.raw").read_bytes()
    played = b"".join(bytes([k + 1, 0]) * 160 for k in range(5))
    prefill = written[: len(written) - len(played)]
    assert written.endswith(played)
    assert set(prefill) <= {0} and len(prefill) % 320 == 0  # whole periods of silence queued before the first
    assert "cannot open ALSA device plug:nosuchcard" in result["error"]
