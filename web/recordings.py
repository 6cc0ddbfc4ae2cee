"""The recordings API: browse by customer and time range, download a call's recording (or one side of it), delete a
range. Reading takes a panel session or the bearer token; deleting is an admin's change (the bearer token, or a
session that sends its CSRF token). What the box does with them is ``RecordingsService``'s."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, send_file, url_for

from appliance.errors import CallboxError, QueryInvalid
from web import query
from web.auth import admin_required, api_auth_required
from web.query import ParameterInvalid
from web.ticket_intake import error, service

__all__ = ["CHANNELS", "bp"]

bp = Blueprint("recordings", __name__, url_prefix="/api/v1")

CHANNELS = ("customer", "bot")  # appliance.records.recordings.CHANNELS: left and right of the stereo file


def _invalid(exc: ParameterInvalid | QueryInvalid) -> tuple[Response, int]:
    return error(400, "invalid_parameter", exc.message, parameter=exc.parameter)


@bp.get("/recordings")
@api_auth_required
def list_recordings() -> Response | tuple[Response, int]:
    """The kept recordings, newest first, by customer and time range, a page at a time (``limit``, ``offset``)."""
    try:
        limit = query.limit()
        found = service().recordings.find(
            phone=query.text("phone"), since=query.moment("since"), until=query.moment("until"), limit=limit,
            offset=query.integer("offset", minimum=0) or 0)
    except (ParameterInvalid, QueryInvalid) as exc:
        return _invalid(exc)
    for item in found["recordings"]:
        item["url"] = url_for("recordings.download", call_id=item["call_id"])
    return jsonify(found)


@bp.get("/recordings/<int:call_id>")
@api_auth_required
def download(call_id: int) -> Response | tuple[Response, int]:
    """The stereo WAV (customer left, bot right), or ``?channel=customer|bot`` for that side as mono WAV."""
    try:
        channel = query.choice("channel", CHANNELS)
        wav = service().recordings.wav(call_id, channel)
    except (ParameterInvalid, QueryInvalid) as exc:
        return _invalid(exc)
    if wav is None:
        return error(404, "not_found", f"call {call_id} has no recording (none was made, it was deleted, or the "
                                       "call is still on the line)")
    if isinstance(wav, bytes):
        return Response(wav, mimetype="audio/wav", headers={
            "Content-Disposition": f'attachment; filename="call-{call_id}-{channel}.wav"'})
    return send_file(wav.absolute(), mimetype="audio/wav", conditional=True, download_name=f"call-{call_id}.wav",
                     max_age=0)


@bp.delete("/recordings")
@admin_required
def delete_recordings() -> Response | tuple[Response, int]:
    """Delete the recordings of a customer and/or a time range (at least one); those younger than the calling
    preset's legal minimum and those of calls on the line stay, and are counted."""
    try:
        done = service().recordings.delete(phone=query.text("phone"), since=query.moment("since"),
                                           until=query.moment("until"))
    except (ParameterInvalid, QueryInvalid) as exc:
        return _invalid(exc)
    except CallboxError as exc:
        return error(503, "unavailable", str(exc)[:500])
    return jsonify(done)
