"""A stored call recording heard again (appliance/speech/recorded.py): the customer's utterance is found in its
stretch of the stereo WAV by the real endpointer (webrtcvad), the bot's echo on the customer's channel is not taken
for it, of two utterances the answer (the last) is, silence is none; a file that is no call recording is refused."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from appliance.errors import AudioError
from appliance.events import LINE_RATE
from appliance.speech.audio import write_wav
from appliance.speech.recorded import PREROLL_MS, TAIL_MS, StereoRecording, find_utterance
from appliance.speech.vad import Endpointer

ASR = Path(__file__).resolve().parents[1] / "fixtures" / "asr"


def speech(name: str) -> np.ndarray:
    with wave.open(str(ASR / name), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def place(length_ms: int, *parts: tuple[int, np.ndarray]) -> np.ndarray:
    out = np.zeros(length_ms * LINE_RATE // 1000, dtype=np.int16)
    for at_ms, samples in parts:
        start = at_ms * LINE_RATE // 1000
        out[start: start + len(samples)] += samples[: len(out) - start]
    return out


def recording(tmp_path: Path, customer: np.ndarray, bot: np.ndarray) -> StereoRecording:
    path = tmp_path / "call.wav"
    write_wav(path, np.stack([customer, bot], axis=1).astype("<i2").tobytes(), channels=2)
    return StereoRecording.read(path)


def ms(samples: np.ndarray) -> int:
    return len(samples) * 1000 // LINE_RATE


def test_the_answer_is_found_where_it_was_said(tmp_path: Path) -> None:
    answer = speech("en-para/para_not_home_04.wav")
    rec = recording(tmp_path, place(7000, (2500, answer)), np.zeros(7000 * 8, dtype=np.int16))
    found = find_utterance(rec, 0, 6000, Endpointer())
    assert found is not None
    start, end = found
    assert 2500 - PREROLL_MS - 100 <= start <= 2500 + 100  # pre-roll before the first voiced frame
    assert 2500 + ms(answer) - 200 <= end <= 2500 + ms(answer) + TAIL_MS + 100
    assert find_utterance(rec, 4500, 6000, Endpointer()) is None  # after it: silence only


def test_the_bots_echo_is_not_the_customer_and_the_last_utterance_is_the_answer(tmp_path: Path) -> None:
    prompt = speech("en/en_call_later_02.wav")  # stands in for the bot's words
    echo = (prompt.astype(np.float64) * 0.3).astype(np.int16)  # -10 dB, 60 ms late: a poor line's echo
    murmur = speech("en/en_confirm_02.wav")  # "Okay." said under the prompt, too short to stop it
    answer = speech("en/en_not_home_03.wav")
    customer = place(9000, (60, echo), (3500, murmur), (6000, answer))
    rec = recording(tmp_path, customer, place(9000, (0, prompt)))
    found = find_utterance(rec, 0, 8500, Endpointer())
    assert found is not None and 6000 - PREROLL_MS - 100 <= found[0] <= 6100
    assert found[1] <= 6000 + ms(answer) + TAIL_MS + 100  # to its last word, not to the end of the stretch
    assert find_utterance(rec, 0, ms(prompt) + 200, Endpointer()) is None  # the echo alone: no utterance
    unheard_bot = recording(tmp_path, customer, np.zeros_like(customer))
    assert find_utterance(unheard_bot, 0, ms(prompt) + 200, Endpointer()) is not None  # the guard needs the bot's side


def test_a_file_that_is_no_call_recording_is_refused(tmp_path: Path) -> None:
    mono = tmp_path / "mono.wav"
    write_wav(mono, speech("en/en_confirm_01.wav").tobytes())
    with pytest.raises(AudioError, match="1 channel"):
        StereoRecording.read(mono)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not a wav at all")
    with pytest.raises(AudioError, match="not a WAV file"):
        StereoRecording.read(junk)
