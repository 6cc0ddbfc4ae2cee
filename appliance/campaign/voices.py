"""A flow's own prompts for its calls: its voice and settings over the box's defaults, its broadcast mode
(tts / recorded / mixed) and its recorded prompts. The box makes one :class:`FlowPrompts` and hands it to the
call runner in ``SpeechKit.prompts``; a call no longer climbs back up to the composition root for its voice."""

from __future__ import annotations

from appliance.dialog.flow.model import Flow, FlowVoice
from appliance.speech.tts.prompts import PromptSource, RecordedPrompts, VoiceLibrary


class FlowPrompts:
    def __init__(self, voices: VoiceLibrary, recordings: RecordedPrompts) -> None:
        self.voices = voices
        self.recordings = recordings

    def for_flow(self, flow: Flow, *, line_rate: int | None = None) -> PromptSource:
        """The prompt source a call on ``flow`` plays from; SpeechError for a voice that is not installed."""
        v = flow.voice or FlowVoice()
        tts = self.voices.tts(name=v.name, speaker=v.speaker, length_scale=v.length_scale, volume=v.volume,
                              line_rate=line_rate)
        return PromptSource(tts, templates=flow.prompt_templates(), mode=flow.broadcast,
                            recordings=self.recordings, flow_id=flow.id)
