"""Compliance presets and the guards that hold whatever the configuration says: caps as properties, E.164 as
properties, the README's table, and the call runner moving a held task on a real SQLite file."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.campaign.attempt import Outcome
from appliance.campaign.calls import CallRunner, SpeechKit
from appliance.campaign.compliance import PRESETS, CallingRules, hold, preset_table_markdown
from appliance.campaign.conclude import AttemptResult, conclude
from appliance.campaign.hours import allowed, callee_zones
from appliance.campaign.intake import admit
from appliance.campaign.publish import install_defaults
from appliance.campaign.tickets import parse_ticket
from appliance.config import CALLING_PRESETS, CallingConfig, RetryConfig, parse_config
from appliance.errors import ConfigError
from appliance.records.config_store import ConfigStore
from appliance.records.history import PhoneHistory
from appliance.records.phones import PhoneNumberInvalid, e164
from appliance.records.store import RecordsStore
from appliance.telephony.ports import LinePort

README = Path(__file__).resolve().parents[2] / "README.md"
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)  # a Tuesday, 15:30 in Paris


def rules(preset: str, *, per_day: int = 3, hours: str = "09:00-20:00") -> CallingRules:
    return CallingRules.from_config(CallingConfig(preset=preset, max_per_day=per_day, hours=hours), UTC)


# -- the README's table ---------------------------------------------------------------------------------------
def test_readme_prints_the_preset_table() -> None:
    assert preset_table_markdown() in README.read_text(encoding="utf-8")


def test_presets_are_the_configs_choices_and_custom_all_day_means_always() -> None:
    assert set(CALLING_PRESETS) == set(PRESETS)
    always = rules("custom", hours="00:00-00:00", per_day=99)
    for minute in range(0, 7 * 24 * 60, 37):
        at = NOW + timedelta(minutes=minute)
        assert hold(at, rules=always, zones=(PARIS,), history=PhoneHistory(())) is None


# -- the guards, one by one ------------------------------------------------------------------------------------
def test_france_waits_for_monday_and_keeps_the_caps() -> None:
    fr = rules("fr")
    friday_evening = datetime(2026, 11, 27, 19, 30, tzinfo=UTC)  # 20:30 in Paris
    h = hold(friday_evening, rules=fr, zones=(PARIS,), history=PhoneHistory(()))
    assert h is not None and h.guard.name == "outside_hours" and h.until == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    four = tuple(NOW - timedelta(days=d) for d in (29, 20, 10, 1))
    h = hold(NOW, rules=fr, zones=(PARIS,), history=PhoneHistory(four))
    assert h is not None and h.guard.name == "period_cap"
    assert h.until is not None and h.until >= four[0] + timedelta(days=30) and allowed(h.until, fr.preset.hours,
                                                                                        (PARIS,))
    refused = PhoneHistory((), refused_at=NOW - timedelta(days=10))
    h = hold(NOW, rules=fr, zones=(PARIS,), history=refused)
    assert h is not None and h.guard.name == "after_refusal" and h.until is not None
    assert h.until >= NOW + timedelta(days=50)
    assert hold(NOW, rules=rules("us"), zones=(PARIS,), history=refused) is None  # the list alone, elsewhere


def test_china_keeps_rest_hours() -> None:
    cn, shanghai = rules("cn"), (ZoneInfo("Asia/Shanghai"),)
    for hour, ok in ((8, False), (9, True), (12, False), (13, False), (14, True), (20, True), (21, False)):
        at = datetime(2026, 11, 24, hour, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
        assert (hold(at, rules=cn, zones=shanghai, history=PhoneHistory(())) is None) is ok, hour
    assert PRESETS["cn"].keep_records_days == 30


@settings(max_examples=200, deadline=None)
@given(
    preset=st.sampled_from(sorted(PRESETS)),
    per_day=st.integers(1, 4),
    offsets=st.lists(st.integers(0, 40 * 24 * 60), max_size=12),
    refused=st.one_of(st.none(), st.integers(0, 90 * 24 * 60)),
    now=st.datetimes(datetime(2024, 1, 1), datetime(2030, 12, 31), timezones=st.just(UTC)),
    zone=st.sampled_from([PARIS, ZoneInfo("America/New_York"), ZoneInfo("Asia/Shanghai")]),
)
def test_caps_a_held_call_may_be_made_at_its_new_time_and_a_free_one_keeps_every_cap(
        preset: str, per_day: int, offsets: list[int], refused: int | None, now: datetime, zone: ZoneInfo) -> None:
    r = rules(preset, per_day=per_day)
    calls = tuple(sorted(now - timedelta(minutes=m) for m in offsets))
    history = PhoneHistory(calls, now - timedelta(minutes=refused) if refused is not None else None)
    h = hold(now, rules=r, zones=(zone,), history=history)
    local_day = now.astimezone(zone).date()
    today = [c for c in calls if c.astimezone(zone).date() == local_day]
    if h is None:
        assert len(today) < r.per_day and allowed(now, r.preset.hours, (zone,))
        if r.preset.per_period:
            limit, days = r.preset.per_period
            assert len([c for c in calls if c > now - timedelta(days=days)]) < limit
        return
    assert h.until is not None and h.until > now
    assert hold(h.until, rules=r, zones=(zone,), history=history) is None  # the new time is free of every guard
    if h.guard.name == "daily_cap":
        assert len(today) >= r.per_day and h.until.astimezone(zone).date() > local_day


# -- E.164 ------------------------------------------------------------------------------------------------------
REGIONS = ("FR", "US", "GB", "DE", "CN", "IT", "JP", "AU", "BR", "IN", "ES", "NL")


@st.composite
def numbers(draw: st.DrawFn) -> tuple[str, phonenumbers.PhoneNumber]:
    region = draw(st.sampled_from(REGIONS))
    kind = draw(st.sampled_from([phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]))
    example = phonenumbers.example_number_for_type(region, kind)
    assert example is not None
    digits = str(example.national_number)
    tail = draw(st.text("0123456789", min_size=3, max_size=3))
    number = phonenumbers.PhoneNumber(country_code=example.country_code,
                                      national_number=int(digits[:-3] + tail),
                                      italian_leading_zero=example.italian_leading_zero)
    return region, number


@settings(max_examples=200, deadline=None)
@given(numbers(), st.sampled_from(["", " ", "-", ".", "/"]))
def test_national_and_international_forms_of_one_number_agree(found: tuple[str, phonenumbers.PhoneNumber],
                                                               sep: str) -> None:
    region, number = found
    fmt = phonenumbers.PhoneNumberFormat
    national = phonenumbers.format_number(number, fmt.NATIONAL)
    international = phonenumbers.format_number(number, fmt.INTERNATIONAL)
    canonical = e164(international)
    assert re.fullmatch(r"\+[1-9][0-9]{4,15}", canonical)
    assert e164(national, region) == canonical
    assert e164(international.replace(" ", sep), region) == canonical
    assert e164("00" + canonical[1:]) == canonical
    assert e164(canonical) == canonical == e164(canonical, "US")  # idempotent, whatever the region


@settings(max_examples=300, deadline=None)
@given(st.text("0123456789+ -().abc", max_size=22), st.sampled_from([None, *REGIONS]))
def test_any_text_is_a_number_in_e164_or_a_clear_refusal(text: str, region: str | None) -> None:
    try:
        phone = e164(text, region)
    except PhoneNumberInvalid as exc:
        assert str(exc)
        return
    assert re.fullmatch(r"\+[1-9][0-9]{2,16}", phone) and e164(phone) == phone


def test_a_french_shop_types_a_national_number_and_the_list_knows_it(tmp_path: Path) -> None:
    store = RecordsStore(tmp_path / "r.db", phone_region="FR")
    configs = ConfigStore(tmp_path / "c.json")
    install_defaults(configs)
    try:
        store.do_not_call.add("+33 6 12 34 56 78", "asked")
        payload = {"id": "FR-1", "type": "delivery", "subject": "Colis", "description": "",
                   "customer": {"name": "Ana", "phone": "06 12 34 56 78"}, "order": {"id": "1", "status": "shipped"}}
        a = admit(payload, webhook_id="m1", records=store, configs=configs, max_attempts=3, phone_region="FR")
        assert a.decision == "skip" and "do-not-call" in a.reason
        ticket = store.ticket("FR-1")
        assert ticket is not None and ticket.customer_phone == "+33612345678"
    finally:
        store.close()
        configs.close()


# -- the runner moves a held task on a real store ---------------------------------------------------------------
def runner_on(tmp_path: Path, calling: CallingConfig, clock: datetime | None = None) -> tuple[CallRunner, RecordsStore,
                                                                                             ConfigStore]:
    store = RecordsStore(tmp_path / "r.db")
    configs = ConfigStore(tmp_path / "c.json")
    install_defaults(configs)
    speech = cast(SpeechKit, None)  # a held task never reaches the speech
    runner = CallRunner(records=store, configs=configs, speech=speech, calling=calling,
                        recordings_dir=tmp_path / "rec", clock=(lambda: clock) if clock else lambda: datetime.now(UTC),
                        rules=CallingRules.from_config(calling, UTC))
    return runner, store, configs


def submit(store: RecordsStore, ticket_id: str, phone: str) -> None:
    payload = {"id": ticket_id, "type": "delivery", "subject": "Parcel", "description": "",
               "customer": {"name": "Ann", "phone": phone}, "order": {"id": "1", "status": "shipped"}}
    store.submit_ticket(parse_ticket(payload), webhook_id=f"m-{ticket_id}", decision="call", reason="test",
                        flow_id="delivery-confirmation", max_attempts=3)


def test_outside_hours_the_task_moves_to_the_next_window_and_no_attempt_is_counted(tmp_path: Path) -> None:
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    runner, store, configs = runner_on(tmp_path, CallingConfig(preset="fr"), clock=saturday)
    try:
        submit(store, "T-1", "+33612345678")
        task = store.claim_due_task(datetime.now(UTC))
        assert task is not None and task.attempts == 1
        summary = runner.run(task, cast(LinePort, None))
        assert summary.outcome is Outcome.BLOCKED and summary.guard == "outside_hours" and summary.call_id == 0
        moved = store.task(task.id)
        assert moved is not None and moved.state == "pending" and moved.attempts == 0
        assert moved.next_attempt_at == "2026-11-30T09:00:00.000+00:00"  # Monday 10:00 in Paris
        ticket = store.ticket("T-1")
        assert ticket is not None and ticket.status == "open" and ticket.next_call_at == moved.next_attempt_at
        assert store.calls(ticket_id="T-1") == [] and store.outbox_due(datetime.now(UTC) + timedelta(days=9)) == []
        assert any("outside calling hours" in op["detail"] for op in store.operations("T-1"))
    finally:
        store.close()
        configs.close()


def test_the_daily_cap_moves_the_task_to_the_callees_next_day(tmp_path: Path) -> None:
    runner, store, configs = runner_on(tmp_path, CallingConfig(hours="00:00-00:00", max_per_day=1))
    try:
        submit(store, "T-1", "+12125551234")
        first = store.claim_due_task(datetime.now(UTC))
        assert first is not None
        call_id = store.start_call(task=first, phone="+12125551234", line="l1", flow_version=1)  # once today
        ticket = store.ticket("T-1")
        assert ticket is not None  # the call ends (busy) before the second ticket's task may be taken
        store.record_conclusion(conclude(ticket, first, AttemptResult(Outcome.BUSY), datetime.now(UTC),
                                         call_id=call_id, retry=RetryConfig()))
        submit(store, "T-2", "+1 (212) 555-1234")
        second = store.claim_due_task(datetime.now(UTC) + timedelta(seconds=1))
        assert second is not None and second.ticket_id == "T-2"
        summary = runner.run(second, cast(LinePort, None))
        assert summary.outcome is Outcome.BLOCKED and summary.guard == "daily_cap"
        moved = store.task(second.id)
        assert moved is not None and moved.state == "pending" and moved.attempts == 0
        opens = datetime.fromisoformat(moved.next_attempt_at).astimezone(ZoneInfo("America/New_York"))
        assert (opens.hour, opens.minute) == (0, 0)
        assert opens.date() > datetime.now(UTC).astimezone(ZoneInfo("America/New_York")).date()
    finally:
        store.close()
        configs.close()


def test_callee_zone_not_the_box_decides(tmp_path: Path) -> None:
    """15:30 in Paris is 09:30 in New York: the same minute is fine for one number and too early for the other."""
    us = rules("us")
    early = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)  # 07:30 in New York, 13:30 in Paris
    assert hold(early, rules=us, zones=callee_zones("+33612345678", UTC), history=PhoneHistory(())) is None
    h = hold(early, rules=us, zones=callee_zones("+12125551234", UTC), history=PhoneHistory(()))
    assert h is not None and h.until == datetime(2026, 11, 24, 13, 0, tzinfo=UTC)


def test_unknown_preset_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"calling\.preset"):
        parse_config({"calling": {"preset": "xx"}})
