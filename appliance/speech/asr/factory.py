"""The choice of recognition engine: vosk when its model loads, else PocketSphinx, in worker processes if asked.

The engines implement :class:`~appliance.speech.asr.base.AsrEngine`; this module is where one is chosen
(the worker process builds the engine it was told to, :class:`~appliance.speech.asr.worker.EngineSpec`).
No engine imports it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from appliance.errors import SpeechError
from appliance.speech.asr.base import AsrEngine
from appliance.speech.asr.sphinx import PocketSphinxEngine
from appliance.speech.asr.vosk import VoskEngine
from appliance.speech.asr.worker import EngineSpec, WorkerEngine

__all__ = ["load_engine"]

log = logging.getLogger(__name__)


def load_engine(*, vosk_model_dir: Path | None, language: str, workers: int = 0) -> AsrEngine:
    """vosk on ``vosk_model_dir`` when it loads; otherwise PocketSphinx (English), saying why.

    The reason is logged as a WARNING and kept in ``engine.fallback_reason`` so
    ``callbox doctor`` and the panel can show it. With ``workers`` > 0 PocketSphinx
    decodes in that many worker processes (:mod:`appliance.speech.asr.worker`): its
    binding holds the GIL while it decodes, which would stall the audio pump. vosk
    releases the GIL and always runs in this process (its model is shared by every line).
    """
    reason: str
    if vosk_model_dir is None:
        reason = f"no vosk model is configured for language {language!r}"
    elif not Path(vosk_model_dir).is_dir():
        reason = f"vosk model directory {vosk_model_dir} does not exist"
    else:
        try:
            return VoskEngine(Path(vosk_model_dir), language)
        except SpeechError as exc:
            reason = str(exc)
    if language.split("-")[0].lower() != "en":
        reason += f"; PocketSphinx only knows English, so {language!r} speech will not be understood"
    log.warning("speech recognition falls back to PocketSphinx (bundled en-us model): %s", reason)
    if workers > 0:
        return WorkerEngine(EngineSpec("pocketsphinx", "en", fallback_reason=reason), workers=workers)
    return PocketSphinxEngine(language="en", fallback_reason=reason)
