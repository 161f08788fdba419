"""The .mimo format itself: constants, errors, dtypes as JSON, the header (written and read).

The layout is described in the package docstring (``mimocorb_gui.core.mimofile``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ALIGNMENT",
    "FORMAT_VERSION",
    "MAGIC",
    "METADATA_DTYPE",
    "PREFIX_SIZE",
    "MimoFormatError",
    "MimoTruncatedWarning",
    "dtype_from_descr",
    "dtype_to_descr",
    "encode_header",
    "packed_dtype",
    "read_header",
    "record_dtype",
]

MAGIC = b"MIMO"
FORMAT_VERSION = 1
PREFIX_SIZE = 16  # magic (4) + version uint32 (4) + JSON length uint64 (8)
ALIGNMENT = 64
METADATA_DTYPE = np.dtype([("counter", "<i8"), ("timestamp", "<f8"), ("deadtime", "<f8")])


class MimoFormatError(ValueError):
    """The file is not a readable .mimo file (bad magic, unsupported version, broken header)."""


class MimoTruncatedWarning(UserWarning):
    """The file ends inside a record (the writer was interrupted); the partial record is ignored."""


def dtype_to_descr(dtype: np.dtype) -> list:
    """JSON-able description of a structured dtype (numpy ``descr``, byte order explicit)."""
    dtype = np.dtype(dtype)
    if dtype.names is None:
        raise TypeError(f"a structured dtype with named fields is needed, got {dtype}")
    return json.loads(json.dumps(dtype.descr))


def _tuplify(entry: Any) -> Any:
    if isinstance(entry, list) and len(entry) in (2, 3) and isinstance(entry[0], str):
        name, sub = entry[0], entry[1]
        sub = [_tuplify(e) for e in sub] if isinstance(sub, list) else sub
        return (name, sub) if len(entry) == 2 else (name, sub, tuple(entry[2]))
    return entry


def dtype_from_descr(descr: list) -> np.dtype:
    """Inverse of :func:`dtype_to_descr` (accepts the lists json.loads returns)."""
    return np.dtype([_tuplify(e) for e in descr])


def packed_dtype(dtype: np.dtype) -> np.dtype:
    """The same fields without padding or explicit offsets (what the file stores)."""
    dtype = np.dtype(dtype)
    if dtype.names is None:
        raise TypeError(f"a structured dtype with named fields is needed, got {dtype}")
    return np.dtype([(name, dtype.fields[name][0]) for name in dtype.names])


def record_dtype(metadata_dtype: np.dtype, data_dtype: np.dtype, data_length: int) -> np.dtype:
    """dtype of one on-disk record: metadata followed by ``data_length`` data elements."""
    return np.dtype([("metadata", metadata_dtype), ("data", data_dtype, (int(data_length),))])


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (Path, np.dtype)):
        return str(obj)
    if isinstance(obj, (set, tuple)):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def encode_header(header: Mapping[str, Any]) -> bytes:
    # one key per line: `head -c 1024 file.mimo` shows a readable header
    lines = [
        f" {json.dumps(str(key))}: {json.dumps(value, default=_json_default, ensure_ascii=False)}"
        for key, value in header.items()
    ]
    text = ("{\n" + ",\n".join(lines) + "\n}").encode("utf-8")
    total = PREFIX_SIZE + len(text) + 1  # at least one trailing newline
    padded = -(-total // ALIGNMENT) * ALIGNMENT
    body = text + b" " * (padded - total) + b"\n"
    return MAGIC + FORMAT_VERSION.to_bytes(4, "little") + len(body).to_bytes(8, "little") + body


def read_header(f, path: Path) -> tuple[dict[str, Any], int]:
    prefix = f.read(PREFIX_SIZE)
    if len(prefix) < 4 or prefix[:4] != MAGIC:
        raise MimoFormatError(
            f"{path}: not a .mimo file (magic {prefix[:4]!r}, expected {MAGIC!r} or a mimoCoRB2 pickle header)"
        )
    if len(prefix) < PREFIX_SIZE:
        raise MimoFormatError(f"{path}: file ends inside the header prefix ({len(prefix)} bytes)")
    version = int.from_bytes(prefix[4:8], "little")
    if version > FORMAT_VERSION or version < 1:
        raise MimoFormatError(
            f"{path}: format version {version} is not supported (this reader: 1..{FORMAT_VERSION})"
        )
    json_length = int.from_bytes(prefix[8:16], "little")
    size = os.fstat(f.fileno()).st_size
    if json_length > size - PREFIX_SIZE:
        raise MimoFormatError(
            f"{path}: header length {json_length} is larger than the file ({size} bytes): not a .mimo file "
            "or cut inside its header"
        )
    raw = f.read(json_length)
    if len(raw) < json_length:
        raise MimoFormatError(f"{path}: file ends inside the JSON header ({len(raw)} of {json_length} bytes)")
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MimoFormatError(f"{path}: JSON header is broken: {exc}") from exc
    for key in ("data_dtype", "data_length", "metadata_dtype"):
        if key not in header:
            raise MimoFormatError(f"{path}: JSON header lacks '{key}'")
    return header, PREFIX_SIZE + json_length
