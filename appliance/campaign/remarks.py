"""The remarks the box writes on tickets, in the shop's language (``[shop] language``).

A remark is rendered when its conclusion is made, from a gettext message catalogue (domain ``remarks``:
``appliance/locale/<lang>/LC_MESSAGES/remarks.po``, compiled to ``.mo`` by ``make i18n``). The msgid is the
English remark with ``{named}`` fields, so an English shop gets the very text it always had (no catalogue is
read for English) and a translation may put the fields in its own order. Numbers, times, phone numbers and the
customer's own words are fields: they are filled in as they are, only the phrases around them translate.

The pure functions that write remarks (``campaign.conclude``, ``attempt.retry_decision``, the guards) take a
:class:`Remarks` as an argument; nothing here reads a global. A guard's remark is made before anyone knows the
language, so it is a :class:`Phrase`: the English text (a ``str``, as before) that remembers its msgid and
fields, rendered in the shop's language by :meth:`Remarks.render` when the conclusion is made.

Markers that ``pybabel extract`` reads (``make i18n``, keywords ``phrase`` and ``N_``): ``remarks.phrase(msgid,
**fields)`` / ``phrase(msgid, **fields)`` for a sentence, ``N_(word)`` for a word looked up later with
:meth:`Remarks.word`.
"""

from __future__ import annotations

import gettext
from pathlib import Path
from typing import Any

from appliance.phrases import N_, Phrase, phrase

__all__ = ["DOMAIN", "ENGLISH", "LANGUAGES", "LOCALE_DIR", "N_", "Phrase", "Remarks", "phrase", "remark_language"]

DOMAIN = "remarks"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LANGUAGES = ("en", "zh")  # the remark languages the box ships; English is the msgids themselves


def remark_language(tag: str) -> str:
    """The remark language for a ``[shop] language`` tag: ``zh``, ``zh-CN``, ``zh-Hans`` (any ``zh``/``cmn``
    tag) -> ``zh``; anything else -> ``en``."""
    primary = tag.replace("_", "-").split("-")[0].strip().lower()
    return "zh" if primary in ("zh", "cmn") else "en"


class Remarks:
    """Says remarks in one language. ``Remarks()`` is English; :meth:`for_language` reads the catalogue for a
    ``[shop] language`` tag (a missing catalogue is an error: the box ships both)."""

    def __init__(self, translations: gettext.NullTranslations | None = None, language: str = "en") -> None:
        self._t = translations or gettext.NullTranslations()
        self.language = language

    @classmethod
    def for_language(cls, tag: str, *, locale_dir: Path = LOCALE_DIR) -> Remarks:
        language = remark_language(tag)
        if language == "en":
            return ENGLISH
        return cls(gettext.translation(DOMAIN, localedir=str(locale_dir), languages=[language]), language)

    def phrase(self, msgid: str, /, **fields: Any) -> str:
        """The sentence ``msgid`` in this language, its fields filled in as they are (a field that is itself a
        :class:`Phrase`, such as an update's reason, in this language too)."""
        said = {name: self.render(value) if isinstance(value, Phrase) else value for name, value in fields.items()}
        return self._t.gettext(msgid).format(**said)

    def word(self, msgid: str) -> str:
        """A word marked with :func:`N_` (an outcome's name), in this language."""
        return self._t.gettext(msgid)

    def render(self, text: str) -> str:
        """A :class:`Phrase` said in this language; any other text as it is."""
        if isinstance(text, Phrase):
            return self.phrase(text.msgid, **text.fields)
        return text

    def sentences(self, *parts: str) -> str:
        """Sentences one after the other: a space between them in English, none in Chinese (its full stops
        carry the break)."""
        return ("" if self.language == "zh" else " ").join(p for p in parts if p)

    def __repr__(self) -> str:
        return f"Remarks({self.language!r})"


ENGLISH = Remarks()
