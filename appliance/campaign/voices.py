"""A flow's prompts: its voice and settings over the box's defaults, its broadcast mode, its recordings.

Calls, publishing and the commands ask a :class:`FlowPrompts` for a flow's
:class:`~appliance.speech.tts.prompts.PromptSource`; the composition root builds one per box.
"""

from __future__ import annotations

from appliance.dialog.flow.model import Flow, FlowVoice
from appliance.speech.tts.prompts import PromptSource, VoiceLibrary
from appliance.speech.tts.recorded import RecordedPrompts

__all__ = ["FlowPrompts"]


class FlowPrompts:
    def __init__(self, voices: VoiceLibrary, recordings: RecordedPrompts) -> None:
        self.voices = voices
        self.recordings = recordings  # one per box: it keeps converted audio

    def for_flow(self, flow: Flow, *, line_rate: int | None = None) -> PromptSource:
        """The prompt source a call on ``flow`` plays from; an unknown voice raises ``ConfigError``."""
        v = flow.voice or FlowVoice()
        tts = self.voices.tts(name=v.name, speaker=v.speaker, length_scale=v.length_scale, volume=v.volume,
                              line_rate=line_rate)
        return PromptSource(tts, templates=flow.prompt_templates(), mode=flow.broadcast,
                            recordings=self.recordings, flow_id=flow.id)
