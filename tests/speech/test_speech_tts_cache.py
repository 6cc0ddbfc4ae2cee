"""piper prompt cache and streaming: what the key is made of, no synthesis on a hit, sentence streaming.

Synthesis is counted on real PiperTts objects (``synth_calls``: one per piper run).
Each test takes a fresh view of the session voice (``with_settings``: same loaded
model, own counter, own cache directory), so no model is loaded per test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.errors import SpeechError
from appliance.events import LINE_RATE
from appliance.speech.audio import rms_dbfs
from appliance.speech.tts.piper import (
    SENTENCE_GAP_S,
    LoadedVoice,
    PiperTts,
    default_voice,
    quick_start_split,
    split_sentences,
)
from appliance.speech.tts.prompts import prerender, prerender_texts


@pytest.fixture
def tts(piper_tts: PiperTts, tmp_path: Path) -> PiperTts:
    return piper_tts.with_settings(cache_dir=tmp_path / "cache")


@pytest.fixture(scope="module")
def two_speaker_voice(tmp_path_factory: pytest.TempPathFactory) -> LoadedVoice:
    """joe's model under a config that claims two named speakers: only its cache keys are used."""
    model, config = default_voice()
    doc = json.loads(config.read_text(encoding="utf-8"))
    doc["num_speakers"] = 2
    doc["speaker_id_map"] = {"ann": 0, "bob": 1}
    path = tmp_path_factory.mktemp("two-speakers") / "two.onnx.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return LoadedVoice(model, path)


def _seconds(pcm: bytes, rate: int = LINE_RATE) -> float:
    return len(pcm) / (2 * rate)


def test_second_render_of_a_static_prompt_does_no_synthesis(tts: PiperTts) -> None:
    text = "Your parcel is ready. Please collect it at the counter."
    first = tts.render(text)
    assert tts.synth_calls == 2  # one piper run per sentence
    assert tts.render(text) == first
    assert tts.synth_calls == 2
    # a new synthesiser on the same cache (a restart) does not synthesise either
    again = tts.with_settings()
    assert again.synth_calls == 0
    assert again.render(text) == first
    assert list(again.stream(text)) == [first]
    assert again.synth_calls == 0


def test_key_changes_with_speed_volume_noise_rate_and_text(tts: PiperTts) -> None:
    text = "Will someone be at home tomorrow?"
    base = tts.cache_key(text)
    variants = {
        "speed": tts.with_settings(length_scale=1.3),
        "volume": tts.with_settings(volume=0.5),
        "noise": tts.with_settings(noise_scale=0.3),
        "noise_w": tts.with_settings(noise_w_scale=0.3),
        "rate": tts.with_settings(line_rate=16000),
    }
    keys = {name: v.cache_key(text) for name, v in variants.items()}
    assert base not in keys.values()
    assert len(set(keys.values())) == len(keys)
    assert tts.cache_key(text + " ") != base
    # the voice's own defaults spelt out give the same audio, hence the same key
    assert tts.with_settings(length_scale=1.0, noise_scale=0.667, noise_w_scale=0.8).cache_key(text) == base
    assert tts.key_parts(text)["voice"] == tts.loaded.digest
    # a miss under other settings: the slower voice renders, the base one still hits
    tts.render(text)
    slow = variants["speed"]
    slow.render(text)
    assert slow.synth_calls == 1
    assert tts.cached(text) is not None and slow.cached(text) is not None
    assert tts.cached(text) != slow.cached(text)


def test_key_changes_with_speaker_and_voice_content(tts: PiperTts, two_speaker_voice: LoadedVoice) -> None:
    text = "Hello."
    ann = PiperTts(two_speaker_voice.model_path, loaded=two_speaker_voice, speaker="ann")
    bob = PiperTts(two_speaker_voice.model_path, loaded=two_speaker_voice, speaker="bob")
    default = PiperTts(two_speaker_voice.model_path, loaded=two_speaker_voice)
    assert (ann.speaker, bob.speaker) == (0, 1)
    assert ann.cache_key(text) != bob.cache_key(text)
    assert default.cache_key(text) == ann.cache_key(text)  # no speaker: the voice's default, #0
    # same model file, another config: another voice identity
    assert two_speaker_voice.digest != tts.loaded.digest
    assert ann.cache_key(text) != tts.cache_key(text)
    with pytest.raises(SpeechError, match="speaker"):
        PiperTts(two_speaker_voice.model_path, loaded=two_speaker_voice, speaker="carol")
    with pytest.raises(SpeechError, match="2 speaker"):
        PiperTts(two_speaker_voice.model_path, loaded=two_speaker_voice, speaker=2)


def test_wideband_render_is_at_16khz(tts: PiperTts) -> None:
    wide = tts.with_settings(line_rate=16000)
    pcm = wide.render("Thank you, goodbye.")
    assert 0.6 < _seconds(pcm, 16000) < 2.5
    assert rms_dbfs(pcm) > -30.0
    assert wide.cached("Thank you, goodbye.") == pcm
    assert tts.cached("Thank you, goodbye.") is None  # the 8 kHz entry is another key


