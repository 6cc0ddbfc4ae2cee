"""Telephony: AT channel, modem profiles, modem driver, audio pump, line state machine."""

from appliance.telephony.audio import AudioPump
from appliance.telephony.line import TRANSITIONS, ActiveCall, IllegalTransition, Line, LineState
from appliance.telephony.modem import Modem, ModemTimeouts
from appliance.telephony.profile import ModemProfile, load_profile

__all__ = [
    "TRANSITIONS",
    "ActiveCall",
    "AudioPump",
    "IllegalTransition",
    "Line",
    "LineState",
    "Modem",
    "ModemProfile",
    "ModemTimeouts",
    "load_profile",
]
