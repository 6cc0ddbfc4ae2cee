"""Byte transports for the AT channel, opened from a URL as the audio side's are (``telephony/audio.py``).

* ``serial:/dev/ttyUSB2`` or a bare device path (what configs hold): pyserial, exclusive;
* ``pty:/dev/pts/7``: the simulator's pseudo-terminal, also through pyserial (it runs its real code);
* ``loop:?chunk=1&lose=3,9&delay=0.05``: an in-memory loopback whose far end a test plays
  (:mod:`appliance.telephony.loopback`).

A transport's ``read()`` returns what has arrived, or ``b""`` after a short wait (about 0.1 s) with
nothing, so the reader thread can notice a stop; it raises :class:`PortError` when the port fails.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import parse_qs

import serial

from appliance.errors import PortError
from appliance.telephony.loopback import LoopbackTransport

READ_WAIT_S = 0.1  # how long a read waits for the first byte


class AtTransport(Protocol):
    name: str

    def open(self) -> None: ...

    def read(self) -> bytes: ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class SerialAtTransport:
    """A modem's AT tty (or a pty) through pyserial, opened exclusively."""

    def __init__(self, path: str, *, baudrate: int = 115200) -> None:
        self.path = path
        self.baudrate = baudrate
        self.name = path.rsplit("/", 1)[-1]
        self._serial: serial.Serial | None = None

    def open(self) -> None:
        try:
            self._serial = serial.Serial(self.path, self.baudrate, timeout=READ_WAIT_S, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortError(f"cannot open AT port {self.path}: {exc}") from exc

    def read(self) -> bytes:
        ser = self._serial
        try:
            if ser is None:
                raise OSError("port closed")
            return bytes(ser.read(ser.in_waiting or 1))
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            # TypeError/AttributeError: pyserial's fd vanished under a concurrent close()
            raise PortError(f"AT port {self.path} failed: {exc}") from exc

    def write(self, data: bytes) -> None:
        ser = self._serial
        try:
            if ser is None:
                raise OSError("port closed")
            ser.write(data)
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"write to {self.path} failed: {exc}") from exc

    def close(self) -> None:
        ser, self._serial = self._serial, None
        if ser is not None:
            try:
                ser.close()
            except (serial.SerialException, OSError):
                pass


def open_transport(url: str, *, baudrate: int = 115200) -> AtTransport:
    """``serial:PATH``, ``pty:PATH``, ``loop:[?options]`` or a bare device path -> an unopened transport."""
    kind, sep, rest = url.partition(":")
    if sep and kind in ("serial", "pty"):
        return SerialAtTransport(rest, baudrate=baudrate)
    if sep and kind == "loop":
        name, _, query = rest.partition("?")
        options = {key: values[-1] for key, values in parse_qs(query, strict_parsing=bool(query)).items()}
        unknown = set(options) - {"chunk", "lose", "delay"}
        if unknown:
            raise ValueError(f"{url!r}: unknown loopback option(s) {', '.join(sorted(unknown))}")
        return LoopbackTransport(
            name=name or "loop",
            chunk=int(options["chunk"]) if "chunk" in options else None,
            lose=frozenset(int(i) for i in options["lose"].split(",")) if "lose" in options else frozenset(),
            delay_s=float(options.get("delay", 0.0)),
        )
    return SerialAtTransport(url, baudrate=baudrate)
