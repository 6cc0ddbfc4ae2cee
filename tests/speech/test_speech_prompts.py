"""Prompt sources: recorded WAVs converted to the line format, broadcast modes, voices by name.

Recordings are made by sox (a real tool, real encoders) in each test's temp dir;
synthesis is the session piper voice.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from appliance.errors import AudioError, SpeechError
from appliance.events import LINE_RATE
from appliance.speech.audio import read_wav, rms_dbfs, write_wav
from appliance.speech.tts.piper import PiperTts
from appliance.speech.tts.prompts import PromptSource, RecordedPrompts, VoiceLibrary, decode_wav

TEMPLATES = {
    ("greet", "say"): "Hello {name}, this is the shop. Your parcel is ready. It is order {order_id}.",
    ("greet", "reprompt"): "Sorry, please say yes or no.",
    ("bye", "say"): "Thank you. Goodbye.",
}


def sox_tone(path: Path, *, rate: int = 44100, channels: int = 2, bits: int = 16, encoding: str = "signed-integer",
             seconds: float = 1.0, freq: int = 440) -> Path:
    subprocess.run(
        ["sox", "-n", "-r", str(rate), "-c", str(channels), "-e", encoding, "-b", str(bits), str(path),
         "synth", str(seconds), "sine", str(freq), "vol", "0.5"],
        check=True, capture_output=True,
    )
    return path


def dominant_hz(pcm: bytes, rate: int) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.argmax(spectrum) * rate / samples.size)


@pytest.fixture
def tts(piper_tts: PiperTts, tmp_path: Path) -> PiperTts:
    return piper_tts.with_settings(cache_dir=tmp_path / "cache")


@pytest.fixture
def recordings(tmp_path: Path) -> RecordedPrompts:
    return RecordedPrompts(tmp_path / "recordings-prompts")


def test_a_44k_stereo_recording_plays_as_8k_mono(tmp_path: Path, recordings: RecordedPrompts) -> None:
    wav = sox_tone(tmp_path / "greet.wav", rate=44100, channels=2, seconds=1.0)
    stored = recordings.save("delivery", "greet", wav.read_bytes())
    assert stored == tmp_path / "recordings-prompts" / "delivery" / "greet.wav"
    pcm = recordings.load("delivery", "greet", line_rate=LINE_RATE)
    assert pcm is not None
    assert abs(len(pcm) // 2 - LINE_RATE) <= 8  # one second at 8 kHz, one channel
    assert abs(dominant_hz(pcm, LINE_RATE) - 440) < 5
    assert -12.0 < rms_dbfs(pcm) < -6.0  # a sine at half scale: -9 dBFS
    wide = recordings.load("delivery", "greet", line_rate=16000)
    assert wide is not None and abs(len(wide) // 2 - 16000) <= 16
    # a new upload replaces what is played
    recordings.save("delivery", "greet", sox_tone(tmp_path / "new.wav", seconds=0.5, freq=1000).read_bytes())
    newer = recordings.load("delivery", "greet", line_rate=LINE_RATE)
    assert newer is not None and abs(dominant_hz(newer, LINE_RATE) - 1000) < 5
    assert recordings.remove("delivery", "greet") and recordings.load("delivery", "greet", line_rate=8000) is None


def test_silence_around_a_recording_is_cut(tmp_path: Path, recordings: RecordedPrompts) -> None:
    padded = tmp_path / "padded.wav"
    subprocess.run(["sox", "-n", "-r", "44100", "-c", "2", "-b", "16", str(padded), "synth", "0.5", "sine", "440",
                    "pad", "1.0", "1.5"], check=True, capture_output=True)
    recordings.save("delivery", "bye", padded.read_bytes())
    pcm = recordings.load("delivery", "bye", line_rate=LINE_RATE)
    assert pcm is not None
    assert 0.5 <= len(pcm) / 2 / LINE_RATE <= 0.5 + 0.04 + 0.08 + 0.01  # the tone and the kept margins
    whole = RecordedPrompts(recordings.root, trim_edges=False).load("delivery", "bye", line_rate=LINE_RATE)
    assert whole is not None and abs(len(whole) / 2 / LINE_RATE - 3.0) < 0.01


@pytest.mark.parametrize(
    ("encoding", "bits", "channels", "rate"),
    [
        ("signed-integer", 24, 6, 48000),  # WAVE_FORMAT_EXTENSIBLE, which Python 3.11's wave cannot read
        ("signed-integer", 32, 2, 22050),
        ("unsigned-integer", 8, 1, 11025),
        ("floating-point", 32, 2, 44100),
        ("mu-law", 8, 1, 8000),
        ("a-law", 8, 1, 8000),
    ],
)
def test_decode_matches_sox_for_every_encoding(tmp_path: Path, encoding: str, bits: int, channels: int,
                                               rate: int) -> None:
    source = sox_tone(tmp_path / "in.wav", rate=rate, channels=channels, bits=bits, encoding=encoding, seconds=0.3)
    reference = tmp_path / "ref.wav"
    subprocess.run(["sox", str(source), "-e", "signed-integer", "-b", "16", "-c", "1", str(reference)],
                   check=True, capture_output=True)
    expected, expected_rate = read_wav(reference)
    samples, got_rate = decode_wav(source.read_bytes())
    assert got_rate == expected_rate == rate
    assert samples.size == expected.size
    error = np.abs(samples * 32768.0 - expected.astype(np.float64))
    tolerance = 0.5 if bits == 8 else 2  # 8-bit codes widen exactly; sox dithers when it narrows wider ones
    assert float(np.max(error)) <= tolerance


def test_bad_recordings_are_rejected_and_not_stored(tmp_path: Path, recordings: RecordedPrompts) -> None:
    good = sox_tone(tmp_path / "good.wav", seconds=0.2).read_bytes()
    cases = {
        b"ID3\x04\x00\x00 not a wav at all": "not a WAV file",
        good[:30]: "broken WAV",  # cut inside the fmt chunk
        good[:44]: "no audio",  # header only
        good[:12] + b"data" + (4).to_bytes(4, "little") + b"\x00" * 4: "no fmt chunk",
    }
    for data, message in cases.items():
        with pytest.raises(AudioError, match=message):
            recordings.save("delivery", "greet", data)
    assert not recordings.has("delivery", "greet")
    adpcm = tmp_path / "adpcm.wav"
    subprocess.run(["sox", str(tmp_path / "good.wav"), "-e", "ima-adpcm", str(adpcm)], check=True, capture_output=True)
    with pytest.raises(AudioError, match="unsupported WAV encoding"):
        recordings.save("delivery", "greet", adpcm.read_bytes())
    with pytest.raises(SpeechError, match="node id"):
        recordings.path("delivery", "../../etc/passwd")
    for kind in ("../x", "Say", "reply./x"):
        with pytest.raises(SpeechError, match="kind"):
            recordings.path("delivery", "greet", kind)
    assert recordings.path("delivery", "greet", "dtmf.#").name == "greet.dtmf.hash.wav"
    assert recordings.path("delivery", "_kb", "answer.fee").name == "_kb.answer.fee.wav"


def test_tts_mode_synthesises_static_prompts_once_and_streams_templated_ones(
    tts: PiperTts, recordings: RecordedPrompts, tmp_path: Path
) -> None:
    recordings.save("delivery", "bye", sox_tone(tmp_path / "bye.wav").read_bytes())
    source = PromptSource(tts, templates=TEMPLATES, mode="tts", recordings=recordings, flow_id="delivery")
    bye = source.render("Thank you. Goodbye.", node="bye")
    assert dominant_hz(bye, LINE_RATE) != pytest.approx(440, abs=5)  # not the recording
    assert tts.cached("Thank you. Goodbye.") == bye  # a static prompt is cached whole
    calls = tts.synth_calls
    assert source.render("Thank you. Goodbye.", node="bye") == bye
    assert tts.synth_calls == calls
    text = "Hello Ann, this is the shop. Your parcel is ready. It is order 77."
    chunks = source.stream(text)
    next(chunks)
    assert tts.synth_calls == calls + 1
    assert len(list(chunks)) == 2
    assert tts.synth_calls == calls + 3
    assert tts.cached(text) is None  # nothing per order on disk


def test_recorded_mode_plays_recordings_and_names_a_missing_one(
    tts: PiperTts, recordings: RecordedPrompts, tmp_path: Path
) -> None:
    recordings.save("delivery", "greet", sox_tone(tmp_path / "a.wav", freq=440).read_bytes())
    recordings.save("delivery", "greet", sox_tone(tmp_path / "b.wav", freq=1000, seconds=0.5).read_bytes(),
                    kind="reprompt")
    source = PromptSource(tts, templates=TEMPLATES, mode="recorded", recordings=recordings, flow_id="delivery")
    say = source.render("Hello Bo, this is the shop. Your parcel is ready. It is order 9.")
    again = source.render("Sorry, please say yes or no.")  # the reprompt, recognised by its text
    assert abs(dominant_hz(say, LINE_RATE) - 440) < 5
    assert abs(dominant_hz(again, LINE_RATE) - 1000) < 5
    assert list(source.stream("Sorry, please say yes or no.", node="greet", kind="reprompt")) == [again]
    assert tts.synth_calls == 0
    assert source.missing_recordings() == [("bye", "say")]
    with pytest.raises(SpeechError, match="node bye has no recorded say prompt"):
        source.render("Thank you. Goodbye.", node="bye")
    with pytest.raises(SpeechError, match="none of its prompts"):
        source.render("Something else entirely.")
    report = source.prerender()
    assert report.total == 0 and tts.synth_calls == 0  # nothing to synthesise ahead


def test_mixed_mode_uses_recordings_where_present(tts: PiperTts, recordings: RecordedPrompts, tmp_path: Path) -> None:
    recordings.save("delivery", "bye", sox_tone(tmp_path / "bye.wav", rate=16000, channels=1).read_bytes())
    source = PromptSource(tts, templates=TEMPLATES, mode="mixed", recordings=recordings, flow_id="delivery")
    report = source.prerender()
    # greet's static sentence and its reprompt; bye is recorded
    assert (report.total, report.rendered) == (2, 2)
    assert tts.cached("Your parcel is ready.") is not None
    assert tts.cached("Sorry, please say yes or no.") is not None
    bye = source.render("Thank you. Goodbye.")  # found by its text
    assert abs(dominant_hz(bye, LINE_RATE) - 440) < 5
    calls = tts.synth_calls
    reprompt = source.render("Sorry, please say yes or no.", node="greet")
    assert rms_dbfs(reprompt) > -30 and tts.synth_calls == calls  # synthesised ahead, served from the cache
    write_wav(tmp_path / "listen.wav", bye)  # the converted recording is a valid line WAV
    assert read_wav(tmp_path / "listen.wav")[1] == LINE_RATE


def test_modes_are_checked(tts: PiperTts, recordings: RecordedPrompts) -> None:
    with pytest.raises(SpeechError, match="broadcast mode"):
        PromptSource(tts, mode="radio")
    with pytest.raises(SpeechError, match="recordings"):
        PromptSource(tts, mode="mixed")
    source = PromptSource(tts, templates=TEMPLATES, mode="mixed", recordings=recordings, flow_id="delivery")
    assert source.locate("Hello X, this is the shop. Your parcel is ready. It is order 1.") == ("greet", "say")
    assert source.locate("Sorry, please say yes or no.") == ("greet", "reprompt")
    assert source.locate("Sorry, please say yes or no.", "bye") is None
    assert source.locate("Thank you. Goodbye.") == ("bye", "say")
    assert source.locate("Something else entirely.") is None
    assert source.render("Something else entirely.")  # not a prompt of the flow: synthesised in mode mixed


def test_voice_library_shares_the_loaded_model(piper_tts: PiperTts, tmp_path: Path) -> None:
    library = VoiceLibrary(piper_tts, search_dirs=[tmp_path / "models"])
    slow = library.tts(length_scale=1.4, volume=0.6)
    named = library.tts(name=piper_tts.loaded.name, line_rate=16000)
    assert slow.loaded is piper_tts.loaded and named.loaded is piper_tts.loaded
    assert (slow.settings.length_scale, slow.settings.volume, slow.line_rate) == (1.4, 0.6, LINE_RATE)
    assert named.line_rate == 16000 and named.cache_dir == piper_tts.cache_dir
    assert len({piper_tts.cache_key("Hi."), slow.cache_key("Hi."), named.cache_key("Hi.")}) == 3
    with pytest.raises(SpeechError, match="no piper voice named 'amy'"):
        library.tts(name="amy")


def test_voice_library_finds_voices_by_name_or_path_and_loads_each_file_once(
    piper_tts: PiperTts, tmp_path: Path
) -> None:
    models = tmp_path / "models" / "amy"
    models.mkdir(parents=True)
    (models / "amy-low.onnx").symlink_to(piper_tts.model_path)  # joe's file under another name
    library = VoiceLibrary(piper_tts, resolve=lambda name: None, search_dirs=[tmp_path / "models"])
    by_name = library.tts(name="amy-low", volume=0.7)
    by_path = library.tts(name=str(models / "amy-low.onnx"), volume=0.7)
    assert by_name is by_path  # one synthesiser per voice and settings
    assert by_name.loaded is piper_tts.loaded  # the same file: not loaded again
    assert by_name.settings.volume == 0.7
    found: list[str] = []
    resolving = VoiceLibrary(piper_tts, resolve=lambda name: found.append(name) or models / "amy-low.onnx")
    assert resolving.tts(name="amy").loaded is piper_tts.loaded and found == ["amy"]
