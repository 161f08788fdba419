"""The ``.mimo`` event file format: a self-describing header followed by fixed-size event records.

Layout (all integers of the prefix are little-endian)::

    offset 0   4 bytes   magic  b"MIMO"
    offset 4   uint32    format version (currently 1)
    offset 8   uint64    N = length of the JSON header in bytes (including its padding)
    offset 16  N bytes   UTF-8 JSON header, padded with spaces and a final newline so that
                         header_size = 16 + N is a multiple of 64
    header_size ...      records, back to back, each ``record_size`` bytes:
                         metadata (counter int64, timestamp float64, deadtime float64)
                         followed by data_length elements of the data dtype

The JSON header holds ``data_dtype`` and ``metadata_dtype`` as numpy ``descr`` lists
(``[["chA", "<f4"], ["name", "|S10"], ...]`` with explicit byte order), ``data_length``,
``record_size``, ``created`` (ISO 8601 UTC), ``source_buffer``, ``source_worker`` and a free-form
``info`` dict. It is plain JSON, never pickle: reading a file cannot execute code.

A file cut at any byte after its header (power cut while writing) stays readable: every complete
record is returned and the trailing partial record is ignored with a :class:`MimoTruncatedWarning`.

Files written by mimoCoRB2 (a pickled header dict, then records of data followed by metadata) are
read by the same :class:`MimoReader`. Their header is decoded by :class:`LegacyHeaderUnpickler`,
which admits only the builtin containers and ``numpy.dtype`` that mimoCoRB2 writes and refuses any
other class or function before it could run (a foreign file never executes code).
:func:`convert_legacy` rewrites such a file in this format (``mimocorb convert-mimo OLD NEW``).

Reading with NumPy alone (no mimocorb_gui installed)::

    import json
    import numpy as np

    path = "run_dir/InputBuffer.mimo"
    with open(path, "rb") as f:
        assert f.read(4) == b"MIMO"
        version = int.from_bytes(f.read(4), "little")
        json_length = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(json_length))
    header_size = 16 + json_length
    meta_dtype = np.dtype([tuple(f) for f in header["metadata_dtype"]])
    data_dtype = np.dtype([tuple(f) for f in header["data_dtype"]])
    record_dtype = np.dtype([("metadata", meta_dtype), ("data", data_dtype, (header["data_length"],))])
    records = np.fromfile(path, dtype=record_dtype, offset=header_size)  # ignores a partial last record
    metadata, data = records["metadata"], records["data"]  # shapes (n,) and (n, data_length)
    print(metadata["counter"], data["chA"].shape)
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import pickle
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "METADATA_DTYPE",
    "MimoFormatError",
    "MimoReader",
    "MimoTruncatedWarning",
    "MimoWriter",
    "LegacyHeaderUnpickler",
    "convert_legacy",
    "dtype_from_descr",
    "dtype_to_descr",
    "read_mimo",
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


def _packed(dtype: np.dtype) -> np.dtype:
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


def _encode_header(header: Mapping[str, Any]) -> bytes:
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


def _utc_now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat()


class MimoWriter:
    """Write events to a .mimo file.

    ``write(metadata, data)`` copies the record bytes into an in-memory batch; the batch goes to the
    file when it holds ``buffer_bytes``, on ``flush()``/``close()``, and (with ``flush_interval``)
    at the latest ``flush_interval`` seconds after its first record arrived (a daemon thread
    flushes during quiet periods). Only whole records are ever written, so the file always ends on
    a record boundary unless the process dies inside ``write(2)``; readers cope with that too.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        data_dtype: Any,
        data_length: int,
        info: Mapping[str, Any] | None = None,
        *,
        source_buffer: str | None = None,
        source_worker: str | None = None,
        created: str | None = None,
        fsync: bool = False,
        buffer_bytes: int = 1 << 20,
        flush_interval: float | None = None,
        exclusive: bool = False,
    ) -> None:
        self.path = Path(path)
        if isinstance(data_dtype, Mapping):
            data_dtype = list(data_dtype.items())
        self.data_dtype = _packed(np.dtype(data_dtype))
        self.data_length = int(data_length)
        if self.data_length < 1:
            raise ValueError(f"data_length must be >= 1, got {data_length}")
        self.metadata_dtype = METADATA_DTYPE
        self.record_dtype = record_dtype(self.metadata_dtype, self.data_dtype, self.data_length)
        self.record_size = self.record_dtype.itemsize
        self._meta_size = self.metadata_dtype.itemsize
        self.fsync = bool(fsync)
        self.header: dict[str, Any] = {
            "format": "mimo",
            "version": FORMAT_VERSION,
            "data_dtype": dtype_to_descr(self.data_dtype),
            "data_length": self.data_length,
            "metadata_dtype": dtype_to_descr(self.metadata_dtype),
            "record_size": self.record_size,
            "created": created if created is not None else _utc_now_iso(),
            "source_buffer": source_buffer,
            "source_worker": source_worker,
            "info": dict(info) if info else {},
        }
        header_bytes = _encode_header(self.header)
        self.header_size = len(header_bytes)

        capacity = max(1, int(buffer_bytes) // self.record_size)
        self._batch = np.zeros(capacity, dtype=self.record_dtype)
        self._batch_bytes = self._batch.view(np.uint8).reshape(capacity, self.record_size)
        self._pending = 0
        self._first_pending = 0.0
        self.records_written = 0
        self._lock = threading.Lock()
        self._closed = False

        self._file = open(self.path, "xb" if exclusive else "wb")  # (closed in close())
        try:
            self._file.write(header_bytes)
            self._file.flush()
            if self.fsync:
                os.fsync(self._file.fileno())
        except BaseException:
            self._file.close()
            raise

        self.flush_interval = flush_interval
        self._stop_flusher = threading.Event()
        self._flusher: threading.Thread | None = None
        if flush_interval is not None and flush_interval > 0:
            self._flusher = threading.Thread(target=self._flush_loop, name="mimo-flush", daemon=True)
            self._flusher.start()

    @classmethod
    def from_header(cls, path: str | os.PathLike, header: Mapping[str, Any], **kwargs: Any) -> MimoWriter:
        """A writer whose header repeats ``header`` (as returned by a reader): copies files exactly."""
        return cls(
            path,
            dtype_from_descr(header["data_dtype"]),
            header["data_length"],
            info=header.get("info"),
            source_buffer=header.get("source_buffer"),
            source_worker=header.get("source_worker"),
            created=header.get("created"),
            **kwargs,
        )

    # -- writing -----------------------------------------------------------------------------
    def _put_metadata(self, i: int, metadata: Any) -> None:
        if isinstance(metadata, np.ndarray) and metadata.dtype == self.metadata_dtype:
            flat = metadata.reshape(-1)
            if flat.size != 1:
                raise ValueError(f"metadata must hold one record, got shape {metadata.shape}")
            self._batch_bytes[i, : self._meta_size] = np.ascontiguousarray(flat).view(np.uint8)
            return
        row = self._batch["metadata"][i : i + 1]
        if isinstance(metadata, np.ndarray) and metadata.dtype.names:
            flat = metadata.reshape(-1)
            for name in self.metadata_dtype.names:
                row[name] = flat[name][0] if name in metadata.dtype.names else 0
        elif isinstance(metadata, np.void) and metadata.dtype.names:
            for name in self.metadata_dtype.names:
                row[name] = metadata[name] if name in metadata.dtype.names else 0
        elif isinstance(metadata, Mapping):
            for name in self.metadata_dtype.names:
                row[name] = metadata.get(name, 0)
        else:
            row[0] = tuple(metadata)

    def _put_data(self, i: int, data: Any) -> None:
        if (
            isinstance(data, np.ndarray)
            and data.dtype == self.data_dtype
            and data.size == self.data_length
            and data.flags.c_contiguous
        ):
            self._batch_bytes[i, self._meta_size :] = data.reshape(-1).view(np.uint8)
            return
        data = np.asarray(data)
        if data.shape != (self.data_length,):
            raise ValueError(f"data must have shape ({self.data_length},), got {data.shape}")
        self._batch["data"][i] = data

    def write(self, metadata: Any, data: Any) -> None:
        """Append one event: ``metadata`` (shape-(1,) record, void, mapping or tuple) and ``data``."""
        with self._lock:
            if self._closed:
                raise ValueError(f"{self.path}: write to a closed MimoWriter")
            i = self._pending
            self._put_metadata(i, metadata)
            self._put_data(i, data)
            if i == 0:
                self._first_pending = time.monotonic()
            self._pending = i + 1
            if self._pending == len(self._batch):
                self._write_pending()
            elif self.flush_interval and time.monotonic() - self._first_pending >= self.flush_interval:
                self._write_pending()
                self._file.flush()

    def _write_pending(self) -> None:
        n = self._pending
        if n:
            self._file.write(self._batch_bytes[:n].data)
            self.records_written += n
            self._pending = 0

    def flush(self) -> None:
        """Write the batch, flush Python's buffer to the OS, fsync if the writer was made with fsync."""
        with self._lock:
            if self._closed:
                return
            self._write_pending()
            self._file.flush()
            if self.fsync:
                os.fsync(self._file.fileno())

    def _flush_loop(self) -> None:
        interval = float(self.flush_interval or 1.0)
        while not self._stop_flusher.wait(min(interval, 0.25)):
            if self._pending and time.monotonic() - self._first_pending >= interval:
                try:
                    self.flush()
                except (OSError, ValueError):  # file closed under us or disk full: close() reports it
                    return

    def close(self) -> None:
        """Write everything and close the file (idempotent)."""
        self._stop_flusher.set()
        if self._flusher is not None and self._flusher is not threading.current_thread():
            self._flusher.join(timeout=5)
        with self._lock:
            if self._closed:
                return
            try:
                self._write_pending()
                self._file.flush()
                if self.fsync:
                    os.fsync(self._file.fileno())
            finally:
                self._closed = True
                self._file.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> MimoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # best effort: never lose buffered records silently
        try:
            if not self._closed:
                self.close()
        except Exception:
            pass


class LegacyHeaderRefused(pickle.UnpicklingError):
    """A mimoCoRB2 header names a class or function other than numpy.dtype: not loaded."""


class LegacyHeaderUnpickler(pickle.Unpickler):
    """Decodes mimoCoRB2's pickled .mimo header and nothing else.

    The header is a dict of str / int and ``numpy.dtype`` objects; the only global a pickle of it
    names is ``numpy.dtype`` (rebuilt from its reduce tuple and state, which runs no user code).
    Any other global is refused before it is imported or called.
    """

    ALLOWED = frozenset({("numpy", "dtype")})

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return np.dtype
        raise LegacyHeaderRefused(
            f"refusing to load '{module}.{name}': a mimoCoRB2 .mimo header holds only builtin containers "
            "and numpy.dtype (this file may have been made to run code)"
        )


_LEGACY_KEYS = ("data_dtype", "data_length", "metadata_dtype", "metadata_length")


def _read_legacy_header(f, path: Path) -> tuple[dict[str, Any], int, np.dtype]:
    """mimoCoRB2's pickle header -> (header in our terms, header size, on-disk record dtype)."""
    f.seek(0)
    try:
        info = LegacyHeaderUnpickler(f).load()
    except LegacyHeaderRefused as exc:
        raise MimoFormatError(f"{path}: mimoCoRB2 header refused: {exc}") from None
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        IndexError,
        KeyError,
        AttributeError,
    ) as exc:
        raise MimoFormatError(f"{path}: mimoCoRB2 header is broken: {type(exc).__name__}: {exc}") from None
    if not isinstance(info, dict) or any(k not in info for k in _LEGACY_KEYS):
        raise MimoFormatError(
            f"{path}: mimoCoRB2 header must be a dict with {', '.join(_LEGACY_KEYS)}, "
            f"got {type(info).__name__} {sorted(info) if isinstance(info, dict) else ''}"
        )
    data_dtype, metadata_dtype = info["data_dtype"], info["metadata_dtype"]
    if not (isinstance(data_dtype, np.dtype) and isinstance(metadata_dtype, np.dtype)):
        raise MimoFormatError(f"{path}: mimoCoRB2 header: data_dtype and metadata_dtype must be numpy dtypes")
    if int(info["metadata_length"]) != 1:
        raise MimoFormatError(f"{path}: metadata_length {info['metadata_length']} is not supported (1)")
    data_length = int(info["data_length"])
    header_size = f.tell()
    data_bytes = data_dtype.itemsize * data_length
    # mimoCoRB2 writes the data first, then the metadata record
    disk = np.dtype(
        {
            "names": ["metadata", "data"],
            "formats": [metadata_dtype, (data_dtype, (data_length,))],
            "offsets": [data_bytes, 0],
            "itemsize": data_bytes + metadata_dtype.itemsize,
        }
    )
    header = {
        "format": "mimoCoRB2 (pickle header)",
        "version": info.get("version"),
        "legacy": True,
        "data_dtype": dtype_to_descr(data_dtype),
        "data_length": data_length,
        "metadata_dtype": dtype_to_descr(metadata_dtype),
        "record_size": disk.itemsize,
        "created": None,
        "source_buffer": path.stem,
        "source_worker": None,
        "info": {"mimocorb2_header": str(info.get("header", ""))},
    }
    return header, header_size, disk


