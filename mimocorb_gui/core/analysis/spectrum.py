"""Spectra as edges + counts arrays: rebinning, bin selection, live-time scaling, spectrum files (no Qt).

Everything here works on a histogram given as ``edges`` (n+1 increasing numbers) and ``counts``
(n numbers), whatever convention produced them, so the analysis does not depend on how an
exporter lays its bins out.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Spectrum",
    "bin_range",
    "centres",
    "read_spectrum_csv",
    "rebin",
    "subtract_background",
    "write_spectrum_csv",
]


def centres(edges: np.ndarray) -> np.ndarray:
    edges = np.asarray(edges, dtype=float)
    return 0.5 * (edges[:-1] + edges[1:])


def bin_range(edges: np.ndarray, lo: float, hi: float) -> tuple[int, int]:
    """First and last (inclusive) bin whose centre lies within [lo, hi].

    A region narrower than a bin that holds no bin centre (e.g. dragged between the centres of an
    integer-valued channel) takes the bin its middle lies in, so it never counts 0 over counts.
    ``last < first`` only when the region lies outside the histogram.
    """
    edges = np.asarray(edges, dtype=float)
    if lo > hi:
        lo, hi = hi, lo
    c = centres(edges)
    first = int(np.searchsorted(c, lo, side="left"))
    last = int(np.searchsorted(c, hi, side="right")) - 1
    if last < first:
        mid = 0.5 * (lo + hi)
        if hi < edges[0] or lo > edges[-1]:
            return first, first - 1
        k = int(np.clip(np.searchsorted(edges, mid, side="right") - 1, 0, len(c) - 1))
        return k, k
    return first, last


def rebin(edges: np.ndarray, counts: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge ``factor`` neighbouring bins; a remainder at the high end becomes one (narrower) last bin."""
    edges = np.asarray(edges, dtype=float)
    counts = np.asarray(counts)
    factor = int(factor)
    if factor <= 1 or len(counts) <= 1:
        return edges, counts
    starts = np.arange(0, len(counts), factor)
    return np.append(edges[starts], edges[-1]), np.add.reduceat(counts, starts)


@dataclass
class Spectrum:
    """One channel's histogram with what an MCA program shows beside it.

    ``live_time`` and ``real_time`` are seconds (nan when unknown): real time is the run's
    duration, live time the part of it in which the source could accept events (real time minus
    the dead time the run counted).
    """

    edges: np.ndarray
    counts: np.ndarray
    channel: str = ""
    unit: str = ""
    live_time: float = math.nan
    real_time: float = math.nan
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.edges = np.asarray(self.edges, dtype=float)
        self.counts = np.asarray(self.counts)
        if self.edges.ndim != 1 or self.counts.ndim != 1 or len(self.edges) != len(self.counts) + 1:
            raise ValueError(
                f"spectrum '{self.channel}': need len(edges) == len(counts) + 1, "
                f"got {len(self.edges)} edges and {len(self.counts)} counts"
            )

    @property
    def entries(self) -> float:
        return float(self.counts.sum())

    @property
    def dead_fraction(self) -> float:
        if not (self.real_time > 0 and math.isfinite(self.live_time)):
            return math.nan
        return 1.0 - self.live_time / self.real_time

    def rate(self) -> tuple[float, float]:
        """Counts per second of live time and its Poisson uncertainty (nan without a live time)."""
        if not self.live_time > 0:
            return math.nan, math.nan
        n = self.entries
        return n / self.live_time, math.sqrt(n) / self.live_time

    def rebinned(self, factor: int) -> Spectrum:
        e, c = rebin(self.edges, self.counts, factor)
        return Spectrum(e, c, self.channel, self.unit, self.live_time, self.real_time, dict(self.meta))


