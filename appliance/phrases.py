"""Words the box writes for a person before it knows their language: a :class:`Phrase` is the English text (a
``str``) that keeps its msgid and fields, so that ``appliance.campaign.remarks.Remarks`` can say it in the shop's
language when it becomes a remark on a ticket. Here, below every room, so that the parts that find the reasons
(a guard, an update, the callee's greeting in ``appliance.dialog``) can mark them; ``make i18n`` reads the keywords
``phrase`` and ``N_`` into the ``remarks`` catalogue (``babel-remarks.cfg``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["N_", "Phrase", "phrase"]


def N_(word: str) -> str:
    """Marks ``word`` for the catalogue; ``Remarks.word`` translates it where it is used."""
    return word


class Phrase(str):
    """A remark made before its language is known: the English text, with its msgid and fields kept so that
    ``Remarks.render`` can say it in another language. It compares, prints and stores as the English."""

    msgid: str
    fields: dict[str, Any]

    def __new__(cls, msgid: str, fields: dict[str, Any]) -> Phrase:
        made = super().__new__(cls, msgid.format(**fields))
        made.msgid = msgid
        made.fields = dict(fields)
        return made

    def __getnewargs__(self) -> tuple[str, dict[str, Any]]:  # type: ignore[override]  # copied and pickled whole
        return self.msgid, self.fields


def phrase(msgid: str, /, **fields: Any) -> Phrase:
    """A remark whose language is chosen later (a guard's, an update's)."""
    return Phrase(msgid, fields)
