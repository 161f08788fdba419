"""Live histograms: the counts ``exporters.histogram`` keeps in memory-mapped ``.npy`` files.

No Qt here. The histogram exporter's worker process and the GUI share the counts through the
operating system's page cache, with no copy and no extra shared-memory segment: each channel's
``<channel>.npy`` *is* a ``numpy.lib.format.open_memmap`` (MAP_SHARED) the worker adds to in
place; any process that maps the same file read-only sees every update at once. ``flush()``
(every ``update_interval`` and at the end) only forces the pages to the disk.

Layout of ``run_dir/Histograms_<source buffer>/``::

    info.csv      Channel,Min,Max,NBins,Entries,Underflow,Overflow,NaN   one row per channel
    <channel>.npy int64 counts, shape (NBins,); bin edges numpy.linspace(Min, Max, NBins + 1)
    _outside.npy  int64, shape (n_channels, 3): underflow, overflow, NaN per channel (info.csv order)
    .lock         lock file: processes of the exporter add their counts under it

Counting is ``numpy.histogram(values, bins=NBins, range=(Min, Max))`` exactly: bins are half
open ``[lo, hi)`` except the last, which includes ``Max``. Values below ``Min`` (and -inf) are
counted as underflow, values above ``Max`` (and +inf) as overflow, NaN apart; none of them are
in the bins, so ``Entries`` (the sum of the bins) plus the three equals the values seen.

Reading offline (NumPy and the csv module only)::

    import csv, numpy as np
    rows = list(csv.DictReader(open("Histograms_Pulses/info.csv")))
    for r in rows:
        counts = np.load(f"Histograms_Pulses/{r['Channel']}.npy")
        edges = np.linspace(float(r["Min"]), float(r["Max"]), int(r["NBins"]) + 1)
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "HISTOGRAM_FUNCTIONS",
    "INFO_COLUMNS",
    "BinSpec",
    "HistogramWorker",
    "LiveHistogram",
    "LiveHistogramWriter",
    "check_bins",
    "histogram_dir",
    "histogram_workers",
    "open_live_histograms",
    "parse_bins",
    "read_histograms",
]

INFO_FILE = "info.csv"
OUTSIDE_FILE = "_outside.npy"
LOCK_FILE = ".lock"
LOCK_TIMEOUT = 30.0  # seconds; a process holds the lock only while adding one batch
INFO_COLUMNS = ("Channel", "Min", "Max", "NBins", "Entries", "Underflow", "Overflow", "NaN")
COUNT_DTYPE = np.dtype("<i8")

# prebuilt functions that show or write histograms -> the role of the buffer they histogram
HISTOGRAM_FUNCTIONS = {
    "exporters.histogram": "sources",
    "observers.histogram": "observes",
    "visualizers.histogram": "observes",  # mimoCoRB2 name of the display
    "visualizers.csv": "observes",  # mimoCoRB2: histograms of a csv exporter's buffer
    "importers.redpitaya.spectrum": "sinks",  # the board's own histograms, written in this layout
}


# --------------------------------------------------------------------------------------------
# bins


@dataclass(frozen=True)
class BinSpec:
    """``n_bins`` equal bins from ``min`` to ``max`` (numpy.histogram's ``bins=n_bins, range=(min, max)``)."""

    min: float
    max: float
    n_bins: int

    @property
    def edges(self) -> np.ndarray:
        return np.linspace(self.min, self.max, self.n_bins + 1)

    @property
    def centers(self) -> np.ndarray:
        e = self.edges
        return 0.5 * (e[1:] + e[:-1])

    @property
    def width(self) -> float:
        return (self.max - self.min) / self.n_bins

    def count(self, values: np.ndarray) -> tuple[np.ndarray, int, int, int]:
        """(counts, underflow, overflow, nan) of ``values`` (any shape)."""
        v = np.asarray(values).ravel()
        if v.dtype.kind not in "fiub":
            v = v.astype(np.float64)
        counts = np.histogram(v, bins=self.n_bins, range=(self.min, self.max))[0]
        under = int(np.count_nonzero(v < self.min))
        over = int(np.count_nonzero(v > self.max))
        nan = int(np.count_nonzero(np.isnan(v))) if v.dtype.kind == "f" else 0
        return counts.astype(COUNT_DTYPE, copy=False), under, over, nan


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def _bin_problems(channel: str, spec: Any) -> tuple[BinSpec | None, list[str]]:
    where = f"bins.{channel}"
    example = f"e.g. {channel}: [0, 1, 100]"
    if not isinstance(spec, list | tuple) or len(spec) != 3:
        return None, [f"{where} must be [min, max, number_of_bins] ({example}), got {spec!r}"]
    lo, hi, n = spec
    problems = []
    lo_v, hi_v = _number(lo), _number(hi)
    if lo_v is None or hi_v is None:
        problems.append(f"{where}: min and max must be finite numbers ({example}), got {spec!r}")
    elif not lo_v < hi_v:
        problems.append(f"{where}: min must be below max, got min={lo!r}, max={hi!r}")
    n_ok = isinstance(n, int | np.integer) and not isinstance(n, bool) and n >= 1
    if not n_ok and isinstance(n, float) and n.is_integer() and n >= 1:
        n_ok, n = True, int(n)
    if not n_ok:
        problems.append(f"{where}: number_of_bins must be a positive integer ({example}), got {n!r}")
    if problems:
        return None, problems
    return BinSpec(float(lo_v), float(hi_v), int(n)), []


def _field_names(dtype: Any) -> tuple[str, ...] | None:
    if dtype is None:
        return None
    if isinstance(dtype, Mapping):
        return tuple(str(k) for k in dtype)
    names = np.dtype(dtype).names
    return tuple(names) if names else None


def _bins_and_problems(bins: Any, dtype: Any = None) -> tuple[dict[str, BinSpec], list[str]]:
    names = _field_names(dtype)
    if bins is None:
        example = f"{{{names[0]}: [0, 1, 100]}}" if names else "{channel: [0, 1, 100]}"
        return {}, [f"bins is required: {{channel: [min, max, number_of_bins]}}, e.g. {example}"]
    if not isinstance(bins, Mapping) or not bins:
        return {}, [f"bins must be a mapping {{channel: [min, max, number_of_bins]}}, got {bins!r}"]
    result: dict[str, BinSpec] = {}
    problems: list[str] = []
    for channel, spec in bins.items():
        channel = str(channel)
        if names is not None and channel not in names:
            problems.append(f"bins: '{channel}' is not a field of the buffer (fields: {', '.join(names)})")
            continue
        if Path(channel).name != channel or channel in (".", "..") or f"{channel}.npy" == OUTSIDE_FILE:
            problems.append(f"bins: channel name '{channel}' cannot be used as a file name")
            continue
        parsed, errs = _bin_problems(channel, spec)
        problems.extend(errs)
        if parsed is not None:
            result[channel] = parsed
    return result, problems


def parse_bins(bins: Any, dtype: Any = None) -> dict[str, BinSpec]:
    """``{channel: [min, max, number_of_bins]}`` (lists or tuples) checked against the buffer's fields.

    Raises ValueError naming every bad entry and the valid choices.
    """
    result, problems = _bins_and_problems(bins, dtype)
    if problems:
        raise ValueError("; ".join(problems))
    return result


def check_bins(bins: Any, dtype: Any = None) -> list[str]:
    """Problems of a ``bins`` config (empty when it is fine)."""
    return _bins_and_problems(bins, dtype)[1]


def histogram_dir(run_dir: str | Path, buffer: str) -> Path:
    """Where ``exporters.histogram`` writes the histograms of ``buffer``: ``run_dir/Histograms_<buffer>``."""
    return Path(run_dir) / f"Histograms_{buffer}"


# --------------------------------------------------------------------------------------------
# lock between the processes of one exporter


class _FileLock:
    """An exclusive lock on a file, held across processes (the ``filelock`` package: flock on POSIX,
    msvcrt on Windows), given up with an error after ``LOCK_TIMEOUT`` s instead of waiting forever."""

    def __init__(self, path: Path) -> None:
        import filelock

        self._path = path
        self._lock = filelock.FileLock(str(path), timeout=LOCK_TIMEOUT)

    def __enter__(self) -> _FileLock:
        import filelock

        try:
            self._lock.acquire()
        except filelock.Timeout:
            raise TimeoutError(f"{self._path}: histogram lock still held after {LOCK_TIMEOUT:g} s") from None
        return self

    def __exit__(self, *exc: Any) -> None:
        self._lock.release()

    def close(self) -> None:
        self._lock.release(force=True)


# --------------------------------------------------------------------------------------------
# info.csv


def _format_info(specs: Mapping[str, BinSpec], outside: np.ndarray, entries: list[int]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(INFO_COLUMNS)
    for i, (ch, s) in enumerate(specs.items()):
        u, o, n = (int(x) for x in outside[i])
        w.writerow([ch, repr(s.min), repr(s.max), s.n_bins, entries[i], u, o, n])
    return out.getvalue()


def _read_info(path: Path) -> list[dict[str, str]] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        return None
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or any(c not in rows[0] for c in INFO_COLUMNS[:4]):
        return None
    return rows


def _specs_from_info(rows: list[dict[str, str]]) -> dict[str, BinSpec]:
    return {r["Channel"]: BinSpec(float(r["Min"]), float(r["Max"]), int(r["NBins"])) for r in rows}


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    for _ in range(50):
        try:
            os.replace(tmp, path)
            return
        except PermissionError:  # pragma: no cover - Windows: a reader has the file open
            import time

            time.sleep(0.01)
    os.replace(tmp, path)  # pragma: no cover


# --------------------------------------------------------------------------------------------
# writer side (the exporter's worker process)


class LiveHistogramWriter:
    """Counts of some channels in ``directory``, added to in place; shared by the exporter's processes.

    The first process creates the files (zeros) under the lock, later ones attach to them and must
    have the same bins. ``add`` adds counts under the lock, so several processes of one exporter
    (each reading a share of the events) sum exactly. ``flush`` writes the pages to the disk and
    rewrites ``info.csv`` with the current entries, underflow, overflow and NaN counts.
    """

    def __init__(self, directory: str | Path, specs: Mapping[str, BinSpec]) -> None:
        if not specs:
            raise ValueError("no channels to histogram")
        self.directory = Path(directory)
        self.specs = dict(specs)
        self.channels = list(self.specs)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = _FileLock(self.directory / LOCK_FILE)
        mismatch = None
        with self._lock:
            existing = _read_info(self.directory / INFO_FILE)
            theirs = _specs_from_info(existing) if existing is not None else None
            if theirs is not None and theirs != self.specs:
                mismatch = (
                    f"{self.directory} already holds histograms with other bins "
                    f"({_describe_specs(theirs)}; here: {_describe_specs(self.specs)}): two histogram "
                    "exporters of one buffer must use the same bins"
                )
            elif theirs is not None:
                self.specs, self.channels = theirs, list(theirs)  # their order: rows of _outside.npy
                self.counts = {
                    ch: np.lib.format.open_memmap(self.directory / f"{ch}.npy", mode="r+")
                    for ch in self.channels
                }
                self.outside = np.lib.format.open_memmap(self.directory / OUTSIDE_FILE, mode="r+")
            else:
                self.counts = {
                    ch: np.lib.format.open_memmap(
                        self.directory / f"{ch}.npy", mode="w+", dtype=COUNT_DTYPE, shape=(s.n_bins,)
                    )
                    for ch, s in self.specs.items()
                }
                self.outside = np.lib.format.open_memmap(
                    self.directory / OUTSIDE_FILE, mode="w+", dtype=COUNT_DTYPE, shape=(len(self.specs), 3)
                )
                for mm in (*self.counts.values(), self.outside):
                    mm.flush()
                self._write_info()  # last: readers open the .npy files only once info.csv exists
        if mismatch:
            self._lock.close()
            raise ValueError(mismatch)
        self.closed = False

    def add(self, values: Mapping[str, np.ndarray]) -> None:
        """Histogram ``values[channel]`` (any shape) and add the counts to the files."""
        parts = []
        for i, ch in enumerate(self.channels):
            v = values.get(ch)
            if v is None or np.size(v) == 0:
                continue
            parts.append((i, ch, *self.specs[ch].count(v)))
        if not parts:
            return
        with self._lock:
            for i, ch, counts, under, over, nan in parts:
                self.counts[ch] += counts
                self.outside[i, 0] += under
                self.outside[i, 1] += over
                self.outside[i, 2] += nan

    def _write_info(self) -> None:
        entries = [int(self.counts[ch].sum()) for ch in self.channels]
        _write_atomic(self.directory / INFO_FILE, _format_info(self.specs, np.asarray(self.outside), entries))

    def flush(self) -> None:
        """Put the counts on the disk and refresh info.csv."""
        for mm in (*self.counts.values(), self.outside):
            mm.flush()
        with self._lock:
            self._write_info()

    def close(self) -> None:
        if self.closed:
            return
        self.flush()
        self.closed = True
        self._lock.close()
        self.counts = {}  # the mappings go with the last reference
        self.outside = None

    def __enter__(self) -> LiveHistogramWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _describe_specs(specs: Mapping[str, BinSpec]) -> str:
    return ", ".join(f"{ch}: [{s.min:g}, {s.max:g}, {s.n_bins}]" for ch, s in specs.items())


# --------------------------------------------------------------------------------------------
# reader side (the GUI, analysis scripts)


class LiveHistogram:
    """One channel's histogram, mapped read-only: ``counts`` shows the exporter's updates as they happen."""

    def __init__(
        self, channel: str, spec: BinSpec, path: Path, outside: np.ndarray | None, row: int, info: Mapping
    ) -> None:
        self.channel = channel
        self.spec = spec
        self.path = path
        self.edges = spec.edges
        self.centers = spec.centers
        self._counts = np.load(path, mmap_mode="r")
        if self._counts.shape != (spec.n_bins,):
            raise ValueError(f"{path}: {self._counts.shape[0]} bins, info.csv says {spec.n_bins}")
        self._outside = outside
        self._row = row
        self._info = dict(info)

    @property
    def counts(self) -> np.ndarray:
        """The live counts (read-only view of the file; copy it with ``snapshot()`` to keep a state)."""
        return self._counts

    def snapshot(self) -> np.ndarray:
        return np.array(self._counts)

    @property
    def total(self) -> int:
        """Entries in the bins (underflow, overflow and NaN not included)."""
        return int(self._counts.sum())

    def _outside_value(self, col: int, name: str) -> int:
        if self._outside is not None:
            return int(self._outside[self._row, col])
        try:
            return int(self._info.get(name) or 0)
        except ValueError:
            return 0

    @property
    def underflow(self) -> int:
        return self._outside_value(0, "Underflow")

    @property
    def overflow(self) -> int:
        return self._outside_value(1, "Overflow")

    @property
    def nan(self) -> int:
        return self._outside_value(2, "NaN")

    @property
    def entries_seen(self) -> int:
        """Every value the exporter histogrammed: bins + underflow + overflow + NaN."""
        return self.total + self.underflow + self.overflow + self.nan

    def close(self) -> None:
        """Keep the last counts and drop the mapping (on Windows a mapped file cannot be deleted)."""
        self._counts = np.array(self._counts)
        if self._outside is not None:
            self._outside = np.array(self._outside)

    def __repr__(self) -> str:
        s = self.spec
        return f"LiveHistogram({self.channel!r}, [{s.min:g}, {s.max:g}, {s.n_bins}], total={self.total})"


def open_live_histograms(run_dir: str | Path, source_buffer: str) -> dict[str, LiveHistogram]:
    """``{channel: LiveHistogram}`` of the histogram exporter of ``source_buffer`` in ``run_dir``.

    Returns ``{}`` while the exporter has not created its files yet (call again later); never raises
    for files that are missing or still being written.
    """
    directory = histogram_dir(run_dir, source_buffer)
    rows = _read_info(directory / INFO_FILE)
    if rows is None:
        return {}
    try:
        specs = _specs_from_info(rows)
    except (KeyError, ValueError):
        return {}
    outside = None
    try:
        mapped = np.load(directory / OUTSIDE_FILE, mmap_mode="r")
        if mapped.shape == (len(rows), 3):
            outside = mapped
    except (OSError, ValueError):
        outside = None
    result = {}
    try:
        for i, (row, (ch, spec)) in enumerate(zip(rows, specs.items(), strict=True)):
            result[ch] = LiveHistogram(ch, spec, directory / f"{ch}.npy", outside, i, row)
    except (OSError, ValueError):
        for h in result.values():
            h.close()
        return {}
    return result


def read_histograms(run_dir: str | Path, source_buffer: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{channel: (edges, counts)}`` copies of a finished (or running) run's histograms."""
    result = {}
    for ch, h in open_live_histograms(run_dir, source_buffer).items():
        result[ch] = (h.edges, h.snapshot())
        h.close()
    return result


# --------------------------------------------------------------------------------------------
# which workers of a setup make histograms


class HistogramWorker(NamedTuple):
    """A worker that writes or shows histograms: its name, the buffer histogrammed, its bins (None: not given)."""

    worker: str
    buffer: str
    bins: dict[str, BinSpec] | None


def histogram_workers(setup: Any) -> list[HistogramWorker]:
    """Histogram workers of a setup (``core.setup.Setup``), in file order.

    Recognises ``exporters.histogram`` (buffer = its source) and the display workers
    ``observers.histogram`` and mimoCoRB2's ``visualizers.histogram`` / ``visualizers.csv``
    (buffer = the observed one). ``bins`` is None when the config has none or they are invalid
    (a display without bins shows the exporter's histograms of the same buffer).
    """
    result = []
    buffers = getattr(setup, "buffers", {})
    for name, w in setup.workers.items():
        if w.file or w.function not in HISTOGRAM_FUNCTIONS:
            continue
        listed = getattr(w, HISTOGRAM_FUNCTIONS[w.function])
        if not listed:
            continue
        buffer = listed[0]
        spec = buffers.get(buffer)
        dtype = spec.dtype if spec is not None else None
        bins_cfg = w.config.get("bins") if isinstance(w.config, Mapping) else None
        bins = None
        if bins_cfg is not None:
            parsed, problems = _bins_and_problems(bins_cfg, dtype)
            bins = parsed if not problems else None
        result.append(HistogramWorker(name, buffer, bins))
    return result
