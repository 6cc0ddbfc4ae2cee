"""Text messages in PDU mode: encode with python-gsmmodem-new, send with AT+CMGS.

PDU mode works the same on every family (Huawei, Quectel, SIMCom, SIM800),
needs no character-set negotiation (``AT+CSCS``), and carries Unicode: a text
that GSM-7 cannot spell goes as UCS2. A text too long for one message goes as
several parts with a concatenation header, all sharing one reference, so the
phone shows one message.

Each part is ``AT+CMGS=<TPDU length>``, the modem's ``> `` prompt, the PDU in
hex and Ctrl-Z; the modem answers ``+CMGS: <message reference>`` and ``OK``
once the network has taken it (that can take many seconds on a real network).
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from typing import Protocol

from gsmmodem.pdu import decodeSmsPdu, encodeGsm7, encodeSmsSubmitPdu

from appliance.errors import ModemError

log = logging.getLogger(__name__)

_CMGS = re.compile(r"^\+CMGS:\s*(\d+)")


class PromptCommands(Protocol):
    """What sending needs: an AtChannel or a Modem (both have these two methods)."""

    def command(self, cmd: str, *, timeout: float | None = None, expect: str | None = None) -> list[str]: ...

    def command_with_prompt(
        self,
        cmd: str,
        payload: str,
        *,
        prompt_timeout: float | None = None,
        timeout: float | None = None,
        expect: str | None = None,
    ) -> list[str]: ...


@dataclass(frozen=True)
class SmsPart:
    """One SMS-SUBMIT PDU ready for AT+CMGS: hex text and the TPDU length (the PDU without the SMSC octet)."""

    pdu_hex: str
    tpdu_length: int


@dataclass(frozen=True)
class SmsTimeouts:
    mode: float = 5.0  # AT+CMGF=0
    prompt: float = 5.0  # from AT+CMGS=<n> to the "> " prompt
    submit: float = 60.0  # from Ctrl-Z to +CMGS (the network has to accept it)


def normalise_number(number: str) -> str:
    """Keep a leading ``+`` and the digits; spaces, dashes, dots and brackets go."""
    cleaned = number.strip()
    plus = cleaned.startswith("+")
    digits = "".join(ch for ch in cleaned if ch.isdigit())
    if not digits or len(digits) > 20 or any(ch not in "+0123456789 -.()/" for ch in cleaned):
        raise ValueError(f"not a phone number for a text message: {number!r}")
    return ("+" if plus else "") + digits


def utf16_units(text: str) -> str:
    """The text as UTF-16 code units, one str character each.

    gsmmodem's UCS2 encoder writes ``ord(c)`` as two bytes and fails on
    characters outside the Basic Multilingual Plane (emoji). As surrogate
    pairs they encode, count and decode like any other UCS2 text; phones
    read them as UTF-16. BMP-only text comes back unchanged.
    """
    if all(ord(ch) < 0x10000 for ch in text):
        return text
    raw = text.encode("utf-16-be")
    return "".join(chr(int.from_bytes(raw[i : i + 2], "big")) for i in range(0, len(raw), 2))


def from_utf16_units(text: str) -> str:
    """Undo :func:`utf16_units` (joins surrogate pairs back into characters)."""
    return text.encode("utf-16-be", "surrogatepass").decode("utf-16-be")


def sms_alphabet(text: str) -> str:
    """``gsm7`` when the GSM default alphabet (with its extension table) spells the text, else ``ucs2``."""
    if _Y_DIAERESIS in text:
        return "ucs2"
    try:
        encodeGsm7(text)
    except (ValueError, TypeError):
        return "ucs2"
    return "gsm7"


def encode_sms(number: str, text: str, *, reference: int = 0) -> list[SmsPart]:
    """The SMS-SUBMIT PDUs for ``text`` to ``number`` (GSM-7 when it can, else UCS2; several if long)."""
    if not text:
        raise ValueError("an empty text message")
    units = utf16_units(text)
    # gsmmodem 0.13's GSM-7 table lists "ÿ" as an escape with an int value, so any text with a "ÿ" raises
    # TypeError. "ÿ" is not GSM-7: encode with a stand-in that is UCS2 too, then put "ÿ" back.
    stand_in = units.replace(_Y_DIAERESIS, "\u0100")
    pdus = encodeSmsSubmitPdu(normalise_number(number), stand_in, reference=reference & 0xFF, requestStatusReport=False)
    parts = [SmsPart(bytes(p.data).hex().upper(), p.tpduLength) for p in pdus]
    if stand_in != units:
        parts = _restore_units(parts, units)
    return parts


_Y_DIAERESIS = "\u00ff"


def _restore_units(parts: list[SmsPart], units: str) -> list[SmsPart]:
    """Rewrite the UCS2 text at the end of each part's PDU with the real units (same length, same split)."""
    restored, at = [], 0
    for part in parts:
        raw = bytearray.fromhex(part.pdu_hex)
        count = len(decodeSmsPdu(part.pdu_hex)["text"])
        raw[len(raw) - 2 * count :] = units[at : at + count].encode("utf-16-be", "surrogatepass")
        at += count
        restored.append(SmsPart(raw.hex().upper(), part.tpdu_length))
    if at != len(units):
        raise ValueError(f"text of {len(units)} UCS2 units came out as {at}")
    return restored


def send_sms(
    target: PromptCommands,
    number: str,
    text: str,
    *,
    reference: int | None = None,
    timeouts: SmsTimeouts | None = None,
) -> list[int]:
    """Send ``text`` to ``number``; return the network's message reference for each part, in order.

    ``target`` is an open :class:`~appliance.telephony.modem.Modem` or
    :class:`~appliance.telephony.at.AtChannel`. Raises ``ValueError`` for a bad
    number or empty text, :class:`AtCommandError` when the modem refuses
    (``+CMS ERROR: n``), :class:`AtTimeout` / :class:`PortError` when it does
    not answer, :class:`ModemError` when ``+CMGS`` is missing.
    """
    limits = timeouts or SmsTimeouts()
    ref = secrets.randbelow(256) if reference is None else reference
    parts = encode_sms(number, text, reference=ref)
    target.command("AT+CMGF=0", timeout=limits.mode)
    references = []
    for i, part in enumerate(parts, 1):
        lines = target.command_with_prompt(
            f"AT+CMGS={part.tpdu_length}",
            part.pdu_hex,
            prompt_timeout=limits.prompt,
            timeout=limits.submit,
            expect="+CMGS:",
        )
        found = next((m for m in map(_CMGS.match, lines) if m), None)
        if found is None:
            raise ModemError(f"text part {i}/{len(parts)} to {number}: no +CMGS in {lines!r}")
        references.append(int(found.group(1)))
        log.debug("text to %s: part %d/%d accepted, reference %s", number, i, len(parts), found.group(1))
    log.info("text to %s sent in %d part(s), references %s", number, len(parts), references)
    return references
