"""The text-message side of a simulated modem: AT+CMGF, AT+CMGS with its ``> `` prompt, a record of what was sent.

A simulated modem hands every command line to :meth:`SimSmsCenter.handle`
first and every byte it reads to :meth:`SimSmsCenter.feed`; while a PDU is
being typed (after the prompt, up to Ctrl-Z) the bytes are the PDU's, not
command lines. Like a real modem it checks the length given in ``AT+CMGS=<n>``
against the PDU (``+CMS ERROR: 304`` when they differ), answers
``+CMGS: <mr>`` and ``OK``, and refuses ``AT+CMGS`` in text mode.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from gsmmodem.pdu import decodeSmsPdu

log = logging.getLogger(__name__)

CTRL_Z = 0x1A
ESC = 0x1B


@dataclass(frozen=True)
class ReceivedSms:
    """One PDU the simulated network accepted."""

    pdu_hex: str
    tpdu_length: int
    number: str
    text: str  # this part's text (UCS2 surrogates as they came)
    message_reference: int  # what the sim answered in +CMGS
    concat_reference: int | None = None
    part: int = 1
    parts: int = 1


class SimSmsCenter:
    def __init__(self, send: Callable[..., None], write: Callable[[bytes], object], *, name: str = "sim") -> None:
        self._send = send  # the modem's "send these lines" function (each framed by CR LF)
        self._write = write  # raw bytes to the AT port (the prompt has no newline after it)
        self.name = name
        self.pdu_mode = False  # like a stick left in text mode: the driver must ask for PDU mode
        self.refuse: str | None = None  # e.g. "+CMS ERROR: 500": answer every AT+CMGS with this
        self.messages: list[ReceivedSms] = []
        self.received = threading.Condition()
        self._collecting: int | None = None  # TPDU length announced by AT+CMGS, while typing
        self._typed = bytearray()
        self._next_mr = 1

    # -- hooks for the modem's AT loop ---------------------------------------

    def handle(self, cmd: str) -> bool:
        """Answer ``cmd`` if it is a text-message command; False if it is someone else's."""
        upper = cmd.strip().upper()
        if upper in ("AT+CMGF=0", "AT+CMGF=1"):
            self.pdu_mode = upper.endswith("0")
            self._send("OK")
        elif upper == "AT+CMGF?":
            self._send(f"+CMGF: {0 if self.pdu_mode else 1}", "OK")
        elif upper.startswith("AT+CMGS="):
            self._cmgs(upper[len("AT+CMGS=") :])
        else:
            return False
        return True

    def feed(self, data: bytes) -> bytes:
        """Take the bytes of a PDU being typed; give back what is left for the command parser."""
        if self._collecting is None:
            return data
        for i, byte in enumerate(data):
            if byte == CTRL_Z:
                self._submit(bytes(self._typed).decode("ascii", errors="replace").strip(), self._collecting)
                self._stop_collecting()
                return data[i + 1 :]
            if byte == ESC:
                log.info("sim %s: text input cancelled", self.name)
                self._stop_collecting()
                self._send("OK")
                return data[i + 1 :]
            self._typed.append(byte)
        return b""

    @property
    def collecting(self) -> bool:
        return self._collecting is not None

    # -- what tests and the demo read ----------------------------------------

    def texts(self) -> list[tuple[str, str]]:
        """(number, whole text) per message, parts joined in order by their concatenation reference."""
        whole: list[tuple[str, str]] = []
        pending: dict[tuple[str, int], dict[int, ReceivedSms]] = {}
        for msg in list(self.messages):
            if msg.concat_reference is None:
                whole.append((msg.number, _from_units(msg.text)))
                continue
            parts = pending.setdefault((msg.number, msg.concat_reference), {})
            parts[msg.part] = msg
            if len(parts) == msg.parts:
                text = "".join(parts[i].text for i in sorted(parts))
                whole.append((msg.number, _from_units(text)))
        return whole

    def wait_for(self, count: int, timeout: float) -> bool:
        """Block until at least ``count`` PDUs were accepted, or ``timeout``."""
        with self.received:
            return self.received.wait_for(lambda: len(self.messages) >= count, timeout)

    # -- inside --------------------------------------------------------------

    def _cmgs(self, arg: str) -> None:
        if self.refuse is not None:
            self._send(self.refuse)
            return
        if not self.pdu_mode:
            self._send("+CMS ERROR: 302")  # operation not allowed: this sim only takes PDUs
            return
        if not arg.isdigit() or not 7 <= int(arg) <= 164:
            self._send("+CMS ERROR: 304")  # invalid PDU mode parameter
            return
        self._collecting = int(arg)
        self._typed.clear()
        self._write(b"\r\n> ")

    def _stop_collecting(self) -> None:
        self._collecting = None
        self._typed.clear()

    def _submit(self, pdu_hex: str, announced: int) -> None:
        try:
            raw = bytes.fromhex(pdu_hex)
            decoded = decodeSmsPdu(pdu_hex)
        except Exception as exc:
            log.warning("sim %s: undecodable PDU %r: %s", self.name, pdu_hex[:40], exc)
            self._send("+CMS ERROR: 304")
            return
        tpdu_length = len(raw) - 1 - raw[0]  # less the SMSC length octet and the SMSC address
        if tpdu_length != announced or decoded.get("type") != "SMS-SUBMIT":
            log.warning("sim %s: AT+CMGS=%d but the TPDU is %d octets", self.name, announced, tpdu_length)
            self._send("+CMS ERROR: 304")
            return
        concat = next((h for h in decoded.get("udh", []) if hasattr(h, "parts")), None)
        mr = self._next_mr
        self._next_mr = self._next_mr % 255 + 1
        msg = ReceivedSms(
            pdu_hex=pdu_hex,
            tpdu_length=tpdu_length,
            number=str(decoded.get("number", "")),
            text=str(decoded.get("text", "")),
            message_reference=mr,
            concat_reference=concat.reference if concat is not None else None,
            part=concat.number if concat is not None else 1,
            parts=concat.parts if concat is not None else 1,
        )
        with self.received:
            self.messages.append(msg)
            self.received.notify_all()
        log.info("sim %s: text part %d/%d to %s accepted (mr %d)", self.name, msg.part, msg.parts, msg.number, mr)
        self._send(f"+CMGS: {mr}", "OK")


def _from_units(text: str) -> str:
    return text.encode("utf-16-be", "surrogatepass").decode("utf-16-be", errors="replace")
