"""What a directory holds: a vosk model or a piper voice, its language, and whether it loads.

A vosk model has ``am/final.mdl``, ``conf/mfcc.conf``, ``conf/model.conf`` and
a graph (``graph/HCLG.fst`` + ``words.txt``, or the lookahead pair
``graph/HCLr.fst`` + ``Gr.fst``); older models keep ``final.mdl``,
``mfcc.conf`` and ``HCLG.fst`` at the top. A piper voice is ``X.onnx`` beside
``X.onnx.json``, the JSON naming its sample rate and language.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import SpeechError

__all__ = [
    "ModelLayout",
    "check_loads",
    "find_model",
    "identify_model",
    "language_from_name",
    "normalise_language",
    "primary_language",
]

log = logging.getLogger(__name__)

_LANGUAGE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})*")
# vosk's model names use a few codes of their own
_VOSK_LANGUAGE_ALIASES = {"cn": "zh", "ua": "uk", "kz": "kk", "br": "pt-br"}
_CHECK_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class ModelLayout:
    """What a directory holds: a vosk model or a piper voice, and what it says about itself."""

    kind: str
    root: Path
    language: str | None = None
    sample_rate: int | None = None
    voice_file: Path | None = None  # piper: the .onnx


def normalise_language(code: str) -> str:
    """en_US -> en-us; raises SpeechError for something that is not a language tag."""
    cleaned = code.strip().lower().replace("_", "-")
    if not _LANGUAGE.fullmatch(cleaned):
        raise SpeechError(f"{code!r} is not a language code (like en, ko or en-us)")
    return cleaned


def language_from_name(name: str) -> str | None:
    """The language a model's name says: vosk-model-small-en-us-0.15 -> en-us, en_US-joe-medium -> en-us."""
    s = name.lower().replace("_", "-")
    s = re.sub(r"^vosk-model-", "", s)
    s = re.sub(r"^(small|big|large)-", "", s)
    tokens = s.split("-")
    if not re.fullmatch(r"[a-z]{2}", tokens[0]):
        return None
    lang = _VOSK_LANGUAGE_ALIASES.get(tokens[0], tokens[0])
    if len(tokens) > 1 and re.fullmatch(r"[a-z]{2}", tokens[1]) and "-" not in lang:
        lang += "-" + tokens[1]
    return lang


def primary_language(language: str) -> str:
    return language.lower().replace("_", "-").split("-")[0]


