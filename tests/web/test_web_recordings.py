"""/api/v1/recordings over the box's own RecordingsAdmin and retention, on the web tests' real SQLite store and real
WAV files: browse by customer and time range, download the stereo file or one side, delete a range (admin), and
/healthz when the disk has no room."""

from __future__ import annotations

import io
import wave
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from recorded_calls import FRAME, NOW, record

from appliance.panel.recordings import RecordingsAdmin
from appliance.records.recordings import CHANNELS
from appliance.records.retention import MB, Retention, RetentionPolicy
from web.recordings import CHANNELS as WEB_CHANNELS

TOKEN = {"Authorization": "Bearer api-token-for-tests"}
ANN = "+15550109999"


@pytest.fixture
def recorded(service: Any, tmp_path: Path) -> dict[str, int]:
    """Ann's calls 50, 20 and 2 days ago; Bo's 10 days ago; Ann's call on the line now."""
    root = tmp_path / "recordings"
    return {name: record(service.records, root, n, days_ago=days, phone=phone, end=end)
            for name, n, days, phone, end in (("ann_50", 1, 50, ANN, True), ("ann_20", 2, 20, ANN, True),
                                              ("ann_2", 3, 2, ANN, True), ("bo_10", 4, 10, "+15550104444", True),
                                              ("ann_live", 5, 0.01, ANN, False))}


def listed(client: Any, **params: str) -> dict[str, Any]:
    response = client.get("/api/v1/recordings", query_string=params, headers=TOKEN)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def test_browse_by_customer_and_time_range(client: Any, recorded: dict[str, int]) -> None:
    every = listed(client)
    assert [r["call_id"] for r in every["recordings"]] == [recorded[k] for k in ("ann_2", "bo_10", "ann_20",
                                                                                   "ann_50")]  # newest first
    assert every["total"] == 4 and every["bytes"] == 4 * (44 + 50 * FRAME * 4)  # not the call on the line
    first = every["recordings"][0]
    assert first["phone"] == ANN and first["customer_name"] == "Ann" and first["ticket_id"] == "T-3"
    assert first["url"] == f"/api/v1/recordings/{recorded['ann_2']}" and first["bytes"] == 44 + 50 * FRAME * 4
    ann = listed(client, phone="+1 555-010-9999")  # any form the box reads
    assert [r["call_id"] for r in ann["recordings"]] == [recorded[k] for k in ("ann_2", "ann_20", "ann_50")]
    ranged = listed(client, phone=ANN, since=(NOW - timedelta(days=30)).isoformat(),
                    until=(NOW - timedelta(days=1)).isoformat())
    assert [r["call_id"] for r in ranged["recordings"]] == [recorded["ann_2"], recorded["ann_20"]]
    page = listed(client, limit="2", offset="2")
    assert [r["call_id"] for r in page["recordings"]] == [recorded["ann_20"], recorded["ann_50"]]
    assert (page["total"], page["limit"], page["offset"]) == (4, 2, 2)


@pytest.mark.parametrize(("params", "parameter"), [
    ({"phone": "not a number"}, "phone"), ({"since": "yesterday"}, "since"), ({"limit": "0"}, "limit"),
    ({"offset": "-1"}, "offset"), ({"since": "2026-05-02T00:00:00Z", "until": "2026-05-01T00:00:00Z"}, "until"),
])
def test_bad_parameters_are_400_naming_them(client: Any, params: dict[str, str], parameter: str) -> None:
    response = client.get("/api/v1/recordings", query_string=params, headers=TOKEN)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_parameter" and response.get_json()["parameter"] == parameter


def test_download_the_stereo_file_or_one_side(client: Any, service: Any, recorded: dict[str, int]) -> None:
    call_id = recorded["ann_20"]
    stereo = client.get(f"/api/v1/recordings/{call_id}", headers=TOKEN)
    assert stereo.status_code == 200 and stereo.mimetype == "audio/wav"
    path = service.recordings.retention.kept_file(call_id)
    assert stereo.data == path.read_bytes()
    for channel, sample in (("customer", 2), ("bot", -2)):
        response = client.get(f"/api/v1/recordings/{call_id}", query_string={"channel": channel}, headers=TOKEN)
        assert response.status_code == 200 and response.mimetype == "audio/wav"
        assert f'filename="call-{call_id}-{channel}.wav"' in response.headers["Content-Disposition"]
        with wave.open(io.BytesIO(response.data)) as mono:
            assert (mono.getnchannels(), mono.getframerate(), mono.getnframes()) == (1, 8000, 50 * FRAME)
            assert mono.readframes(2) == int(sample).to_bytes(2, "little", signed=True) * 2
    bad = client.get(f"/api/v1/recordings/{call_id}", query_string={"channel": "left"}, headers=TOKEN)
    assert bad.status_code == 400 and bad.get_json()["parameter"] == "channel"
    for missing in (999, recorded["ann_live"]):  # no such call; a call still on the line
        response = client.get(f"/api/v1/recordings/{missing}", headers=TOKEN)
        assert response.status_code == 404 and response.get_json()["error"] == "not_found"


