"""Re-analysis of stored recordings (``callbox recordings reanalyse``): a call the grammar decoder misheard is
heard again by the real Whisper engine from its stereo recording; the new reading changes the call's intent and
the original stays where it was, both shown in the call's detail; a run stopped after one call continues without
redoing it; ``--flow`` and the time range choose the calls; calls that cannot be heard again are skipped with the
reason; a run waits while a call is on a line."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from seeded_recordings import FLOW, GREET, SeededCall, answered_call, pcm, seed

from appliance.box import Callbox
from appliance.campaign.calls import SpeechKit
from appliance.campaign.reanalysis import LinesIdle, Reanalyser, ReanalysisRange
from appliance.config import Config
from appliance.records.conclusion import Turn
from appliance.records.reanalysis import ReanalysisRecords
from appliance.records.store import Ticket
from appliance.speech.asr.base import AsrEngine, AsrSession
from appliance.speech.vad import Endpointer
from web import create_app
from web.openapi import openapi_document

TOKEN = {"Authorization": "Bearer reanalysis-token"}
PARA = Path(__file__).resolve().parents[1] / "fixtures" / "asr" / "en-para"


class CountedEngine:
    """The real engine, counting the turns it is asked to hear (to show which calls a run heard again)."""

    def __init__(self, engine: AsrEngine) -> None:
        self.engine = engine
        self.name, self.language, self.fallback_reason = engine.name, engine.language, None
        self.sessions = 0

    def open_session(self, grammar: Sequence[str] | None = None) -> AsrSession:
        self.sessions += 1
        return self.engine.open_session(grammar)

    def close(self) -> None:  # the session's engine is shared: not closed here
        pass


@pytest.fixture
def box(tmp_path: Path, whisper_engine: Any, piper_tts: Any) -> Iterator[Callbox]:
    kit = SpeechKit(asr=whisper_engine, tts=piper_tts, endpointer=lambda: Endpointer())
    b = Callbox(Config(state_dir=tmp_path), lines=[], speech=kit)
    yield b
    b.stop()


@pytest.fixture
def voices(piper_tts: Any) -> dict[str, bytes]:
    return {"prompt": piper_tts.render(GREET), "reply": piper_tts.render("Great. Goodbye.")}


def reanalyser(b: Callbox, engine: Any, **kw: Any) -> Reanalyser:
    return Reanalyser(records=ReanalysisRecords(b.records.db), flows=b.configs.flow, asr=lambda: engine,
                      endpointer=lambda: Endpointer(), zone=UTC, **kw)


def span(*, flow: str | None = None, days: int = 1) -> ReanalysisRange:
    """From the start of the day ``days`` ago (as ``--since DATE`` means), to when the run begins."""
    day = (datetime.now(UTC) - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    return ReanalysisRange(day, None, flow, "whisper")


def misheard(b: Callbox, voices: dict[str, bytes], ticket: str, fixture: str = "para_not_home_04") -> int:
    """The customer said "No, I'm out of town."; the grammar decoder heard "yes" and the call ended confirmed."""
    said = pcm(PARA / f"{fixture}.wav")
    return seed(b.records, b.paths.recordings,
                answered_call(said, heard="yes", intent="confirm", prompt=voices["prompt"], reply=voices["reply"]),
                ticket=ticket)


def test_reanalysis_changes_the_intent_and_keeps_the_original(box: Callbox, voices: dict[str, bytes],
                                                              whisper_engine: Any) -> None:
    call_id = misheard(box, voices, "R-1")
    before = box.records.call(call_id)
    assert before is not None and before["turns"][1]["intent"] == "confirm"

    report = reanalyser(box, whisper_engine).run(span())

    assert (report.analysed, report.changed, report.skipped, report.run.state) == (1, 1, [], "finished")
    after = box.records.call(call_id)
    assert after is not None
    again = after.pop("reanalysis")
    before.pop("reanalysis")
    assert after == before  # the call row and its turns: untouched
    assert again["intent"] == "not_home" and again["original_intent"] == "confirm" and again["changed"] is True
    (turn,) = again["turns"]
    assert turn["heard_again"] is True and turn["original_text"] == "yes" and turn["original_intent"] == "confirm"
    assert "out of town" in turn["text"].lower() and turn["intent"] == "not_home"
    assert again["recogniser"] == "whisper" and again["intent_strength"]["grade"] in "ABCD"

    client = create_app(box.panel, test_config={"TESTING": True, "API_TOKEN": "reanalysis-token"}).test_client()
    shown = client.get(f"/api/v1/calls/{call_id}", headers=TOKEN).get_json()
    assert [(t["text"], t["intent"]) for t in shown["turns"] if t["speaker"] == "customer"] == [("yes", "confirm")]
    assert shown["intent_strength"] == before["intent_strength"] and shown["disposition"] == "confirmed"
    assert shown["reanalysis"]["intent"] == "not_home" and shown["reanalysis"]["turns"][0]["original_text"] == "yes"
    Draft202012Validator({"$ref": "#/components/schemas/Call", **openapi_document("test")}).validate(shown)
    listed = client.get("/api/v1/calls", headers=TOKEN).get_json()["calls"]
    assert "reanalysis" not in listed[0]  # the detail carries it, not every page of calls


def test_a_stopped_run_continues_without_redoing_a_call(box: Callbox, voices: dict[str, bytes],
                                                        whisper_engine: Any) -> None:
    first, second = misheard(box, voices, "R-1"), misheard(box, voices, "R-2", "para_not_home_05")
    engine = CountedEngine(whisper_engine)
    stop = threading.Event()
    seen: list[tuple[int, int, str]] = []

    def progress(done: int, total: int, what: str) -> None:
        seen.append((done, total, what))
        stop.set()  # as Ctrl-C between calls

    days = span()  # one --since for every run below, as the same command typed again
    one = reanalyser(box, engine).run(days, progress=progress, stop=stop)
    assert one.stopped and (one.run.state, one.run.done, one.run.total, one.analysed) == ("interrupted", 1, 2, 1)
    assert seen == [(1, 2, f"call {first}: confirm -> not_home, grade {seen[0][2][-1]}")]
    rows = ReanalysisRecords(box.records.db)
    at_first = rows.results(one.run.id)
    assert [r["call"] for r in at_first] == [first] and engine.sessions == 1

    two = reanalyser(box, engine).run(days)
    assert two.resumed and two.run.id == one.run.id and two.analysed == 1 and engine.sessions == 2
    assert (two.run.state, two.run.done, two.run.total) == ("finished", 2, 2)
    assert rows.results(two.run.id)[0] == at_first[0]  # the first call's row as the first run wrote it
    assert [r["call"] for r in rows.results(two.run.id)] == [first, second]

    done = reanalyser(box, engine).run(days)  # a finished run has nothing left: no call heard again
    assert done.resumed and done.analysed == 0 and engine.sessions == 2
    anew = reanalyser(box, engine).run(days, restart=True)
    assert not anew.resumed and anew.run.id != one.run.id and anew.analysed == 2 and engine.sessions == 4
    detail = box.records.call(first)
    assert detail is not None and detail["reanalysis"]["run"] == anew.run.id  # the latest run's reading


def no_recording(turns: list[Turn] | None = None, flow: str = FLOW) -> SeededCall:
    said = [Turn("bot", GREET, node="greet", at_ms=0), Turn("customer", "yes", "confirm", 0.9, "greet", 3000,
                                                               "speech")]
    return SeededCall(turns if turns is not None else said, flow=flow, recorded=False)


def test_flow_range_and_skips_need_no_model(box: Callbox) -> None:
    returns = json.loads(json.dumps(box.configs.flow(FLOW)[1]))  # type: ignore[index]
    returns["id"] = "returns-check"
    box.configs.publish_flow(returns)
    store, where = box.records, box.paths.recordings
    plain = seed(store, where, no_recording(), ticket="S-1")
    other_flow = seed(store, where, no_recording(flow="returns-check"), ticket="S-2")
    machine = seed(store, where, no_recording([Turn("bot", "Please leave a message.", node="voicemail",
                                                    event="voicemail")]), ticket="S-3")
    gone = seed(store, where, SeededCall(no_recording().turns, length_ms=500), ticket="S-4")
    box.records.call(gone)  # its file is deleted (retention, a full disk)
    Path(box.records.call(gone)["recording"]).unlink()  # type: ignore[index]
    old = seed(store, where, no_recording(), ticket="S-5")
    store.db.write(lambda c: c.execute("UPDATE calls SET started_at=? WHERE id=?",
                                       ((datetime.now(UTC) - timedelta(days=10)).isoformat(), old)))

    def no_model() -> AsrEngine:
        raise AssertionError("no call here needs a recogniser")

    rows = ReanalysisRecords(store.db)
    run = Reanalyser(records=rows, flows=box.configs.flow, asr=no_model, endpointer=lambda: Endpointer(),
                     zone=UTC).run(span(flow=FLOW, days=2))
    assert (run.run.total, run.analysed, run.run.state) == (3, 0, "finished")
    assert run.skipped == [{"call": plain, "reason": "no recording"},
                           {"call": machine, "reason": "no customer speech in its transcript"},
                           {"call": gone, "reason": f"its recording is gone ({store.call(gone)['recording']})"}]  # type: ignore[index]
    assert other_flow not in {r["call"] for r in rows.results(run.run.id)}  # --flow: another flow's call is not in
    assert old not in {r["call"] for r in rows.results(run.run.id)}  # started before --since
    assert store.call(plain)["reanalysis"] is None  # type: ignore[index]  # a skip is no reading to show
    wide = Reanalyser(records=rows, flows=box.configs.flow, asr=no_model, endpointer=lambda: Endpointer(),
                      zone=UTC).run(span(days=30))
    assert wide.run.total == 5 and {s["call"] for s in wide.skipped} >= {other_flow, old}


def test_a_run_waits_while_a_call_is_on_a_line(box: Callbox) -> None:
    store = box.records
    skipped = seed(store, box.paths.recordings, no_recording(), ticket="W-1")
    store.submit_ticket(Ticket("W-2", "delivery", "Parcel", "", "Bo", "+15550199", "B1", "shipped"),
                        webhook_id="m-W-2", decision="call", reason="test", flow_id=FLOW, max_attempts=3)
    task = store.claim_due_task(datetime.now(UTC))
    assert task is not None
    live = store.start_call(task=task, phone="+15550199", line="sim0", flow_version=1)  # dialing now
    stale = seed(store, box.paths.recordings, no_recording(), ticket="W-3")  # a crash's leftover, an hour old
    store.db.write(lambda c: c.execute("UPDATE calls SET state='answered', started_at=? WHERE id=?",
                                       ((datetime.now(UTC) - timedelta(hours=1)).isoformat(), stale)))
    rows = ReanalysisRecords(store.db)
    waits: list[int] = []
    idle = LinesIdle(rows, longest_call_s=600, poll_s=0.05, on_wait=waits.append)
    hung_up = threading.Timer(0.6, lambda: store.db.write(
        lambda c: c.execute("UPDATE calls SET state='completed', ended_at=? WHERE id=?",
                            (datetime.now(UTC).isoformat(), live))))
    hung_up.start()
    began = time.monotonic()
    report = reanalyser(box, None, idle=idle).run(span())
    hung_up.join()
    assert time.monotonic() - began >= 0.5 and waits == [1]  # the live call held it; the stale row did not
    assert report.skipped == [{"call": skipped, "reason": "no recording"}]
