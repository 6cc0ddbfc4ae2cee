"""A flow's voice settings: loudness above full scale is refused by the parser and the schema alike."""

from __future__ import annotations

import jsonschema
import pytest

from appliance.dialog.flow.load import builtin_flow_path, flow_schema, load_document
from appliance.dialog.flow.parse import check_flow


@pytest.mark.parametrize(("volume", "ok"), [(1.0, True), (0.5, True), (1.5, False), (0.0, False)])
def test_core_flow_voice_volume_is_at_most_full_scale(volume: float, ok: bool) -> None:
    doc = load_document(builtin_flow_path("delivery-confirmation.en"))
    doc["voice"] = {"volume": volume}
    _, problems = check_flow(doc)
    assert (not problems) is ok, problems
    if not ok:
        assert any(p.field == "voice.volume" for p in problems)
    valid = jsonschema.Draft202012Validator(flow_schema()).is_valid(doc)
    assert valid is ok
