"""What QA needs of each turn, kept by the flow engine: the recogniser's own confidence and the chosen intent's
lead over the runner-up (the NLU's margin), and a barge-in with words kept as the bot's interrupted turn."""

from __future__ import annotations

from engine_flow import new_run

from appliance.dialog.nlu.intents import Candidate, IntentMatch, match_intent
from appliance.dialog.runtime.engine import FlowRun


def customer(run: FlowRun) -> list[tuple[str, str | None, float | None, float | None, str]]:
    return [(t.text, t.intent, t.asr_confidence, t.margin, t.event) for t in run.turns if t.speaker == "customer"]


def test_the_margin_is_the_best_candidates_relative_lead() -> None:
    assert IntentMatch("a", 0.5, {}, (Candidate("a", 0.8), Candidate("b", 0.6))).margin == 0.25
    assert IntentMatch("a", 0.9, {}, (Candidate("a", 0.9),)).margin == 1.0
    assert IntentMatch(None, 0.0, {}, (Candidate("a", 0.0), Candidate("b", 0.0))).margin is None
    assert IntentMatch(None, 0.0, {}).margin is None


def test_a_mixed_answer_has_a_small_margin_and_a_clear_one_a_large_one() -> None:
    run = new_run()
    intents = [run.flow.intents[name] for name in run.flow.intents]
    clear = match_intent("yes I will be home", intents)
    assert clear.intent == "confirm" and clear.margin is not None and clear.margin > 0.6


def test_each_spoken_turn_keeps_its_recognition_confidence_and_margin() -> None:
    run = new_run()
    run.start()
    run.hear("hmm", confidence=0.42)  # nothing matched: a no_match turn, no margin
    run.hear("yes I will be home", confidence=0.875)
    (unheard, heard) = customer(run)
    assert unheard == ("hmm", None, 0.42, None, "no_match")
    text, intent, asr, margin, event = heard
    assert (text, intent, asr, event) == ("yes I will be home", "confirm", 0.875, "speech")
    assert margin is not None and 0.2 <= margin <= 1.0  # the NLU refuses a lead under 0.2


def test_a_knowledge_base_answer_keeps_its_own_margin_and_a_slot_none() -> None:
    run = new_run()
    run.start()
    run.hear("how much is the delivery fee", confidence=0.7)
    run.hear("call me later", confidence=0.9)
    run.hear("tomorrow afternoon", confidence=0.6)
    kb, later, slot = customer(run)
    assert kb[1] == "kb:fee" and kb[4] == "kb" and kb[3] is not None and kb[3] > 0.2
    assert later[1] == "call_later" and later[3] is not None
    assert slot[1] == "slot:when" and slot[2] == 0.6 and slot[3] is None  # a slot's value is no intent choice


def test_keys_and_silence_have_no_recognition_confidence() -> None:
    run = new_run()
    run.start()
    run.no_input()
    run.dtmf("1")
    assert [(t[2], t[3], t[4]) for t in customer(run)] == [(None, None, "no_input"), (None, None, "dtmf")]


def test_words_said_over_a_prompt_keep_the_bots_turn_as_interrupted() -> None:
    run = new_run()
    run.start()
    run.talked_over()
    run.hear("yes I will be home", confidence=0.8)
    assert [(t.speaker, t.text, t.event) for t in run.turns][:3] == [
        ("bot", run.turns[0].text, "prompt"), ("bot", "(interrupted)", "barge_in"),
        ("customer", "yes I will be home", "speech")]
    assert run.finished and run.result.disposition == "confirmed"
