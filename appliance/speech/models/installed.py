"""Speech models as data: installed under ``<state>/models/<name>/``, checked, named per language.

Two kinds: a vosk model (a directory with ``am/final.mdl``, ``conf/`` and a
``graph/`` — or the older flat layout with ``final.mdl`` at the top) and a
piper voice (``X.onnx`` beside ``X.onnx.json``). :func:`install_model` copies a
directory or unpacks an archive into a temporary directory inside the models
directory (same file system), checks what arrived — the layout, the language,
and that the model really loads, in a child process so that a broken model
cannot take the caller down — and only then renames it into place: a model is
either fully installed or not at all.

:func:`resolve_model` is the one place where a config value (``[speech]
vosk_model`` / ``piper_voice``) becomes a path: a bare name is an installed
model, anything else a path; an empty value picks the installed model of that
kind for the configured language.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from appliance.config import StatePaths
from appliance.errors import SpeechError
from appliance.files import fsync_dir
from appliance.speech.models.files import (
    Progress,
    archive_kind,
    archive_stem,
    copy_files,
    tree_size,
    unpack_archive,
)
from appliance.speech.models.layout import (
    ModelLayout,
    check_loads,
    find_model,
    identify_model,
    language_from_name,
    normalise_language,
    primary_language,
)

__all__ = [
    "KINDS",
    "MANIFEST",
    "InstalledModel",
    "ModelLayout",
    "find_model",
    "identify_model",
    "install_model",
    "language_from_name",
    "list_models",
    "models_dir",
    "remove_model",
    "resolve_model",
]

log = logging.getLogger(__name__)

KINDS = ("vosk", "piper", "whisper")  # whisper: whisper-base, appliance.speech.models.whisper_base
MANIFEST = ".callbox-model.json"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")
_GENERIC_DIRS = {"model", "models", "data", "voice", "voices", "share"}


@dataclass(frozen=True)
class InstalledModel:
    name: str
    kind: str  # "vosk", "piper", or "unknown" for a directory that is neither
    language: str
    path: Path
    size_bytes: int
    source: str = ""
    installed_at: str = ""
    sample_rate: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "language": self.language,
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "source": self.source,
            "installed_at": self.installed_at,
            "sample_rate": self.sample_rate,
        }


def models_dir(state_dir: Path) -> Path:
    return StatePaths(Path(state_dir)).models


def _default_name(source: Path, layout: ModelLayout, scratch: Path | None) -> str:
    """The name a model is installed under when the admin gives none."""
    if layout.kind == "piper":
        assert layout.voice_file is not None
        return layout.voice_file.name[: -len(".onnx")]
    candidates = [layout.root, *layout.root.parents]
    for d in candidates:
        if scratch is not None and (d == scratch or scratch.is_relative_to(d)):
            break  # the archive's own name says more than our temp directory
        if d.name and d.name.lower() not in _GENERIC_DIRS:
            return d.name.replace("_", "-")
    return archive_stem(source).replace("_", "-")


def _piper_files(layout: ModelLayout) -> list[Path]:
    """A piper voice's files: X.onnx, X.onnx.json and the MODEL_CARD beside them when there is one."""
    assert layout.voice_file is not None
    voice = layout.voice_file
    files = [voice, voice.with_name(voice.name + ".json")]
    card = voice.with_name("MODEL_CARD")
    return [*files, card] if card.is_file() else files


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name) or name in (".", ".."):
        raise SpeechError(f"{name!r} is not a usable model name (letters, digits, . _ + -; no slashes)")
    return name


def _manifest(layout: ModelLayout, name: str, language: str, source: Path) -> dict[str, Any]:
    return {
        "name": name,
        "kind": layout.kind,
        "language": language,
        "source": str(source),
        "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sample_rate": layout.sample_rate,
        "voice_file": layout.voice_file.name if layout.voice_file else None,
    }


def _clear_stale(models: Path) -> None:
    """Remove temp directories left by installs that were killed (their process is gone)."""
    for d in models.glob(".incoming-*"):
        try:
            pid = int(d.name.split("-")[1])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError):
            shutil.rmtree(d, ignore_errors=True)
        except PermissionError:
            pass


