"""Simulated modems of the other families: SIMCom SIM7600, Quectel EC25, SIMCom SIM800.

Each is the simulated Huawei stick (call flow, customers, faults, SMS) speaking
another dialect: the call flow's Huawei URCs are translated on the way out
(``^CONN`` becomes ``+CLCC: 1,0,0,...`` and ``VOICE CALL: BEGIN``, or
``+QIND: "ccinfo",...``, or ``MO CONNECTED``) and the family's own commands are
answered before the shared ones. Dialect facts are in
``firmware-config/modems/*.toml``; the comments there say where they come from.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from appliance.sim.card import FifoCard, WideVoice
from appliance.sim.customer import CustomerScript
from appliance.sim.dialect import _CEND, DialectModem, Keypad
from appliance.sim.huawei import SimulatedHuaweiModem, _CallRun
from appliance.telephony.tones import dtmf_pcm


class SimulatedSim7600(DialectModem):
    """SIMCom SIM7600: +CLCC state URCs, VOICE CALL: BEGIN/END, PCM on a tty after AT+CPCMREG=1.

    ``pcm_refuse_ms``: AT+CPCMREG=1 answers ERROR for this long after the call
    becomes active (the module's audio path is not up yet), as real ones do.
    """

    family = "simcom-sim7600"
    identity: ClassVar[dict[str, list[str]]] = {
        "AT+CGMI": ["SIMCOM INCORPORATED"],
        "AT+CGMM": ["SIMCOM_SIM7600E-H"],
        "AT+CGMR": ["+CGMR: LE20B04SIM7600M22"],
        "AT+CGSN": ["862146050012345"],
        "ATI": ["Manufacturer: SIMCOM INCORPORATED", "Model: SIMCOM_SIM7600E-H",
                "Revision: SIM7600M22_V2.0", "IMEI: 862146050012345", "+GCAP: +CGSM", ],
    }

    def __init__(self, directory: Callable[[str], CustomerScript], *, pcm_refuse_ms: int = 0,
                 **kw: object) -> None:
        super().__init__(directory, **kw)
        self.pcm_refuse_ms = pcm_refuse_ms
        self.pcm_refused = 0
        self.rate = 8000
        self._narrow = self._voice
        self._active_at = 0.0

    def _dialect(self, upper: str, cmd: str) -> Callable[[], None] | None:
        simple = {"AT+CLCC=1", "AT+CLCC=0", "AT+DDET=1", "AT+DDET=0"}
        if upper in simple:
            return self._ok
        if upper in ("AT+CPCMFRM=0", "AT+CPCMFRM=1"):
            return lambda: self._set_rate(16000 if upper.endswith("1") else 8000)
        if upper == "AT+CPCMREG=1":
            return self._pcm_on
        if upper == "AT+CPCMREG=0":
            return self._pcm_off
        return super()._dialect(upper, cmd)

    def _set_rate(self, rate: int) -> None:
        self.rate = rate
        self._voice = WideVoice(self._narrow, 2) if rate == 16000 else self._narrow  # type: ignore[assignment]
        self._send("OK")

    def _pcm_on(self) -> None:
        with self._lock:
            run = self._call
        if run is not None and run.active and time.monotonic() - self._active_at < self.pcm_refuse_ms / 1000:
            self.pcm_refused += 1
            self._send("ERROR")
            return
        self._start_audio()

    def _pcm_off(self) -> None:
        with self._lock:
            run = self._call
            if run is not None:
                run.audio = False
        self._send("OK")

    def _connected(self, run: _CallRun) -> None:
        self._active_at = time.monotonic()

    def _clcc_line(self, number: str, stat: int) -> str:
        return f'+CLCC: 1,0,{stat},0,0,"{number}",129,""'

    def _dialing(self, number: str) -> list[str]:
        return [self._clcc_line(number, 2)]

    def _alerting(self, number: str) -> list[str]:
        return [self._clcc_line(number, 3)]

    def _active(self, number: str) -> list[str]:
        return ["VOICE CALL: BEGIN", self._clcc_line(number, 0)]

    def _released(self, number: str, duration: int) -> list[str]:
        return [self._clcc_line(number, 6), f"VOICE CALL: END: {duration:06d}"]

    def _dtmf_urc(self, digit: str) -> list[str]:
        return [f"+RXDTMF: {digit}"]


class SimulatedEc25(DialectModem):
    """Quectel EC25: +QIND "ccinfo" state URCs; audio starts by itself once AT+QPCMV=1,<port> is set.

    ``uac=True``: the USB-audio-class card (QPCMV=1,2), simulated by a
    file-backed card (:attr:`audio_port` is ``fifo:<folder>``); ``uac=False``:
    raw PCM on the NMEA tty (QPCMV=1,0), which needs GPS output off.
    """

    family = "quectel-ec25"
    identity: ClassVar[dict[str, list[str]]] = {
        "AT+CGMI": ["Quectel"],
        "AT+CGMM": ["EC25"],
        "AT+CGMR": ["EC25EFAR06A06M4G"],
        "AT+CGSN": ["866758041234567"],
        "ATI": ["Quectel", "EC25", "Revision: EC25EFAR06A06M4G"],
    }

    def __init__(self, directory: Callable[[str], CustomerScript], *, uac: bool = True, **kw: object) -> None:
        super().__init__(directory, **kw)
        self.uac = uac
        self.pcm_port: int | None = None  # what AT+QPCMV=1,<port> chose
        self.gps_outport = "usbnmea"
        self.ccinfo = False
        if uac:
            self._voice.close()
            self._voice = FifoCard(prefix="callbox-ec25-")  # type: ignore[assignment]
            self.audio_port = self._voice.path

    def _dialect(self, upper: str, cmd: str) -> Callable[[], None] | None:
        if upper == "AT+QPCMV?":
            return lambda: self._send(f"+QPCMV: {1 if self.pcm_port is not None else 0},{self.pcm_port or 0}", "OK")
        if upper.startswith("AT+QPCMV="):
            return lambda: self._qpcmv(upper[len("AT+QPCMV=") :])
        if upper.replace(" ", "") == 'AT+QINDCFG="CCINFO",1,0':
            return self._ccinfo_on
        if upper.replace(" ", "") == 'AT+QGPSCFG="OUTPORT","NONE"':
            return self._gps_off
        if upper in ("AT+QTONEDET=1", "AT+QTONEDET=0"):
            return self._ok
        if upper.startswith("AT+QHUP"):
            return self._hangup
        return super()._dialect(upper, cmd)

    def _qpcmv(self, arg: str) -> None:
        parts = [p.strip() for p in arg.split(",")]
        if parts == ["0"]:
            self.pcm_port = None
            self._send("OK")
            return
        wanted = 2 if self.uac else 0
        if parts != ["1", str(wanted)]:
            self._send("ERROR")  # this stick is wired the other way (see the uac argument)
            return
        if not self.uac and self.gps_outport != "none":
            self._send("+CME ERROR: 3")  # the NMEA port still carries GPS sentences
            return
        self.pcm_port = wanted
        self._send("OK")

    def _ccinfo_on(self) -> None:
        self.ccinfo = True
        self._send("OK")

    def _gps_off(self) -> None:
        self.gps_outport = "none"
        self._send("OK")

    def _connected(self, run: _CallRun) -> None:
        if self.pcm_port is not None:
            if isinstance(self._voice, FifoCard):
                self._voice.drain()
            self._voice_on(run)

    def _ccinfo_line(self, number: str, state: int) -> list[str]:
        if not self.ccinfo:
            return []
        return [f'+QIND: "ccinfo",1,0,{state},0,0,"{number}",129']

    def _dialing(self, number: str) -> list[str]:
        return self._ccinfo_line(number, 2)

    def _alerting(self, number: str) -> list[str]:
        return self._ccinfo_line(number, 3)

    def _active(self, number: str) -> list[str]:
        return self._ccinfo_line(number, 0)

    def _released(self, number: str, duration: int) -> list[str]:
        return self._ccinfo_line(number, -1)

    def _dtmf_urc(self, digit: str) -> list[str]:
        return [f"+QTONEDET: {ord(digit)}"]


class SimulatedSim800(DialectModem):
    """SIMCom SIM800 (2G): MO RING / MO CONNECTED, final codes, analog audio on a USB sound card."""

    family = "sim800"
    identity: ClassVar[dict[str, list[str]]] = {
        "AT+CGMI": ["SIMCOM_Ltd"],
        "AT+CGMM": ["SIMCOM_SIM800C"],
        "AT+CGMR": ["Revision:1418B04SIM800C24"],
        "AT+CGSN": ["869170031234567"],
        "ATI": ["SIM800 R14.18"],
    }

    def __init__(self, directory: Callable[[str], CustomerScript], **kw: object) -> None:
        super().__init__(directory, **kw)
        self.moring = False
        self._voice.close()
        self._voice = FifoCard(prefix="callbox-sim800-")  # type: ignore[assignment]
        self.audio_port = self._voice.path

    def _dialect(self, upper: str, cmd: str) -> Callable[[], None] | None:
        if upper == "AT+MORING=1":
            return self._moring_on
        if upper in ("AT+DDET=1", "AT+DDET=0", "AT+MORING=0"):
            return self._ok
        if upper == "AT+CLCC":  # the base answers in Huawei's shape; SIM800 is the same 27.007 line
            return None
        return super()._dialect(upper, cmd)

    def _moring_on(self) -> None:
        self.moring = True
        self._send("OK")

    def _connected(self, run: _CallRun) -> None:
        if isinstance(self._voice, FifoCard):
            self._voice.drain()
        self._voice_on(run)  # the sound card is always wired: audio flows once connected

    def _alerting(self, number: str) -> list[str]:
        return ["MO RING"] if self.moring else []

    def _active(self, number: str) -> list[str]:
        return ["MO CONNECTED"] if self.moring else []

    def _dtmf_urc(self, digit: str) -> list[str]:
        return [f"+DTMF: {digit}"]


class SimulatedE1550(DialectModem):
    """The Huawei stick plus DTMF: AT^DTMF=<idx>,<digit> to send; keys the customer presses
    arrive as tones in the audio (the stick does not report them), detected in-band by the box."""

    family = "huawei-e1550"

    def _dialect(self, upper: str, cmd: str) -> Callable[[], None] | None:
        if upper.startswith("AT^DTMF="):
            return lambda: self._vts(cmd.split(",", 1)[-1] if "," in cmd else "")
        if upper == "AT+CEER":
            return self._ceer
        return None

    def _translate(self, line: str) -> list[str]:
        match = _CEND.match(line)
        if match:
            self.last_cause = int(match["cause"])
        return [line]

    def _call_flow(self, run: _CallRun) -> None:
        SimulatedHuaweiModem._call_flow(self, run)  # keeps the quirk: no ^CEND after an early AT+CHUP

    def press(self, digits: str) -> None:
        with self._lock:
            run = self._call
            if run is None or run.voice is None:
                raise RuntimeError("no call with audio to press keys on")
            voice = run.voice.voice if isinstance(run.voice, Keypad) else run.voice
            run.voice = Keypad(voice, dtmf_pcm(digits))  # type: ignore[assignment]


FAMILIES: dict[str, type[SimulatedHuaweiModem]] = {
    "huawei-e1550": SimulatedE1550,
    "simcom-sim7600": SimulatedSim7600,
    "quectel-ec25": SimulatedEc25,
    "sim800": SimulatedSim800,
}


def simulated_modem(profile: str, directory: Callable[[str], CustomerScript], **kw: object) -> SimulatedHuaweiModem:
    """A simulated modem for a profile name (``quectel-ec25-tty``: the EC25 with PCM on its tty)."""
    if profile == "quectel-ec25-tty":
        return SimulatedEc25(directory, uac=False, **kw)
    try:
        cls = FAMILIES[profile]
    except KeyError:
        raise ValueError(f"no simulated modem for profile {profile!r} (one of {', '.join(FAMILIES)})") from None
    return cls(directory, **kw)  # type: ignore[arg-type]