def _read_header(f, path: Path) -> tuple[dict[str, Any], int]:
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


class MimoReader:
    """Read a .mimo file: ``read()`` everything at once, or iterate ``(metadata, data)`` per event.

    ``metadata`` of one event is a shape-(1,) record, ``data`` has shape ``(data_length,)`` —
    the same shapes a ring buffer handle gives. The number of complete records is taken when the
    reader is opened; ``refresh()`` re-counts a file that is still being written.
    """

    def __init__(self, path: str | os.PathLike, *, chunk_bytes: int = 8 << 20, warn: bool = True) -> None:
        self.path = Path(path)
        self._file = open(self.path, "rb")  # (closed in close())
        try:
            self.legacy = self._file.read(1) == b"\x80"  # pickle protocol >= 2: a mimoCoRB2 file
            self._file.seek(0)
            legacy_records = None
            if self.legacy:
                self.header, self.header_size, legacy_records = _read_legacy_header(self._file, self.path)
            else:
                self.header, self.header_size = _read_header(self._file, self.path)
            try:
                self._describe_records(legacy_records)
            except MimoFormatError:
                raise
            except (TypeError, ValueError, KeyError, OverflowError, MemoryError) as exc:
                # a header that parses as JSON but does not describe records (issue 16: such files
                # gave bare MemoryError / OverflowError / ZeroDivisionError without the file name)
                raise MimoFormatError(f"{self.path}: header does not describe records: {exc}") from None
        except BaseException:
            self._file.close()
            raise
        self._chunk = max(1, int(chunk_bytes) // self.record_size)
        self._warn = warn
        self._warned = False
        self.n_records = 0
        self.trailing_bytes = 0
        self.refresh()

    def _describe_records(self, legacy_records: np.dtype | None = None) -> None:
        """dtypes and record layout from the header; ``legacy_records``: mimoCoRB2's (data first)."""
        self.version = 0 if legacy_records is not None else int(self.header.get("version", 1))
        self.data_dtype = dtype_from_descr(self.header["data_dtype"])
        self.metadata_dtype = dtype_from_descr(self.header["metadata_dtype"])
        self.data_length = int(self.header["data_length"])
        for what, dt in (("data_dtype", self.data_dtype), ("metadata_dtype", self.metadata_dtype)):
            if dt.hasobject:
                raise MimoFormatError(f"{self.path}: {what} holds Python objects, which a .mimo file cannot")
        missing = [f for f in ("counter", "timestamp") if f not in (self.metadata_dtype.names or ())]
        if missing:
            raise MimoFormatError(f"{self.path}: metadata_dtype lacks {', '.join(map(repr, missing))}")
        if self.data_length < 1:
            raise MimoFormatError(f"{self.path}: data_length {self.data_length} (must be at least 1)")
        if legacy_records is not None:
            self.record_dtype = legacy_records
        else:
            self.record_dtype = record_dtype(self.metadata_dtype, self.data_dtype, self.data_length)
        self.record_size = self.record_dtype.itemsize
        if "record_size" in self.header and int(self.header["record_size"]) != self.record_size:
            raise MimoFormatError(
                f"{self.path}: header record_size {self.header['record_size']} does not match "
                f"its dtypes ({self.record_size} bytes)"
            )

    def refresh(self) -> int:
        """Re-count the complete records (the file may still grow); returns the count."""
        size = os.fstat(self._file.fileno()).st_size
        payload = max(0, size - self.header_size)
        self.n_records, self.trailing_bytes = divmod(payload, self.record_size)
        if self.trailing_bytes and self._warn and not self._warned:
            self._warned = True
            warnings.warn(
                f"{self.path}: ends inside a record; {self.trailing_bytes} trailing bytes ignored, "
                f"{self.n_records} complete records",
                MimoTruncatedWarning,
                stacklevel=3,
            )
        return self.n_records

    @property
    def info(self) -> dict[str, Any]:
        return self.header.get("info", {})

    def __len__(self) -> int:
        return self.n_records

    def records(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Complete records ``start:stop`` as one structured array (fields 'metadata' and 'data')."""
        stop = self.n_records if stop is None else min(int(stop), self.n_records)
        start = max(0, int(start))
        count = max(0, stop - start)
        if count == 0:
            return np.empty(0, dtype=self.record_dtype)
        self._file.seek(self.header_size + start * self.record_size)
        out = np.fromfile(self._file, dtype=self.record_dtype, count=count)
        if len(out) != count:  # the file shrank underneath us
            raise MimoFormatError(f"{self.path}: expected {count} records, got {len(out)}")
        return out

    def read(self, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(metadata, data)`` arrays of shapes ``(n,)`` and ``(n, data_length)``."""
        recs = self.records(start, stop)
        return recs["metadata"], recs["data"]

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n = self.n_records
        for start in range(0, n, self._chunk):
            recs = self.records(start, min(n, start + self._chunk))
            meta, data = recs["metadata"], recs["data"]
            for i in range(len(recs)):
                yield meta[i : i + 1], data[i]

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> MimoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_mimo(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Read a whole .mimo file: ``(metadata (n,), data (n, data_length), header)``."""
    with MimoReader(path) as reader:
        metadata, data = reader.read()
        return metadata, data, reader.header


def convert_legacy(old: str | os.PathLike, new: str | os.PathLike) -> int:
    """Rewrite a .mimo file (mimoCoRB2's or ours) in this format; returns the number of events.

    Records are copied in chunks, so files larger than memory convert too. ``new`` must not exist.
    """
    with MimoReader(old) as reader:
        header = dict(reader.header)
        info = dict(header.get("info") or {})
        info["converted_from"] = str(Path(old))
        header["info"] = info
        writer = MimoWriter.from_header(new, header, exclusive=True)
        with writer:
            step = max(1, (8 << 20) // reader.record_size)
            for start in range(0, len(reader), step):
                metadata, data = reader.read(start, start + step)
                for i in range(len(metadata)):
                    writer.write(metadata[i : i + 1], data[i])
        return writer.records_written
