"""Regions of interest: gross and net counts, centroid, FWHM and resolution of the bins in a region (no Qt).

The numbers MCA programs show for a region (ROI): gross counts (the sum of its bins), net counts
above a straight background through the mean counts of a few bins at each end, the centroid
(net-count weighted mean), the FWHM of the net peak (interpolated at half its maximum) and the
resolution FWHM / centroid. Every count carries its Poisson uncertainty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mimocorb_gui.core.analysis.spectrum import bin_range, centres

__all__ = [
    "END_BINS",
    "FWHM_PER_SIGMA",
    "RegionSum",
    "decay_region",
    "peak_region",
    "region_sum",
    "snap_to_edges",
]

END_BINS = 3  # bins averaged at each end of a region for its background
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))  # 2.3548...


@dataclass(frozen=True)
class RegionSum:
    """Counts of the bins whose centres lie in [lo, hi] (see ``spectrum.bin_range``)."""

    lo: float
    hi: float
    first_bin: int
    last_bin: int  # inclusive; last_bin < first_bin means the region holds no bin
    gross: float
    gross_error: float
    background: float  # counts under the straight line through the end bins (0 for regions < 4 bins)
    net: float
    net_error: float
    centroid: float  # net-count weighted mean of the bin centres (gross-weighted if net <= 0)
    centroid_error: float
    fwhm: float  # of the net counts, interpolated at half maximum (nan when not measurable)

    @property
    def n_bins(self) -> int:
        return max(0, self.last_bin - self.first_bin + 1)

    @property
    def resolution(self) -> float:
        """FWHM / centroid (nan when either is unknown or the centroid is 0)."""
        if not (math.isfinite(self.fwhm) and math.isfinite(self.centroid)) or self.centroid == 0:
            return math.nan
        return self.fwhm / abs(self.centroid)

    # mimoCoRB GUI before the analysis package called the centroid ``mean``
    @property
    def mean(self) -> float:
        return self.centroid


def _empty(lo: float, hi: float, first: int, last: int) -> RegionSum:
    nan = math.nan
    return RegionSum(lo, hi, first, last, 0.0, 0.0, 0.0, 0.0, 0.0, nan, nan, nan)


def region_sum(edges, counts, lo: float, hi: float, variance=None) -> RegionSum:
    """Gross and net counts of a region above a linear background estimated at its ends.

    Uncertainties are Poisson (variance = counts) unless ``variance`` per bin is given (a
    background-subtracted spectrum, whose counts may be negative).
    """
    edges = np.asarray(edges, dtype=float)
    counts = np.asarray(counts, dtype=float)
    lo, hi = (float(lo), float(hi)) if lo <= hi else (float(hi), float(lo))
    first, last = bin_range(edges, lo, hi)
    if last < first:
        return _empty(lo, hi, first, last)
    sel = counts[first : last + 1]
    var = np.clip(sel if variance is None else np.asarray(variance, dtype=float)[first : last + 1], 0.0, None)
    x = centres(edges)[first : last + 1]
    gross = float(sel.sum())
    n = len(sel)
    k = min(END_BINS, n // 4)
    if k >= 1:
        left, right = sel[:k].mean(), sel[-k:].mean()
        x_left, x_right = x[:k].mean(), x[-k:].mean()
        slope = (right - left) / (x_right - x_left) if x_right > x_left else 0.0
        bg_bins = left + slope * (x - x_left)
        background = float(bg_bins.sum())
        # background = n*(left+right)/2 for equal bins; each end mean has var = sum / k**2
        var_bg = (n / 2.0) ** 2 * (var[:k].sum() + var[-k:].sum()) / k**2
    else:
        bg_bins = np.zeros(n)
        background, var_bg = 0.0, 0.0
    net = gross - background
    var_gross = float(var.sum())
    net_error = math.sqrt(var_gross + var_bg)
    above = sel - bg_bins
    weights = above if above.sum() > 0 and net > 0 else sel
    weights = np.clip(weights, 0.0, None)
    if weights.sum() > 0:
        centroid = float((weights * x).sum() / weights.sum())
        spread = float((weights * (x - centroid) ** 2).sum() / weights.sum())
        centroid_error = math.sqrt(spread / weights.sum()) if weights.sum() > 1 else math.nan
    else:
        centroid = centroid_error = math.nan
    fwhm = _fwhm(x, above) if n >= 3 else math.nan
    return RegionSum(lo, hi, first, last, gross, math.sqrt(var_gross), background, net, net_error,
                     centroid, centroid_error, fwhm)  # fmt: skip


def _fwhm(x: np.ndarray, y: np.ndarray) -> float:
    """Width at half maximum of y(x), linearly interpolated on each side of the highest bin.

    nan when the maximum is not above 0 or y does not fall below half of it on both sides
    within the region (the peak is not all inside it).
    """
    top = int(np.argmax(y))
    peak = float(y[top])
    if not peak > 0:
        return math.nan
    half = 0.5 * peak
    left = np.nonzero(y[:top] < half)[0]
    right = np.nonzero(y[top + 1 :] < half)[0]
    if len(left) == 0 or len(right) == 0:
        return math.nan
    i = int(left[-1])  # y[i] < half <= y[i+1]
    xl = x[i] + (half - y[i]) / (y[i + 1] - y[i]) * (x[i + 1] - x[i])
    j = top + 1 + int(right[0])  # y[j-1] >= half > y[j]
    xr = x[j - 1] + (y[j - 1] - half) / (y[j - 1] - y[j]) * (x[j] - x[j - 1])
    return float(xr - xl)


def snap_to_edges(edges, lo: float, hi: float) -> tuple[float, float]:
    """The region [lo, hi] widened or narrowed to whole bins: the outer edges of ``bin_range``."""
    edges = np.asarray(edges, dtype=float)
    first, last = bin_range(edges, lo, hi)
    if last < first:
        return float(lo), float(hi)
    return float(edges[first]), float(edges[last + 1])


def peak_region(edges, counts, min_counts: int = 50) -> tuple[float, float] | None:
    """A region around the most prominent peak (±4 sigma estimated from its FWHM, on bin edges), or None.

    ±4 sigma and not ±3: a Gaussian on a line needs some bins beyond the peak's tails to tell the
    two apart (at ±3 sigma fitted widths come out low, tests/test_analysis_pulls.py).

    Uses the peak search (smoothed spectrum) and skips peaks in the first or last bins (noise
    threshold, overflow). None while the histogram holds fewer than ``min_counts`` entries or
    shows no peak.
    """
    from mimocorb_gui.core.analysis.peaks import find_peaks

    edges = np.asarray(edges, dtype=float)
    counts = np.asarray(counts, dtype=float)
    if len(counts) < 8 or counts.sum() < min_counts:
        return None
    peaks = find_peaks(edges, counts, prominence=0.05)
    if not peaks:
        return None
    best = max(peaks, key=lambda p: p.prominence)
    bin_width = (edges[-1] - edges[0]) / len(counts)
    half = 4.0 * max(best.fwhm, FWHM_PER_SIGMA * bin_width) / FWHM_PER_SIGMA  # at least 4 bins
    lo = max(edges[0], best.position - half)
    hi = min(edges[-1], best.position + half)
    return snap_to_edges(edges, lo, hi)


def decay_region(edges, counts) -> tuple[float, float] | None:
    """The range a decay curve is fitted over: from its highest bin (bins before it lost events to a
    minimum delay or a trigger) to the last bin with counts (later ones lie beyond the recorded
    window). None without counts."""
    edges = np.asarray(edges, dtype=float)
    counts = np.asarray(counts, dtype=float)
    filled = np.nonzero(counts > 0)[0]
    if len(filled) == 0:
        return None
    first = int(np.argmax(counts))
    last = int(filled[-1])
    if last - first < 3:  # too little left of the curve: the whole range
        return float(edges[0]), float(edges[-1])
    return float(edges[first]), float(edges[last + 1])
