"""Twelve calls with known figures across two days in Berlin (UTC+1 in November), written through the records
store's own path (a ticket with its scenario, its task in the scenario's call task, ``start_call``, a conclusion)
and then moved to known times. The statistics tests count what they expect from this table by hand.

 #  local time        scenario  flow        outcome     answered  disposition  intent   grade  dur s  turns
 1  11-20 09:10       A         delivery@1  completed   yes       confirmed    confirm  A      40     2
 2  11-20 09:40       A         delivery@1  no_answer
 3  11-20 10:05       A         delivery@1  busy
 4  11-20 10:30       B         reminder@1  completed   yes       confirmed    confirm  B      70     1
 5  11-20 14:00       B         reminder@1  hung_up     yes                             D      12     1 (a no-match)
 6  11-20 23:30       A         delivery@1  machine     yes                                    8      0 (its greeting)
 7  11-21 00:30 (UTC 11-20 23:30) B reminder@1 completed yes  call_later   later    C      130    3 (a kb answer)
 8  11-21 09:15       A         delivery@1  completed   yes       confirmed    confirm  A      25     1 (keys)
 9  11-21 09:50       A         delivery@1  no_answer
10  11-21 14:20       B         reminder@1  completed   yes       do_not_call  stop     B      65     2 (a no-match)
11  11-21 14:45       B         reminder@1  rejected
12  11-21 16:00       A         delivery@2  completed   yes       confirmed    confirm  A      310    5
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from appliance.records.conclusion import CallEnd, Conclusion, Turn
from appliance.records.store import RecordsStore, Ticket, iso
from appliance.records.talk import TalkTally

BERLIN = ZoneInfo("Europe/Berlin")
SCENARIO_FLOWS = {"A": "delivery", "B": "reminder"}


@dataclass(frozen=True)
class Seed:
    local: str  # "MM-DD HH:MM" in 2026, Berlin
    scenario: str
    version: int
    outcome: str
    duration_s: int | None = None  # None: not answered
    disposition: str | None = None
    grade: str | None = None
    said: tuple[tuple[str, str | None, str], ...] = ()  # the customer's (text, intent, event)


CALLS = (
    Seed("11-20 09:10", "A", 1, "completed", 40, "confirmed", "A",
         (("yes that is fine", "confirm", "speech"), ("thank you", None, "speech"))),
    Seed("11-20 09:40", "A", 1, "no_answer"),
    Seed("11-20 10:05", "A", 1, "busy"),
    Seed("11-20 10:30", "B", 1, "completed", 70, "confirmed", "B", (("yes", "confirm", "speech"),)),
    Seed("11-20 14:00", "B", 1, "hung_up", 12, None, "D", (("what is this", None, "no_match"),)),
    Seed("11-20 23:30", "A", 1, "machine", 8, said=(("please leave a message", None, "greeting"),)),
    Seed("11-21 00:30", "B", 1, "completed", 130, "call_later", "C",
         (("where is my parcel", "kb:where", "kb"), ("", None, "no_input"), ("call me later", "later", "speech"),
          ("tomorrow", None, "speech"))),
    Seed("11-21 09:15", "A", 1, "completed", 25, "confirmed", "A", (("1", "confirm", "dtmf"),)),
    Seed("11-21 09:50", "A", 1, "no_answer"),
    Seed("11-21 14:20", "B", 1, "completed", 65, "do_not_call", "B",
         (("hmm", None, "no_match"), ("stop calling me", "stop", "speech"))),
    Seed("11-21 14:45", "B", 1, "rejected"),
    Seed("11-21 16:00", "A", 2, "completed", 310, "confirmed", "A",
         (("yes", "confirm", "speech"), ("at the door", None, "speech"), ("my neighbour", None, "speech"),
          ("number five", None, "speech"), ("thanks", None, "speech"))),
)


def started(seed: Seed) -> datetime:
    return datetime.strptime(f"2026-{seed.local}", "%Y-%m-%d %H:%M").replace(tzinfo=BERLIN)


def seed_calls(store: RecordsStore) -> dict[str, int]:
    """Write the twelve calls; returns scenario name -> its call task's id."""
    call_tasks: dict[str, int] = {}
    for n, seed in enumerate(CALLS, start=1):
        flow = SCENARIO_FLOWS[seed.scenario]
        ticket = Ticket(f"S{n}", "delivery", "Parcel", "", "Ann", f"+1555000{n:04d}", f"A-{n}", "shipped")
        submitted = store.submit_ticket(ticket, webhook_id=f"seed-{n}", decision="call", reason="rule",
                                        flow_id=flow, max_attempts=3, scenario=seed.scenario)
        assert submitted.task_id is not None
        task = store.task(submitted.task_id)
        assert task is not None and task.call_task_id is not None
        call_tasks[seed.scenario] = task.call_task_id
        call_id = store.start_call(task=task, phone=ticket.customer_phone, line="sim0", flow_version=seed.version)
        answered = seed.duration_s is not None
        turns = [Turn("bot", "Hello, this is the shop.", node="greet")]
        turns += [Turn("customer", text, intent, 0.9 if intent else None, "answer" if event == "greeting" else "ask",
                       event=event) for text, intent, event in seed.said]
        end = CallEnd(seed.outcome, None, seed.disposition, "seeded", tuple(turns) if answered else (),
                      strength={"score": 50, "grade": seed.grade, "reasons": []} if seed.grade else None,
                      ring_ms=4000 + n, duration_ms=seed.duration_s * 1000 if seed.duration_s is not None else None,
                      talk=TalkTally(customer_talk_ms=1000 * n, bot_talk_ms=2000, silences=n % 2,
                                     longest_silence_ms=2500, interruptions=1, recorded_ms=seed.duration_s * 1000)
                      if seed.duration_s is not None else None)
        store.record_conclusion(Conclusion(task=None, ticket_id=ticket.id, call_id=call_id, call=end))
        at = started(seed)
        store.db.write(lambda c, at=at, call_id=call_id, seed=seed: c.execute(
            "UPDATE calls SET started_at=?, answered_at=?, ended_at=? WHERE id=?",
            (iso(at), iso(at + timedelta(seconds=5)) if seed.duration_s is not None else None,
             iso(at + timedelta(seconds=5 + (seed.duration_s or 30))), call_id)))
    return call_tasks
