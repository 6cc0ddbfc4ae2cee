"""The console's Flows and Voice pages through Flask's test client, over the box's own parts: the real config
store, the real FlowAdmin and FlowPublisher (prompts rendered by the real joe piper voice), a real records store
for stored tickets. Rollback (all or nothing, audited), the editor's problems at their nodes, the prompts'
rendering progress, the try console's variables from a stored or a sample ticket, the Voice page and its WAV
preview."""

from __future__ import annotations

import io
import json
import re
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from appliance.campaign.intake import admit
from appliance.campaign.publish import FlowPublisher
from appliance.campaign.voices import FlowPrompts
from appliance.panel.flows import FlowAdmin
from appliance.panel.voice import VoiceAdmin
from appliance.speech.tts.prompts import RecordedPrompts, VoiceLibrary

EXAMPLES = Path(__file__).resolve().parents[2] / "flows" / "examples"
DELIVERY = json.loads((EXAMPLES / "delivery-confirmation.en.json").read_text())
PAYMENT = json.loads((EXAMPLES / "payment-reminder.en.json").read_text())
FLOW = DELIVERY["id"]


@pytest.fixture
def audit(service: Any) -> list[tuple[str, str, Any, Any]]:
    """The audit entries the pages record (the service's ``audit_change``)."""
    entries: list[tuple[str, str, Any, Any]] = []
    service.audit_change = lambda who, what, before, after: entries.append((who, what, before, after))
    return entries


@pytest.fixture
def box_flows(service: Any, piper_tts: Any, tmp_path: Path) -> Iterator[FlowPublisher]:
    """The service's flows wired as the box wires them: publishing renders the prompts on the prerender thread
    with the flow's own voice; the Voice page previews with the same library; tickets come from the records."""
    voices = VoiceLibrary(piper_tts)
    publisher = FlowPublisher(service.configs, FlowPrompts(voices, RecordedPrompts(tmp_path / "recorded")),
                              prerender_on_publish=True)
    service.flows = FlowAdmin(service.configs, publisher.publish_soon, render_progress=publisher.render_progress,
                              voice=VoiceAdmin(voices), tickets=service.records.ticket,
                              recent_tickets=service.records.tickets, shop_name="Corner Shop")
    yield publisher
    publisher.stop()


def publish(service: Any, document: dict[str, Any]) -> int:
    version: int = service.flows.publish_document(document)
    return version


def edit_page(client: FlaskClient, csrf: Callable[[str], str], text: str, action: str = "check",
              flow: str = FLOW) -> Any:
    token = csrf(client.get(f"/flows/{flow}/edit").get_data(as_text=True))
    return client.post(f"/flows/{flow}/edit", data={"csrf_token": token, "document": text, "action": action})


# -- the list: who uses a flow, versions, rollback -------------------------------------------------------------
def test_the_list_shows_which_scenarios_and_rules_use_each_flow(logged_in: FlaskClient, service: Any) -> None:
    publish(service, DELIVERY)
    publish(service, PAYMENT)
    service.rules.set_scenarios([{"name": "parcels", "flow": FLOW, "covers": {"type": ["delivery"]}}])
    service.rules.set_rules([{"name": "shipped parcels", "action": "call", "scenario": "parcels"}])
    page = logged_in.get("/flows").get_data(as_text=True)
    row = page[page.index(f'id="flow-{FLOW}"'):]
    row = row[:row.index("</tr>")]
    assert "parcels" in row and "shipped parcels" in row
    other = page[page.index(f'id="flow-{PAYMENT["id"]}"'):]
    assert "No scenario calls it" in other[:other.index("</tr>")]


def test_rollback_publishes_an_older_version_again_as_the_newest(logged_in: FlaskClient, service: Any,
                                                                 csrf: Callable[[str], str],
                                                                 audit: list[Any]) -> None:
    publish(service, DELIVERY)
    changed = json.loads(json.dumps(DELIVERY))
    changed["nodes"]["greet"]["say"] = "Hi {name}, about order {order_id}: will someone be home tomorrow?"
    assert publish(service, changed) == 2
    page = logged_in.get(f"/flows/{FLOW}").get_data(as_text=True)
    assert "Publish v1 again" in page and "Publish v2 again" not in page
    response = logged_in.post(f"/flows/{FLOW}/rollback", data={"csrf_token": csrf(page), "version": "1"})
    assert response.status_code == 302 and response.headers["Location"].endswith("published=3&rolled_back=1")
    assert service.flows.flow_versions(FLOW) == [1, 2, 3]
    assert service.flows.flow_document(FLOW)[1] == DELIVERY  # calls now use v1's document again
    assert "Version 1 published again as version 3." in logged_in.get(response.headers["Location"]).get_data(
        as_text=True)
    assert audit == [("admin", f"flow:{FLOW}", {"version": 2}, {"version": 3, "copy_of": 1})]


