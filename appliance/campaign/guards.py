"""The guards between a ticket and a dial, in one place: intake asks them when a ticket arrives, the call runner
asks them again when its task comes due (a task planned before the customer asked not to be called, or before
its flow was unpublished, must still not dial)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from appliance.campaign.remarks import phrase
from appliance.dialog.flow.model import Flow
from appliance.records.config_store import ConfigStore
from appliance.records.dnc import DoNotCall


@dataclass(frozen=True)
class Guard:
    """Why a ticket must not be dialed: ``flow_not_published``, ``do_not_call``, ``missing_variable``, or
    ``no_room`` (which only holds the task a while)."""

    name: str
    why: str  # for an admission's reason: "... matched, but <why>"
    remark: str  # for the ticket, when a planned task is stopped (a ``remarks.Phrase``: said in the shop's language)


def flow_not_published(flow_id: str) -> Guard:
    return Guard("flow_not_published", f"its flow {flow_id!r} is not published",
                 phrase("Flow {flow} is not published; no call made.", flow=repr(flow_id)))


def dial_guard(phone: str, flow_id: str, *, configs: ConfigStore, do_not_call: DoNotCall) -> Guard | None:
    """The first guard that stops a call to ``phone`` with flow ``flow_id``, or None: it may dial."""
    if not configs.published(flow_id):
        return flow_not_published(flow_id)
    entry = do_not_call.entry(phone)
    if entry is not None:
        return Guard("do_not_call",
                     f"{phone} is on the do-not-call list (since {entry.added_at[:10]}: {entry.reason})",
                     phrase("Not called: {phone} is on the do-not-call list since {day} ({why}).", phone=phone,
                            day=entry.added_at[:10], why=entry.reason))
    return None


def missing_variable(flow: Flow, variables: Mapping[str, str]) -> Guard | None:
    """The flow uses a variable that neither the ticket (its fields, its ``vars``) nor the flow's defaults give a
    value: the call is not made, so no customer ever hears a blank where the value should be."""
    missing = flow.declared.missing(variables)
    if not missing:
        return None
    names = ", ".join(missing)
    return Guard("missing_variable", f"flow {flow.id!r} needs {names} and the ticket does not supply it",
                 phrase("Not called: the ticket does not supply {names}, which flow {flow} says. "
                        "Send it in the ticket's vars, or give the flow a default.", names=names, flow=repr(flow.id)))


def no_room(free_mb: int, needed_mb: int) -> Guard:
    """The disk has less free than ``[recordings] min_free_mb`` even after pruning (what is left is younger than
    the law's minimum, or not a recording): the call waits rather than fill the disk mid-call."""
    return Guard("no_room", f"there is no room for recordings ({free_mb} MB free, {needed_mb} MB needed)",
                 phrase("Not called: no room for recordings on the box ({free} MB free, {needed} MB needed).",
                        free=free_mb, needed=needed_mb))
