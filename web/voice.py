"""The Voice page: the voices and recognition models installed on the box, each flow's voice, speed and volume
(stored in the flow document's ``"voice"``, so a change is a new published version whose prompts are rendered
again with it), and a preview that plays a sentence with the chosen voice (a WAV, cached, at most
:data:`MAX_PREVIEW_CHARS` characters).

Saving a flow's voice is the admin's: when ``web.auth.role_required`` lands, ``save`` takes
``@role_required("admin")``; it checks the form's CSRF token and records the change in the audit log.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from typing import Any

from flask import Blueprint, Response, abort, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from appliance.errors import CallboxError, FlowError
from web.audit import record_change
from web.auth import csrf_ok, login_required, role_required
from web.flow_editor import translate
from web.panel import render_page, service

log = logging.getLogger(__name__)

bp = Blueprint("voice_page", __name__)

MAX_PREVIEW_CHARS = 200  # appliance.panel.voice checks it too; the form says it
SAMPLE_SENTENCE_CHARS = 160


def _fields() -> dict[str, str]:
    return {"voice": _("Voice"), "speaker": _("Speaker"), "length_scale": _("Speed"), "volume": _("Volume"),
            "text": _("Sentence"), "name": _("Voice")}


def _number(raw: str | None, field: str) -> float | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise FlowError(_("must be a number"), field=field) from None


def _speaker(raw: str | None) -> int | str | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    return int(raw) if raw.isdigit() else raw


def _choice(form: Any) -> dict[str, Any]:
    """The form's voice settings as a flow's ``"voice"`` object (empty fields left out: the box's default)."""
    voice: dict[str, Any] = {}
    if (form.get("voice") or "").strip():
        voice["name"] = form["voice"].strip()
    speaker = _speaker(form.get("speaker"))
    if speaker is not None:
        voice["speaker"] = speaker
    for key in ("length_scale", "volume"):
        value = _number(form.get(key), key)
        if value is not None:
            voice[key] = value
    return voice


def _sample_sentence(document: dict[str, Any], values: dict[str, str]) -> str:
    """The flow's greeting with the sample ticket's values: what a customer hears first."""
    nodes = document.get("nodes") if isinstance(document.get("nodes"), dict) else {}
    start = nodes.get(document.get("start"), {}) if isinstance(nodes, dict) else {}
    say = start.get("say") if isinstance(start, dict) else None
    if not isinstance(say, str) or not say.strip():
        return ""
    filled = defaultdict(str, {k: v for k, v in values.items() if v})
    try:
        text = say.format_map(filled)
    except (ValueError, IndexError, AttributeError, KeyError):
        text = say
    text = re.sub(r"\s+", " ", text).strip()
    return text[:SAMPLE_SENTENCE_CHARS]


def _flows() -> list[dict[str, Any]]:
    flows = service().flows
    out = []
    for listed in flows.list_flows():
        found = flows.flow_document(listed["id"])
        if found is None:
            continue
        document = found[1]
        voice = document.get("voice") if isinstance(document.get("voice"), dict) else {}
        filled = flows.try_variables(listed["id"]) or {"variables": {}}
        out.append(listed | {"voice": voice, "sample": _sample_sentence(document, filled["variables"])})
    return out


def _page(*, status: int = 200, **context: Any) -> tuple[str, int]:
    catalogue = service().flows.voice.catalogue()
    return render_page("voice.html", page="voice", catalogue=catalogue, flows=_flows(),
                       max_chars=MAX_PREVIEW_CHARS, **context), status


@bp.get("/voice")
@login_required
def index() -> tuple[str, int]:
    return _page(saved=request.args.get("saved"), version=request.args.get("version"))


@bp.post("/voice/<flow_id>")
@login_required
@role_required("admin")
def save(flow_id: str) -> BaseResponse | tuple[str, int]:
    """A flow's voice, speed and volume: published as a new version of the flow."""
    flows = service().flows
    found = flows.flow_document(flow_id)
    if found is None:
        abort(404, description=_("There is no published flow %(flow)s.", flow=flow_id))
    if not csrf_ok():
        return _page(status=400, error=_("The form was stale. Please try again."), error_flow=flow_id)
    before = found[1].get("voice")
    try:
        voice = _choice(request.form)
        version = flows.set_voice(flow_id, voice or None)
    except FlowError as exc:
        where = _fields().get((exc.field or "").split(".")[-1], _("Voice"))
        message = str(exc).split(": ", 1)[-1] if exc.field else str(exc)
        return _page(status=400, error=_("%(field)s: %(why)s", field=where, why=translate(message)),
                     error_flow=flow_id)
    if version != found[0]:
        record_change(f"flow:{flow_id}.voice", before, voice or None)
    return redirect(url_for("voice_page.index", saved=flow_id, version=version) + f"#voice-{flow_id}")


@bp.get("/voice/preview.wav")
@login_required
def preview() -> Response:
    """A sentence spoken with the chosen voice and settings, as a WAV at the line's rate (cached)."""
    text = " ".join(request.args.get("text", "").split())
    if not text:
        return _refused(_("Sentence: type a sentence to hear."))
    if len(text) > MAX_PREVIEW_CHARS:
        return _refused(_("Sentence: at most %(max)s characters (this one has %(count)s).", max=MAX_PREVIEW_CHARS,
                          count=len(text)))
    try:
        choice = _choice(request.args)
        body = service().flows.voice.preview(text, name=choice.get("name"), speaker=choice.get("speaker"),
                                             length_scale=choice.get("length_scale"), volume=choice.get("volume"))
    except CallboxError as exc:
        field = getattr(exc, "field", None) or "voice"
        where = _fields().get(field.split(".")[-1], _("Voice"))
        message = str(exc).split(": ", 1)[-1] if isinstance(exc, FlowError) and exc.field else str(exc)
        return _refused(_("%(field)s: %(why)s", field=where, why=message))
    return Response(body, mimetype="audio/wav", headers={"Cache-Control": "private, max-age=3600"})


def _refused(message: str) -> Response:
    return Response(message, status=400, mimetype="text/plain")