def test_rollback_refuses_a_stale_form_the_newest_version_and_an_unknown_one(
        logged_in: FlaskClient, service: Any, csrf: Callable[[str], str], audit: list[Any]) -> None:
    publish(service, DELIVERY)
    changed = json.loads(json.dumps(DELIVERY))
    changed["name"] = "Delivery, second wording"
    publish(service, changed)
    token = csrf(logged_in.get("/flows").get_data(as_text=True))
    stale = logged_in.post(f"/flows/{FLOW}/rollback", data={"csrf_token": "forged", "version": "1"})
    assert stale.status_code == 400 and "stale" in stale.get_data(as_text=True)
    newest = logged_in.post(f"/flows/{FLOW}/rollback", data={"csrf_token": token, "version": "2"})
    assert newest.status_code == 400 and "already what calls use" in newest.get_data(as_text=True)
    assert logged_in.post(f"/flows/{FLOW}/rollback", data={"csrf_token": token, "version": "9"}).status_code == 404
    assert service.flows.flow_versions(FLOW) == [1, 2] and audit == []  # nothing changed


def test_rollback_of_a_version_that_can_no_longer_be_published_changes_nothing(
        logged_in: FlaskClient, service: Any, csrf: Callable[[str], str]) -> None:
    old = json.loads(json.dumps(PAYMENT))
    service.configs.publish_flow(old | {"variables": {**old["variables"], "amount": {}}})  # stored before the check
    publish(service, PAYMENT)
    token = csrf(logged_in.get("/flows").get_data(as_text=True))
    response = logged_in.post(f"/flows/{PAYMENT['id']}/rollback", data={"csrf_token": token, "version": "1"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "can no longer be published" in page and "variables.amount" in page
    assert service.flows.flow_versions(PAYMENT["id"]) == [1, 2]


# -- the editor -------------------------------------------------------------------------------------------------
def test_the_editor_shows_each_problem_at_its_node_and_line(logged_in: FlaskClient, service: Any,
                                                            csrf: Callable[[str], str]) -> None:
    publish(service, DELIVERY)
    page = logged_in.get(f"/flows/{FLOW}/edit").get_data(as_text=True)
    assert 'id="node-greet"' in page and "node-bad" not in page  # every node listed, none marked
    broken = json.loads(json.dumps(DELIVERY))
    broken["nodes"]["greet"]["intents"]["confirm"] = {"next": "nowhere"}
    broken["nodes"]["confirmed"]["say"] = "Bye {nickname}"
    text = json.dumps(broken, indent=2)
    response = edit_page(logged_in, csrf, text)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Problems found: 3. Nothing was published" in page
    greet = page[page.index('id="node-greet"') - 40:]
    greet = greet[:greet.index("</article>")]
    assert "node-card node-bad" in greet and "points to missing node nowhere" in greet
    assert "intents.confirm" in greet
    bye = page[page.index('id="node-confirmed"') - 40:]
    bye = bye[:bye.index("</article>")]  # nothing leads to it any more, and its text names an unknown variable
    assert "unknown variable(s) nickname" in bye and "cannot be reached from the start node greet" in bye
    calm = page[page.index('id="node-ask_time"') - 40:]
    assert "node-bad" not in calm[:calm.index("</article>")]  # only the nodes at fault are marked
    lines = text.splitlines()
    greet_line = next(i for i, line in enumerate(lines, 1) if line.strip().startswith('"greet": {'))
    marked = re.search(r'data-bad-lines="([0-9,]*)"', page)
    assert marked is not None and str(greet_line) in marked[1].split(",")
    assert f'data-line="{greet_line}"' in greet  # the card jumps to the node's line
    assert service.flows.flow_versions(FLOW) == [1]


def test_the_editor_speaks_the_readers_language_and_places_broken_json(logged_in: FlaskClient, service: Any,
                                                                       csrf: Callable[[str], str]) -> None:
    publish(service, DELIVERY)
    page = logged_in.get("/flows").get_data(as_text=True)
    logged_in.post("/language", data={"csrf_token": csrf(page), "lang": "zh", "next": "/flows"})
    broken = json.loads(json.dumps(DELIVERY))
    broken["nodes"]["greet"]["intents"]["confirm"] = {"next": "nowhere"}
    page = edit_page(logged_in, csrf, json.dumps(broken, indent=2)).get_data(as_text=True)
    greet = page[page.index('id="node-greet"'):]
    assert "指向不存在的节点 nowhere" in greet[:greet.index("</article>")]
    response = edit_page(logged_in, csrf, '{\n  "id": "x",\n  "nodes": {,\n}')
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "第 3 行" in page and 'data-bad-lines="3"' in page


def test_the_editor_publishes_and_the_page_follows_the_prompts_rendering(
        logged_in: FlaskClient, service: Any, csrf: Callable[[str], str], box_flows: FlowPublisher,
        audit: list[Any]) -> None:
    publish(service, DELIVERY)
    assert box_flows.wait_idle(120)
    edited = json.loads(json.dumps(DELIVERY))
    edited["nodes"]["confirmed"]["say"] = "Thank you. Your parcel arrives tomorrow. Goodbye!"
    checked = edit_page(logged_in, csrf, json.dumps(edited, indent=2))
    assert checked.status_code == 200 and "No problems: this can be published." in checked.get_data(as_text=True)
    assert service.flows.flow_versions(FLOW) == [1]  # checking publishes nothing
    response = edit_page(logged_in, csrf, json.dumps(edited, indent=2), action="publish")
    assert response.status_code == 302 and response.headers["Location"].endswith("published=2")
    assert audit == [("admin", f"flow:{FLOW}", {"version": 1}, {"version": 2, "edited": True})]
    page = logged_in.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="flow-rendering"' in page
    assert box_flows.wait_idle(120)
    fragment = logged_in.get(f"/flows/{FLOW}/rendering").get_data(as_text=True)
    progress = service.flows.render_progress(FLOW)
    assert progress["version"] == 2 and progress["state"] == "done" and progress["total"] > 0
    assert f"all {progress['total']} prompts are rendered" in fragment
    assert "hx-trigger" not in fragment  # finished: the page stops polling


def test_the_editor_refuses_another_flows_id(logged_in: FlaskClient, service: Any,
                                             csrf: Callable[[str], str]) -> None:
    publish(service, DELIVERY)
    other = DELIVERY | {"id": "someone-else"}
    response = edit_page(logged_in, csrf, json.dumps(other), action="publish")
    assert response.status_code == 200 and f"must stay {FLOW}" in response.get_data(as_text=True)
    assert service.flows.flow_document("someone-else") is None


# -- the try console's variables ---------------------------------------------------------------------------------
def test_try_variables_from_a_sample_or_a_stored_ticket_through_a_scenario(logged_in: FlaskClient, service: Any,
                                                                           box_flows: FlowPublisher,
                                                                           csrf: Callable[[str], str]) -> None:
    publish(service, PAYMENT)
    service.rules.set_scenarios([{"name": "reminders", "flow": PAYMENT["id"],
                                  "variables": {"amount": "vars.amount"}, "defaults": {"due_date": "last week"}}])
    page = logged_in.get(f"/flows/{PAYMENT['id']}").get_data(as_text=True)
    assert "name=Alex Sample" in page and "shop=Corner Shop" in page and "due_date=last week" in page
    missing = page[page.index("missing-variables"):]
    assert "amount" in missing[:missing.index("</div>")]  # listed before the conversation starts
    admit({"id": "T-77", "type": "payment", "subject": "Invoice", "customer": {"name": "Dana Li",
           "phone": "+15550100777"}, "order": {"id": "O-9", "status": "unpaid"}, "vars": {"amount": "40 euros"}},
          webhook_id="msg-77", records=service.records, configs=service.configs, max_attempts=3)
    picker = logged_in.get(f"/flows/{PAYMENT['id']}").get_data(as_text=True)
    assert '<option value="T-77">T-77 · Dana Li</option>' in picker  # the newest tickets to choose from
    page = logged_in.get(f"/flows/{PAYMENT['id']}?ticket=T-77&scenario=reminders").get_data(as_text=True)
    assert "name=Dana Li" in page and "amount=40 euros" in page and "order_id=O-9" in page
    assert "missing-variables" not in page and "Filled from ticket T-77 through scenario reminders" in page
    response = logged_in.post(f"/flows/{PAYMENT['id']}?ticket=T-77&scenario=reminders", data={
        "csrf_token": csrf(page), "variables": "name=Dana Li\norder_id=O-9\nshop=Corner Shop\namount=40 euros\n"
                                               "due_date=last week", "says": "yes"})
    assert response.status_code == 200 and "reminder from Corner Shop: 40 euros for order O-9" in response.get_data(
        as_text=True)
    unknown = logged_in.get(f"/flows/{PAYMENT['id']}?ticket=NOPE")
    assert unknown.status_code == 400 and "There is no ticket NOPE." in unknown.get_data(as_text=True)


# -- the Voice page ----------------------------------------------------------------------------------------------
def test_the_voice_page_lists_voices_and_saves_a_flows_voice_as_a_new_version(
        logged_in: FlaskClient, service: Any, csrf: Callable[[str], str], box_flows: FlowPublisher,
        audit: list[Any], piper_tts: Any) -> None:
    publish(service, DELIVERY)
    page = logged_in.get("/voice").get_data(as_text=True)
    assert piper_tts.loaded.name in page and 'href="/voice" aria-current="page"' in page
    assert "Hello Alex Sample" in page  # the preview's sentence: the flow's greeting with the sample values
    token = csrf(page)
    bad = logged_in.post(f"/voice/{FLOW}", data={"csrf_token": token, "volume": "3"})
    assert bad.status_code == 400 and "Volume: must be a number above 0.0 and at most 1.0" in bad.get_data(
        as_text=True)
    unknown = logged_in.post(f"/voice/{FLOW}", data={"csrf_token": token, "voice": "no-such-voice"})
    assert unknown.status_code == 400 and "no-such-voice" in unknown.get_data(as_text=True)
    speaker = logged_in.post(f"/voice/{FLOW}", data={"csrf_token": token, "speaker": "7"})
    assert speaker.status_code == 400 and "Speaker: voice" in speaker.get_data(as_text=True)
    assert service.flows.flow_versions(FLOW) == [1]  # refused whole
    saved = logged_in.post(f"/voice/{FLOW}", data={"csrf_token": token, "length_scale": "1.2", "volume": "0.8"})
    assert saved.status_code == 302
    assert service.flows.flow_document(FLOW) == (2, DELIVERY | {"voice": {"length_scale": 1.2, "volume": 0.8}})
    assert audit == [("admin", f"flow:{FLOW}.voice", None, {"length_scale": 1.2, "volume": 0.8})]
    assert box_flows.wait_idle(120)
    assert service.flows.render_progress(FLOW)["state"] == "done"  # v2's prompts rendered with the new settings
    page = logged_in.get(saved.headers["Location"]).get_data(as_text=True)
    assert 'value="1.2"' in page and "version 2 speaks with it" in page


def test_the_preview_is_a_wav_at_the_line_rate_cached_and_limited(logged_in: FlaskClient, service: Any,
                                                                   box_flows: FlowPublisher,
                                                                   piper_tts: Any) -> None:
    url = "/voice/preview.wav?text=Hello+from+the+corner+shop.&length_scale=1.1&volume=0.9"
    response = logged_in.get(url)
    assert response.status_code == 200 and response.mimetype == "audio/wav"
    with wave.open(io.BytesIO(response.data)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert 0.5 < w.getnframes() / 8000 < 5  # a short sentence, spoken
    runs = piper_tts.synth_calls
    again = logged_in.get(url)
    assert again.data == response.data and piper_tts.synth_calls == runs  # answered from the cache
    slower = logged_in.get("/voice/preview.wav?text=Hello+from+the+corner+shop.&length_scale=1.6")
    assert len(slower.data) > len(response.data)  # the speed is applied
    long = logged_in.get("/voice/preview.wav?text=" + "word+" * 60)
    assert long.status_code == 400 and "at most 200 characters" in long.get_data(as_text=True)
    empty = logged_in.get("/voice/preview.wav?text=+")
    assert empty.status_code == 400 and "type a sentence" in empty.get_data(as_text=True)
    bad = logged_in.get("/voice/preview.wav?text=Hi&voice=nobody")
    assert bad.status_code == 400 and "nobody" in bad.get_data(as_text=True)
    assert "Traceback" not in bad.get_data(as_text=True)


def test_the_voice_pages_need_a_login(client: FlaskClient) -> None:
    for path in ("/voice", "/voice/preview.wav?text=hi", f"/flows/{FLOW}/edit", f"/flows/{FLOW}/rendering"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    assert client.post(f"/flows/{FLOW}/rollback", data={"version": "1"}).status_code == 302


def test_key_lines_find_the_nodes_in_the_text_as_typed() -> None:
    from web.flow_editor import key_lines

    text = ('{\n  "id": "x",\n  "intents": {"greet": {"examples": ["say \\"greet\\": {"]}},\n  "nodes": {\n'
            '    "greet": {"next": "bye", "intents": {"bye": {}}},\n\n    "bye": {}\n  },\n  "start": "greet"\n}')
    top, nodes = key_lines(text)
    assert top == {"id": 2, "intents": 3, "nodes": 4, "start": 9}
    assert nodes == {"greet": 5, "bye": 7}  # an intent or a string that looks like a key is not a node
    assert key_lines('{"nodes": {"a": {}, ')[1] == {"a": 1}  # broken text: what can be placed is