def subtract_background(spectrum: Spectrum, background: Spectrum) -> tuple[np.ndarray, np.ndarray]:
    """Counts minus the background's counts scaled by the ratio of live times, and the uncertainty per bin.

    Both spectra must have the same edges; both need a live time. ``var = n + s² b`` with
    ``s = live / live_background`` (Poisson in both).
    """
    if not np.allclose(spectrum.edges, background.edges):
        raise ValueError(
            f"background of '{spectrum.channel}': its bins differ ({len(background.counts)} bins "
            f"{background.edges[0]:g}–{background.edges[-1]:g}, here {len(spectrum.counts)} bins "
            f"{spectrum.edges[0]:g}–{spectrum.edges[-1]:g})"
        )
    if not (spectrum.live_time > 0 and background.live_time > 0):
        raise ValueError(
            f"background of '{spectrum.channel}': both spectra need a live time to be scaled "
            f"(here {spectrum.live_time:g} s, background {background.live_time:g} s)"
        )
    s = spectrum.live_time / background.live_time
    n = spectrum.counts.astype(float)
    b = background.counts.astype(float)
    return n - s * b, np.sqrt(n + s * s * b)


# --------------------------------------------------------------------------------------------
# spectrum files

CSV_COLUMNS = ("bin_low", "bin_high", "counts", "energy_low", "energy_high")


def write_spectrum_csv(
    path: str | Path,
    spectrum: Spectrum,
    energy_edges: np.ndarray | None = None,
    energy_unit: str = "keV",
    header: Mapping[str, Any] | None = None,
) -> Path:
    """A spectrum as CSV: ``# key: value`` header lines, then one row per bin.

    Columns: ``bin_low, bin_high, counts`` (in the channel's unit) and, with a calibration,
    ``energy_low, energy_high``. The header holds channel, unit, live and real time and whatever
    ``header`` adds (setup, run, time). Written to a temporary file first, so a file is complete.
    """
    path = Path(path)
    out = io.StringIO()
    meta = {"channel": spectrum.channel, "unit": spectrum.unit}
    meta["live_time_s"] = spectrum.live_time
    meta["real_time_s"] = spectrum.real_time
    if energy_edges is not None:
        meta["energy_unit"] = energy_unit
    meta.update(header or {})
    for k, v in meta.items():
        out.write(f"# {k}: {v}\n")
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS if energy_edges is not None else CSV_COLUMNS[:3])
    e = spectrum.edges
    for i, n in enumerate(spectrum.counts):
        row = [repr(float(e[i])), repr(float(e[i + 1])), _count_text(n)]
        if energy_edges is not None:
            row += [repr(float(energy_edges[i])), repr(float(energy_edges[i + 1]))]
        w.writerow(row)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(out.getvalue(), encoding="utf-8")
    tmp.replace(path)
    return path


def _count_text(n: Any) -> str:
    f = float(n)
    return str(int(f)) if f.is_integer() else repr(f)


def read_spectrum_csv(path: str | Path) -> tuple[Spectrum, np.ndarray | None]:
    """A spectrum file written by :func:`write_spectrum_csv`: (spectrum, energy edges or None)."""
    meta: dict[str, str] = {}
    lines = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            key, _, value = line[1:].partition(":")
            meta[key.strip()] = value.strip()
        elif line.strip():
            lines.append(line)
    rows = list(csv.DictReader(lines))
    if not rows or "counts" not in rows[0]:
        raise ValueError(f"{path}: not a spectrum file (columns {', '.join(CSV_COLUMNS[:3])} expected)")
    edges = np.array([float(r["bin_low"]) for r in rows] + [float(rows[-1]["bin_high"])])
    counts = np.array([float(r["counts"]) for r in rows])
    energy = None
    if "energy_low" in rows[0]:
        energy = np.array([float(r["energy_low"]) for r in rows] + [float(rows[-1]["energy_high"])])

    def number(key: str) -> float:
        try:
            return float(meta.pop(key))
        except (KeyError, ValueError):
            return math.nan

    live, real = number("live_time_s"), number("real_time_s")
    spec = Spectrum(edges, counts, meta.pop("channel", ""), meta.pop("unit", ""), live, real, meta)
    return spec, energy
