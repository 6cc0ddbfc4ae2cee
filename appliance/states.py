"""State tables: a thing's states are an enum, its moves a ``(state, event) -> state`` table, and any other
event in a state raises :class:`IllegalTransition`. The line, the modem's call, the attempt, the task and the
ticket each have one (STYLE.md: "state is a table"); this is the one mechanism they share.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Generic, TypeVar

from appliance.errors import CallboxError

S = TypeVar("S", bound=StrEnum)

__all__ = ["IllegalTransition", "StateTable"]


class IllegalTransition(CallboxError):
    """``event`` is not a move of a ``kind`` (line, call, attempt, task, ticket) in ``state``."""

    def __init__(self, kind: str, state: StrEnum, event: str) -> None:
        super().__init__(f"{kind} event {event!r} is not allowed in state {str(state)!r}")
        self.kind = kind
        self.state = state
        self.event = event


class StateTable(Generic[S]):
    def __init__(self, kind: str, moves: Mapping[tuple[S, str], S]) -> None:
        self.kind = kind
        self.moves = dict(moves)

    def next(self, state: S, event: str) -> S:
        try:
            return self.moves[(state, event)]
        except KeyError:
            raise IllegalTransition(self.kind, state, event) from None

    def allows(self, state: S, event: str) -> bool:
        return (state, event) in self.moves
