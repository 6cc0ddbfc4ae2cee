"""``FlowRun.hear`` with the recogniser's other readings of a turn (``Utterance.alternatives``): the first
reading that decides something wins only when what was heard decides nothing."""

from __future__ import annotations

from engine_flow import new_run


def test_an_alternative_decides_when_what_was_heard_does_not() -> None:
    run = new_run()
    run.start()
    step = run.hear("work time on it", alternatives=("i will be home",))  # Whisper misheard, the grammar did not
    assert run.finished and run.result.disposition == "confirmed" and step.say == "Great. Thank you."
    customer = [t for t in run.turns if t.speaker == "customer"]
    assert [(t.text, t.intent) for t in customer] == [("i will be home", "confirm")]


def test_what_was_heard_wins_when_it_decides() -> None:
    run = new_run()
    run.start()
    run.hear("call me later", alternatives=("i will be home",))
    assert run.result.intents == ["call_later"] and run.node.id == "ask_time"


def test_alternatives_that_decide_nothing_leave_a_no_match() -> None:
    run = new_run()
    run.start()
    step = run.hear("work time on it", alternatives=("", "the weather"))
    assert step.event == "no_match" and step.say == "Sorry?" and run.result.intents == []
    assert [t.text for t in run.turns if t.speaker == "customer"] == ["work time on it"]


def test_the_first_alternative_that_decides_is_taken_and_a_knowledge_base_answer_counts() -> None:
    run = new_run()
    run.start()
    step = run.hear("hmm hmm", alternatives=("the weather", "is delivery free", "yes"))
    assert step.event == "kb" and step.say.startswith("Delivery is free.")
    assert [t.intent for t in run.turns if t.speaker == "customer"] == ["kb:fee"]


def test_a_slot_in_what_was_heard_is_kept_over_an_alternative() -> None:
    run = new_run()
    run.start()
    run.hear("call me later")
    run.hear("tomorrow afternoon", alternatives=("stop calling me",))
    assert run.result.disposition == "rescheduled" and run.result.slots["when"].day == 25