def install_model(
    state_dir: Path,
    source: Path,
    *,
    name: str | None = None,
    language: str | None = None,
    replace: bool = False,
    load_check: bool = True,
    progress: Progress | None = None,
    notify: Callable[[str], None] | None = None,
) -> InstalledModel:
    """Copy or unpack ``source`` into ``<state>/models/<name>/`` after checking it; all or nothing.

    ``progress(phase, done, total)`` follows the bytes copied or unpacked;
    ``notify(text)`` hears about the slow steps without a byte count (loading the model).
    """
    source = Path(source).expanduser()
    if not source.exists():
        raise SpeechError(f"{source} does not exist")
    if language is not None:
        language = normalise_language(language)
    models = models_dir(state_dir)
    models.mkdir(parents=True, exist_ok=True)
    _clear_stale(models)
    if name is not None:
        _check_name(name)
        if (models / name).exists() and not replace:
            raise SpeechError(f"a model named {name!r} is installed already (--replace to overwrite it)")
    scratch = Path(tempfile.mkdtemp(prefix=f".incoming-{os.getpid()}-", dir=models))
    try:
        if source.is_dir() or source.suffix == ".onnx":
            found = find_model(source)
            if found.kind == "piper":  # only the voice: it may sit in a directory full of other things
                copy_files([(f, PurePosixPath(f.name)) for f in _piper_files(found)], scratch / "model",
                           progress=progress)
            else:
                copy_files(found.root, scratch / "model", progress=progress)
            layout = find_model(scratch / "model", max_depth=0)
            default = _default_name(source, found, None)
        else:
            unpack_archive(source, scratch / "unpacked", progress=progress)
            found = find_model(scratch / "unpacked")
            default = _default_name(source, found, scratch / "unpacked")
            if found.kind == "piper":
                (scratch / "model").mkdir()
                for f in _piper_files(found):
                    os.rename(f, scratch / "model" / f.name)
            else:
                os.rename(found.root, scratch / "model")
                shutil.rmtree(scratch / "model" / "__MACOSX", ignore_errors=True)  # a Mac's AppleDouble shadows
            layout = find_model(scratch / "model", max_depth=0)
        final_name = _check_name(name or default)
        named = [default, final_name, archive_stem(source) if archive_kind(source) else ""]
        lang = language or layout.language or next(filter(None, map(language_from_name, named)), None)
        if not lang:
            raise SpeechError(f"cannot tell the language of {final_name} from its name; say it with --language xx")
        target = models / final_name
        if target.exists() and not replace:
            raise SpeechError(f"a model named {final_name!r} is installed already (--replace to overwrite it)")
        if load_check:
            if notify:
                notify(f"checking that {layout.kind} loads {final_name}")
            check_loads(layout, label=final_name)
        put_in_place(layout.root, _manifest(layout, final_name, lang, source), target, scratch)
    except OSError as exc:
        raise SpeechError(f"installing {source.name} failed: {exc}") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    installed = _read_installed(target)
    log.info("installed %s model %s (%s) from %s", installed.kind, installed.name, installed.language, source)
    return installed


def put_in_place(staged: Path, manifest: dict[str, Any], target: Path, scratch: Path) -> None:
    """Write ``manifest`` into the ``staged`` model folder (fsynced), then rename the folder to ``target``,
    moving an older one aside into ``scratch`` first and back if the rename fails; the models folder is
    fsynced, so the model is there whole or not at all. ``scratch`` is on the same file system."""
    with (staged / MANIFEST).open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(manifest, indent=2) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    if target.exists():
        old = scratch / "replaced"
        os.rename(target, old)
        try:
            os.rename(staged, target)
        except OSError:
            os.rename(old, target)
            raise
    else:
        os.rename(staged, target)
    fsync_dir(target.parent)


def _read_installed(path: Path) -> InstalledModel:
    doc: dict[str, Any] = {}
    try:
        loaded = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        doc = loaded if isinstance(loaded, dict) else {}
    except (OSError, ValueError):
        pass
    kind, language, rate = doc.get("kind"), doc.get("language"), doc.get("sample_rate")
    if kind not in KINDS:  # copied in by hand: look at it
        try:
            layout = identify_model(path)
        except SpeechError:
            layout = None
        kind = layout.kind if layout else "unknown"
        rate = layout.sample_rate if layout else None
        language = language or (layout.language if layout else None) or language_from_name(path.name)
    return InstalledModel(
        name=path.name,
        kind=str(kind),
        language=str(language or "?"),
        path=path,
        size_bytes=tree_size(path),
        source=str(doc.get("source", "")),
        installed_at=str(doc.get("installed_at", "")),
        sample_rate=rate if isinstance(rate, int) else None,
    )


def list_models(state_dir: Path) -> list[InstalledModel]:
    """The installed models, by name (temp and hidden directories left out)."""
    models = models_dir(state_dir)
    if not models.is_dir():
        return []
    return [_read_installed(d) for d in sorted(models.iterdir()) if d.is_dir() and not d.name.startswith(".")]


def remove_model(state_dir: Path, name: str) -> InstalledModel:
    """Delete an installed model; it disappears at once (renamed away first, then deleted)."""
    _check_name(name)
    path = models_dir(state_dir) / name
    if not path.is_dir():
        raise SpeechError(f"no model named {name!r} is installed in {models_dir(state_dir)}")
    gone = _read_installed(path)
    doomed = path.with_name(f".incoming-{os.getpid()}-removing-{name}")
    os.rename(path, doomed)
    shutil.rmtree(doomed, ignore_errors=True)
    log.info("removed model %s", name)
    return gone


def _piper_file(path: Path) -> Path:
    if path.is_dir():
        voices = sorted(p for p in path.glob("*.onnx") if p.is_file() and not p.name.startswith("."))
        if len(voices) == 1:
            return voices[0]
    return path


def resolve_model(state_dir: Path, value: str, kind: str, *, language: str | None = None) -> Path | None:
    """The path a config value names: for vosk the model directory, for piper the ``.onnx`` file.

    ``value`` is a bare name (an installed model; a relative path that exists
    wins for old configs), or a path (absolute, or with a slash). An empty value
    picks the installed model of ``kind`` whose language matches ``language``
    (first by name); None when there is none. The path is not checked to exist
    beyond that: the caller says what is missing.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    value = value.strip()
    if value:
        given = Path(value).expanduser()
        if given.is_absolute() or "/" in value or os.sep in value:
            path = given
        else:
            installed = models_dir(state_dir) / value
            path = installed if installed.exists() or not given.exists() else given
    else:
        if not language:
            return None
        want = primary_language(language)
        matches = [m for m in list_models(state_dir) if m.kind == kind and primary_language(m.language) == want]
        if not matches:
            return None
        path = matches[0].path
    return _piper_file(path) if kind == "piper" else path
