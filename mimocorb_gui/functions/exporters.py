"""Exporters: drain a buffer, histogram it into live .npy files, or write it to a CSV file."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Generator
from pathlib import Path

import numpy as np

from mimocorb_gui.core.bufferio import BufferIO
from mimocorb_gui.core.livehist import LiveHistogramWriter, check_bins, histogram_dir, parse_bins
from mimocorb_gui.core.ringbuffer import Reader
from mimocorb_gui.core.templates import Exporter, copy_event, setup_check
from mimocorb_gui.functions._checks import check_number

__all__ = ["CsvFormatter", "csv", "drain", "histogram"]

HISTOGRAM_BATCH = 4096  # values per channel collected before they are counted
HISTOGRAM_LIVE_INTERVAL = 0.1  # s: longest time a value waits before it shows in the live counts
CSV_CHUNK_ROWS = 10000  # rows collected before they are written, whatever save_interval says


def _events(
    buffer_io: BufferIO, reader: Reader, idle: float
) -> Generator[tuple[np.ndarray, np.ndarray] | tuple[None, None], None, None]:
    """Like the Exporter template (events passed on to every sink), plus ``(None, None)`` after
    ``idle`` seconds without an event, so that an exporter can save what it holds in quiet times."""
    writers = buffer_io.write
    try:
        while True:
            idx = reader.acquire(timeout=idle)
            if idx == -2:
                yield None, None
                continue
            if idx < 0:
                break
            try:
                meta, data = reader.slot(idx)
                for w in writers:
                    widx = w.acquire()
                    copy_event(w, widx, meta, data)
                    w.commit(widx)
                yield meta, data
            finally:
                reader.release(idx)
    finally:
        buffer_io.shutdown_sinks()


def _file_name_problem(name, key: str) -> str | None:
    """Why ``name`` cannot be a file in the run directory (it must not leave it), or None."""
    if (
        not isinstance(name, str)
        or not name.strip()
        or "\0" in name
        or "\\" in name
        or Path(name).name != name
        or name in (".", "..")
    ):
        return f"'{key}' must be a plain file name (saved in the run directory), got {name!r}"
    return None


def _plain_name(buffer_io: BufferIO, key: str, default: str, suffix: str) -> str:
    name = buffer_io.get(key) or default
    problem = _file_name_problem(name, key)
    if problem:
        raise ValueError(f"worker '{buffer_io.name}': config {problem}")
    return name if name.endswith(suffix) else name + suffix


# --------------------------------------------------------------------------------------------
# drain


def drain(buffer_io: BufferIO) -> None:
    """mimoCoRB2 Function: Drain buffer

    Drains all data from the source buffer and does nothing with it. Use it as the end of a
    branch whose events are only watched (an oscilloscope needs somebody to read the buffer, or
    its writers stop once every slot is full).

    Type
    ----
    Exporter

    Buffers
    -------
    sources
        1
    sinks
        0
    observes
        0

    Examples
    --------
    >>> # Workers:  drain: {function: exporters.drain, sources: [InputBuffer]}
    """
    for _data, _metadata in Exporter(buffer_io):
        pass


# --------------------------------------------------------------------------------------------
# histogram


@setup_check(
    lambda config, sources=(), **_: check_bins(config.get("bins"), sources[0].dtype if sources else None)
)
def histogram(buffer_io: BufferIO) -> None:
    """mimoCoRB2 Function: Export data as a histogram.

    Saves histograms of fields of the source buffer to npy files in the run_dir. The histograms
    are saved in a directory named "Histograms_<source_buffer_name>". The directory contains a
    file named "info.csv" with the histogram configuration (columns Channel, Min, Max, NBins,
    then Entries, Underflow, Overflow, NaN) and one npy file of int64 counts per channel. As in
    mimoCoRB2, NBins is the number of bin edges: edges are numpy.linspace(Min, Max, NBins), each
    file holds NBins - 1 counts, exactly those of numpy.histogram(values, bins=edges) of every
    value that passed (the manual's example below reads them unchanged): the last bin
    includes Max; values below Min, above Max (infinities included) and NaN are not in the bins
    but counted in info.csv (Underflow, Overflow, NaN). Fields with data_length > 1 count every
    element. The npy files are memory-mapped and updated in place about every 0.1 s, so the GUI
    (and np.load) see the counts while the run goes; they are written to the disk every
    update_interval seconds and at the end. Several processes of this worker add their counts
    to the same files under a file lock (exact sums).

    Type
    ----
    Exporter

    Buffers
    -------
    sources
        1 (usually with data_length = 1, e.g. pulse parameters)
    sinks
        Pass through data without modification to all sinks. Must share same dtype as source buffer.
    observes
        0

    Configs
    -------
    bins : dict
        Dictionary where keys are channel names and values are [min, max, number_of_bins] (lists
        or tuples); number_of_bins (NBins) counts the bin edges, so there are NBins - 1 bins.
        Channels must be present in the source buffer data.
    update_interval : float, optional (default=1)
        Interval in seconds to save the histogram data to files (info.csv and the disk copy).

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> info_df = pd.read_csv('info.csv')
    >>> bins = {ch: np.linspace(info_df['Min'][i], info_df['Max'][i], info_df['NBins'][i]) for i, ch in enumerate(info_df['Channel'])}
    >>> for ch in info_df['Channel']:
    ...     data = np.load(f'{ch}.npy')
    ...     plt.plot(bins[ch][:-1], data, label=ch)
    >>> plt.legend()
    >>> plt.show()
    """
    exporter = Exporter(buffer_io)
    reader = exporter.reader
    source = reader.buffer
    try:
        specs = parse_bins(buffer_io.get("bins"), source.dtype)
    except ValueError as exc:
        raise ValueError(f"worker '{buffer_io.name}': config {exc}") from None
    update_interval = check_number(buffer_io, "update_interval", 1.0, above=0)
    channels = list(specs)
    batch_events = max(1, HISTOGRAM_BATCH // source.data_length)
    batch = np.zeros((batch_events, source.data_length), dtype=source.dtype)
    batch_raw = batch.view(np.uint8).reshape(batch_events, -1)
    directory = histogram_dir(buffer_io.run_dir, source.name)
    writer = LiveHistogramWriter(directory, specs)
    buffer_io.logger.info(
        "histograms of %s in %s (%s)",
        ", ".join(channels),
        directory,
        ", ".join(f"{ch}: [{s.min:g}, {s.max:g}, {s.nbins}]" for ch, s in specs.items()),
    )
    n = 0
    total = flushed = 0
    now = time.monotonic
    last_add = last_flush = now()
    try:
        for _meta, data in _events(buffer_io, reader, idle=HISTOGRAM_LIVE_INTERVAL):
            if data is not None:
                batch_raw[n] = data.view(np.uint8)
                n += 1
            t = now()
            if n and (n == batch_events or data is None or t - last_add >= HISTOGRAM_LIVE_INTERVAL):
                writer.add({ch: batch[ch][:n] for ch in channels})
                total += n
                n = 0
                last_add = t
            if t - last_flush >= update_interval and total != flushed:
                writer.flush()
                flushed, last_flush = total, t
        if n:
            writer.add({ch: batch[ch][:n] for ch in channels})
            total += n
    finally:
        writer.close()
    buffer_io.logger.info("histogrammed %d events into %s", total, directory.name)


# --------------------------------------------------------------------------------------------
# csv


def _quote(text: str) -> str:
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


class CsvFormatter:
    """Turns columns of structured arrays into CSV text, a whole chunk at a time.

    Floats are written in the shortest form that reads back to the same value (float32 as
    float32), integers as integers, booleans as True/False, strings quoted when needed. One
    ``%``-format per row over Python values of whole columns: no per-value NumPy scalars.
    """

    def __init__(self, *dtypes: np.dtype) -> None:
        self.columns: list[tuple[int, str, str]] = []
        for i, dtype in enumerate(dtypes):
            for name in dtype.names:
                field = dtype[name]
                if field.shape != ():
                    raise ValueError(f"field '{name}' has shape {field.shape}: CSV columns must be scalars")
                self.columns.append((i, name, self._kind(field)))
        spec = {"float": "%r", "int": "%d"}
        self._format = ",".join(spec.get(kind, "%s") for _, _, kind in self.columns) + "\n"

    @staticmethod
    def _kind(field: np.dtype) -> str:
        if field.kind == "f" and field.itemsize == 8:
            return "float"  # Python's repr: shortest round trip
        if field.kind in "iu":
            return "int"
        if field.kind in "SUV":
            return "text"
        return "str"  # float16/32 (NumPy's shortest repr of that type), bool, complex

    def header(self) -> str:
        return ",".join(_quote(name) for _, name, _ in self.columns) + "\n"

    @staticmethod
    def _values(values: np.ndarray, kind: str) -> list:
        if kind in ("float", "int"):
            return values.tolist()
        if kind == "text":
            if values.dtype.kind == "S":
                return [_quote(v.decode("utf-8", "replace")) for v in values.tolist()]
            return [_quote(str(v)) for v in values.tolist()]
        return values.astype(str).tolist()

    def rows(self, *arrays: np.ndarray) -> str:
        """CSV lines of equally long 1-d structured arrays, one per dtype given to the constructor."""
        if len(arrays[0]) == 0:
            return ""
        cols = [self._values(arrays[i][name], kind) for i, name, kind in self.columns]
        fmt = self._format
        return "".join([fmt % row for row in zip(*cols, strict=True)])


def _open_exclusive(run_dir: Path, filename: str):
    stem, suffix = filename[: -len(".csv")], ".csv"
    for i in range(1000):
        path = run_dir / (filename if i == 0 else f"{stem}_{i}{suffix}")
        try:
            return path, open(path, "xb", buffering=0)  # closed by the caller
        except FileExistsError:
            continue
    raise RuntimeError(f"no free file name {stem}_<n>.csv in {run_dir}")


class DiskFull(OSError):
    """The disk filled up; the file was cut back to its last whole record."""


class WholeRecordFile:
    """Appends chunks of whole records (lines) to an unbuffered binary file.

    Every chunk goes to the operating system at once; when the disk fills up halfway (ENOSPC), the
    file is truncated back to the end of the last whole chunk, so readers never see a cut record
    (pandas reads a cut ``3.53e-05`` as ``3.5``), and ``DiskFull`` says how many records were lost.
    """

    def __init__(self, path: Path, raw) -> None:
        self.path = path
        self._raw = raw
        self.size = 0  # bytes of whole records in the file
        self.records = 0

    def append(self, text: str, records: int = 0) -> None:
        data = memoryview(text.encode("utf-8"))
        done = 0
        try:
            while done < len(data):
                done += self._raw.write(data[done:]) or 0
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            os.ftruncate(self._raw.fileno(), self.size)
            raise DiskFull(
                exc.errno,
                f"{self.path.name}: the disk is full: {records} record(s) could not be written; "
                f"the file ends with its last whole record ({self.records} kept)",
            ) from None
        self.size += len(data)
        self.records += records

    def close(self) -> None:
        self._raw.close()


def _check_csv(config, sources=(), **_) -> list[str]:
    problems = []
    if config.get("filename"):
        problem = _file_name_problem(config["filename"], "filename")
        if problem:
            problems.append(problem)
    for source in sources:
        if source.data_length not in (None, 1):
            problems.append(
                f"source '{source.name}' has data_length {source.data_length}; exporters.csv writes one row "
                "per event and needs data_length = 1 (use data.export for waveforms)"
            )
    return problems


@setup_check(_check_csv)
def csv(buffer_io: BufferIO) -> None:
    """mimoCoRB2 Function: Save data from the source buffer to a CSV file.

    Saves data from the source buffer to a CSV file in the run_dir. The first line names the
    columns: the metadata counter, timestamp (s since 1970) and deadtime (s), then every field of
    the source buffer. Events are collected in memory and appended in chunks, at the latest every
    save_interval seconds (also while no events come) and at the end, so the file is complete
    up to the last chunk while the run goes and complete when it stops; it keeps up with well
    over 10 000 events/s. Further processes of the worker write <filename>_1.csv, ...

    Type
    ----
    Exporter

    Buffers
    -------
    sources
        1 with data_length = 1
    sinks
        Pass through data without modification to all sinks. Must share same dtype as source buffer.
    observes
        0

    Configs
    -------
    save_interval : float, optional (default=1)
        Interval in seconds to save the CSV file.
    filename : str, optional (default=<source buffer name>)
        Name of the CSV file to save the data to ('.csv' is appended when missing). The file will
        be saved in the run_dir.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.read_csv('run_dir/PulseParameters.csv')
    >>> df['peak_heights'].hist(bins=100)
    """
    exporter = Exporter(buffer_io)
    reader = exporter.reader
    source = reader.buffer
    if source.data_length != 1:
        raise ValueError(
            f"worker '{buffer_io.name}': source '{source.name}' has data_length {source.data_length}; "
            "exporters.csv writes one row per event and needs data_length = 1 (use data.export for waveforms)"
        )
    save_interval = check_number(buffer_io, "save_interval", 1.0, above=0)
    filename = _plain_name(buffer_io, "filename", source.name, ".csv")
    meta_dtype = reader.metadata_example.dtype
    try:
        formatter = CsvFormatter(meta_dtype, source.dtype)
    except ValueError as exc:
        raise ValueError(f"worker '{buffer_io.name}': source '{source.name}': {exc}") from None
    run_dir = Path(buffer_io.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path, raw = _open_exclusive(run_dir, filename)
    out = WholeRecordFile(path, raw)
    rows = CSV_CHUNK_ROWS
    metas = np.zeros(rows, dtype=meta_dtype)
    datas = np.zeros(rows, dtype=source.dtype)
    metas_raw = metas.view(np.uint8).reshape(rows, -1)
    datas_raw = datas.view(np.uint8).reshape(rows, -1)
    n = 0
    written = 0
    now = time.monotonic
    last_save = now()

    def save() -> None:
        nonlocal n, written
        if n:
            chunk, n = n, 0  # a chunk lost to a full disk is not tried again
            out.append(formatter.rows(metas[:chunk], datas[:chunk]), chunk)
            written += chunk

    buffer_io.logger.info("writing %s", path)
    with raw:
        out.append(formatter.header())
        try:
            for meta, data in _events(buffer_io, reader, idle=min(save_interval, 1.0)):
                if data is not None:
                    metas_raw[n] = meta.view(np.uint8)
                    datas_raw[n] = data.view(np.uint8)
                    n += 1
                    if n < rows and now() - last_save < save_interval:
                        continue
                elif not n:
                    continue
                save()
                last_save = now()
        finally:
            save()
    buffer_io.logger.info("%s: %d rows", path.name, written)