def _nonempty(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def _vosk_layout(root: Path) -> ModelLayout | None:
    """A vosk model in ``root``, or None when it does not look like one at all.

    Raises SpeechError when it looks like one but misses a file vosk needs.
    """
    if (root / "am" / "final.mdl").exists():  # the layout of every current vosk model
        needed = [root / "am" / "final.mdl", root / "conf" / "mfcc.conf", root / "conf" / "model.conf"]
        graph = root / "graph"
    elif (root / "final.mdl").exists() and (root / "mfcc.conf").exists():  # the old flat layout
        needed = [root / "final.mdl", root / "mfcc.conf"]
        graph = root
    else:
        return None
    missing = [str(p.relative_to(root)) for p in needed if not _nonempty(p)]
    static = _nonempty(graph / "HCLG.fst")
    lookahead = _nonempty(graph / "HCLr.fst") and _nonempty(graph / "Gr.fst")
    at = "graph/" if graph != root else ""
    if not (static or lookahead):
        missing.append(f"{at}HCLG.fst (or {at}HCLr.fst + {at}Gr.fst)")
    if static and not lookahead and not _nonempty(graph / "words.txt"):
        missing.append(f"{at}words.txt")
    if missing:
        raise SpeechError(f"{root} looks like a vosk model but lacks {', '.join(missing)} (or they are empty)")
    return ModelLayout("vosk", root)


def _piper_layout(root: Path) -> ModelLayout | None:
    voices = sorted(p for p in root.glob("*.onnx") if p.is_file() and not p.name.startswith("."))
    if not voices:
        return None
    paired = [v for v in voices if (root / (v.name + ".json")).is_file()]
    if not paired:
        raise SpeechError(f"{voices[0]} has no {voices[0].name}.json beside it (piper voices come as a pair)")
    if len(paired) > 1:
        names = ", ".join(v.name for v in paired)
        raise SpeechError(f"{root} holds {len(paired)} piper voices ({names}); add them one by one (X.onnx)")
    return _piper_voice(paired[0])


def _piper_voice(onnx: Path) -> ModelLayout:
    config = onnx.with_name(onnx.name + ".json")
    try:
        doc = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SpeechError(f"{config.name} is not a readable JSON file: {exc}") from exc
    if not isinstance(doc, dict):
        raise SpeechError(f"{config.name} is not a piper voice config (not a JSON object)")
    audio = doc.get("audio")
    rate = audio.get("sample_rate") if isinstance(audio, dict) else None
    if not isinstance(rate, int) or isinstance(rate, bool) or rate <= 0:
        raise SpeechError(f"{config.name} names no sample rate (audio.sample_rate); not a piper voice")
    if not _nonempty(onnx):
        raise SpeechError(f"{onnx.name} is empty")
    with onnx.open("rb") as fh:
        if fh.read(1) != b"\x08":  # an ONNX file is a protobuf whose first field is ir_version (tag 0x08)
            raise SpeechError(f"{onnx.name} is not an ONNX model")
    lang = doc.get("language")
    espeak = doc.get("espeak")
    code = (lang.get("code") if isinstance(lang, dict) else None) or (
        espeak.get("voice") if isinstance(espeak, dict) else None
    )
    language = None
    if isinstance(code, str) and code.strip():
        try:
            language = normalise_language(code)
        except SpeechError:
            language = None
    return ModelLayout("piper", onnx.parent, language=language, sample_rate=rate, voice_file=onnx)


def _skipped(name: str) -> bool:
    """Hidden directories, and the AppleDouble copies a Mac puts in every zip it makes."""
    return name.startswith(".") or name == "__MACOSX"


def identify_model(root: Path) -> ModelLayout | None:
    """The model in directory ``root`` (not below it), or None when it holds neither kind."""
    if not root.is_dir():
        return None
    return _vosk_layout(root) or _piper_layout(root)


def find_model(path: Path, *, max_depth: int = 2) -> ModelLayout:
    """The model at ``path`` or in a directory up to ``max_depth`` levels below it.

    A ``.onnx`` file stands for the piper voice it names. Raises SpeechError when
    there is none, or more than one.
    """
    if path.is_file():
        if path.suffix == ".onnx":
            if not path.with_name(path.name + ".json").is_file():
                raise SpeechError(f"{path} has no {path.name}.json beside it (piper voices come as a pair)")
            return _piper_voice(path)
        raise SpeechError(f"{path} is not a model (a directory, an archive or a piper .onnx)")
    found = identify_model(path)
    if found is not None:
        return found
    level = [path]
    for _ in range(max_depth):
        level = sorted(d for p in level for d in p.iterdir() if d.is_dir() and not _skipped(d.name))
        hits = [m for m in (identify_model(d) for d in level) if m is not None]
        if len(hits) > 1:
            roots = ", ".join(str(h.root.relative_to(path)) for h in hits)
            raise SpeechError(f"{path} holds {len(hits)} models ({roots}); add them one by one")
        if hits:
            return hits[0]
    raise SpeechError(
        f"{path} is not a vosk model (am/final.mdl, conf/, graph/) or a piper voice (X.onnx + X.onnx.json)"
    )


def check_loads(layout: ModelLayout, *, label: str | None = None, timeout: float = _CHECK_TIMEOUT_S) -> None:
    """Load the model the way the box will, in a child process; SpeechError with the loader's complaint."""
    if layout.kind == "vosk":
        code = "import sys, vosk\nvosk.SetLogLevel(-1)\nvosk.Model(sys.argv[1])\n"
        target = layout.root
    else:
        code = (
            "import sys, onnxruntime\n"
            "onnxruntime.set_default_logger_severity(3)\n"
            "onnxruntime.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])\n"
        )
        assert layout.voice_file is not None
        target = layout.voice_file
    label = label or target.name
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, str(target)], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise SpeechError(f"{layout.kind} did not finish loading {label} within {timeout:.0f} s") from exc
    if done.returncode != 0:
        lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
        complaint = next((ln for ln in lines if ln.startswith("ERROR")), lines[-1] if lines else "")
        complaint = re.sub(r"^[\w.]+\.(\w+): ", r"\1: ", complaint.replace(str(target), target.name))
        why = complaint or f"exit code {done.returncode}"
        raise SpeechError(f"{layout.kind} could not load {label}: {why}")
    log.info("%s loads %s (%.1f s)", layout.kind, target, time.monotonic() - started)


