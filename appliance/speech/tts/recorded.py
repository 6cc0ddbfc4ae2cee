"""Uploaded prompt recordings: any WAV checked on upload, played as line PCM.

:func:`decode_wav` reads WAV files the stdlib ``wave`` module does not (Python
3.11 has no WAVE_FORMAT_EXTENSIBLE): PCM of 8, 16, 24 or 32 bits, 32/64-bit
float, G.711 A-law and u-law, any rate and number of channels; the channels are
averaged to mono. Anything else is an :class:`AudioError` that says why.
:class:`RecordedPrompts` keeps the files as uploaded under
``root/<flow>/<node>[.<kind>].wav`` and converts them to mono S16LE at the line
rate with soxr when they are played, the silence they start and end with cut
(the result is kept in memory).
"""

from __future__ import annotations

import re
import struct
import threading
from pathlib import Path

import numpy as np

from appliance.errors import AudioError, SpeechError
from appliance.files import write_atomic
from appliance.speech.audio import to_line_rate
from appliance.speech.tts.piper import trim_silence

__all__ = ["MAX_RECORDING_BYTES", "RecordedPrompts", "decode_wav"]

MAX_RECORDING_BYTES = 50 * 1024 * 1024
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")  # node ids, and _global / _kb
_SAFE_KIND = re.compile(r"^[a-z_]+(\.[A-Za-z0-9_*#-]{1,64}){0,2}$")  # say, reask.<slot>.<n>, dtmf.#, ...


_FMT_PCM, _FMT_FLOAT, _FMT_ALAW, _FMT_ULAW, _FMT_EXTENSIBLE = 1, 3, 6, 7, 0xFFFE


