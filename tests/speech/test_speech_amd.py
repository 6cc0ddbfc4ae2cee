"""The answer screen (appliance.speech.amd) on synthetic line audio: SIT in both frequency variants, a beep
after speech, and the tones it must not take for either (ringback, DTMF, a lone tone before anyone spoke)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.speech.amd import AmdSettings, AnswerScreen, Cue, ToneFrames

RATE = 8000


def tone(*freqs: float, ms: int, level: float = 8000.0) -> np.ndarray:
    t = np.arange(RATE * ms // 1000) / RATE
    return sum(level / len(freqs) * np.sin(2 * np.pi * f * t) for f in freqs)  # type: ignore[return-value]


def silence(ms: int) -> np.ndarray:
    return np.zeros(RATE * ms // 1000)


def babble(ms: int, seed: int = 1) -> np.ndarray:
    """Voice-like: a 140 Hz buzz through a few moving formants, with syllable-rate loudness."""
    rng = np.random.default_rng(seed)
    t = np.arange(RATE * ms // 1000) / RATE
    f0 = 140 + 20 * np.sin(2 * np.pi * 3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 25))
    voice = voice * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t) ** 2) + 0.05 * rng.standard_normal(t.size)
    return 6000 * voice / np.abs(voice).max()  # type: ignore[no-any-return]


def cues(signal: np.ndarray, screen: AnswerScreen | None = None) -> list[tuple[Cue, int]]:
    screen = screen or AnswerScreen()
    pcm = np.clip(signal, -32768, 32767).astype("<i2").tobytes()
    out = []
    for i in range(0, len(pcm) - 319, 320):
        cue = screen.feed(pcm[i : i + 320])
        if cue is not None:
            out.append((cue, screen.elapsed_ms))
    return out


def sit(low: bool = True) -> np.ndarray:
    if low:
        return np.concatenate([tone(913.8, ms=274), tone(1370.6, ms=274), tone(1776.7, ms=380)])
    return np.concatenate([tone(985.2, ms=380), tone(1428.5, ms=274), tone(1776.7, ms=380)])


def test_sit_low_and_high_are_heard_within_a_second() -> None:
    for low in (True, False):
        heard = cues(np.concatenate([silence(200), sit(low), silence(500)]))
        assert heard and heard[0][0] is Cue.SIT, heard
        assert heard[0][1] <= 1200


def test_a_beep_after_speech_is_a_beep_and_a_lone_tone_is_not() -> None:
    heard = cues(np.concatenate([silence(200), babble(1500), silence(300), tone(1000, ms=500), silence(500)]))
    assert [c for c, _ in heard] == [Cue.BEEP]
    assert cues(np.concatenate([silence(200), tone(1000, ms=500), silence(500)])) == []  # nobody spoke first


def test_a_short_sit_length_beep_after_speech_is_decided_once_no_second_segment_follows() -> None:
    heard = cues(np.concatenate([silence(200), babble(1000), silence(200), tone(985.0, ms=300), silence(400)]))
    assert [c for c, _ in heard] == [Cue.BEEP]


def test_ringback_and_dtmf_are_neither_beep_nor_sit_nor_speech() -> None:
    ringback = np.concatenate([tone(425, ms=1000), silence(1000)] * 3)  # Europe's 425 Hz (faster than its 1-4)
    dtmf = np.concatenate([tone(770, 1336, ms=300), silence(200)] * 3)  # "5" pressed three times
    for signal in (ringback, dtmf):
        assert cues(np.concatenate([babble(800), silence(300), signal])) == []
    # the US ringback (440 + 480 Hz, 2 s on, 4 s off) before anyone speaks
    assert cues(np.concatenate([tone(440, 480, ms=2000), silence(4000)] * 2)) == []


def test_steady_line_noise_is_not_speech_but_a_voice_over_it_is() -> None:
    noise = np.random.default_rng(3).standard_normal(RATE * 6) * 600  # -35 dBFS of hiss, above VOICED_RMS
    assert cues(noise) == []  # not one long greeting
    screen = AnswerScreen()
    voice = noise.copy()
    voice[RATE : RATE * 5] += babble(4000)
    heard = cues(voice, screen)
    assert [c for c, _ in heard] == [Cue.LONG_SPEECH] and screen.speech_ms >= 2800


def test_long_speech_is_flagged_once_after_the_machine_threshold() -> None:
    screen = AnswerScreen(AmdSettings(machine_speech_ms=2800))
    heard = cues(np.concatenate([silence(300), babble(4000)]), screen)
    assert len(heard) == 1 and heard[0][0] is Cue.LONG_SPEECH and 3000 <= heard[0][1] <= 3300
    assert cues(np.concatenate([silence(300), babble(2000), silence(1000)])) == []


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1), st.floats(min_value=200, max_value=12000))
def test_noise_is_never_a_tone(seed: int, level: float) -> None:
    x = np.random.default_rng(seed).standard_normal(160) * level
    freq, _ = ToneFrames().measure(np.clip(x, -32768, 32767).astype(np.int16))
    assert freq is None


@settings(max_examples=40, deadline=None)
@given(st.floats(min_value=700, max_value=2600), st.floats(min_value=0, max_value=6.28))
def test_a_pure_tone_in_the_band_is_found_within_its_filter_spacing(freq: float, phase: float) -> None:
    t = np.arange(160) / RATE
    found, _ = ToneFrames().measure((8000 * np.sin(2 * np.pi * freq * t + phase)).astype(np.int16))
    assert found is not None and abs(found - freq) <= 15
