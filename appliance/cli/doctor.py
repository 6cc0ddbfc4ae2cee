"""`callbox doctor`: check the config, the state dir, the speech models and the modems."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from appliance.cli.common import config_of, setup_logging
from appliance.cli.models import doctor_model_lines, doctor_packaged_lines
from appliance.config import Config, ShopConfig
from appliance.errors import PortError
from appliance.telephony.probe import probe_modem


def run_doctor(opts: argparse.Namespace) -> int:
    from appliance.speech.asr.hybrid import HybridEngine
    from appliance.speech.build import (  # loads a model: only when the command runs
        build_recogniser,
        recogniser_plan,
        vad_plan,
    )

    setup_logging(0, quiet=True)
    config = config_of(opts)
    problems = 0
    print(f"config: {opts.config or '/etc/callbox/callbox.toml'} (ok)")
    shop = config.shop
    zone = shop.time_zone or "the system's"
    unset = "  (the default: set [shop] name in the config)" if shop.name == ShopConfig().name else ""
    print(f"shop: {shop.name} (language {shop.language}, time zone {zone}, country {shop.country or 'not set'}){unset}")
    state = config.state_dir
    try:
        state.mkdir(parents=True, exist_ok=True)
        probe = state / ".doctor"
        probe.write_text("ok")
        probe.unlink()
        print(f"state dir: {state} (writable)")
    except OSError as exc:
        print(f"state dir: {state} NOT WRITABLE: {exc}")
        problems += 1
    engine = build_recogniser(dataclasses.replace(config.speech, asr_workers=0), config.paths)  # no workers
    try:
        print(f"speech recognition: {engine.name} ({engine.language})")
        if isinstance(engine, HybridEngine):
            grammar, whisper = engine.grammar_engine, engine.whisper_engine
            print(f"  the grammar decoder ({grammar.name}) and {whisper.name} hear every turn; agreement decides")
            engine = grammar
        if engine.fallback_reason:
            print(f"  fallback to PocketSphinx's bundled English model: {engine.fallback_reason}")
    finally:
        engine.close()
    for language in _languages(config):
        print(f"recogniser for {language}: {recogniser_plan(config.speech, config.paths, language)}")
    vad, why = vad_plan(config.speech.vad)
    print(f"turn taking (VAD): {vad}" + (f" instead of {config.speech.vad}: {why}" if why else ""))
    print("\n".join(doctor_model_lines(config) + doctor_packaged_lines(config)))
    if not config.lines:
        print("lines: none configured ([[lines]] in the config)")
    for lc in config.lines:
        ok = Path(lc.at_port).exists() and Path(lc.audio_port).exists()
        print(f"line {lc.name}: {lc.profile} at {lc.at_port} / {lc.audio_port} ({'present' if ok else 'ABSENT'})")
        problems += 0 if ok else 1
        if ok:
            problems += _probe(lc.at_port, lc.profile)
    return 1 if problems else 0


def _languages(config: Config) -> list[str]:
    """``[speech] language`` and the languages of the published flows."""
    from appliance.records.config_store import ConfigStore

    found = {config.speech.language: None}
    if config.paths.configs.exists():
        store = ConfigStore(config.paths.configs)
        try:
            for flow_id in store.flow_ids():
                latest = store.flow(flow_id)
                language = latest[1].get("language") if latest else None
                if isinstance(language, str) and language.strip():
                    found.setdefault(language.strip(), None)
        finally:
            store.close()
    return list(found)


def _probe(at_port: str, profile: str) -> int:
    """Ask a present modem what it is (`callbox modem probe`); 1 if it cannot carry calls for this profile."""
    try:
        found = probe_modem(at_port, timeout=1.0)
    except PortError as exc:
        print(f"  probe: {exc} (is callbox serve running? it holds the port)")
        return 0
    voice = {True: "voice", False: "NO VOICE", None: "voice unknown"}[found.voice]
    reg = "registered" if found.registered else "NOT REGISTERED"
    print(f"  probe: {found.manufacturer} {found.model}, SIM {found.sim}, {reg}, "
          f"signal {found.signal_dbm} dBm, {voice}, profile {found.profile or 'none matched'}")
    bad = not found.responding or found.voice is False or not found.registered
    if found.profile is not None and found.profile != profile and not profile.startswith(found.profile):
        print(f"  the config says profile {profile}, the modem looks like {found.profile}")
        bad = True
    return 1 if bad else 0


def register(commands: Any) -> None:
    doc = commands.add_parser("doctor", help="check the config, state dir, speech models and modems")
    doc.set_defaults(func=run_doctor)
