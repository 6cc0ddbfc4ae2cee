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

from gsmmodem.pdu import GSM7_BASIC, GSM7_EXTENDED

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
            pdu = read_submit_pdu(pdu_hex)
        except (ValueError, IndexError, KeyError) as exc:
            log.warning("sim %s: undecodable PDU %r: %s", self.name, pdu_hex[:40], exc)
            self._send("+CMS ERROR: 304")
            return
        if pdu.tpdu_length != announced:
            log.warning("sim %s: AT+CMGS=%d but the TPDU is %d octets", self.name, announced, pdu.tpdu_length)
            self._send("+CMS ERROR: 304")
            return
        mr = self._next_mr
        self._next_mr = self._next_mr % 255 + 1
        msg = ReceivedSms(
            pdu_hex=pdu_hex,
            tpdu_length=pdu.tpdu_length,
            number=pdu.number,
            text=pdu.text,
            message_reference=mr,
            concat_reference=pdu.concat[0] if pdu.concat else None,
            part=pdu.concat[1] if pdu.concat else 1,
            parts=pdu.concat[2] if pdu.concat else 1,
        )
        with self.received:
            self.messages.append(msg)
            self.received.notify_all()
        log.info("sim %s: text part %d/%d to %s accepted (mr %d)", self.name, msg.part, msg.parts, msg.number, mr)
        self._send(f"+CMGS: {mr}", "OK")


@dataclass(frozen=True)
class SubmitPdu:
    number: str
    text: str  # UCS2 text as UTF-16 units (a surrogate pair split over two parts stays split)
    tpdu_length: int
    concat: tuple[int, int, int] | None  # (reference, part, parts)


_GSM7_EXTENDED_BY_CODE = {v: k for k, v in GSM7_EXTENDED.items() if isinstance(v, str)}


def read_submit_pdu(pdu_hex: str) -> SubmitPdu:
    """Read an SMS-SUBMIT PDU by 3GPP TS 23.040 / 23.038, independently of the encoder that made it.

    (gsmmodem 0.13's own decoder drops a trailing '@' from a full concatenated GSM-7 part.)
    """
    raw = bytes.fromhex(pdu_hex)
    i = 1 + raw[0]  # SMSC length octet and address
    tpdu_length = len(raw) - i
    first = raw[i]
    if first & 0x03 != 0x01:
        raise ValueError("not an SMS-SUBMIT")
    i += 2  # first octet, TP-MR
    digits, toa = raw[i], raw[i + 1]
    bcd = raw[i + 2 : i + 2 + (digits + 1) // 2].hex()
    number = ("+" if toa & 0x70 == 0x10 else "") + "".join(bcd[k + 1] + bcd[k] for k in range(0, len(bcd), 2))[:digits]
    i += 2 + (digits + 1) // 2 + 1  # TP-DA, TP-PID
    dcs = raw[i]
    i += 1 + {0: 0, 2: 1, 1: 7, 3: 7}[(first >> 3) & 0x03]  # TP-DCS, TP-VP
    udl, ud = raw[i], raw[i + 1 :]
    if len(ud) > 140:
        raise ValueError("user data longer than one message")
    header, concat = 0, None
    if first & 0x40:  # TP-UDHI
        header = ud[0] + 1
        if ud[1] == 0x00 and ud[2] == 3:  # concatenated short message, 8-bit reference
            concat = (ud[3], ud[5], ud[4])
    if dcs & 0x0C == 0x08:  # UCS2
        units = ud[header:udl]
        text = "".join(chr(int.from_bytes(units[k : k + 2], "big")) for k in range(0, len(units) - 1, 2))
    elif dcs & 0x0C == 0x00:  # GSM-7 default alphabet
        bits = int.from_bytes(ud, "little")
        septets = [(bits >> (7 * k)) & 0x7F for k in range((header * 8 + 6) // 7, udl)]
        out: list[str] = []
        escape = False
        for septet in septets:
            if escape:
                out.append(_GSM7_EXTENDED_BY_CODE.get(chr(septet), " "))
                escape = False
            elif septet == 0x1B:
                escape = True
            else:
                out.append(GSM7_BASIC[septet])
        text = "".join(out)
    else:
        raise ValueError(f"data coding scheme {dcs:#04x} is not text")
    return SubmitPdu(number, text, tpdu_length, concat)


def _from_units(text: str) -> str:
    return text.encode("utf-16-be", "surrogatepass").decode("utf-16-be", errors="replace")
