"""The wire format of events between machines (``network.send`` / ``network.receive``) and of observer samples.

Every message is three ZeroMQ frames:

1. header, 60 bytes fixed + the dtype text, little-endian (``struct`` format ``HEADER``):
   ``magic b"MCRB"``, ``version`` u16 (1), ``kind`` u8 (0 event, 1 end of stream, 2 heartbeat),
   1 pad byte, ``sender`` u64 (random id of the sending process), ``sequence`` u64 (messages this
   sender sent before, so a receiver counts gaps as drops), ``counter`` i64, ``timestamp`` f64,
   ``deadtime`` f64, ``data_length`` u32, ``dtype_len`` u16, 6 pad bytes; then ``dtype_len`` bytes of
   the data dtype as JSON of ``numpy.dtype.descr`` (byte order included, e.g. ``[["ch1", "<f4"]]``).
2. metadata: the 24-byte metadata record of the event (counter i8, timestamp f8, deadtime f8, ``<``).
3. data: ``data_length * itemsize`` bytes of the structured array, in the dtype of the header.

End-of-stream and heartbeat messages carry empty metadata and data frames. Frames 2 and 3 are
sent with ``copy=False`` (pyzmq copies below ``zmq.COPY_THRESHOLD`` bytes anyway).

Decoding never raises on bad input: ``decode`` returns a ``Message`` or a ``Malformed`` saying
what was wrong, so a receiver counts and logs it and goes on.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

import numpy as np

from mimocorb_gui.core.ringbuffer import METADATA_DTYPE

__all__ = [
    "END",
    "EVENT",
    "HEADER",
    "HEARTBEAT",
    "MAGIC",
    "VERSION",
    "Malformed",
    "Message",
    "decode",
    "dtype_text",
    "encode_header",
    "format_dtype",
]

MAGIC = b"MCRB"
VERSION = 1
EVENT, END, HEARTBEAT = 0, 1, 2
HEADER = struct.Struct("<4sHBxQQqddIH6x")
_KINDS = {EVENT: "event", END: "end", HEARTBEAT: "heartbeat"}
MAX_DTYPE_TEXT = 8192  # bytes of dtype JSON a receiver accepts
META_BYTES = METADATA_DTYPE.itemsize


def dtype_text(dtype: np.dtype) -> bytes:
    """The dtype as the header carries it: JSON of ``descr`` with explicit byte order."""
    return json.dumps([list(d) for d in dtype.descr]).encode()


def format_dtype(dtype: np.dtype) -> str:
    """``{ch1: <f4, ch2: <f4}``: a dtype as an error message names it."""
    return "{" + ", ".join(f"{n}: {dtype[n].str}" for n in dtype.names) + "}"


def encode_header(
    kind: int,
    sender: int,
    sequence: int,
    counter: int,
    timestamp: float,
    deadtime: float,
    data_length: int,
    dtype_bytes: bytes,
) -> bytes:
    """The header frame (see the module docstring)."""
    return (
        HEADER.pack(
            MAGIC,
            VERSION,
            kind,
            sender,
            sequence,
            counter,
            timestamp,
            deadtime,
            data_length,
            len(dtype_bytes),
        )
        + dtype_bytes
    )


@dataclass(frozen=True)
class Message:
    """A decoded message; ``metadata`` and ``data`` are the raw frame buffers (events only)."""

    kind: int
    sender: int
    sequence: int
    counter: int
    timestamp: float
    deadtime: float
    data_length: int
    dtype_bytes: bytes
    metadata: memoryview | bytes
    data: memoryview | bytes

    @property
    def kind_name(self) -> str:
        return _KINDS[self.kind]


@dataclass(frozen=True)
class Malformed:
    """A message that could not be decoded: ``problem`` says why (``reason`` is a short key for counting)."""

    reason: str
    problem: str


def _buffer(frame) -> memoryview | bytes:
    return frame.buffer if hasattr(frame, "buffer") else frame


def decode(frames: list, max_data_bytes: int | None = None) -> Message | Malformed:
    """Decode a received multipart message (frames as ``bytes`` or ``zmq.Frame``); never raises."""
    if len(frames) != 3:
        return Malformed("frames", f"{len(frames)} frame(s), expected 3 (header, metadata, data)")
    header = _buffer(frames[0])
    if len(header) < HEADER.size:
        return Malformed("truncated", f"header of {len(header)} bytes, expected at least {HEADER.size}")
    try:
        fields = HEADER.unpack_from(header)
    except struct.error as exc:  # pragma: no cover - length checked above
        return Malformed("header", str(exc))
    magic, version, kind, sender, seq, counter, timestamp, deadtime, length, n_dtype = fields
    if magic != MAGIC:
        return Malformed(
            "magic", f"not a mimoCoRB message (starts with {bytes(magic)!r}, expected {MAGIC!r})"
        )
    if version != VERSION:
        return Malformed("version", f"wire format version {version}, this receiver reads version {VERSION}")
    if kind not in _KINDS:
        return Malformed("kind", f"message kind {kind} (valid: 0 event, 1 end, 2 heartbeat)")
    if n_dtype > MAX_DTYPE_TEXT or len(header) != HEADER.size + n_dtype:
        return Malformed(
            "truncated", f"header of {len(header)} bytes, its dtype text needs {HEADER.size + n_dtype}"
        )
    dtype_bytes = bytes(header[HEADER.size :])
    meta, data = _buffer(frames[1]), _buffer(frames[2])
    if kind == EVENT:
        if len(meta) != META_BYTES:
            return Malformed("truncated", f"metadata frame of {len(meta)} bytes, expected {META_BYTES}")
        if max_data_bytes is not None and len(data) > max_data_bytes:
            return Malformed("oversized", f"data frame of {len(data)} bytes, at most {max_data_bytes} fit")
    return Message(kind, sender, seq, counter, timestamp, deadtime, length, dtype_bytes, meta, data)


def parse_dtype(dtype_bytes: bytes) -> np.dtype | None:
    """The dtype a header names, or None if its text is not a valid dtype description."""
    try:
        descr = json.loads(dtype_bytes)
        return np.dtype([tuple(d) if isinstance(d, list) else d for d in descr])
    except (ValueError, TypeError, UnicodeDecodeError, RecursionError):
        return None


def describe_dtype(dtype_bytes: bytes) -> str:
    """A header's dtype for an error message (the raw text if it does not parse)."""
    dtype = parse_dtype(dtype_bytes)
    if dtype is None or dtype.names is None:
        return repr(dtype_bytes[:80])
    return format_dtype(dtype)
