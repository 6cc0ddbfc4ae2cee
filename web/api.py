"""The machine-facing HTTP API: the signed ticket webhook and the read API (calls, tickets, tasks, the
outbox)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

from flask import Blueprint, Response, current_app, jsonify, request, send_file, url_for
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from appliance.campaign.attempt import Outcome
from appliance.errors import CallboxError, QueryInvalid, StorageError, TaskInvalid
from appliance.states import IllegalTransition
from web import query
from web.auth import admin_required, api_auth_required
from web.openapi import openapi_document
from web.query import MAX_LIST_LIMIT, ParameterInvalid
from web.ticket_intake import BodyRejected, error, json_object, service, submit

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
scrape = Blueprint("metrics", __name__)  # /metrics sits where Prometheus looks, outside /api/v1

def _verify_signature(text: str) -> str | None:
    """Check the Standard Webhooks signature over the raw body; None if good, else why not."""
    webhook: Webhook = current_app.extensions["callbox_webhook"]
    names = ("webhook-id", "webhook-timestamp", "webhook-signature")
    headers = {name: request.headers.get(name, "") for name in names}
    try:
        webhook.verify(text, headers, json_parse=False)
    except WebhookVerificationError as exc:
        return str(exc) or "signature does not match"
    except (ValueError, OverflowError):  # malformed signature list or base64 inside the library
        return "malformed webhook-signature header"
    return None


@bp.post("/tickets")
def submit_ticket() -> tuple[Response, int]:
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        why: str | None = "body is not UTF-8, so its signature cannot be checked"
    else:
        why = _verify_signature(text)
    if why is not None:
        log.warning("webhook rejected from %s: %s", request.remote_addr, why)
        return error(401, "bad_signature", why)
    try:
        payload = json_object(raw)
    except BodyRejected as exc:
        return error(400, "malformed_json", str(exc))
    return submit(payload, webhook_id=request.headers["webhook-id"])


def _invalid(exc: ParameterInvalid | QueryInvalid) -> tuple[Response, int]:
    return error(400, "invalid_parameter", exc.message, parameter=exc.parameter)


def _page(key: str, items: list[dict[str, Any]], limit: int) -> Response:
    """``limit`` items under ``key``; ``next`` is the URL of the following page (same filters, ``before`` the
    last id shown), or None on the last page. ``items`` holds one more than ``limit`` when there is one."""
    shown = items[:limit]
    following = None
    if len(items) > limit:
        args: dict[str, Any] = {name: value for name, value in request.args.items() if name != "before"}
        args["before"] = shown[-1]["id"]
        following = url_for(cast(str, request.endpoint), **args)
    return jsonify({key: shown, "next": following})


def _with_recording_url(call: dict[str, Any]) -> dict[str, Any]:
    if call.get("has_recording"):
        return {**call, "recording_url": url_for("api.call_recording", call_id=call["id"])}
    return call


@bp.get("/calls")
@api_auth_required
def list_calls() -> Response | tuple[Response, int]:
    """Calls newest first, filtered by phone, time, outcome and task, a page at a time."""
    try:
        limit = query.limit()
        calls = service().find_calls(
            phone=query.text("phone"), since=query.moment("since"), until=query.moment("until"),
            outcome=query.choice("outcome", (o.value for o in Outcome)), task=query.integer("task"),
            before=query.integer("before"), limit=limit + 1)
    except (ParameterInvalid, QueryInvalid) as exc:
        return _invalid(exc)
    return _page("calls", [_with_recording_url(c) for c in calls], limit)


@bp.get("/calls/<int:call_id>")
@api_auth_required
def get_call(call_id: int) -> Response | tuple[Response, int]:
    call = service().get_call(call_id)
    if call is None:
        return error(404, "not_found", f"no call {call_id}")
    return jsonify(_with_recording_url(call))


@bp.get("/calls/<int:call_id>/recording.wav")
@api_auth_required
def call_recording(call_id: int) -> Response | tuple[Response, int]:
    """The call's stereo WAV (customer left, bot right), as the panel serves it, for a bearer token."""
    path = service().recording_path(call_id)
    if path is None or not path.is_file():
        return error(404, "not_found", f"call {call_id} has no recording")
    return send_file(path.absolute(), mimetype="audio/wav", conditional=True, download_name=f"call-{call_id}.wav",
                     max_age=0)


@bp.get("/tickets/<path:ticket_id>")
@api_auth_required
def get_ticket(ticket_id: str) -> Response | tuple[Response, int]:
    ticket = service().ticket_detail(ticket_id)
    if ticket is None:
        return error(404, "not_found", f"no ticket {ticket_id[:200]}")
    ticket["calls"] = [_with_recording_url(c) for c in ticket["calls"]]
    return jsonify(ticket)


CALL_TASK_STATES = ("pending", "running", "paused", "completed", "expired", "cancelled")
CALL_TASK_SOURCES = ("trigger", "cron", "manual", "csv")
CALL_TASK_ACTIONS = ("pause", "resume", "cancel")


@bp.get("/tasks")
@api_auth_required
def list_tasks() -> Response | tuple[Response, int]:
    """Call tasks newest first, each with its progress; by state, source and flow, a page at a time."""
    try:
        limit = query.limit()
        tasks = service().find_call_tasks(
            state=query.choice("state", CALL_TASK_STATES), source=query.choice("source", CALL_TASK_SOURCES),
            flow=query.text("flow"), before=query.integer("before"), limit=limit + 1)
    except ParameterInvalid as exc:
        return _invalid(exc)
    return _page("tasks", tasks, limit)


def _task_body() -> dict[str, Any] | tuple[Response, int]:
    try:
        return json_object(request.get_data(cache=True))
    except BodyRejected as exc:
        return error(400, "malformed_json", str(exc))


