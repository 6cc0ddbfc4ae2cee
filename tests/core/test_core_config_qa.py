"""[qa]: a switch per automatic tag and its thresholds, with the documented defaults; unknown keys and values
that cannot be used are errors naming the key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from appliance.config import QaConfig, load_config, parse_config
from appliance.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "firmware-config" / "callbox.toml.example"


def test_the_defaults_are_every_tag_on_with_the_documented_thresholds() -> None:
    qa = parse_config({}).qa
    assert qa == QaConfig()
    assert all(getattr(qa, f.name) for f in dataclasses.fields(qa) if f.type == "bool")
    assert (qa.min_asr_confidence, qa.min_intent_margin, qa.long_silence_s) == (0.45, 0.35, 6.0)
    assert ("confirm", "not_home") in qa.opposite_intents


def test_the_example_config_spells_out_the_defaults() -> None:
    assert load_config(EXAMPLE).qa == QaConfig()


def test_a_qa_section_is_read() -> None:
    qa = parse_config({"qa": {"asr_error": False, "min_asr_confidence": 0.6, "min_intent_margin": 0,
                              "long_silence_s": 12, "opposite_intents": [["yes", "no"]], "barge_in": False}}).qa
    assert not qa.asr_error and not qa.barge_in and qa.intent_error
    assert (qa.min_asr_confidence, qa.min_intent_margin, qa.long_silence_s) == (0.6, 0.0, 12.0)
    assert qa.opposite_intents == (("yes", "no"),)


@pytest.mark.parametrize(("section", "key", "says"), [
    ({"asr_errors": True}, "qa.asr_errors", "unknown key"),
    ({"long_silence": "yes"}, "qa.long_silence", "must be bool"),
    ({"min_asr_confidence": 1.5}, "qa.min_asr_confidence", "between 0 and 1"),
    ({"min_intent_margin": -0.1}, "qa.min_intent_margin", "between 0 and 1"),
    ({"long_silence_s": 0}, "qa.long_silence_s", "more than 0"),
    ({"opposite_intents": ["confirm", "reject"]}, "qa.opposite_intents", "pairs of names"),
    ({"opposite_intents": [["confirm"]]}, "qa.opposite_intents", "pairs of names"),
    ({"opposite_intents": [["confirm", "confirm"]]}, "qa.opposite_intents[0]", "two different intents"),
    ({"min_asr_confidence": "high"}, "qa.min_asr_confidence", "must be float"),
])
def test_a_bad_qa_value_is_an_error_naming_the_key(section: dict, key: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"qa": section}, file="callbox.toml")
    assert caught.value.key == key and says in str(caught.value)
