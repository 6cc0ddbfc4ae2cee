"""The simulated modem families as tables: Huawei E1550, SIMCom SIM7600, Quectel EC25, SIMCom SIM800.

Each :class:`~appliance.sim.dialect.Dialect` below is read by the one
:class:`~appliance.sim.modem.SimulatedModem` (call flow, customers, faults,
SMS are the same for all). The product's side of the same facts is in
``firmware-config/modems/*.toml``; the comments there say where they come from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import MappingProxyType

from appliance.sim.customer import CustomerScript
from appliance.sim.dialect import Action, Dialect, act, answer, ok
from appliance.sim.faults import SimFaults
from appliance.sim.modem import SimulatedModem

_CAUSE_REPORT = act(r"AT\+CEER", Action.CAUSE_REPORT)
_REGISTERED_LTE = answer("AT+CEREG?", "+CEREG: 0,1")
_SEND_KEYS = act(r"AT\+VTS=(?P<arg>.*)", Action.SEND_KEYS)

# Huawei E1550: ^ORIG/^CONF/^CONN/^CEND, PCM on the second tty after AT^DDSETEX=2. Keys the customer
# presses arrive as tones in the audio (the stick does not report them), detected in-band by the box.
HUAWEI_E1550 = Dialect(
    family="huawei-e1550",
    commands=(
        answer("AT+CGMI", "huawei"),
        answer("AT+CGMM", "E1550"),
        answer("AT+CGMR", "11.608.13.02.00"),
        answer("AT+CGSN", "351234567890123"),
        answer("ATI", "Manufacturer: huawei", "Model: E1550", "Revision: 11.608.13.02.00"),
        act(r"AT\^CVOICE\?", Action.VOICE_QUERY, lines=("^CVOICE:0,8000,16,20",)),
        act(r"AT\^DDSETEX=2", Action.AUDIO_ON),
        act(r"AT\^DTMF=[^,]*(?:,(?P<arg>.*))?", Action.SEND_KEYS),  # AT^DTMF=<call index>,<digit>
        _CAUSE_REPORT,
    ),
    dialing=("^ORIG:1,0",),
    alerting=("^CONF:1",),
    active=("^CONN:1,0",),
    released=("^CEND:1,{duration},104,{cause}",),
    final_code=False,
    released_when_cancelled=False,  # AT+CHUP before ^ORIG: OK, and no ^CEND
)

_CLCC = '+CLCC: 1,0,{stat},0,0,"{{number}}",129,""'

# SIMCom SIM7600: +CLCC state URCs, VOICE CALL: BEGIN/END, PCM on a tty after AT+CPCMREG=1
# (16 kHz after AT+CPCMFRM=1). Real ones answer ERROR to AT+CPCMREG=1 for a while after the call
# becomes active: see simulated_sim7600(pcm_refuse_ms=...).
SIMCOM_SIM7600 = Dialect(
    family="simcom-sim7600",
    commands=(
        answer("AT+CGMI", "SIMCOM INCORPORATED"),
        answer("AT+CGMM", "SIMCOM_SIM7600E-H"),
        answer("AT+CGMR", "+CGMR: LE20B04SIM7600M22"),
        answer("AT+CGSN", "862146050012345"),
        answer("ATI", "Manufacturer: SIMCOM INCORPORATED", "Model: SIMCOM_SIM7600E-H",
               "Revision: SIM7600M22_V2.0", "IMEI: 862146050012345", "+GCAP: +CGSM"),
        _REGISTERED_LTE,
        _CAUSE_REPORT,
        _SEND_KEYS,
        *ok("AT+CLCC=1", "AT+CLCC=0", "AT+DDET=1", "AT+DDET=0"),
        act(r"AT\+CPCMFRM=0", Action.PCM_RATE, value=8000),
        act(r"AT\+CPCMFRM=1", Action.PCM_RATE, value=16000),
        act(r"AT\+CPCMREG=1", Action.AUDIO_ON),
        act(r"AT\+CPCMREG=0", Action.AUDIO_OFF),
    ),
    dialing=(_CLCC.format(stat=2),),
    alerting=(_CLCC.format(stat=3),),
    active=("VOICE CALL: BEGIN", _CLCC.format(stat=0)),
    released=(_CLCC.format(stat=6), "VOICE CALL: END: {duration:06d}"),
    key_report="+RXDTMF: {digit}",
)

_CCINFO = '+QIND: "ccinfo",1,0,{state},0,0,"{{number}}",129'

# Quectel EC25: +QIND "ccinfo" state URCs once AT+QINDCFG="ccinfo",1,0 is set; the audio starts by
# itself once AT+QPCMV=1,<port> is set: port 2 is the USB audio class card (a file-backed card here).
QUECTEL_EC25 = Dialect(
    family="quectel-ec25",
    commands=(
        answer("AT+CGMI", "Quectel"),
        answer("AT+CGMM", "EC25"),
        answer("AT+CGMR", "EC25EFAR06A06M4G"),
        answer("AT+CGSN", "866758041234567"),
        answer("ATI", "Quectel", "EC25", "Revision: EC25EFAR06A06M4G"),
        _REGISTERED_LTE,
        _CAUSE_REPORT,
        _SEND_KEYS,
        act(r"AT\+QPCMV\?", Action.PCM_PORT_QUERY),
        act(r"AT\+QPCMV=(?P<arg>.*)", Action.PCM_PORT_SET),
        act(r'AT\+QINDCFG="CCINFO",1,0', Action.SWITCH_ON, value="ccinfo", ignore_spaces=True),
        act(r'AT\+QGPSCFG="OUTPORT","NONE"', Action.SWITCH_ON, value="gps_off", ignore_spaces=True),
        *ok("AT+QTONEDET=1", "AT+QTONEDET=0"),
        act(r"AT\+QHUP.*", Action.HANGUP),
    ),
    dialing=(_CCINFO.format(state=2),),
    alerting=(_CCINFO.format(state=3),),
    active=(_CCINFO.format(state=0),),
    released=(_CCINFO.format(state=-1),),
    progress_needs="ccinfo",
    key_report="+QTONEDET: {ascii}",
    audio_device="card",
    card_prefix="callbox-ec25-",
    audio_opens_when_active=True,
    audio_needs="pcm",
    pcm_port=2,
)

# The EC25 wired the other way: raw PCM on the NMEA tty (AT+QPCMV=1,0), which needs GPS output off.
QUECTEL_EC25_TTY = dataclasses.replace(QUECTEL_EC25, audio_device="pty", pcm_port=0, pcm_port_needs="gps_off")

# SIMCom SIM800 (2G): MO RING / MO CONNECTED once AT+MORING=1 is set, final codes, analog audio on a
# USB sound card that is always wired: the audio flows once the call is active.
SIMCOM_SIM800 = Dialect(
    family="sim800",
    commands=(
        answer("AT+CGMI", "SIMCOM_Ltd"),
        answer("AT+CGMM", "SIMCOM_SIM800C"),
        answer("AT+CGMR", "Revision:1418B04SIM800C24"),
        answer("AT+CGSN", "869170031234567"),
        answer("ATI", "SIM800 R14.18"),
        _REGISTERED_LTE,
        _CAUSE_REPORT,
        _SEND_KEYS,
        act(r"AT\+MORING=1", Action.SWITCH_ON, value="moring"),
        *ok("AT+DDET=1", "AT+DDET=0", "AT+MORING=0"),  # MORING=0 is acknowledged, the URCs stay on
    ),
    alerting=("MO RING",),
    active=("MO CONNECTED",),
    progress_needs="moring",
    key_report="+DTMF: {digit}",
    audio_device="card",
    card_prefix="callbox-sim800-",
    audio_opens_when_active=True,
)

#: Profile name (firmware-config/modems/<name>.toml) -> the dialect its simulated modem speaks.
FAMILIES: MappingProxyType[str, Dialect] = MappingProxyType({
    "huawei-e1550": HUAWEI_E1550,
    "simcom-sim7600": SIMCOM_SIM7600,
    "quectel-ec25": QUECTEL_EC25,
    "quectel-ec25-tty": QUECTEL_EC25_TTY,
    "sim800": SIMCOM_SIM800,
})


def simulated_modem(profile: str, directory: Callable[[str], CustomerScript], *, ring_ms: int = 800,
                    orig_delay_ms: int = 30, voice_enabled: bool = True, echo: bool = True, name: str = "sim",
                    faults: SimFaults | None = None) -> SimulatedModem:
    """A simulated modem for a profile name (``quectel-ec25-tty``: the EC25 with PCM on its tty)."""
    try:
        dialect = FAMILIES[profile]
    except KeyError:
        raise ValueError(f"no simulated modem for profile {profile!r} (one of {', '.join(FAMILIES)})") from None
    return SimulatedModem(directory, dialect=dialect, ring_ms=ring_ms, orig_delay_ms=orig_delay_ms,
                          voice_enabled=voice_enabled, echo=echo, name=name, faults=faults)


def SimulatedSim7600(directory: Callable[[str], CustomerScript], *, pcm_refuse_ms: int = 0, ring_ms: int = 800,
                     orig_delay_ms: int = 30, voice_enabled: bool = True, echo: bool = True, name: str = "sim",
                     faults: SimFaults | None = None) -> SimulatedModem:
    """A simulated SIM7600 whose AT+CPCMREG=1 answers ERROR for ``pcm_refuse_ms`` after the call is active."""
    dialect = dataclasses.replace(SIMCOM_SIM7600, audio_start_refused_ms=pcm_refuse_ms)
    return SimulatedModem(directory, dialect=dialect, ring_ms=ring_ms, orig_delay_ms=orig_delay_ms,
                          voice_enabled=voice_enabled, echo=echo, name=name, faults=faults)
