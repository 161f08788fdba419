"""Writing .mimo files: ``MimoWriter`` batches whole records and flushes them (also on a timer)."""

from __future__ import annotations

import datetime as _dt
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mimocorb_gui.core.mimofile.format import (
    FORMAT_VERSION,
    METADATA_DTYPE,
    dtype_from_descr,
    dtype_to_descr,
    encode_header,
    packed_dtype,
    record_dtype,
)

__all__ = ["MimoWriter"]


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
        self.data_dtype = packed_dtype(np.dtype(data_dtype))
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
        header_bytes = encode_header(self.header)
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
