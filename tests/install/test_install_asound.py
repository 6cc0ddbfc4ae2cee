"""firmware-config/asound.conf loads in alsa-lib (through pyalsaaudio, as the box uses it) without a complaint
and defines the per-line PCM it documents; the same check on a broken file complains, so it can fail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ASOUND = REPO / "firmware-config" / "asound.conf"
LIST = "import alsaaudio; print(' '.join(alsaaudio.pcms()))"


def load(conf: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    top = tmp_path / "top.conf"
    top.write_text(f"</usr/share/alsa/alsa.conf>\n<{conf}>\n")
    return subprocess.run([sys.executable, "-c", LIST], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "ALSA_CONFIG_PATH": str(top)})


def test_the_example_loads_and_defines_gsm0(tmp_path: Path) -> None:
    result = load(ASOUND, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ALSA lib" not in result.stderr, result.stderr
    assert "gsm0" in result.stdout.split()


def test_a_broken_file_is_noticed(tmp_path: Path) -> None:
    broken = tmp_path / "broken.conf"
    broken.write_text(ASOUND.read_text().replace("pcm.gsm0_out {", "pcm.gsm0_out { card"))
    result = load(broken, tmp_path)
    assert "ALSA lib" in result.stderr or "gsm0" not in result.stdout.split()
