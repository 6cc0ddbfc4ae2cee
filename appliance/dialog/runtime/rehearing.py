"""A recorded call's customer turns understood again: each at the node it was said at, by the flow version the call
ran, with the engine's own understanding (:meth:`FlowRun.hear`: intents, slots, the knowledge base, a recogniser's
alternative reading), for re-analysis (``appliance.campaign.reanalysis``).

The recording holds the conversation that happened: the bot asked what it asked because of what it heard then. So
the turns are not replayed as a new conversation (a new reading of the first answer would send the flow down a
branch the customer never heard); the run is put at each turn's node (:meth:`FlowRun.stand_at`) and hears the new
text there. What the run then does on its own (the next node, an API node) does not count: an API node gets no
answer here (no request leaves the box), and a flow that would loop or fall back without a fallback node only ends
that step. Slots fill as they did in the call (a slot said early fills the node where it belongs).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, tzinfo

from appliance.dialog.flow.model import Flow
from appliance.dialog.nlu.strength import Strength, intent_strength
from appliance.dialog.runtime.api_client import ApiFailure, HttpRequest, HttpResponse
from appliance.dialog.runtime.engine import FlowRun
from appliance.dialog.runtime.slot_fill import filled_json
from appliance.dialog.runtime.steps import TurnRecord
from appliance.errors import FlowError

__all__ = ["Rehearing"]

log = logging.getLogger(__name__)


def _no_request(request: HttpRequest) -> HttpResponse:
    raise ApiFailure("re-analysis sends no request")


class Rehearing:
    """One call's customer turns heard again. ``at``: when the call was made (a "tomorrow" said in it is the day
    after the call, not after the re-analysis), ``tz`` the shop's zone."""

    def __init__(self, flow: Flow, *, at: datetime, tz: tzinfo, version: int | None = None) -> None:
        self.flow = flow
        self.run = FlowRun(flow, {}, version=version, http=_no_request, clock=lambda: at, tz=tz)

    def listens_at(self, node_id: str) -> bool:
        """Whether ``node_id`` is a dialogue node of this flow version (where a customer turn can be heard)."""
        node = self.flow.nodes.get(node_id)
        return node is not None and node.type == "dialogue"

    def grammar_at(self, node_id: str) -> tuple[str, ...]:
        """Stand at ``node_id`` and give the phrases its recogniser takes (empty: a free-form answer)."""
        return self.run.stand_at(node_id).grammar

    def hear(self, node_id: str, text: str, *, confidence: float = 1.0,
             alternatives: tuple[str, ...] = ()) -> TurnRecord:
        """The customer said ``text`` at ``node_id``: the turn as the flow understands it."""
        return self._turn(node_id, lambda: self.run.hear(text, confidence=confidence, alternatives=alternatives))

    def keys(self, node_id: str, digits: str) -> TurnRecord:
        return self._turn(node_id, lambda: self.run.dtmf(digits))

    def silence(self, node_id: str) -> TurnRecord:
        return self._turn(node_id, self.run.no_input)

    def _turn(self, node_id: str, act: Callable[[], object]) -> TurnRecord:
        self.run.stand_at(node_id)
        start = len(self.run.turns)
        try:
            act()
        except FlowError as exc:  # where the turn would lead next is not this turn's reading
            log.debug("re-hearing at %s: the flow's next step failed (%s); the turn stands", node_id, exc)
        return next(t for t in self.run.turns[start:] if t.speaker == "customer")

    @property
    def slots(self) -> dict[str, object]:
        """The slots the turns heard so far filled, as JSON (as a call's ``slots`` are stored)."""
        return {k: filled_json(v) for k, v in self.run.result.slots.items()}

    def strength(self, turns: Iterable[TurnRecord], *, nodes: Iterable[str], disposition: str | None,
                 ended_by: str) -> Strength:
        """The call's intent strength from the turns heard again; ``nodes``: the nodes the call went through
        (their required slots are the ones asked for), ``disposition`` and ``ended_by`` how the call ended."""
        asked = [s for nid in dict.fromkeys(nodes) if self.listens_at(nid) for s in self.flow.nodes[nid].slots
                 if s.required]
        filled = self.run.result.slots
        return intent_strength(list(turns), disposition=disposition, slots_filled=sum(s.name in filled for s in asked),
                               slots_required=len(asked), ended_by=ended_by)