def test_stream_yields_the_first_sentence_before_synthesising_the_rest(tts: PiperTts) -> None:
    chunks = tts.stream("Thank you. We will call again tomorrow. Goodbye.")
    first = next(chunks)
    assert tts.synth_calls == 1  # the other two sentences are not rendered yet
    assert rms_dbfs(first) > -30.0
    rest = list(chunks)
    assert tts.synth_calls == 3
    assert len(rest) == 2
    gap = int(SENTENCE_GAP_S * LINE_RATE) * 2
    assert all(c[:gap] == b"\x00" * gap for c in rest)  # a pause before each later sentence
    assert tts.cache_dir is not None and not list(tts.cache_dir.glob("*.pcm"))  # streaming never writes


def test_stream_cuts_a_long_uncached_first_sentence_at_its_comma(tts: PiperTts) -> None:
    chunks = tts.stream("Hello Maria, this is the bike shop calling about your order 4471. Goodbye.")
    first = next(chunks)
    assert tts.synth_calls == 1
    assert _seconds(first) < 1.5  # "Hello Maria," alone
    rest = list(chunks)
    assert tts.synth_calls == 3 and len(rest) == 2


def test_static_sentences_of_a_templated_prompt_come_from_the_cache(tts: PiperTts) -> None:
    template = "Your order {order_id} is ready. The shop is open until six. See you soon."
    assert prerender_texts([template]) == ["The shop is open until six.", "See you soon."]
    prerender(tts, [template])
    assert tts.synth_calls == 2
    chunks = list(tts.stream(template.format(order_id="4471")))
    assert len(chunks) == 3
    assert tts.synth_calls == 3  # only the sentence with the order number was synthesised
    cached = tts.cached("The shop is open until six.")
    assert cached is not None and chunks[1].endswith(cached)


def test_prerender_fills_the_cache_and_reports_progress(tts: PiperTts) -> None:
    texts = ["Goodbye.", "Hello {name}. How are you?", "Goodbye.", "Thanks, bye."]
    seen: list[tuple[int, int, str]] = []
    report = prerender(tts, texts, progress=lambda done, total, text: seen.append((done, total, text)))
    assert seen == [(1, 3, "Goodbye."), (2, 3, "How are you?"), (3, 3, "Thanks, bye.")]
    assert (report.total, report.rendered, report.cached) == (3, 3, 0)
    assert tts.synth_calls == 3
    again = prerender(tts, texts)
    assert (again.rendered, again.cached) == (0, 3)
    assert tts.synth_calls == 3
    assert all(tts.cached(t) for _, _, t in seen)
    with pytest.raises(SpeechError, match="cache"):
        prerender(PiperTts(tts.model_path, loaded=tts.loaded), texts)


def test_split_sentences() -> None:
    assert split_sentences("  One. Two!  Three? Four ") == ["One.", "Two!", "Three?", "Four"]
    assert split_sentences("Order 4.5 kg. Next") == ["Order 4.5 kg.", "Next"]
    assert split_sentences("") == []


def test_stream_with_store_caches_the_whole_prompt_only_once_it_has_all_played(tts: PiperTts) -> None:
    text = "Thank you for waiting. Goodbye."
    chunks = tts.stream(text, store=True)
    first = next(chunks)
    assert tts.synth_calls == 1
    chunks.close()  # the customer talked over it: nothing half-made goes into the cache
    assert tts.cached(text) is None
    parts = list(tts.stream(text, store=True))
    assert len(parts) == 2 and rms_dbfs(first) > -30.0
    assert tts.cached(text) == b"".join(parts)
    calls = tts.synth_calls
    assert list(tts.stream(text, store=True)) == [b"".join(parts)]
    assert tts.synth_calls == calls


def test_quick_start_cuts_where_the_rest_is_ready_in_time() -> None:
    sentence = "Hello Maria, this is the bike shop, calling about your order 4471 and the invoice."
    # a fast voice: the first comma; the rest is ready before "Hello Maria," has played
    assert quick_start_split(sentence, 0.1) == ("Hello Maria,", "this is the bike shop, calling about your order "
                                                "4471 and the invoice.")
    # a slow machine: a later comma, so the pause at the cut stays short
    cut = quick_start_split(sentence, 0.35)
    assert cut is not None and cut[0] == "Hello Maria, this is the bike shop,"
    # hopeless: still cut where the wait is shortest (a long pause at a comma beats a late start)
    assert quick_start_split(sentence, 5.0) == ("Hello Maria, this is the bike shop,",
                                                "calling about your order 4471 and the invoice.")
    assert quick_start_split("Hello, this is it.", 0.1) is None  # short sentences are not cut
    assert quick_start_split("This sentence has no comma anywhere in it at all.", 0.1) is None
