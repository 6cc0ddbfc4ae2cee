"""The automatic QA tags as a pure function: each tag on a call built to trigger it and on one built not to, the
switches and thresholds of [qa], the silence worked out from no-input turns, and ``conclude`` handing the tags to
the call's end."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from appliance.campaign.attempt import Outcome
from appliance.campaign.conclude import AttemptResult, conclude
from appliance.campaign.qa import RULES, CallFacts, silence_from_no_input, tag_call
from appliance.config import QaConfig, RetryConfig
from appliance.records.conclusion import Turn
from appliance.records.qa import AUTO_TAGS, SEVERITY
from appliance.records.store import TaskRow, Ticket
from appliance.records.talk import TalkTally
from web.openapi_qa import AUTO_TAGS as DOCUMENTED_TAGS

QA = QaConfig()


def bot(text: str = "Will someone be home tomorrow?", node: str = "greet", event: str = "prompt") -> Turn:
    return Turn("bot", text, node=node, event=event)


def said(text: str, intent: str | None = None, *, node: str = "greet", event: str = "speech", asr: float | None = 0.9,
         margin: float | None = None) -> Turn:
    """A customer turn as the engine stores it: a matched intent has a margin (1.0 unless given)."""
    if intent is not None and margin is None and not intent.startswith(("kb:", "slot:")):
        margin = 1.0
    return Turn("customer", text, intent, 0.8 if intent else None, node, event=event, asr_confidence=asr,
                margin=margin)


def pressed(digits: str, intent: str | None, *, node: str = "greet") -> Turn:
    return Turn("customer", digits, intent, 1.0 if intent else None, node, event="dtmf" if intent else "no_match")


def silent(node: str = "greet") -> Turn:
    return Turn("customer", "", None, None, node, event="no_input")


GOODBYE = bot("Thank you. Your parcel arrives tomorrow. Goodbye.", "confirmed", "hangup")


def call(*turns: Turn, outcome: str = "completed", disposition: str | None = "confirmed", ended: bool = True,
         silence_ms: int | None = None, ended_by: str | None = None) -> CallFacts:
    return CallFacts(tuple(turns), outcome, disposition, ended, silence_ms, ended_by)


CLEAN = call(Turn("customer", "hello", None, None, "answer", event="greeting"), bot(),
             said("yes someone will be home", "confirm", margin=0.72), GOODBYE)

# (tag, a call built to trigger it, words its reason must hold)
TRIGGERED = [
    ("asr_error", call(bot(), said("not tomorrow", "not_home", asr=0.31), GOODBYE),
     "turn 2 'not tomorrow' heard with confidence 0.31 < 0.45"),
    ("asr_error", call(bot(), said("mumble", None, event="no_match", asr=0.2), bot(event="no_match"),
                       said("yes", "confirm"), GOODBYE), "turn 2 'mumble' heard with confidence 0.20"),
    ("intent_error", call(bot(), said("yes but not tomorrow", "not_home", margin=0.29), GOODBYE),
     "taken as not_home with a lead of 0.29 < 0.35 over the runner-up"),
    ("intent_error", call(bot(), said("yes", "confirm"), bot("Great. Shall we ring first?", "ring"),
                          said("no", "reject", node="ring"), bot("Will someone be home?", "greet"),
                          said("no", "not_home"), GOODBYE),
     "turn 2 said confirm and turn 6 not_home at greet"),
    ("intent_error", call(bot(), said("yes", "confirm"), bot("When?", "when"),
                          said("actually nobody will be home", "not_home", node="when"), GOODBYE),
     "turn 4 not_home (at when) contradicts turn 2 confirm (at greet)"),
    ("intent_not_triggered", call(bot(), said("the blue one please", None, event="no_match"),
                                  bot(event="no_match"), said("yes", "confirm"), GOODBYE),
     "turn 2 'the blue one please' matched nothing at greet"),
    ("long_silence", call(bot(), silent(), bot(event="no_input"), said("yes", "confirm"), GOODBYE, silence_ms=7000),
     "the customer was silent for 7.0 s >= 6 s"),
    ("barge_in", call(bot(), bot("(interrupted)", event="barge_in"), said("yes", "confirm"), GOODBYE),
     "the customer talked over the bot once: turn 2 at greet"),
    ("fallback_used", call(bot(), silent(), bot(event="no_input"), silent(), bot(event="no_input"), silent(),
                           bot("I am sorry. We will try again later.", "no_response", "fallback"),
                           disposition="no_response"),
     "turn 7: the flow's fallback path at no_response"),
    ("fallback_used", call(bot(), said("is there a fee", "kb:delivery_fee", event="kb"), bot(event="kb"),
                           disposition="no_response"), "the call ended no_response, the flow's fallback"),
    ("fallback_used", call(bot(), said("banana", None, event="no_match"), bot(event="no_match"),
                           said("a person please", "human"), bot("A colleague will call you.", "handoff", "hangup"),
                           disposition="handoff"),
     "handed to a person after 1 turn(s) the bot did not understand"),
    ("fallback_used", call(bot(), said("where is the driver now", None, event="no_match"), bot(event="no_match"),
                           said("yes", "confirm"), GOODBYE),
     "turn 2 'where is the driver now' is a question the bot had no answer for"),
    ("hung_up_mid_flow", call(bot(), said("no", "not_home"), bot("When should we call you again?", "ask_time"),
                              outcome="hung_up", disposition=None, ended=False, ended_by="remote"),
     "the customer hung up at ask_time before the flow ended"),
    ("hung_up_mid_flow", call(bot(), outcome="hung_up", disposition=None, ended=False),  # who is not known
     "the customer hung up at greet before the flow ended"),
]

# (tag, a call built close to triggering it that must not)
NOT_TRIGGERED = [
    ("asr_error", CLEAN),
    ("asr_error", call(bot(), said("yes", "confirm", asr=0.45), GOODBYE)),  # at the threshold is not below it
    ("asr_error", call(bot(), pressed("1", "confirm"), silent(), said("yes", "confirm", asr=None), GOODBYE)),
    ("intent_error", CLEAN),
    ("intent_error", call(bot(), said("yes", "confirm", margin=0.35), GOODBYE)),
    ("intent_error", call(bot(), said("say that again", "repeat"), bot("Sure. Will someone be home?", event="repeat"),
                          said("yes", "confirm"), GOODBYE)),  # asking to hear it again is no decision
    ("intent_error", call(bot(), said("yes", "confirm"), bot("When?", "when"),
                          said("call me later", "call_later", node="when"), GOODBYE)),  # not an opposite pair
    ("intent_error", call(bot(), said("is there a fee", "kb:delivery_fee", event="kb"), bot(event="kb"),
                          said("tomorrow at 3", "slot:when", node="greet"), said("yes", "confirm"), GOODBYE)),
    ("intent_not_triggered", CLEAN),
    ("intent_not_triggered", call(bot(), pressed("9", None), bot(event="no_match"), silent(), bot(event="no_input"),
                                  said("yes", "confirm"), GOODBYE)),  # a wrong key and silence are not speech
    ("long_silence", CLEAN),
    ("long_silence", call(bot(), silent(), bot(event="no_input"), said("yes", "confirm"), GOODBYE, silence_ms=5999)),
    ("barge_in", CLEAN),
    ("barge_in", call(bot(), said("yes", "confirm"), bot("Great.", "confirmed", "barge_in_prompt"), GOODBYE)),
    ("fallback_used", CLEAN),
    ("fallback_used", call(bot(), said("a person please", "human"), bot("A colleague will call.", "handoff", "hangup"),
                           disposition="handoff")),  # asked for a person straight away: the bot followed
    ("fallback_used", call(bot(), said("banana", None, event="no_match"), bot(event="no_match"),
                           said("yes", "confirm"), GOODBYE)),  # not understood once, not a question, no fallback
    ("hung_up_mid_flow", CLEAN),
    ("hung_up_mid_flow", call(bot(), said("yes", "confirm"), GOODBYE, outcome="hung_up", disposition=None,
                              ended=True)),  # gone during the goodbye: the flow had ended
    ("hung_up_mid_flow", call(bot(), outcome="interrupted", disposition=None, ended=False)),  # the line failed
    ("hung_up_mid_flow", call(bot(), said("er", None, event="no_match"), outcome="hung_up", disposition=None,
                              ended=False, ended_by="bot")),  # the box hung up: the call ran out of time
]


@pytest.mark.parametrize(("tag", "facts", "reason"), TRIGGERED, ids=[f"{t}-{i}" for i, (t, _, _) in
                                                                       enumerate(TRIGGERED)])
def test_a_call_built_to_trigger_a_tag_gets_it_with_its_reason(tag: str, facts: CallFacts, reason: str) -> None:
    tags = {t.name: t.reason for t in tag_call(facts, QA)}
    assert tag in tags, tags
    assert reason in tags[tag]
    off = dataclasses.replace(QA, **{tag: False})
    assert tag not in {t.name for t in tag_call(facts, off)}  # its switch turns it off


@pytest.mark.parametrize(("tag", "facts"), NOT_TRIGGERED, ids=[f"{t}-{i}" for i, (t, _) in enumerate(NOT_TRIGGERED)])
def test_a_call_built_not_to_trigger_a_tag_does_not_get_it(tag: str, facts: CallFacts) -> None:
    assert tag not in {t.name for t in tag_call(facts, QA)}


def test_a_clean_call_gets_no_tag_at_all() -> None:
    assert tag_call(CLEAN, QA) == []


def test_thresholds_are_the_configured_ones() -> None:
    doubtful = call(bot(), said("yes someone will", "confirm", asr=0.5, margin=0.4), GOODBYE, silence_ms=7000)
    assert tag_call(doubtful, QA) == [t for t in tag_call(doubtful, QA) if t.name == "long_silence"]
    strict = QaConfig(min_asr_confidence=0.6, min_intent_margin=0.5, long_silence_s=8.0)
    assert [(t.name, t.reason) for t in tag_call(doubtful, strict)] == [
        ("asr_error", "turn 2 'yes someone will' heard with confidence 0.50 < 0.60"),
        ("intent_error", "turn 2 'yes someone will' taken as confirm with a lead of 0.40 < 0.50 over the runner-up"),
    ]
    swapped = call(bot(), said("yes", "confirm"), bot("When?", "when"), said("I will pay", "will_pay", node="when"))
    assert tag_call(swapped, QA) == []
    assert [t.name for t in tag_call(swapped, QaConfig(opposite_intents=(("will_pay", "confirm"),)))] == [
        "intent_error"]


def test_every_tag_once_in_order_and_each_reason_lists_at_most_three_turns() -> None:
    noisy = call(bot(), *[said(f"word {i}", None, event="no_match", asr=0.1) for i in range(5)],
                 bot("(interrupted)", event="barge_in"), outcome="hung_up", disposition=None, ended=False,
                 silence_ms=9000)
    tags = tag_call(noisy, QA)
    assert [t.name for t in tags] == ["asr_error", "intent_not_triggered", "long_silence", "barge_in",
                                      "hung_up_mid_flow"]
    assert tags[0].reason.endswith("(and 2 more)") and tags[0].reason.count("heard with") == 3
    assert tag_call(noisy, QaConfig(**{name: False for name, _, _ in RULES})) == []


def test_the_tag_names_are_one_list_everywhere() -> None:
    names = [name for name, _, _ in RULES]
    assert set(names) == set(AUTO_TAGS) == set(DOCUMENTED_TAGS) == set(SEVERITY)
    switches = {f.name for f in dataclasses.fields(QaConfig) if f.type == "bool"}
    assert switches == set(names)  # one switch per tag in [qa]


def test_the_silence_is_worked_out_from_no_input_turns() -> None:
    timeouts = {"greet": 7000, "ask_time": 9000}
    assert silence_from_no_input(CLEAN.turns, timeouts) is None
    one = (bot(), silent(), bot(event="no_input"), said("yes", "confirm"))
    assert silence_from_no_input(one, timeouts) == 7000
    # two silences in a row (the re-prompt between them is the bot's) are one of 16 s; words end a silence
    two = (bot(), silent("ask_time"), bot(event="no_input"), silent("greet"), said("hm", None, event="no_match"),
           silent("greet"))
    assert silence_from_no_input(two, timeouts) == 16000


TICKET = Ticket("T1", "delivery", "Parcel", "", "Ann", "+15550001", "A-1", "shipped")
TASK = TaskRow(1, "T1", "delivery", "running", 1, 3, "2024-05-01T10:00:00.000+00:00")


def test_conclude_tags_a_conversation_and_hands_the_tags_to_the_call_end() -> None:
    result = AttemptResult(Outcome.HUNG_UP, answered=True,
                           turns=(bot(), said("no", "not_home", asr=0.3), bot("When?", "ask_time")),
                           flow_ended=False, longest_silence_ms=None)
    ended = conclude(TICKET, TASK, result, datetime.now(UTC), call_id=7, retry=RetryConfig())
    assert ended.call is not None
    assert [name for name, _ in ended.call.tags] == ["asr_error", "hung_up_mid_flow"]
    assert "turn 2 'no' heard with confidence 0.30" in ended.call.tags[0][1]
    quiet = conclude(TICKET, TASK, result, datetime.now(UTC), call_id=7, retry=RetryConfig(),
                     qa=QaConfig(asr_error=False, hung_up_mid_flow=False))
    assert quiet.call is not None and quiet.call.tags == ()


def test_calls_without_a_conversation_get_no_tags() -> None:
    message = bot("Hello, this is the shop.", event="voicemail")
    for result in (AttemptResult(Outcome.NO_ANSWER),
                   AttemptResult(Outcome.MACHINE, answered=True, turns=(message,), screen_why="a beep")):
        ended = conclude(TICKET, TASK, result, datetime.now(UTC), call_id=7, retry=RetryConfig())
        assert ended.call is not None and ended.call.tags == ()


def test_long_silence_reads_the_recordings_measure_when_it_is_longer() -> None:
    """The no-input turns give a lower bound; dead air the recording measured (neither side spoke) counts too."""
    turns = (bot(), said("yes", "confirm"), bot("Thank you, goodbye.", "bye", event="hangup"))
    quiet_line = AttemptResult(Outcome.COMPLETED, answered=True, turns=turns, flow_ended=True, longest_silence_ms=0,
                               talk=TalkTally(customer_talk_ms=900, bot_talk_ms=4000, longest_silence_ms=9000))
    ended = conclude(TICKET, TASK, quiet_line, datetime.now(UTC), call_id=7, retry=RetryConfig())
    assert ended.call is not None
    assert [(name, reason) for name, reason in ended.call.tags] == \
        [("long_silence", "the customer was silent for 9.0 s >= 6 s")]
    brisk = dataclasses.replace(quiet_line, talk=TalkTally(customer_talk_ms=900, bot_talk_ms=4000,
                                                           longest_silence_ms=1200))
    brisk_end = conclude(TICKET, TASK, brisk, datetime.now(UTC), call_id=7, retry=RetryConfig())
    assert brisk_end.call is not None and brisk_end.call.tags == ()