def _ulaw(codes: np.ndarray) -> np.ndarray:
    u = ~codes.astype(np.int32) & 0xFF
    magnitude = ((((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)) - 0x84
    return np.where(u & 0x80, -magnitude, magnitude).astype(np.float32) / 32768.0


def _alaw(codes: np.ndarray) -> np.ndarray:
    a = codes.astype(np.int32) ^ 0x55
    exponent = (a & 0x70) >> 4
    mantissa = a & 0x0F
    magnitude = np.where(exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0))
    return np.where(a & 0x80, magnitude, -magnitude).astype(np.float32) / 32768.0


def _samples(raw: bytes, fmt: int, width: int) -> np.ndarray:
    """Interleaved samples as float32 in [-1, 1]."""
    if fmt == _FMT_PCM:
        if width == 1:
            return (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
        if width == 2:
            return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
        if width == 3:
            b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
            value = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
            value = np.where(value & 0x800000, value - 0x1000000, value)
            return value.astype(np.float32) / 8388608.0
        if width == 4:
            return (np.frombuffer(raw, dtype="<i4").astype(np.float64) / 2147483648.0).astype(np.float32)
    elif fmt == _FMT_FLOAT and width in (4, 8):
        data = np.frombuffer(raw, dtype="<f4" if width == 4 else "<f8").astype(np.float32)
        return np.clip(np.nan_to_num(data), -1.0, 1.0)
    elif fmt in (_FMT_ALAW, _FMT_ULAW) and width == 1:
        codes = np.frombuffer(raw, dtype=np.uint8)
        return _alaw(codes) if fmt == _FMT_ALAW else _ulaw(codes)
    raise AudioError(f"unsupported WAV encoding (format {fmt:#x}, {width * 8}-bit)")


def decode_wav(data: bytes, *, name: str = "recording") -> tuple[np.ndarray, int]:
    """A WAV file's audio as (mono float32 samples in [-1, 1], rate); AudioError if it is not one."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioError(f"{name} is not a WAV file (no RIFF/WAVE header)")
    fmt: tuple[int, int, int, int] | None = None  # format, channels, rate, bytes per sample
    raw: bytes | None = None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = data[pos + 8 : pos + 8 + size]
        if chunk_id == b"fmt ":
            if len(body) < 16:
                raise AudioError(f"{name}: broken WAV (fmt chunk of {len(body)} bytes)")
            tag, channels, rate, _, align, bits = struct.unpack_from("<HHIIHH", body)
            if tag == _FMT_EXTENSIBLE:
                if len(body) < 26:
                    raise AudioError(f"{name}: broken WAV (short extensible fmt chunk)")
                (tag,) = struct.unpack_from("<H", body, 24)  # first two bytes of the sub-format GUID
            if channels < 1 or rate < 1 or align < channels or bits < 1:
                raise AudioError(f"{name}: broken WAV ({channels} channel(s), {rate} Hz, {bits}-bit)")
            fmt = (tag, channels, rate, align // channels)
        elif chunk_id == b"data":
            raw = body
            break
        pos += 8 + size + (size & 1)
    if fmt is None:
        raise AudioError(f"{name}: broken WAV (no fmt chunk)")
    if raw is None:
        raise AudioError(f"{name}: broken WAV (no data chunk)")
    tag, channels, rate, width = fmt
    frame = channels * width
    usable = len(raw) - len(raw) % frame
    if usable == 0:
        raise AudioError(f"{name}: the WAV file holds no audio")
    samples = _samples(raw[:usable], tag, width)
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.float32)
    return samples, rate


class RecordedPrompts:
    """Uploaded prompt recordings under ``root/<flow>/<node>[.<kind>].wav`` (kinds as in
    :meth:`appliance.dialog.flow.model.Flow.prompt_templates`; ``say`` has no suffix)."""

    def __init__(self, root: Path, *, trim_edges: bool = True) -> None:
        self.root = Path(root)
        # cut the silence a recording starts and ends with (keeping 40 / 80 ms): it would only delay the
        # bot's turn and the customer's answer
        self.trim_edges = trim_edges
        self._memo: dict[tuple[Path, int], tuple[tuple[int, int], bytes]] = {}  # (path, rate) -> (version, pcm)
        self._lock = threading.Lock()

    def path(self, flow_id: str, node_id: str, kind: str = "say") -> Path:
        for part, what in ((flow_id, "flow id"), (node_id, "node id")):
            if not _SAFE_NAME.match(part):
                raise SpeechError(f"{what} {part!r} cannot name a recording file")
        if not _SAFE_KIND.match(kind):
            raise SpeechError(f"prompt kind {kind!r} cannot name a recording file (say, reprompt, ask.<slot>, ...)")
        kind = kind.replace("*", "star").replace("#", "hash")
        return self.root / flow_id / (f"{node_id}.wav" if kind == "say" else f"{node_id}.{kind}.wav")

    def save(self, flow_id: str, node_id: str, data: bytes, kind: str = "say") -> Path:
        """Check ``data`` is a usable WAV and store it (atomically) as the prompt's recording."""
        path = self.path(flow_id, node_id, kind)
        if len(data) > MAX_RECORDING_BYTES:
            raise AudioError(f"recording for {flow_id}/{node_id} is larger than {MAX_RECORDING_BYTES} bytes")
        decode_wav(data, name=f"recording for {flow_id}/{node_id}")
        write_atomic(path, data)
        return path

    def remove(self, flow_id: str, node_id: str, kind: str = "say") -> bool:
        path = self.path(flow_id, node_id, kind)
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed

    def has(self, flow_id: str, node_id: str, kind: str = "say") -> bool:
        return self.path(flow_id, node_id, kind).is_file()

    def load(self, flow_id: str, node_id: str, kind: str = "say", *, line_rate: int) -> bytes | None:
        """The recording as line PCM (mono S16LE at ``line_rate``), or None when there is none."""
        path = self.path(flow_id, node_id, kind)
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        memo_key, version = (path, line_rate), (st.st_mtime_ns, st.st_size)
        with self._lock:
            hit = self._memo.get(memo_key)
        if hit is not None and hit[0] == version:
            return hit[1]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise AudioError(f"cannot read recording {path}: {exc}") from exc
        samples, rate = decode_wav(data, name=str(path))
        if self.trim_edges:
            samples = trim_silence(samples, rate)
        pcm = to_line_rate(samples, rate, line_rate)
        with self._lock:
            self._memo[memo_key] = (version, pcm)  # a replaced recording replaces its entry
        return pcm