def test_without_a_token_nothing_is_read_or_deleted(client: Any, recorded: dict[str, int]) -> None:
    for method, path in (("get", "/api/v1/recordings"), ("get", f"/api/v1/recordings/{recorded['ann_2']}"),
                         ("delete", f"/api/v1/recordings?phone={ANN}")):
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            response = getattr(client, method)(path, headers=headers)
            assert response.status_code == 401 and response.get_json()["error"] == "unauthorized"
    assert listed(client)["total"] == 4


def test_bulk_delete_of_a_range_marks_owner_and_removes_the_files(client: Any, service: Any,
                                                                   recorded: dict[str, int], tmp_path: Path) -> None:
    files = {p.name for p in (tmp_path / "recordings").rglob("*.wav")}
    assert len(files) == 5
    response = client.delete("/api/v1/recordings", query_string={"phone": ANN, "until": (
        NOW - timedelta(days=10)).isoformat()}, headers=TOKEN)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"deleted": 2, "freed_bytes": 2 * (44 + 50 * FRAME * 4), "kept_by_law": 0,
                                   "in_progress": 0}
    left = {p.name for p in (tmp_path / "recordings").rglob("*.wav")}
    assert left == files - {f"{recorded['ann_50']}.wav", f"{recorded['ann_20']}.wav"}
    why = service.records.db.read(lambda c: dict(c.execute(
        "SELECT id, recording_deleted_why FROM calls WHERE recording_deleted_at IS NOT NULL").fetchall()))
    assert why == {recorded["ann_50"]: "owner", recorded["ann_20"]: "owner"}
    assert [r["call_id"] for r in listed(client)["recordings"]] == [recorded["ann_2"], recorded["bo_10"]]
    gone = client.get(f"/api/v1/recordings/{recorded['ann_50']}", headers=TOKEN)
    assert gone.status_code == 404
    everything = client.delete("/api/v1/recordings", headers=TOKEN)  # no range: nothing is deleted
    assert everything.status_code == 400 and everything.get_json()["error"] == "invalid_parameter"
    assert listed(client)["total"] == 2


def test_a_panel_session_deletes_with_its_csrf_token(logged_in: Any, csrf: Any, recorded: dict[str, int]) -> None:
    bo = {"phone": "+15550104444"}
    assert logged_in.delete("/api/v1/recordings", query_string=bo).status_code == 401  # a session alone: no
    token = csrf(logged_in.get("/calls").get_data(as_text=True))
    response = logged_in.delete("/api/v1/recordings", query_string=bo, headers={"X-CSRF-Token": token})
    assert response.status_code == 200 and response.get_json()["deleted"] == 1
    assert logged_in.get(f"/api/v1/recordings/{recorded['bo_10']}").status_code == 404


def test_the_laws_minimum_and_calls_on_the_line_stay(client: Any, service: Any, recorded: dict[str, int]) -> None:
    service.recordings = RecordingsAdmin(Retention(service.records.db, service.recordings.retention.root,
                                                   RetentionPolicy(min_free_bytes=0, keep_days=30)))
    response = client.delete("/api/v1/recordings", query_string={"phone": ANN}, headers=TOKEN)
    assert response.get_json() == {"deleted": 1, "freed_bytes": 44 + 50 * FRAME * 4, "kept_by_law": 2,
                                   "in_progress": 1}
    assert [r["call_id"] for r in listed(client, phone=ANN)["recordings"]] == [recorded["ann_2"],
                                                                               recorded["ann_20"]]


def test_healthz_says_when_there_is_no_room(client: Any, service: Any) -> None:
    service.recordings = RecordingsAdmin(Retention(service.records.db, service.recordings.retention.root,
                                                   RetentionPolicy(min_free_bytes=200 * MB),
                                                   free_bytes=lambda: 150 * MB))
    body = client.get("/healthz").get_json()
    assert body["ok"] is True  # the box answers
    assert body["recordings"]["ok"] is False and body["recordings"]["free_mb"] == 150
    assert body["recordings"]["why"] == "no room for recordings: 150 MB free, 200 MB needed; calls wait"


def test_the_web_names_the_channels_the_recorder_writes() -> None:
    assert tuple(CHANNELS) == WEB_CHANNELS
