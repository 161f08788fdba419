"""Reading .mimo files (ours and mimoCoRB2's): ``MimoReader``, ``read_mimo``, ``convert_legacy``."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mimocorb_gui.core.mimofile.format import (
    MimoFormatError,
    MimoTruncatedWarning,
    dtype_from_descr,
    read_header,
    record_dtype,
)
from mimocorb_gui.core.mimofile.legacy import read_legacy_header
from mimocorb_gui.core.mimofile.writer import MimoWriter

__all__ = ["MimoReader", "convert_legacy", "read_mimo"]


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
                self.header, self.header_size, legacy_records = read_legacy_header(self._file, self.path)
            else:
                self.header, self.header_size = read_header(self._file, self.path)
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
