"""Calls seeded as the box stores them, for the re-analysis tests: the ticket, its task, the call row, the stereo
recording written by the box's own recorder (customer left, bot right) and the conclusion with its turns, each
turn's time counted from the answer as the conversation counts it."""

from __future__ import annotations

import wave
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from appliance.dialog.nlu.strength import intent_strength
from appliance.records.conclusion import CallEnd, Conclusion, TaskEnd, Turn
from appliance.records.recordings import StereoRecorder, recording_path
from appliance.records.store import RecordsStore, Ticket

RATE = 8000
FLOW = "delivery-confirmation"
GREET = "Will someone be home to receive it?"


def pcm(path: Path) -> bytes:
    """A mono fixture at the line rate as 16-bit PCM."""
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (1, RATE, 2)
        return w.readframes(w.getnframes())


@dataclass
class SeededCall:
    """One call: its turns, the audio on each channel at a time (ms from the answer), the call's length."""

    turns: list[Turn]
    customer: list[tuple[int, bytes]] = field(default_factory=list)
    bot: list[tuple[int, bytes]] = field(default_factory=list)
    length_ms: int = 0
    disposition: str | None = "confirmed"
    outcome: str = "completed"
    flow: str = FLOW
    recorded: bool = True


def answered_call(said: bytes, *, heard: str, intent: str | None, prompt: bytes, reply: bytes,
                  disposition: str = "confirmed", flow: str = FLOW) -> SeededCall:
    """The greeting's question, one answer (``said`` on the customer's channel; ``heard``/``intent`` what the box
    stored for it) and the bot's goodbye: timed as a live call is (the answer's turn is stored when its
    recognition ends, the end-of-turn silence and a decode after the customer stopped)."""
    prompt_ms = len(prompt) * 1000 // (2 * RATE)
    said_at = prompt_ms + 500
    turn_ms = said_at + len(said) * 1000 // (2 * RATE) + 700 + 300
    reply_ms = len(reply) * 1000 // (2 * RATE)
    turns = [Turn("bot", GREET, node="greet", at_ms=0, event="prompt"),
             Turn("customer", heard, intent, 0.9 if intent else None, "greet", turn_ms,
                  "speech" if intent else "no_match"),
             Turn("bot", "Great. Goodbye.", node=disposition, at_ms=turn_ms, event="hangup")]
    return SeededCall(turns, customer=[(said_at, said)], bot=[(0, prompt), (turn_ms, reply)],
                      length_ms=turn_ms + reply_ms + 300, disposition=disposition, flow=flow)


def _channel(parts: list[tuple[int, bytes]], length_ms: int) -> np.ndarray:
    out = np.zeros(length_ms * RATE // 1000, dtype=np.int16)
    for at_ms, audio in parts:
        samples = np.frombuffer(audio, dtype="<i2")
        start = at_ms * RATE // 1000
        out[start: start + len(samples)] = samples[: len(out) - start]
    return out


def seed(store: RecordsStore, recordings: Path, call: SeededCall, *, ticket: str, phone: str = "+15550100") -> int:
    """Store ``call`` as the box would have; returns its id."""
    t = Ticket(ticket, "delivery", "Parcel", "", "Alex", phone, "A1234", "shipped")
    store.submit_ticket(t, webhook_id=f"m-{ticket}", decision="call", reason="test", flow_id=call.flow,
                        max_attempts=3)
    task = store.claim_due_task(datetime.now(UTC))
    assert task is not None and task.ticket_id == ticket
    call_id = store.start_call(task=task, phone=phone, line="sim0", flow_version=1)
    path = None
    if call.recorded:
        path = recording_path(recordings, phone, call_id, datetime.now(UTC).astimezone())
        recorder = StereoRecorder(path)
        recorder.write(_channel(call.customer, call.length_ms).tobytes(), _channel(call.bot, call.length_ms).tobytes())
        recorder.close()
    store.mark_answered(call_id, recording=path)
    strength = intent_strength(call.turns, disposition=call.disposition, ended_by="flow").to_dict()
    store.record_conclusion(Conclusion(
        task=TaskEnd(task.id, "completed", call.outcome), ticket_id=ticket, call_id=call_id,
        call=CallEnd(call.outcome, None, call.disposition, "", tuple(call.turns), {}, strength)))
    return call_id