def _task_invalid(exc: TaskInvalid) -> tuple[Response, int]:
    """400 naming the first problem (``field``, ``message``) and every one found (``problems``)."""
    return error(400, "invalid_task", exc.message, field=exc.field,
                 problems=[{"field": field, "message": message} for field, message in exc.problems])


@bp.post("/tasks/preview")
@admin_required
def preview_task() -> Response | tuple[Response, int]:
    """What creating this call task would call and refuse, and why; nothing is stored."""
    body = _task_body()
    if not isinstance(body, dict):
        return body
    try:
        return jsonify(service().preview_call_task(body))
    except TaskInvalid as exc:
        return _task_invalid(exc)
    except CallboxError as exc:
        return _unavailable(exc)


@bp.post("/tasks")
@admin_required
def create_task() -> tuple[Response, int]:
    body = _task_body()
    if not isinstance(body, dict):
        return body
    try:
        made = service().create_call_task(body)
    except TaskInvalid as exc:
        return _task_invalid(exc)
    except StorageError as exc:
        log.warning("call task not created: %s", exc)
        return error(409, "conflict", "a customer got a call planned meanwhile; preview again")
    except CallboxError as exc:
        return _unavailable(exc)
    return jsonify(made), 201


def _unavailable(exc: CallboxError) -> tuple[Response, int]:
    log.warning("call task request failed: %s", exc)
    return error(503, "unavailable", str(exc)[:500])


@bp.get("/tasks/<int:task_id>")
@api_auth_required
def get_task(task_id: int) -> Response | tuple[Response, int]:
    task = service().call_task(task_id)
    if task is None:
        return error(404, "not_found", f"no call task {task_id}")
    return jsonify(task)


def _act(call: Callable[[], object | None], missing: str, *, action: str = "") -> Response | tuple[Response, int]:
    """Run one service call for an owner's action and answer it: its result as JSON, 404 ``missing`` when it
    found nothing (None or False), 409 when a call task's state refuses ``action``, 503 when the box cannot."""
    try:
        found = call()
    except IllegalTransition as exc:
        return error(409, "illegal_transition", f"a {exc.state} call task cannot {action}", state=str(exc.state),
                     action=action)
    except CallboxError as exc:
        return _unavailable(exc)
    if found is None or found is False:
        return error(404, "not_found", missing)
    return jsonify(found)


def _no_action(action: str, actions: tuple[str, ...]) -> tuple[Response, int] | None:
    if action in actions:
        return None
    return error(404, "not_found", f"no action {action[:40]!r}; one of {', '.join(actions)}")


@bp.post("/tasks/<int:task_id>/<action>")
@admin_required
def act_on_task(task_id: int, action: str) -> Response | tuple[Response, int]:
    """Pause, resume or cancel a call task; 409 when its state does not allow it."""
    return _no_action(action, CALL_TASK_ACTIONS) or _act(
        lambda: service().call_task_action(task_id, action), f"no call task {task_id}", action=action)


TIMER_ACTIONS = ("enable", "disable")


@bp.get("/timers")
@api_auth_required
def list_timers() -> Response | tuple[Response, int]:
    """The timers that make call tasks at the times of a cron expression, each with its next due time."""
    return _act(lambda: {"timers": service().timers()}, "no timers")


@bp.post("/timers/<int:timer_id>/<action>")
@admin_required
def act_on_timer(timer_id: int, action: str) -> Response | tuple[Response, int]:
    """Enable or disable a timer (a disabled one never fires)."""
    return _no_action(action, TIMER_ACTIONS) or _act(
        lambda: service().timer_action(timer_id, action), f"no timer {timer_id}")


@bp.delete("/timers/<int:timer_id>")
@admin_required
def delete_timer(timer_id: int) -> Response | tuple[Response, int]:
    """Remove a timer; the call tasks it made stay."""
    return _act(lambda: service().delete_timer(timer_id) and {"deleted": timer_id}, f"no timer {timer_id}")


OUTBOX_PAGE = 50


@bp.get("/outbox")
@api_auth_required
def outbox() -> Response | tuple[Response, int]:
    """The ticket operations not yet delivered: backlog, oldest age, last error, the items (paged)."""
    try:
        limit = query.integer("limit", minimum=1, maximum=MAX_LIST_LIMIT) or OUTBOX_PAGE
        offset = query.integer("offset", minimum=0) or 0
    except ParameterInvalid as exc:
        return _invalid(exc)
    return jsonify(service().outbox(limit=limit, offset=offset))


@bp.get("/sync")
@api_auth_required
def sync() -> Response:
    """What waits to leave the box, per target (ticket operations, upstream call records)."""
    return jsonify(service().sync_status())


@bp.get("/openapi.json")
def openapi() -> Response:
    try:
        version = str(service().status().get("version", "0"))
    except Exception:
        log.exception("status() failed while serving the OpenAPI document")
        version = "0"
    return jsonify(openapi_document(version))


@bp.get("/flow-schema")
def flow_schema_document() -> Response:
    """The published JSON Schema of a flow document (public, like the OpenAPI document)."""
    from appliance.dialog.flow.load import flow_schema

    response = jsonify(flow_schema())
    response.mimetype = "application/schema+json"
    return response


@scrape.get("/metrics")
@api_auth_required
def metrics() -> Response | tuple[Response, int]:
    """The box in Prometheus text format (``appliance.panel.metrics``), for a bearer token."""
    try:
        scraped = service().metrics()
    except StorageError as exc:
        log.error("metrics scrape failed: %s", exc)
        return error(503, "storage_unavailable", "the records cannot be read now")
    if scraped is None:
        return error(404, "not_found", "this box keeps no metrics")
    body, content_type = scraped
    return Response(body, content_type=content_type)
